package kpi_test

import (
	"fmt"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// feed applies events in order to one partition's state, numbering offsets
// from 0, and returns every output row.
type feed struct {
	p     runtime.Processor
	state any
	off   int64
	topic string
}

// newFeed returns a feed of a new state of p that has applied pre.
func newFeed(p runtime.Processor, topic string, part int32, pre ...schemas.Event) *feed {
	f := &feed{p: p, state: p.NewState(topic, part), topic: topic}
	for _, ev := range pre {
		f.must(ev)
	}
	return f
}

func (f *feed) apply(ev schemas.Event) ([]runtime.Row, error) {
	out, err := f.p.Apply(f.state, runtime.Record{Topic: f.topic, Family: ev.Family(), Offset: f.off, Event: ev})
	f.off++
	return out.Rows, err
}

func (f *feed) must(ev schemas.Event) []runtime.Row {
	rows, err := f.apply(ev)
	if err != nil {
		panic(fmt.Sprintf("apply %s: %v", ev.Type(), err))
	}
	return rows
}

func label(id, item, annotator, cohort string, v schemas.LabelValue) *schemas.LabelSubmitted {
	return &schemas.LabelSubmitted{
		Envelope: schemas.Envelope{EventID: "ev-" + id, OccurredAt: 1000},
		LabelID:  id, ItemID: item, ProjectID: "p", TaskID: "t", QuestionID: "q",
		AnnotatorID: annotator, Cohort: cohort, GuidelineVersion: "g1", Value: v,
	}
}

func retract(id, item string) *schemas.LabelRetracted {
	return &schemas.LabelRetracted{Envelope: schemas.Envelope{EventID: "ev-r-" + id}, LabelID: id, ItemID: item, Reason: "test"}
}

// goldSet is a GoldLabelSet whose event id names the item and the value:
// the event id is the idempotency key, so a corrected gold is a new id.
func goldSet(item string, v schemas.LabelValue) *schemas.GoldLabelSet {
	return &schemas.GoldLabelSet{Envelope: schemas.Envelope{EventID: "ev-g-" + item + "-" + v.String()}, ItemID: item, QuestionID: "q", Value: v, SetBy: "lead"}
}

// rowsOf keeps the rows of one table.
func rowsOf(rows []runtime.Row, table string) [][]any {
	var out [][]any
	for _, r := range rows {
		if r.Table == table {
			out = append(out, r.Values)
		}
	}
	return out
}

// secondsBetween returns, sorted, the seconds from from[item] to to[item]
// (both in milliseconds) for every item of to: the waits a cycle-time view
// takes quantiles of.
func secondsBetween(from, to map[string]int64) []float64 {
	waits := make([]float64, 0, len(to))
	for item, at := range to {
		waits = append(waits, float64(at-from[item])/1000)
	}
	slices.Sort(waits)
	return waits
}

// p50p90 returns what ClickHouse's quantileExact(0.5) and (0.9) give over
// sorted: quantileExact(q) is the element at index floor(q*n).
func p50p90(sorted []float64) (p50, p90 float64) {
	return sorted[len(sorted)/2], sorted[len(sorted)*9/10]
}
