package kpi_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// TestRegionsAndPreferencesEndToEnd: a log of spans, boxes and preference labels (second
// labels of an annotator, golds and corrected golds, retractions, copies, refused records)
// through the real broker into the real ClickHouse (18.16), kpi_regions, kpi_preference and
// the ledger running; every figure ReadRegions, ReadPreferences and ReadUnitizing read equals
// the one streams/regions, streams/preference and streams/agreement/unitizing compute
// offline over the labels the log leaves, in every scope and window; and a replay of the
// processors into the same tables changes nothing.
func TestRegionsAndPreferencesEndToEnd(t *testing.T) {
	env := testenv.Stack(t, 4, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const project = "e2e"
	evs := answersLog(project, 11, 150, true)
	if err := workload.Produce(ctx, cl, k, append(questionsDefined(project), evs...)); err != nil {
		t.Fatal(err)
	}
	o := foldAnswers(evs, schemas.LevelSpans, schemas.LevelBoxes)
	op := foldAnswers(evs, schemas.LevelPreference)
	stop, _ := run(t, ctx, k, conn, ledger.New(), kpi.NewRegions(), kpi.NewPreference())
	waitAnswers(t, ctx, conn, project, o, op)
	checkAnswers(t, ctx, conn, project, o, op)
	stop()

	// A replay of both processors into the same tables writes the same totals at the same
	// offsets: no figure moves.
	for _, p := range []runtime.Processor{kpi.NewRegions(), kpi.NewPreference()} {
		if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	checkAnswers(t, ctx, conn, project, o, op)
}

// waitAnswers waits until the figures of scope all and the ledger's labels are those of the
// whole log.
func waitAnswers(t *testing.T, ctx context.Context, conn driver.Conn, project string, o, op *offlineAnswers) {
	t.Helper()
	wantSpans, _ := o.regionFigures(t, project, qSpans, "spans", kpi.ScopeAll, nil)
	wantBoxes, _ := o.regionFigures(t, project, qBoxes, "boxes", kpi.ScopeAll, nil)
	wantPref := op.preferenceFigures(t, project, qPref, kpi.ScopeAll, nil)
	var wantLabels uint64
	for _, u := range o.units {
		if u.question == qSpans {
			wantLabels += uint64(len(u.labels))
		}
	}
	var got string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		figs, err := kpi.ReadRegions(ctx, conn, kpi.RegionFilter{Project: project, Scope: kpi.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		prefs, err := kpi.ReadPreferences(ctx, conn, kpi.PreferenceFilter{Project: project, Scope: kpi.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		var labels, spans uint64
		if err := conn.QueryRow(ctx, kpi.UnitizingCountQuery, project, qSpans, regions.MaxRegions).Scan(&labels, &spans); err != nil {
			t.Fatal(err)
		}
		spansOK := len(figs) == 2 && figs[0].QuestionID == qBoxes && figs[0].Tally.Equal(wantBoxes) && figs[1].Tally.Equal(wantSpans)
		prefOK := len(prefs) == 1 && prefs[0].BiasCounts == wantPref.bias && prefs[0].Nominal.Coincidences.Equal(wantPref.nominal)
		if spansOK && prefOK && labels == wantLabels {
			return
		}
		got = fmt.Sprintf("%d region figures (ok %v), %d preference figures (ok %v), %d of %d spans labels in the ledger", len(figs), spansOK, len(prefs), prefOK, labels, wantLabels)
	}
	t.Fatalf("figures never converged: %s", got)
}

// checkAnswers compares every figure read with the libraries' offline figures.
func checkAnswers(t *testing.T, ctx context.Context, conn driver.Conn, project string, o, op *offlineAnswers) {
	t.Helper()
	figs, err := kpi.ReadRegions(ctx, conn, kpi.RegionFilter{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	find := func(figs []kpi.RegionFigure, question, scope string) (kpi.RegionFigure, bool) {
		i := slices.IndexFunc(figs, func(f kpi.RegionFigure) bool { return f.QuestionID == question && f.Scope == scope })
		if i < 0 {
			return kpi.RegionFigure{}, false
		}
		return figs[i], true
	}
	checked := 0
	for _, c := range []struct{ level, question string }{{"spans", qSpans}, {"boxes", qBoxes}} {
		for _, scope := range answerScopes() {
			wantAgree, wantGold := o.regionFigures(t, project, c.question, c.level, scope, nil)
			f, ok := find(figs, c.question, scope)
			if !ok {
				if wantAgree.Units > 0 || wantGold.Units > 0 {
					t.Errorf("%s %s: no figure, the library's %+v", c.level, scope, wantAgree.Report())
				}
				continue
			}
			checked++
			if f.Level != c.level || f.IoUThreshold != kpi.RegionsIoUThreshold || !f.Tally.Equal(wantAgree) ||
				!reflect.DeepEqual(f.Agreement, wantAgree.Report()) {
				t.Errorf("%s %s: %+v\nthe library over the final labels: %+v", c.level, scope, f.Agreement, wantAgree.Report())
			}
			wantCI, wantCIErr := agreement.AlphaInterval(labelAlphaUnits(t, o, project, c.question, c.level, scope), agreement.Nominal, agreement.DefaultConfidence)
			switch {
			case wantCIErr != nil:
				if f.LabelAlphaCI != nil || f.LabelAlphaCIUndefined == "" {
					t.Errorf("%s %s: label alpha interval %+v, the matched pairs give none: %v", c.level, scope, f.LabelAlphaCI, wantCIErr)
				}
			case f.LabelAlphaCI == nil || math.Abs(f.LabelAlphaCI.Low-wantCI.Low) > 1e-12 || math.Abs(f.LabelAlphaCI.High-wantCI.High) > 1e-12:
				t.Errorf("%s %s: label alpha interval %+v (%s), over the matched pairs %+v", c.level, scope, f.LabelAlphaCI, f.LabelAlphaCIUndefined, wantCI)
			}
			if wantGold.Units == 0 {
				if f.Gold != nil {
					t.Errorf("%s %s: gold %+v, but no answer was scored", c.level, scope, f.Gold)
				}
			} else if f.Gold == nil || !f.GoldTally.Equal(wantGold) || !reflect.DeepEqual(*f.Gold, wantGold.AccuracyReport()) {
				t.Errorf("%s %s: gold %+v\nthe library's %+v", c.level, scope, f.Gold, wantGold.AccuracyReport())
			}
			if scope == kpi.ScopeAll {
				r := f.Agreement
				t.Logf("%s: pairwise F1 %s, mean IoU %s, label alpha %s %v over %d unit pairs; gold F1 %s over %d answers; defined threshold %v",
					c.level, show(r.PairwiseF1), show(r.MeanIoU), show(r.LabelAlpha), f.LabelAlphaCI, r.UnitPairs, show(f.Gold.F1), f.Gold.Values, *f.DefinedIoUThreshold)
			}
		}
	}
	if checked < 12 {
		t.Errorf("only %d region figures checked", checked)
	}
	// The question's own threshold beside the one measured at.
	if f, _ := find(figs, qSpans, kpi.ScopeAll); f.DefinedIoUThreshold == nil || *f.DefinedIoUThreshold != 0.7 || !f.ThresholdDiffers() {
		t.Errorf("spans question defined at 0.7: %v", f.DefinedIoUThreshold)
	}
	if f, _ := find(figs, qBoxes, kpi.ScopeAll); f.DefinedIoUThreshold == nil || *f.DefinedIoUThreshold != schemas.DefaultIoUThreshold || f.ThresholdDiffers() {
		t.Errorf("boxes question defined without a threshold: %v", f.DefinedIoUThreshold)
	}
	// Windows: each day's figures are those of the units that started on it; a filter by
	// question, scope and cohorts narrows the read.
	for d := range int64(5) {
		day := time.UnixMilli(day0).UTC().AddDate(0, 0, int(d))
		daily, err := kpi.ReadRegions(ctx, conn, kpi.RegionFilter{Project: project, Question: qSpans, Scope: kpi.ScopeAll, Cohorts: true,
			From: day, To: day.AddDate(0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("crowd"), kpi.CohortScope("experts")} {
			n := day0/86_400_000 + d
			want, _ := o.regionFigures(t, project, qSpans, "spans", scope, &n)
			f, ok := find(daily, qSpans, scope)
			if (ok || want.Units > 0) && !f.Tally.Equal(want) {
				t.Errorf("spans %s on %s: %+v, the library over the day's units %+v", scope, day.Format(time.DateOnly), f.Agreement, want.Report())
			}
		}
		if slices.ContainsFunc(daily, func(f kpi.RegionFigure) bool {
			return f.QuestionID != qSpans || !(f.Scope == kpi.ScopeAll || strings.HasPrefix(f.Scope, "cohort:"))
		}) {
			t.Errorf("a filtered read returned other figures")
		}
	}

	// Preferences.
	prefs, err := kpi.ReadPreferences(ctx, conn, kpi.PreferenceFilter{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	checked = 0
	for _, scope := range answerScopes() {
		want := op.preferenceFigures(t, project, qPref, scope, nil)
		i := slices.IndexFunc(prefs, func(f kpi.PreferenceFigure) bool { return f.QuestionID == qPref && f.Scope == scope })
		if i < 0 {
			t.Errorf("preference %s: no figure", scope)
			continue
		}
		f := prefs[i]
		checked++
		if f.BiasCounts != want.bias || f.AccuracyCounts != want.accuracy {
			t.Errorf("preference %s: bias %+v accuracy %+v, the library's %+v %+v", scope, f.BiasCounts, f.AccuracyCounts, want.bias, want.accuracy)
		}
		wb, _ := want.bias.Bias(agreement.DefaultConfidence)
		if f.Bias == nil || *f.Bias != wb {
			t.Errorf("preference %s: position bias %+v, the library's %+v", scope, f.Bias, wb)
		}
		if wa, err := want.accuracy.Accuracy(agreement.DefaultConfidence); err == nil && (f.Accuracy == nil || *f.Accuracy != wa) {
			t.Errorf("preference %s: accuracy %+v, the library's %+v", scope, f.Accuracy, wa)
		}
		if strings.HasPrefix(scope, "annotator:") {
			if f.Nominal.Alpha != nil || f.Ordinal.Alpha != nil {
				t.Errorf("preference %s: alpha in an annotator scope", scope)
			}
			continue
		}
		for _, c := range []struct {
			name     string
			got      kpi.PreferenceAlpha
			co       *agreement.Coincidences
			profiles []agreement.UnitProfile
			level    agreement.Level
		}{{"nominal", f.Nominal, want.nominal, want.nominalProfiles, agreement.Nominal}, {"ordinal", f.Ordinal, want.ordinal, want.ordinalProfiles, agreement.Ordinal}} {
			wantAlpha, aerr := c.co.Alpha(c.level)
			if c.name == "nominal" && !c.got.Coincidences.Equal(c.co) {
				t.Errorf("preference %s: nominal cells differ from the library's", scope)
			}
			if (aerr == nil) != (c.got.Alpha != nil) || (aerr == nil && math.Abs(*c.got.Alpha-wantAlpha.Alpha) > 1e-12) ||
				c.got.PairableValues != wantAlpha.PairableValues {
				t.Errorf("preference %s: %s alpha %v (%s), the library's %v (%v)", scope, c.name, show(c.got.Alpha), c.got.Undefined, wantAlpha, aerr)
			}
			ci, cerr := agreement.AlphaInterval(c.profiles, c.level, agreement.DefaultConfidence)
			if (cerr == nil) != (c.got.CI != nil) || (cerr == nil && (math.Abs(c.got.CI.Low-ci.Low) > 1e-9 || math.Abs(c.got.CI.High-ci.High) > 1e-9)) {
				t.Errorf("preference %s: %s interval %+v (%s), the library's %+v (%v)", scope, c.name, c.got.CI, c.got.CIUndefined, ci, cerr)
			}
		}
		if scope == kpi.ScopeAll {
			t.Logf("preference: nominal alpha %s %v, ordinal alpha %s, accuracy %.3f over %d, position bias %.3f in [%.3f, %.3f] (expected %.3f)",
				show(f.Nominal.Alpha), f.Nominal.CI, show(f.Ordinal.Alpha), f.Accuracy.Accuracy, f.Accuracy.Labels,
				f.Bias.Share, f.Bias.Interval.Low, f.Bias.Interval.High, f.Bias.Expected)
		}
	}
	if checked != len(answerScopes()) {
		t.Errorf("%d preference figures checked", checked)
	}

	// Unitizing alpha, on read from the ledger.
	for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("experts"), kpi.VendorScope("v1")} {
		got, err := kpi.ReadUnitizing(ctx, conn, kpi.UnitizingFilter{Project: project, Question: qSpans, Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		want := offlineUnitizing(t, o, project, scope)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("unitizing %s: %+v\nthe library over the final labels: %+v", scope, got, want)
		}
		if scope == kpi.ScopeAll {
			t.Logf("unitizing alpha %s (%s) over %d items of %d raters, %d spans, %d items skipped",
				show(got.Alpha), got.Undefined, got.Items, got.Raters, got.Spans, got.Skipped)
		}
	}
	// Windows partition the items; a window over every day is all time.
	all, err := kpi.ReadUnitizing(ctx, conn, kpi.UnitizingFilter{Project: project, Question: qSpans})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := kpi.ReadUnitizing(ctx, conn, kpi.UnitizingFilter{Project: project, Question: qSpans,
		From: time.UnixMilli(day0 - 86_400_000), To: time.UnixMilli(day0 + 7*86_400_000)})
	if err != nil || !reflect.DeepEqual(whole, all) {
		t.Errorf("unitizing over a window of every day: %+v (%v), all time %+v", whole, err, all)
	}
	items := 0
	for d := range 7 {
		day := time.UnixMilli(day0).UTC().AddDate(0, 0, d)
		r, err := kpi.ReadUnitizing(ctx, conn, kpi.UnitizingFilter{Project: project, Question: qSpans, From: day, To: day.AddDate(0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		items += r.Items + r.Skipped
	}
	if items != all.Items+all.Skipped {
		t.Errorf("daily windows hold %d items, all time %d", items, all.Items+all.Skipped)
	}
	if _, err := kpi.ReadUnitizing(ctx, conn, kpi.UnitizingFilter{Project: project, Question: qSpans, MaxSpans: 10}); !errors.Is(err, kpi.ErrTooManySpans) {
		t.Errorf("a read above its bound: %v", err)
	}
}

func show(p *float64) string {
	if p == nil {
		return "undefined"
	}
	return fmt.Sprintf("%.4f", *p)
}

// labelAlphaUnits matches the answers of every unit pair of a scope again with
// regions.MatchSpans/MatchBoxes (any label) and returns the units of label alpha, each
// matched pair's two labels, as profiles.
func labelAlphaUnits(t *testing.T, o *offlineAnswers, project, question, level, scope string) []agreement.UnitProfile {
	t.Helper()
	var units [][]agreement.Value
	for _, u := range o.units {
		if u.project != project || u.question != question || u.level != level {
			continue
		}
		cur := u.currents()
		names := slices.Sorted(func(yield func(string) bool) {
			for a := range cur {
				if !yield(a) {
					return
				}
			}
		})
		for i, a := range names {
			for _, b := range names[i+1:] {
				x, y := cur[a], cur[b]
				if in, ok := strings.CutPrefix(scope, "annotator:"); ok {
					if a != in && b != in {
						continue
					}
				} else if !x.inScope(scope) || !y.inScope(scope) {
					continue
				}
				var pairs []regions.Pair
				var la, lb func(int) string
				var err error
				if level == "boxes" {
					xa, yb := toBoxes(x.value), toBoxes(y.value)
					pairs, err = regions.MatchBoxes(xa, yb, regions.DefaultThreshold, regions.AnyLabel)
					la, lb = func(i int) string { return xa[i].Label }, func(i int) string { return yb[i].Label }
				} else {
					xa, yb := toSpans(x.value), toSpans(y.value)
					pairs, err = regions.MatchSpans(xa, yb, regions.DefaultThreshold, regions.AnyLabel)
					la, lb = func(i int) string { return xa[i].Label }, func(i int) string { return yb[i].Label }
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pairs {
					units = append(units, []agreement.Value{agreement.Category(la(p.A)), agreement.Category(lb(p.B))})
				}
			}
		}
	}
	return agreement.Profiles(units)
}

// offlineUnitizing is unitizing alpha over the final answers of a fold of a spans question:
// every annotator's answer in scope, each item as long as the largest extent its answers
// state.
func offlineUnitizing(t *testing.T, o *offlineAnswers, project, scope string) unitizing.Result {
	t.Helper()
	var labels []unitizing.Label
	for _, u := range o.units {
		if u.project != project || u.question != qSpans {
			continue
		}
		cur := u.currents()
		var length int64
		for _, l := range cur {
			length = max(length, *l.value.Extent.Length)
		}
		for ann, l := range cur {
			if !l.inScope(scope) {
				continue
			}
			var spans []unitizing.Span
			for _, s := range l.value.Spans {
				spans = append(spans, unitizing.Span{Label: s.Label, Start: s.Start, End: s.End})
			}
			labels = append(labels, unitizing.Label{Item: u.item, Rater: ann, Length: length, Spans: spans})
		}
	}
	study, err := unitizing.NewStudy(labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := unitizing.Alpha(study)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
