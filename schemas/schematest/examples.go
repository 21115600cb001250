package schematest

import "github.com/assay-data/assay/schemas"

// T0 is the instant the examples happen at: fixed, so encodings are reproducible.
var T0 = schemas.ExampleTime

// Canonical is the subject of the examples: the golden files in schemas/testdata are
// their encodings.
var Canonical = schemas.Subject{N: 1}

// Examples returns one fully populated, valid event of every type, in schemas.EventTypes order,
// with every optional field set so that a round trip exercises all of them: the descriptors'
// examples of Canonical. Each call returns fresh values that the caller may modify.
func Examples() []schemas.Event {
	var evs []schemas.Event
	for _, d := range schemas.Descriptors() {
		evs = append(evs, d.Example(Canonical))
	}
	return evs
}
