package lineage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// TestSnapshotsRestoreTheRebuiltState: the labels and findings partition states restored from a
// snapshot at any cut equal the state the log builds and give the same rows for the rest of the
// log; damaged, foreign and outdated snapshots are refused.
func TestSnapshotsRestoreTheRebuiltState(t *testing.T) {
	var labels []schemas.Event
	cfg := annotation.DefaultConfig("snap", 5)
	cfg.Items = 300
	for _, ev := range annotation.Generate(cfg).Events {
		if ev.Family() == schemas.FamilyLabels {
			labels = append(labels, ev)
		}
	}
	// Retractions by a producer that did not submit the label are refused and change nothing;
	// a label id submitted again by another producer keeps its first producer.
	for i := 0; i < len(labels); i += 11 {
		if l, ok := labels[i].(*schemas.LabelSubmitted); ok {
			r := &schemas.LabelRetracted{LabelID: l.LabelID, ItemID: l.ItemID, Reason: "not mine"}
			r.EventID = fmt.Sprintf("foreign-retraction-%d", i)
			schemas.Stamp(r, "someone-else", time.UnixMilli(l.OccurredAt+1))
			again := *l
			again.EventID, again.Producer = fmt.Sprintf("again-%d", i), "another-tool"
			labels = append(labels, r, &again)
		}
	}
	p := lineage.NewProcessor()
	runtimetest.CheckSnapshots(t, p, runtimetest.Records("p."+schemas.FamilyLabels.Topic(), 1, labels), runtimetest.SnapshotCheck{})

	var findings []schemas.Event
	for i := range 400 {
		f := &schemas.EvalFindingReported{FindingID: fmt.Sprintf("f%d", i%150), EvalRun: "e", Model: "m", Slice: "s",
			Severity: schemas.SeverityHigh, ProjectID: fmt.Sprintf("p%d", i%3)}
		f.EventID = fmt.Sprintf("finding-%d", i)
		schemas.Stamp(f, "evals", time.UnixMilli(1_700_000_000_000+int64(i)))
		findings = append(findings, f)
		if i%4 == 0 {
			s := &schemas.RemediationStarted{FindingID: f.FindingID, Owner: "o", Plan: "relabel"}
			s.EventID = fmt.Sprintf("start-%d", i)
			schemas.Stamp(s, "evals", time.UnixMilli(1_700_000_000_000+int64(i)))
			findings = append(findings, s)
		}
	}
	runtimetest.CheckSnapshots(t, p, runtimetest.Records("p."+schemas.FamilyFindings.Topic(), 0, findings), runtimetest.SnapshotCheck{})
}
