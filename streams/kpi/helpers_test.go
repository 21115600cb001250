package kpi_test

import (
	"fmt"

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

func newFeed(p runtime.Processor, topic string, part int32) *feed {
	return &feed{p: p, state: p.NewState(topic, part), topic: topic}
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
