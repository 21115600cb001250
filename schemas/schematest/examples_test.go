package schematest

import (
	"testing"

	"github.com/assay-data/assay/schemas"
)

// TestExamplesCoverEveryTypeAndAreValid keeps the examples in step with the contract: a new
// event type without an example fails here.
func TestExamplesCoverEveryTypeAndAreValid(t *testing.T) {
	evs := Examples()
	types := schemas.EventTypes()
	if len(evs) != len(types) {
		t.Fatalf("%d examples for %d event types", len(evs), len(types))
	}
	for i, ev := range evs {
		if ev.Type() != types[i] {
			t.Errorf("example %d is %s, want %s", i, ev.Type(), types[i])
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", ev.Type(), err)
		}
	}
}
