package lineagetest

import (
	"fmt"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
)

// ClearanceDataset is the dataset of Clearances: its version "v" is the one judged.
const ClearanceDataset = "ds-clear"

// Clearances is a story of training runs registered on one version (ds-clear@v) around the
// gate's verdicts and an owner's override, with each event's occurred_at (the producer's clock)
// and recorded_at (Assay's) apart where it matters, and what each run must find at its
// registration, by run id (the runs that still use the version). Second s of the story is T0
// plus s seconds; records are stamped at(recorded):
//
//   - "early" registers (5) before any verdict: not judged, not certified;
//   - the gate certifies v (recorded 10; its occurred_at is 2);
//   - "certified" registers at 10, the instant of the verdict: certified by verdict 1;
//   - "clock-ahead" occurred at 50 by its producer's clock but was recorded at 8: not judged;
//   - the owner overrides v (25); the gate rejects v (30, verdict 2);
//   - "rejected" registers at 40: rejected by verdict 2, overridden;
//   - "reregistered" registers on w (12), then on v and w (31, 45): its first registration
//     naming v counts (31): verdict 2, overridden;
//   - mallory certifies v (35, sequence 3): not the gate's, it counts nowhere;
//   - "gone" registers on v (11), then on w only (50): it no longer uses v.
func Clearances() ([]schemas.Event, []lineage.RunGate) {
	at := func(s int) int64 { return schemas.Millis(T0.Add(time.Duration(s) * time.Second)) }
	e := func(id string, occurred, recorded int, producer string) schemas.Envelope {
		return schemas.Envelope{EventID: "clear-" + id, OccurredAt: at(occurred), RecordedAt: at(recorded), Producer: producer}
	}
	v := lineage.VersionRef{DatasetID: ClearanceDataset, Version: "v"}
	w := lineage.VersionRef{DatasetID: ClearanceDataset, Version: "w"}
	body := func(seq int64, sup string, certified bool) schemas.GateVerdict {
		status := schemas.CheckPass
		if !certified {
			status = schemas.CheckFail
		}
		return schemas.GateVerdict{DatasetID: ClearanceDataset, Version: "v", ProjectID: "proj", TargetsVersions: []string{"t1"}, Sequence: seq,
			Supersedes: sup, Checks: []schemas.TargetCheck{{Target: "min_lineage_completeness", Threshold: 1, Figure: f(1), Evidence: 1, Status: status}},
			Reason: "by the story"}
	}
	run := func(id string, occurred, recorded int, versions ...lineage.VersionRef) schemas.Event {
		return &schemas.TrainingRunRegistered{Envelope: e(fmt.Sprintf("run-%s-%d", id, recorded), occurred, recorded, "trainer"), RunID: "clear-" + id,
			Model: "m", DatasetID: ClearanceDataset, DatasetVersions: versions}
	}
	members := []schemas.Member{{ItemID: "i1", LabelID: "l1"}}
	gate := func(env schemas.Envelope) schemas.Envelope { env.Producer = GateProducer; return env }
	evs := []schemas.Event{
		&schemas.DatasetVersionCommitted{Envelope: e("commit-v", 1, 1, "c"), DatasetID: ClearanceDataset, Version: "v", Members: members,
			ManifestDigest: schemas.ManifestDigest(members)},
		run("early", 5, 5, v),
		&schemas.DatasetVersionCertified{Envelope: gate(e("verdict-1", 2, 10, "")), GateVerdict: body(1, "", true)},
		run("certified", 10, 10, v),
		run("clock-ahead", 50, 8, v),
		&schemas.DatasetVersionRejected{Envelope: gate(e("verdict-2", 30, 30, "")), GateVerdict: body(2, "clear-verdict-1", false)},
		&schemas.GateOverrideGranted{Envelope: e("override", 25, 25, Owner), DatasetID: ClearanceDataset, Version: "v", ProjectID: "proj",
			Reason: "the reason, spelled out"},
		run("rejected", 40, 40, v),
		run("reregistered", 12, 12, w),
		run("reregistered", 31, 31, v, w),
		run("reregistered", 45, 45, v, w),
		&schemas.DatasetVersionCertified{Envelope: e("forged", 35, 35, Forger), GateVerdict: body(3, "clear-verdict-2", true)},
		run("gone", 11, 11, v),
		run("gone", 50, 50, w),
	}
	want := []lineage.RunGate{
		{RunID: "clear-certified", RegisteredAt: at(10), Sequence: 1, Certified: true},
		{RunID: "clear-clock-ahead", RegisteredAt: at(8)},
		{RunID: "clear-early", RegisteredAt: at(5)},
		{RunID: "clear-rejected", RegisteredAt: at(40), Sequence: 2, Overridden: true},
		{RunID: "clear-reregistered", RegisteredAt: at(31), Sequence: 2, Overridden: true},
	}
	return evs, want
}

// ClearanceRecords is Clearances encoded as the log carries it.
func ClearanceRecords() ([]Record, error) {
	evs, _ := Clearances()
	return Records(evs)
}
