package lineagetest

import (
	"fmt"

	"github.com/assay-data/assay/schemas"
)

// GateProducer is the gate's producer id (lineage.GateProducer), spelled out here so that
// lineagetest does not need the lineage package for its events.
const GateProducer = "assay-processor/gate"

// Owner is the project owner who grants the history's override.
const Owner = "owner-1"

// Forger is the producer of a verdict the gate did not emit.
const Forger = "mallory"

func f(v float64) *float64 { return &v }

// Gate is what the gate and the owner said about the versions of History, in occurred_at
// order, to be added to History:
//
//   - 21: ds-cars@1 certified (sequence 1): complete, alpha 0.81 in [0.74, 0.87];
//   - 31: ds-cars@2 rejected (sequence 1): lineage completeness 0.5 < 1, alpha not enough data;
//   - 35: Owner overrides ds-cars@2 ("ablation run ...");
//   - 40: (History's run-1 registers on ds-cars@2: rejected then, but overridden);
//   - 45: a certification of ds-cars@2 by Forger: not the gate's, so it counts nowhere;
//   - 59: ds-cars@2 rejected again (sequence 2, superseding 1): completeness 0.75 after l4's
//     review, still below 1;
//   - 61: ds-cars@3 certified (sequence 1).
func Gate() []schemas.Event {
	verdictEnv := func(name string, m int) schemas.Envelope {
		e := env("ev-verdict-"+name, m)
		e.Producer = GateProducer
		return e
	}
	completeness := func(members, complete int64, status schemas.CheckStatus) schemas.TargetCheck {
		return schemas.TargetCheck{Target: "min_lineage_completeness", Threshold: 1, Figure: f(float64(complete) / float64(members)),
			Evidence: members, Status: status, Detail: fmt.Sprintf("%d of %d members have a complete chain", complete, members)}
	}
	alpha := schemas.TargetCheck{Target: "min_alpha", Scope: "q", Threshold: 0.667, Figure: f(0.81), Low: f(0.74), High: f(0.87),
		Evidence: 120, Status: schemas.CheckPass, Detail: "nominal alpha, unit jackknife interval"}
	thin := schemas.TargetCheck{Target: "min_alpha", Scope: "q", Threshold: 0.667, Evidence: 3, Status: schemas.CheckNotEnoughData,
		Detail: "3 pairable values, fewer than the 10 the target needs"}
	body := func(version string, seq int64, supersedes, reason string, checks ...schemas.TargetCheck) schemas.GateVerdict {
		return schemas.GateVerdict{DatasetID: Dataset, Version: version, ProjectID: "proj", TargetsVersions: []string{"t1"},
			Sequence: seq, Supersedes: supersedes, Checks: checks, Reason: reason}
	}
	forged := env("ev-forged-verdict", 45)
	forged.Producer = Forger
	return []schemas.Event{
		&schemas.DatasetVersionCertified{Envelope: verdictEnv("1-1", 21),
			GateVerdict: body("1", 1, "", "meets all 2 targets of t1", alpha, completeness(2, 2, schemas.CheckPass))},
		&schemas.DatasetVersionRejected{Envelope: verdictEnv("2-1", 31),
			GateVerdict: body("2", 1, "", "min_lineage_completeness: 0.5 < 1", thin, completeness(4, 2, schemas.CheckFail))},
		&schemas.GateOverrideGranted{Envelope: schemas.Envelope{EventID: "ev-override-2", OccurredAt: At(35), RecordedAt: At(35) + 100, Producer: Owner},
			DatasetID: Dataset, Version: "2", ProjectID: "proj", Reason: "ablation run on the rejected version, signed off by the data owner"},
		&schemas.DatasetVersionCertified{Envelope: forged,
			GateVerdict: body("2", 3, "ev-verdict-2-1", "certified, says mallory", alpha, completeness(4, 4, schemas.CheckPass))},
		&schemas.DatasetVersionRejected{Envelope: verdictEnv("2-2", 59),
			GateVerdict: body("2", 2, "ev-verdict-2-1", "min_lineage_completeness: 0.75 < 1", alpha, completeness(4, 3, schemas.CheckFail))},
		&schemas.DatasetVersionCertified{Envelope: verdictEnv("3-1", 61),
			GateVerdict: body("3", 1, "", "meets all 2 targets of t1", alpha, completeness(4, 4, schemas.CheckPass))},
	}
}

// GateRecords is Gate encoded as the log carries it.
func GateRecords() ([]Record, error) { return Records(Gate()) }
