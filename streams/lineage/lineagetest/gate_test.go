package lineagetest_test

import (
	"testing"

	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// TestGateEventsValid: every event of Gate passes the contract's validation and encodes, so the
// tests that produce them exercise the model, not a producer bug.
func TestGateEventsValid(t *testing.T) {
	for _, ev := range lineagetest.Gate() {
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", ev.Meta().EventID, err)
		}
	}
	if _, err := lineagetest.GateRecords(); err != nil {
		t.Fatal(err)
	}
}
