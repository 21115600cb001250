// Package lineagetest holds the scripted history the lineage, audit and processor tests share,
// so the unit tests and the integration test against the real broker check the same story.
package lineagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/assay-data/assay/schemas"
)

// T0 is when the history starts; event k happens Minute(k) after it.
var T0 = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)

// At returns the epoch milliseconds of minute m of the history.
func At(m int) int64 { return schemas.Millis(T0.Add(time.Duration(m) * time.Minute)) }

// SHA returns the content hash the history gives an item: sha256 of its id.
func SHA(itemID string) string {
	h := sha256.Sum256([]byte(itemID))
	return hex.EncodeToString(h[:])
}

// Dataset is the dataset of the history.
const Dataset = "ds-cars"

func env(id string, minute int) schemas.Envelope {
	return schemas.Envelope{EventID: id, OccurredAt: At(minute), RecordedAt: At(minute) + 100, Producer: "lineagetest"}
}

// History is the story, in occurred_at order:
//
//   - minutes 0–3: items i1..i4 ingested from two sources;
//   - 5–9: labels l1 (i1, ann-a, cohort-a, from a pre-label), l2 (i2, ann-b, cohort-b),
//     l3 (i3, ann-a, cohort-a), l4 (i4, ann-c, cohort-b); gold for i1 (agrees) and i2 (disagrees);
//   - 10–12: reviews: l1 accepted, l2 corrected, l3 rejected; l4 not reviewed yet;
//   - 20: ds-cars@1 = {i1/l1, i2/l2} (complete);
//   - 30: ds-cars@2 = {i1/l1, i2/l2, i3/l3, i4/l4} (l3 rejected, l4 unreviewed);
//   - 40: training run run-1 on ds-cars@2;
//   - 50: finding f1 (high) on run-1 implicating i3 and i4;
//   - 55: remediation of f1 started; 56: l3b relabels i3 (ann-d, cohort-c); 57–58: l3b and l4 accepted;
//   - 60: ds-cars@3 = {i1/l1, i2/l2, i3/l3b, i4/l4} (complete); 65: f1 shipped with ds-cars@3;
//   - 70: finding f2 (low), no run, implicating i2: still open.
func History() []schemas.Event {
	item := func(id string, m int, source string) schemas.Event {
		return &schemas.ItemIngested{Envelope: env("ev-ingest-"+id, m), ItemID: id, Source: source, URI: "s3://" + source + "/" + id,
			SHA256: SHA(id), Modality: "image", ProjectID: "proj"}
	}
	label := func(id, itemID string, m int, ann, cohort, cat string) *schemas.LabelSubmitted {
		return &schemas.LabelSubmitted{Envelope: env("ev-label-"+id, m), LabelID: id, ItemID: itemID, ProjectID: "proj", TaskID: "task",
			QuestionID: "q", AnnotatorID: ann, Cohort: cohort, GuidelineVersion: "g1", Value: schemas.Nominal(cat), TimeSpentMS: 1000}
	}
	review := func(labelID, itemID string, m int, v schemas.Verdict) schemas.Event {
		r := &schemas.ReviewCompleted{Envelope: env("ev-review-"+labelID, m), ReviewID: "r-" + labelID, LabelID: labelID, ItemID: itemID,
			ReviewerID: "rev-1", Verdict: v}
		if v == schemas.VerdictCorrect {
			c := schemas.Nominal("truck")
			r.CorrectedValue = &c
		}
		return r
	}
	version := func(v, parent string, m int, members ...schemas.Member) schemas.Event {
		return &schemas.DatasetVersionCommitted{Envelope: env("ev-version-"+v, m), DatasetID: Dataset, Version: v, ParentVersion: parent,
			Members: members, ManifestDigest: schemas.ManifestDigest(members)}
	}
	gold := func(itemID string, m int, cat string) schemas.Event {
		return &schemas.GoldLabelSet{Envelope: env("ev-gold-"+itemID, m), ItemID: itemID, QuestionID: "q", Value: schemas.Nominal(cat), SetBy: "expert"}
	}
	mem := func(i, l string) schemas.Member { return schemas.Member{ItemID: i, LabelID: l} }
	l1 := label("l1", "i1", 5, "ann-a", "cohort-a", "car")
	l1.PreLabel = &schemas.PreLabelRef{Model: "detector", ModelVersion: "1.0"}
	return []schemas.Event{
		item("i1", 0, "cam-north"), item("i2", 1, "cam-north"), item("i3", 2, "cam-south"), item("i4", 3, "cam-south"),
		l1, label("l2", "i2", 6, "ann-b", "cohort-b", "car"), label("l3", "i3", 7, "ann-a", "cohort-a", "bus"),
		label("l4", "i4", 8, "ann-c", "cohort-b", "car"),
		gold("i1", 9, "car"), gold("i2", 9, "truck"),
		review("l1", "i1", 10, schemas.VerdictAccept), review("l2", "i2", 11, schemas.VerdictCorrect), review("l3", "i3", 12, schemas.VerdictReject),
		version("1", "", 20, mem("i1", "l1"), mem("i2", "l2")),
		version("2", "1", 30, mem("i1", "l1"), mem("i2", "l2"), mem("i3", "l3"), mem("i4", "l4")),
		&schemas.TrainingRunRegistered{Envelope: env("ev-run-1", 40), RunID: "run-1", Model: "detector-2", DatasetID: Dataset,
			DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: Dataset, Version: "2"}}},
		&schemas.EvalFindingReported{Envelope: env("ev-finding-f1", 50), FindingID: "f1", EvalRun: "eval-1", Model: "detector-2",
			TrainingRunID: "run-1", Slice: "night", ImplicatedItemIDs: []string{"i3", "i4"}, Severity: schemas.SeverityHigh, ProjectID: "proj"},
		&schemas.RemediationStarted{Envelope: env("ev-rem-start-f1", 55), FindingID: "f1", Owner: "data-team", Plan: "relabel i3, review i4"},
		label("l3b", "i3", 56, "ann-d", "cohort-c", "car"),
		review("l3b", "i3", 57, schemas.VerdictAccept), review("l4", "i4", 58, schemas.VerdictAccept),
		version("3", "2", 60, mem("i1", "l1"), mem("i2", "l2"), mem("i3", "l3b"), mem("i4", "l4")),
		&schemas.RemediationShipped{Envelope: env("ev-rem-ship-f1", 65), FindingID: "f1", DatasetID: Dataset, FixingVersion: "3"},
		&schemas.EvalFindingReported{Envelope: env("ev-finding-f2", 70), FindingID: "f2", EvalRun: "eval-2", Model: "detector-3",
			ImplicatedItemIDs: []string{"i2"}, Severity: schemas.SeverityLow, ProjectID: "proj"},
	}
}
