package schematest

import (
	"fmt"

	"github.com/assay-data/assay/schemas"
)

// Example returns a fresh copy of the example of type t (see Examples), for
// tests that need one type; it panics on a type without an example, which
// TestExamplesCoverEveryTypeAndAreValid rules out for the contract's types.
func Example(t schemas.EventType) schemas.Event {
	for _, ev := range Examples() {
		if ev.Type() == t {
			return ev
		}
	}
	panic(fmt.Sprintf("schematest: no example of event type %q", t))
}
