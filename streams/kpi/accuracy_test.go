package kpi_test

import (
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
)

func TestAccuracyApply(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	tests := []struct {
		name string
		pre  []schemas.Event
		ev   schemas.Event
		// rows: scope, correct, total
		rows [][]any
	}{
		{
			name: "label without gold is not scored",
			ev:   label("l1", "i1", "ann1", "c1", cat),
		},
		{
			name: "gold after labels scores them",
			pre:  []schemas.Event{label("l1", "i1", "ann1", "c1", cat), label("l2", "i1", "ann2", "c1", dog)},
			ev:   goldSet("i1", cat),
			rows: [][]any{
				{"all", int64(1), int64(2)},
				{"annotator:ann1", int64(1), int64(1)},
				{"annotator:ann2", int64(0), int64(1)},
				{"cohort:c1", int64(1), int64(2)},
			},
		},
		{
			name: "label after gold is scored",
			pre:  []schemas.Event{goldSet("i1", cat)},
			ev:   label("l1", "i1", "ann1", "", cat),
			rows: [][]any{{"all", int64(1), int64(1)}, {"annotator:ann1", int64(1), int64(1)}},
		},
		{
			name: "corrected gold re-scores",
			pre:  []schemas.Event{goldSet("i1", dog), label("l1", "i1", "ann1", "", cat)},
			ev:   goldSet("i1", cat),
			rows: [][]any{{"all", int64(1), int64(1)}, {"annotator:ann1", int64(1), int64(1)}},
		},
		{
			name: "same gold again changes nothing",
			pre:  []schemas.Event{goldSet("i1", cat), label("l1", "i1", "ann1", "", cat)},
			ev:   goldSet("i1", cat),
		},
		{
			name: "retraction leaves numerator and denominator",
			pre:  []schemas.Event{goldSet("i1", cat), label("l1", "i1", "ann1", "", cat), label("l2", "i1", "ann2", "", cat)},
			ev:   retract("l1", "i1"),
			rows: [][]any{{"all", int64(1), int64(1)}, {"annotator:ann1", int64(0), int64(0)}},
		},
		{
			name: "multi-label: set equality, order irrelevant",
			pre:  []schemas.Event{goldSet("i1", schemas.MultiLabel("b", "a"))},
			ev:   label("l1", "i1", "ann1", "", schemas.MultiLabel("a", "b")),
			rows: [][]any{{"all", int64(1), int64(1)}, {"annotator:ann1", int64(1), int64(1)}},
		},
		{
			name: "multi-label: a subset is an error",
			pre:  []schemas.Event{goldSet("i1", schemas.MultiLabel("b", "a"))},
			ev:   label("l1", "i1", "ann1", "", schemas.MultiLabel("a")),
			rows: [][]any{{"all", int64(0), int64(1)}, {"annotator:ann1", int64(0), int64(1)}},
		},
		{
			name: "numbers: equal value, any spelling",
			pre:  []schemas.Event{goldSet("i1", schemas.Ratio(2))},
			ev:   label("l1", "i1", "ann1", "", schemas.Ratio(2.0)),
			rows: [][]any{{"all", int64(1), int64(1)}, {"annotator:ann1", int64(1), int64(1)}},
		},
		{
			name: "ordinal: the rank decides",
			pre:  []schemas.Event{goldSet("i1", schemas.Ordinal("good", 2))},
			ev:   label("l1", "i1", "ann1", "", schemas.Ordinal("good", 1)),
			rows: [][]any{{"all", int64(0), int64(1)}, {"annotator:ann1", int64(0), int64(1)}},
		},
		{
			name: "level mismatch is an error",
			pre:  []schemas.Event{goldSet("i1", schemas.Interval(1))},
			ev:   label("l1", "i1", "ann1", "", schemas.Ratio(1)),
			rows: [][]any{{"all", int64(0), int64(1)}, {"annotator:ann1", int64(0), int64(1)}},
		},
		{
			name: "duplicate label counts once",
			pre:  []schemas.Event{goldSet("i1", cat), label("l1", "i1", "ann1", "", cat)},
			ev:   label("l1", "i1", "ann1", "", cat),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(kpi.NewAccuracy(), "labels", 1, tc.pre...)
			var got [][]any
			for _, r := range rowsOf(f.must(tc.ev), kpi.TableAccuracyCounts) {
				if r[0] != "p" || r[1] != "q" || r[3] != "labels" || r[4] != uint32(1) || r[7] != uint64(len(tc.pre)) {
					t.Fatalf("row key %v", r)
				}
				got = append(got, []any{r[2], r[5], r[6]})
			}
			if !reflect.DeepEqual(got, tc.rows) {
				t.Errorf("rows:\n got %v\nwant %v", got, tc.rows)
			}
		})
	}
}
