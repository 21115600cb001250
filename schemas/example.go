package schemas

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// ExampleTime is the instant examples happen at (Subject.envelope): fixed,
// so that an example's encoding is reproducible.
var ExampleTime = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// Subject is what an example is about: one item's story in the project
// exampleProject. Every other id in an example is built from Prefix and N
// ("<Prefix>item-<N>"), so the examples of one Subject refer to each other
// (the label reviewed is the label submitted, the run trained on the dataset
// version committed, the remediation ships a version of that dataset) and
// examples of different Subjects share no id but the project's. The
// canonical examples (schematest, the golden files) are Subject{N: 1}.
type Subject struct {
	// Prefix starts every id, e.g. a run name and a dash.
	Prefix string
	// N numbers the subject; ids end in it.
	N int
	// Rand, when set, draws the free choices of an example (annotator,
	// confidence, time spent) from it, for load that varies; nil keeps them
	// fixed, so that the example is a function of Prefix and N alone.
	Rand *rand.Rand
}

// exampleProject is the project of every example: projects are few and
// shared by many items, and analysts' examples (README) name it.
const exampleProject = "proj-1"

// Example returns a valid event of type t about s, every optional field set
// (so a round trip exercises all of them), stamped at ExampleTime by
// producer "collector-a". Each call returns a fresh event the caller may
// modify. Unknown types return ErrUnknownEventType.
func Example(t EventType, s Subject) (Event, error) {
	d, ok := catalog.byType[t]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, string(t))
	}
	return d.Example(s), nil
}

// id is the id of noun for the subject: "<Prefix><noun>-<N>".
func (s Subject) id(noun string) string { return s.idAt(noun, 0) }

// idAt is the id of the k-th next noun: "<Prefix><noun>-<N+k>", for lists
// (dataset members, implicated items) and successors (versions).
func (s Subject) idAt(noun string, k int) string {
	return fmt.Sprintf("%s%s-%d", s.Prefix, noun, s.N+k)
}

// number is N+k as a string, for names that are not ids (dataset versions).
func (s Subject) number(k int) string { return fmt.Sprint(s.N + k) }

// envelope is the stamped envelope of the subject's event called noun,
// occurring minute minutes after ExampleTime. Its event id is "ev-<noun>"
// after Prefix, with "-<N>" unless N is 1 (the canonical examples' ids).
func (s Subject) envelope(noun string, minute int) Envelope {
	id := s.Prefix + "ev-" + noun
	if s.N != 1 {
		id += fmt.Sprintf("-%d", s.N)
	}
	at := Millis(ExampleTime.Add(time.Duration(minute) * time.Minute))
	return Envelope{
		EventID:    id,
		OccurredAt: at,
		RecordedAt: at + 250,
		Producer:   "collector-a",
		Trace:      Trace{CorrelationID: s.id("corr"), CausationID: "cause-" + id},
	}
}

// intn is a free choice in [0, n): fixed without Rand.
func (s Subject) intn(n, fixed int) int {
	if s.Rand == nil {
		return fixed
	}
	return s.Rand.IntN(n)
}

// unit is a free choice in [0, 1): fixed without Rand.
func (s Subject) unit(fixed float64) float64 {
	if s.Rand == nil {
		return fixed
	}
	return s.Rand.Float64()
}

func ptr[T any](v T) *T { return &v }
