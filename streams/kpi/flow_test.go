package kpi_test

import (
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
)

func ingested(item string, at int64) *schemas.ItemIngested {
	return &schemas.ItemIngested{Envelope: schemas.Envelope{EventID: "ev-i-" + item, OccurredAt: at}, ItemID: item, ProjectID: "p"}
}

func review(id, labelID, item string, v schemas.Verdict, at int64) *schemas.ReviewCompleted {
	return &schemas.ReviewCompleted{Envelope: schemas.Envelope{EventID: "ev-" + id, OccurredAt: at}, ReviewID: id, LabelID: labelID, ItemID: item, ReviewerID: "rev", Verdict: v}
}

func labelAt(id, item string, at int64) *schemas.LabelSubmitted {
	l := label(id, item, "a", "", schemas.Nominal("x"))
	l.OccurredAt = at
	return l
}

func TestFlowStages(t *testing.T) {
	tests := []struct {
		name string
		pre  []schemas.Event
		ev   schemas.Event
		rows [][]any // item_flow: item, stage, project, at_ms
	}{
		{name: "ingest", ev: ingested("i1", 100), rows: [][]any{{"i1", "ingested", "p", int64(100)}}},
		{name: "first label sets first and last", ev: labelAt("l1", "i1", 200), rows: [][]any{
			{"i1", "first_label", "p", int64(200)}, {"i1", "last_label", "p", int64(200)},
		}},
		{name: "later label moves only last", pre: []schemas.Event{labelAt("l1", "i1", 200)}, ev: labelAt("l2", "i1", 300), rows: [][]any{
			{"i1", "last_label", "p", int64(300)},
		}},
		{name: "out-of-order earlier label moves only first", pre: []schemas.Event{labelAt("l1", "i1", 200)}, ev: labelAt("l2", "i1", 150), rows: [][]any{
			{"i1", "first_label", "p", int64(150)},
		}},
		{name: "accept", ev: review("r1", "l1", "i1", schemas.VerdictAccept, 400), rows: [][]any{{"i1", "accepted", "", int64(400)}}},
		{name: "reject", ev: review("r1", "l1", "i1", schemas.VerdictReject, 400), rows: [][]any{{"i1", "first_rework", "", int64(400)}}},
		{name: "second accept later: nothing", pre: []schemas.Event{review("r1", "l1", "i1", schemas.VerdictAccept, 400)}, ev: review("r2", "l2", "i1", schemas.VerdictAccept, 500)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(kpi.NewFlow(), "x", 0, tc.pre...)
			var got [][]any
			for _, r := range rowsOf(f.must(tc.ev), kpi.TableItemFlow) {
				got = append(got, r[:4])
			}
			if !reflect.DeepEqual(got, tc.rows) {
				t.Errorf("rows:\n got %v\nwant %v", got, tc.rows)
			}
		})
	}
}

func TestFlowRework(t *testing.T) {
	f := newFeed(kpi.NewFlow(), "reviews", 2)
	steps := []struct {
		ev   schemas.Event
		want []any // reviews, rework_reviews, labels_reviewed, labels_reworked
	}{
		{review("r1", "l1", "i1", schemas.VerdictAccept, 1), []any{int64(1), int64(0), int64(1), int64(0)}},
		{review("r2", "l2", "i1", schemas.VerdictReject, 2), []any{int64(2), int64(1), int64(2), int64(1)}},
		{review("r3", "l2", "i1", schemas.VerdictCorrect, 3), []any{int64(3), int64(2), int64(2), int64(1)}},
		{review("r4", "l1", "i1", schemas.VerdictReject, 4), []any{int64(4), int64(3), int64(2), int64(2)}},
	}
	for i, s := range steps {
		rows := rowsOf(f.must(s.ev), kpi.TableReworkCounts)
		if len(rows) != 1 {
			t.Fatalf("step %d: %d rows", i, len(rows))
		}
		if got := rows[0][2:6]; !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d: got %v want %v", i, got, s.want)
		}
		if rows[0][0] != "reviews" || rows[0][1] != uint32(2) || rows[0][6] != uint64(i) {
			t.Errorf("step %d: key %v", i, rows[0])
		}
	}
}
