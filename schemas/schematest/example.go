package schematest

import "github.com/assay-data/assay/schemas"

// Example returns a fresh copy of the example of type t (see Examples), for
// tests that need one type; it panics on a type that is not in the contract.
func Example(t schemas.EventType) schemas.Event {
	ev, err := schemas.Example(t, Canonical)
	if err != nil {
		panic("schematest: " + err.Error())
	}
	return ev
}
