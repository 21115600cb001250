package kpi_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// pick is a preference between r1 and r2 (in that canonical order) choosing choice, with
// shown displayed first and, when s > 0, strength s.
func pick(choice, shown string, s int32) schemas.LabelValue {
	v := schemas.Choice(choice, shown, "r1", "r2")
	if s > 0 {
		v.Preference.Strength = &s
	}
	return v
}

// prefRows renders kpi_preference rows, one a row.
func prefRows(rows []runtime.Row) []string {
	var out []string
	for _, r := range rows {
		v := r.Values
		switch r.Table {
		case kpi.TablePreferenceCells:
			out = append(out, fmt.Sprintf("cells %s %s %v %v %v %v", v[3], v[2], v[7], v[8], v[9], v[10]))
		case kpi.TablePreferenceProfiles:
			out = append(out, fmt.Sprintf("profile %s %s %v %v", v[3], v[2], v[7], v[10]))
		case kpi.TablePreferenceBias:
			out = append(out, fmt.Sprintf("bias %s %v %v %v", v[2], v[6], v[7], v[8]))
		case kpi.TablePreferenceAccuracy:
			out = append(out, fmt.Sprintf("accuracy %s %v %v", v[2], v[6], v[7]))
		}
	}
	return out
}

func TestPreferenceApplyRows(t *testing.T) {
	half := preference.ExpectedUnit / 2
	tests := []struct {
		name string
		pre  []schemas.Event
		ev   schemas.Event
		rows []string
	}{
		{
			name: "first label: position bias only",
			ev:   label("l1", "i1", "a1", "", pick("r1", "r1", 0)),
			rows: []string{
				fmt.Sprintf("bias all 1 1 %d", half),
				fmt.Sprintf("bias annotator:a1 1 1 %d", half),
			},
		},
		{
			name: "a second annotator pairs the unit: nominal codes the chosen index, ordinal the signed strength",
			pre:  []schemas.Event{label("l1", "i1", "a1", "c1", pick("r1", "r1", 2))},
			ev:   label("l2", "i1", "a2", "c1", pick("r2", "r1", 1)),
			rows: []string{
				"cells all nominal 2 0 1 1", "cells all ordinal 2 -2 1 1",
				"cells cohort:c1 nominal 2 0 1 1", "cells cohort:c1 ordinal 2 -2 1 1",
				`profile all nominal ["0","1"] 1`, `profile all ordinal ["-2","1"] 1`,
				`profile cohort:c1 nominal ["0","1"] 1`, `profile cohort:c1 ordinal ["-2","1"] 1`,
				fmt.Sprintf("bias all 1 2 %d", 2*half), fmt.Sprintf("bias annotator:a2 0 1 %d", half),
				fmt.Sprintf("bias cohort:c1 1 2 %d", 2*half),
			},
		},
		{
			name: "a label without strength counts in the nominal figure only",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", pick("r1", "r1", 2))},
			ev:   label("l2", "i1", "a2", "", pick("r1", "r2", 0)),
			rows: []string{
				"cells all nominal 2 0 0 2",
				`profile all nominal ["0","0"] 1`,
				fmt.Sprintf("bias all 1 2 %d", 2*half), fmt.Sprintf("bias annotator:a2 0 1 %d", half),
			},
		},
		{
			name: "an annotator's later label replaces their answer",
			pre:  []schemas.Event{at(label("l1", "i1", "a1", "", pick("r1", "r1", 0)), 1000), label("l2", "i1", "a2", "", pick("r1", "r1", 0))},
			ev:   at(label("l1b", "i1", "a1", "", pick("r2", "r1", 0)), 2000),
			rows: []string{
				"cells all nominal 2 0 0 0", "cells all nominal 2 0 1 1",
				`profile all nominal ["0","0"] 0`, `profile all nominal ["0","1"] 1`,
				fmt.Sprintf("bias all 1 2 %d", 2*half), fmt.Sprintf("bias annotator:a1 0 1 %d", half),
			},
		},
		{
			name: "an earlier label of an annotator is not their answer",
			pre:  []schemas.Event{at(label("l1", "i1", "a1", "", pick("r1", "r1", 0)), 5000), label("l2", "i1", "a2", "", pick("r1", "r1", 0))},
			ev:   at(label("l1b", "i1", "a1", "", pick("r2", "r1", 0)), 2000),
		},
		{
			name: "gold scores every answer, of three responses too",
			pre: []schemas.Event{label("l1", "i1", "a1", "", schemas.Choice("r1", "r1", "r1", "r2", "r3")),
				label("l2", "i1", "a2", "v", schemas.Choice("r3", "r1", "r1", "r2", "r3"))},
			ev:   goldAs("g", "i1", schemas.Choice("r1", "r2", "r1", "r2", "r3")),
			rows: []string{"accuracy all 1 2", "accuracy annotator:a1 1 1", "accuracy annotator:a2 0 1", "accuracy cohort:v 0 1"},
		},
		{
			name: "a corrected gold re-scores; the same choice again changes nothing",
			pre: []schemas.Event{goldAs("g1", "i1", pick("r2", "r1", 0)), label("l1", "i1", "a1", "", pick("r1", "r1", 0)),
				goldAs("g2", "i1", pick("r1", "r2", 0))},
			ev: goldAs("g3", "i1", pick("r1", "r1", 3)),
		},
		{
			name: "retraction undoes exactly",
			pre:  []schemas.Event{goldAs("g", "i1", pick("r1", "r1", 0)), label("l1", "i1", "a1", "", pick("r1", "r1", 0))},
			ev:   retract("l1", "i1"),
			rows: []string{"bias all 0 0 0", "bias annotator:a1 0 0 0", "accuracy all 0 0", "accuracy annotator:a1 0 0"},
		},
		{
			name: "a copy changes nothing",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", pick("r1", "r1", 0))},
			ev:   label("l1", "i1", "a1", "", pick("r1", "r1", 0)),
		},
		{
			name: "other levels are not kpi_preference's business",
			ev:   label("l1", "i1", "a1", "", spans(per(0, 10))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(kpi.NewPreference(), "labels", 0, tc.pre...)
			rows, err := f.apply(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := prefRows(rows); !slices.Equal(got, tc.rows) {
				t.Errorf("rows:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.rows, "\n     "))
			}
			for _, r := range rows {
				if d := r.Values[slices.Index(kpi.PreferenceTables()[0].Columns, "day")]; r.Table == kpi.TablePreferenceCells && d != time.Unix(0, 0).UTC() {
					t.Errorf("day %v, want the first label's", d)
				}
			}
		})
	}
}

// TestPreferenceRefusals: invalid preferences, preferences of other responses than their
// item's, a retraction by another producer and labels past the caps go to the DLQ with the
// reason, changing nothing.
func TestPreferenceRefusals(t *testing.T) {
	mine := label("l1", "i1", "a1", "", pick("r1", "r1", 0))
	mine.Producer = "tool"
	f := newFeed(kpi.NewPreference(), "labels", 0, mine)
	keys := f.state.(runtime.StateSizer).StateKeys()
	zero := int32(0)
	for _, c := range []struct {
		ev   schemas.Event
		want string
	}{
		{label("l2", "i1", "a2", "", schemas.Choice("r1", "r1", "r2", "r1")), `label l2: preference: responses: ["r2" "r1"] differs from ["r1" "r2"]`},
		{label("l3", "i2", "a2", "", schemas.Choice("r9", "r1", "r1", "r2")), "label l3: preference: choice"},
		{label("l4", "i2", "a2", "", schemas.LabelValue{Level: schemas.LevelPreference, Preference: &schemas.Preference{
			Responses: []string{"r1", "r2"}, Choice: "r1", ShownFirst: "r1", Strength: &zero}}), "label l4: preference: strength: must be at least 1"},
		{label("l5", "i2", "a2", "", schemas.LabelValue{Level: schemas.LevelPreference}), "label l5: preference: preference value without a preference"},
		{goldAs("g", "i1", schemas.Choice("r1", "r1", "r1", "r3")), `gold of i1/q: preference: responses`},
	} {
		if _, err := f.apply(c.ev); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error starting %q", c.ev.Meta().EventID, err, c.want)
		}
	}
	r := retract("l1", "i1")
	r.Producer = "someone-else"
	out, err := f.p.Apply(f.state, runtime.Record{Topic: "labels", Offset: 99, Event: r})
	runtimetest.Refused(t, "retraction by another producer", out, err, access.RuleOwnLabels)
	if got := f.state.(runtime.StateSizer).StateKeys(); got != keys {
		t.Fatalf("state keys %d after refusals, %d before", got, keys)
	}
	capped := newFeed(kpi.NewPreference(kpi.WithMaxUnitLabels(1)), "labels", 0, label("l1", "i1", "a1", "", pick("r1", "r1", 0)))
	if _, err := capped.apply(label("l2", "i1", "a2", "", pick("r1", "r1", 0))); !errors.Is(err, kpi.ErrStateLimit) {
		t.Fatalf("a second label of a unit capped at 1: %v", err)
	}
}

// TestOrdinalCodeEqualsOrdinalValues: ordinal alpha over the signed strengths kpi_preference
// codes (OrdinalCode, which needs no scale) equals ordinal alpha over
// preference.OrdinalValues' 2S ranks for the scale the labels were given on, as its
// interval does, for scales 1 to 7 and random data, and the same labels are pairable.
func TestOrdinalCodeEqualsOrdinalValues(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for scale := int32(1); scale <= 7; scale++ {
		for trial := range 20 {
			signed, ranks := agreement.NewCoincidences(), agreement.NewCoincidences()
			var signedUnits, rankUnits [][]agreement.Value
			for range 5 + rnd.IntN(60) {
				var labels []preference.Label
				for range 1 + rnd.IntN(4) {
					l := preference.Label{Responses: []string{"a", "b"}, Choice: []string{"a", "b"}[rnd.IntN(2)], ShownFirst: "a"}
					if rnd.IntN(5) > 0 {
						s := 1 + rnd.Int32N(scale)
						l.Strength = &s
					}
					labels = append(labels, l)
				}
				want, err := preference.OrdinalValues(labels, preference.Scale(scale))
				if err != nil {
					t.Fatal(err)
				}
				var got []agreement.Value
				for _, l := range labels {
					if v, ok := kpi.OrdinalCode(l); ok {
						got = append(got, v)
					}
				}
				if len(got) != len(want) {
					t.Fatalf("scale %d: %d signed codes, %d ranks", scale, len(got), len(want))
				}
				signed.AddUnit(got)
				ranks.AddUnit(want)
				if len(got) >= 2 {
					signedUnits, rankUnits = append(signedUnits, got), append(rankUnits, want)
				}
			}
			a, aerr := signed.Alpha(agreement.Ordinal)
			b, berr := ranks.Alpha(agreement.Ordinal)
			if (aerr != nil) != (berr != nil) || math.Abs(a.Alpha-b.Alpha) > 1e-12 || a.PairableValues != b.PairableValues {
				t.Fatalf("scale %d trial %d: signed strength alpha %v (%v), ranks %v (%v)", scale, trial, a, aerr, b, berr)
			}
			ia, iaerr := agreement.AlphaInterval(agreement.Profiles(signedUnits), agreement.Ordinal, 0.95)
			ib, iberr := agreement.AlphaInterval(agreement.Profiles(rankUnits), agreement.Ordinal, 0.95)
			if (iaerr != nil) != (iberr != nil) || math.Abs(ia.Low-ib.Low) > 1e-9 || math.Abs(ia.High-ib.High) > 1e-9 {
				t.Fatalf("scale %d trial %d: intervals %v (%v) and %v (%v)", scale, trial, ia, iaerr, ib, iberr)
			}
		}
	}
}

// TestPreferenceMatchesLibrary: after the events of a log, in any order, the processor's
// totals of every scope are streams/preference's figures over the labels the order leaves,
// with ordinal alpha from preference.OrdinalValues on the question's scale.
func TestPreferenceMatchesLibrary(t *testing.T) {
	evs := answersLog("p", 9, 60, true)
	rnd := rand.New(rand.NewPCG(5, 6))
	for round := range 6 {
		order := slices.Clone(evs)
		if round > 0 {
			rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		p := kpi.NewPreference()
		s := p.NewState("labels", 0).(*kpi.PreferenceState)
		for i, ev := range order {
			_, _ = p.Apply(s, runtime.Record{Topic: "labels", Offset: int64(i), Event: ev})
		}
		o := foldAnswers(order, schemas.LevelPreference)
		for _, scope := range answerScopes() {
			want := o.preferenceFigures(t, "p", qPref, scope, nil)
			nominal, err := s.Coincidences("p", qPref, kpi.CodingNominal, scope)
			if err != nil {
				t.Fatal(err)
			}
			if !nominal.Equal(want.nominal) {
				t.Fatalf("round %d, %s: nominal cells differ from the library's", round, scope)
			}
			np, _ := s.Profiles("p", qPref, kpi.CodingNominal, scope)
			if fmt.Sprint(np) != fmt.Sprint(want.nominalProfiles) {
				t.Fatalf("round %d, %s: nominal profiles %v, the library's %v", round, scope, np, want.nominalProfiles)
			}
			ordinal, err := s.Coincidences("p", qPref, kpi.CodingOrdinal, scope)
			if err != nil {
				t.Fatal(err)
			}
			a, aerr := ordinal.Alpha(agreement.Ordinal)
			b, berr := want.ordinal.Alpha(agreement.Ordinal)
			if (aerr != nil) != (berr != nil) || math.Abs(a.Alpha-b.Alpha) > 1e-12 || a.PairableUnits != b.PairableUnits {
				t.Fatalf("round %d, %s: ordinal alpha %v (%v), the library's %v (%v)", round, scope, a, aerr, b, berr)
			}
			bias, acc := s.Counts("p", qPref, scope)
			if bias != want.bias || acc != want.accuracy {
				t.Fatalf("round %d, %s: bias %+v accuracy %+v, the library's %+v %+v", round, scope, bias, acc, want.bias, want.accuracy)
			}
			if round == 0 && scope == kpi.ScopeAll {
				n, _ := want.nominal.Alpha(agreement.Nominal)
				bb, _ := want.bias.Bias(0.95)
				ac, _ := want.accuracy.Accuracy(0.95)
				t.Logf("nominal alpha %.3f, ordinal alpha %.3f, position bias %.3f (expected %.3f), accuracy %.3f over %d labels",
					n.Alpha, b.Alpha, bb.Share, bb.Expected, ac.Accuracy, ac.Labels)
			}
		}
	}
}
