package ledger_test

import (
	"fmt"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// TestSnapshotsRestoreTheRebuiltState: a findings partition's state restored from a snapshot at
// any cut equals the state the log builds and gives the same rows for the rest of the log;
// damaged, foreign and outdated snapshots are refused.
func TestSnapshotsRestoreTheRebuiltState(t *testing.T) {
	var evs []schemas.Event
	for i := range 400 {
		evs = append(evs, stamp("evals", &schemas.EvalFindingReported{FindingID: fmt.Sprintf("f%d", i%150), EvalRun: "e", Model: "m",
			Slice: "s", Severity: schemas.SeverityLow, ProjectID: fmt.Sprintf("p%d", i%4)}))
		if i%3 == 0 {
			evs = append(evs, stamp("evals", &schemas.RemediationStarted{FindingID: fmt.Sprintf("f%d", i%150), Owner: "o", Plan: "fix"}))
		}
	}
	runtimetest.CheckSnapshots(t, ledger.New(), runtimetest.Records("p."+schemas.FamilyFindings.Topic(), 2, evs), runtimetest.SnapshotCheck{})
}
