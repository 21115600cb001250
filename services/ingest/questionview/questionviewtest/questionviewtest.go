// Package questionviewtest makes the question definitions the gateway's view of questions
// reads, for the tests of the view, of the gateway and of the ingest main.
package questionviewtest

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/assay-data/assay/schemas"
)

// seq numbers the definitions made here, so that each has its own event id.
var seq atomic.Int64

// Define is an owner's QuestionDefined of question in project, at level, with the closed
// set labels, as a client sends it (no producer: the gateway stamps it, or
// gateviewtest.Publish stamps gateviewtest.Owner).
func Define(project, question string, level schemas.MeasurementLevel, labels ...string) *schemas.QuestionDefined {
	return &schemas.QuestionDefined{
		Envelope: schemas.Envelope{EventID: fmt.Sprintf("question-%s-%s-%d", project, question, seq.Add(1)),
			EventType: schemas.TypeQuestionDefined, OccurredAt: time.Now().Add(-time.Minute).UnixMilli()},
		ProjectID: project, QuestionID: question, Level: level, Labels: labels,
	}
}

// Preference is an owner's definition of a preference question whose answers state a
// strength from 1 to scale (0: no strength).
func Preference(project, question string, scale int32) *schemas.QuestionDefined {
	d := Define(project, question, schemas.LevelPreference)
	if scale > 0 {
		d.StrengthScale = &scale
	}
	return d
}
