package kpi_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

func TestAgreementApplyRows(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	tests := []struct {
		name  string
		pre   []schemas.Event
		ev    schemas.Event
		cells [][]any // agreement_cells rows: scope, unit_size, a, b, count, version
		pairs [][]any // annotator_pairs rows: annotator, pairs, agreements
	}{
		{
			name: "first label of a unit: not pairable, nothing written",
			ev:   label("l1", "i1", "ann1", "", cat),
		},
		{
			name: "second label pairs the unit",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "", cat)},
			ev:   label("l2", "i1", "ann2", "", cat),
			cells: [][]any{
				{"all", uint32(2), "cat", "cat", int64(2), uint64(1)},
			},
			pairs: [][]any{{"ann1", int64(1), int64(1)}, {"ann2", int64(1), int64(1)}},
		},
		{
			name: "third label moves the unit from size 2 to 3: old cells zeroed",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "", cat), label("l2", "i1", "ann2", "", cat)},
			ev:   label("l3", "i1", "ann3", "", dog),
			cells: [][]any{
				{"all", uint32(2), "cat", "cat", int64(0), uint64(2)},
				{"all", uint32(3), "cat", "cat", int64(2), uint64(2)},
				{"all", uint32(3), "cat", "dog", int64(2), uint64(2)},
			},
			pairs: [][]any{{"ann1", int64(2), int64(1)}, {"ann2", int64(2), int64(1)}, {"ann3", int64(2), int64(0)}},
		},
		{
			name: "retraction undoes exactly",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "", cat), label("l2", "i1", "ann2", "", dog)},
			ev:   retract("l2", "i1"),
			cells: [][]any{
				{"all", uint32(2), "cat", "dog", int64(0), uint64(2)},
			},
			pairs: [][]any{{"ann1", int64(0), int64(0)}, {"ann2", int64(0), int64(0)}},
		},
		{
			name: "cohort scope counts only the cohort's labels",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "c1", cat), label("l2", "i1", "ann2", "c2", cat)},
			ev:   label("l3", "i1", "ann3", "c1", cat),
			cells: [][]any{
				{"all", uint32(2), "cat", "cat", int64(0), uint64(2)},
				{"all", uint32(3), "cat", "cat", int64(6), uint64(2)},
				{"cohort:c1", uint32(2), "cat", "cat", int64(2), uint64(2)},
			},
			pairs: [][]any{{"ann1", int64(2), int64(2)}, {"ann2", int64(2), int64(2)}, {"ann3", int64(2), int64(2)}},
		},
		{
			name: "duplicate label id counts once",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "", cat), label("l2", "i1", "ann2", "", cat)},
			ev:   label("l2", "i1", "ann2", "", cat),
		},
		{
			name: "retraction of an unknown label changes nothing",
			ev:   retract("nope", "i1"),
		},
		{
			name: "gold does not touch agreement",
			ev:   goldSet("i1", cat),
		},
		{
			name: "same annotator twice: cells count it, per-annotator pairs do not",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "", cat)},
			ev:   label("l2", "i1", "ann1", "", dog),
			cells: [][]any{
				{"all", uint32(2), "cat", "dog", int64(1), uint64(1)},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(kpi.NewAgreement(), "labels", 3, tc.pre...)
			rows := f.must(tc.ev)
			var cells, pairs [][]any
			for _, r := range rowsOf(rows, kpi.TableAgreementCells) {
				if r[0] != "p" || r[1] != "q" || r[2] != "nominal" || r[4] != "labels" || r[5] != uint32(3) {
					t.Fatalf("row key %v", r[:6])
				}
				cells = append(cells, append([]any{r[3]}, r[6:]...))
			}
			for _, r := range rowsOf(rows, kpi.TableAnnotatorPairs) {
				pairs = append(pairs, []any{r[2], r[5], r[6]})
			}
			if !reflect.DeepEqual(cells, tc.cells) {
				t.Errorf("cells:\n got %v\nwant %v", cells, tc.cells)
			}
			if !reflect.DeepEqual(pairs, tc.pairs) {
				t.Errorf("pairs:\n got %v\nwant %v", pairs, tc.pairs)
			}
		})
	}
}

