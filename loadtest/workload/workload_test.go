package workload_test

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
)

// TestRoundIsEveryTypeOnce: a round is one valid, stamped event of every type of the
// contract, in EventTypes order, and the same seed gives the same events.
func TestRoundIsEveryTypeOnce(t *testing.T) {
	types := schemas.EventTypes()
	if workload.TypesPerRound != len(types) {
		t.Fatalf("TypesPerRound = %d for %d event types", workload.TypesPerRound, len(types))
	}
	a, b := workload.New("w", 5).Rounds(3), workload.New("w", 5).Rounds(3)
	if len(a) != 3*len(types) {
		t.Fatalf("%d events in 3 rounds", len(a))
	}
	ids := map[string]bool{}
	for i, ev := range a {
		if ev.Type() != types[i%len(types)] {
			t.Fatalf("event %d is %s, want %s", i, ev.Type(), types[i%len(types)])
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d (%s): %v", i, ev.Type(), err)
		}
		if m := ev.Meta(); m.Producer != "loadtest" || ids[m.EventID] {
			t.Fatalf("event %d: producer %q, id %q (seen: %v)", i, m.Producer, m.EventID, ids[m.EventID])
		}
		ids[ev.Meta().EventID] = true
		ja, _ := json.Marshal(ev)
		jb, _ := json.Marshal(b[i])
		if string(ja) != string(jb) {
			t.Fatalf("same seed, different event %d:\n%s\n%s", i, ja, jb)
		}
	}
	for _, ev := range workload.New("other", 5).Round(0) {
		if ids[ev.Meta().EventID] {
			t.Fatalf("runs share event id %s", ev.Meta().EventID)
		}
	}
}

// TestExpectedRows: every ledger table gets rows from a round, and rounds scale them.
func TestExpectedRows(t *testing.T) {
	one := workload.ExpectedRows(1)
	for _, tb := range ledger.Tables() {
		if one[tb.Name] == 0 {
			t.Errorf("a round writes no row to %s", tb.Name)
		}
	}
	if len(one) != len(ledger.Tables()) || one[ledger.TableEvents] != workload.TypesPerRound {
		t.Fatalf("ExpectedRows(1) = %v", one)
	}
	three := workload.ExpectedRows(3)
	for tb, n := range one {
		if three[tb] != 3*n {
			t.Errorf("%s: %d rows for 3 rounds, %d for one", tb, three[tb], n)
		}
	}
	if !maps.Equal(one, workload.ExpectedRows(1)) {
		t.Fatal("ExpectedRows is not a function of rounds")
	}
}
