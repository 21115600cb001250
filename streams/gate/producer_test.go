package gate_test

import (
	"testing"

	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
)

// TestOneGateProducer: the ledger and lineage trust verdicts by the producer the gate stamps;
// a rename in one place would make them refuse every verdict.
func TestOneGateProducer(t *testing.T) {
	if ledger.GateProducer != gate.Producer || lineage.GateProducer != gate.Producer {
		t.Fatalf("gate %q, ledger %q, lineage %q", gate.Producer, ledger.GateProducer, lineage.GateProducer)
	}
}