func TestAgreementRejectsBadValue(t *testing.T) {
	f := newFeed(kpi.NewAgreement(), "labels", 0)
	bad := label("l1", "i1", "a", "", schemas.LabelValue{Level: schemas.LevelOrdinal, Category: "x"})
	if _, err := f.apply(bad); err == nil {
		t.Fatal("ordinal without rank accepted")
	}
	// State unchanged: the same label id is still new.
	if rows := f.must(label("l1", "i1", "a", "", schemas.Nominal("x"))); len(rows) != 0 {
		t.Fatalf("rows %v", rows)
	}
}

// TestAgreementIncrementalEqualsBatch: random labels and retractions over
// several partitions; the last written total of every cell, summed over the
// partitions, equals the coincidences computed in one batch over the
// surviving labels, at every level.
func TestAgreementIncrementalEqualsBatch(t *testing.T) {
	levels := map[string]func(r *rand.Rand) schemas.LabelValue{
		"nominal": func(r *rand.Rand) schemas.LabelValue { return schemas.Nominal(fmt.Sprint("c", r.IntN(4))) },
		"ordinal": func(r *rand.Rand) schemas.LabelValue {
			k := int32(r.IntN(5))
			return schemas.Ordinal(fmt.Sprint("r", k), k)
		},
		"interval": func(r *rand.Rand) schemas.LabelValue { return schemas.Interval(float64(r.IntN(7)) - 3) },
		"ratio":    func(r *rand.Rand) schemas.LabelValue { return schemas.Ratio(float64(r.IntN(9))) },
		"multi_label": func(r *rand.Rand) schemas.LabelValue {
			return schemas.MultiLabel([]string{"a", "b", "c"}[:r.IntN(4)]...)
		},
	}
	for name, gen := range levels {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			const parts = 3
			feeds := make([]*feed, parts)
			for p := range feeds {
				feeds[p] = newFeed(kpi.NewAgreement(), "labels", int32(p))
			}
			last := map[string]int64{} // partition|cell -> last count
			units := map[string][]agreement.Value{}
			live := map[string]string{} // label -> item
			vals := map[string]agreement.Value{}
			for i := range 400 {
				item := fmt.Sprint("i", r.IntN(40))
				p := len(item) % parts
				var rows [][]any
				if len(live) > 0 && r.IntN(4) == 0 {
					for id, it := range live { // any live label
						rows = rowsOf(feeds[len(it)%parts].must(retract(id, it)), kpi.TableAgreementCells)
						delete(live, id)
						break
					}
				} else {
					id := fmt.Sprint("l", i)
					v := gen(r)
					rows = rowsOf(feeds[p].must(label(id, item, fmt.Sprint("a", r.IntN(6)), "", v)), kpi.TableAgreementCells)
					live[id] = item
					vals[id] = canon(t, v)
				}
				for _, row := range rows {
					if row[3] != "all" {
						continue
					}
					last[fmt.Sprint(row[5], "|", row[6], "|", row[7], "|", row[8])] = row[9].(int64)
				}
			}
			for id, item := range live {
				units[item] = append(units[item], vals[id])
			}
			want := agreement.NewCoincidences()
			for _, vs := range units {
				want.AddUnit(vs)
			}
			var cells []agreement.Cell
			for k, n := range last {
				var part, size int
				var a, b string
				if _, err := fmt.Sscanf(replaceBars(k), "%d %d %s %s", &part, &size, &a, &b); err != nil {
					t.Fatalf("parse %q: %v", k, err)
				}
				cells = append(cells, agreement.Cell{UnitSize: size, A: agreement.Value(a), B: agreement.Value(b), Count: n})
			}
			got, err := agreement.CoincidencesFromCells(cells)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("merged partition totals differ from batch:\n got %v\nwant %v", got.Cells(), want.Cells())
			}
		})
	}
}

func replaceBars(s string) string {
	out := []byte(s)
	for i := range out {
		if out[i] == '|' {
			out[i] = ' '
		}
	}
	return string(out)
}

// canon mirrors the processor's canonical form, for building expectations.
func canon(t *testing.T, v schemas.LabelValue) agreement.Value {
	t.Helper()
	switch v.Level {
	case schemas.LevelNominal:
		return agreement.Category(v.Category)
	case schemas.LevelOrdinal:
		return agreement.Rank(int(*v.Rank))
	case schemas.LevelInterval, schemas.LevelRatio:
		return agreement.Number(*v.Number)
	case schemas.LevelMultiLabel:
		return agreement.Set(v.Categories...)
	}
	t.Fatalf("level %s", v.Level)
	return ""
}
