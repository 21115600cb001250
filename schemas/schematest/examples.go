package schematest

import (
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
)

// T0 is the instant the examples happen at: fixed, so encodings are reproducible.
var T0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func env(id string, minute int) schemas.Envelope {
	at := schemas.Millis(T0.Add(time.Duration(minute) * time.Minute))
	return schemas.Envelope{
		EventID:    id,
		OccurredAt: at,
		RecordedAt: at + 250,
		Producer:   "collector-a",
		Trace:      schemas.Trace{CorrelationID: "corr-1", CausationID: "cause-" + id},
	}
}

// Examples returns one fully populated, valid event of every type, in schemas.EventTypes order,
// with every optional field set so that a round trip exercises all of them. Each call returns
// fresh values that the caller may modify.
func Examples() []schemas.Event {
	sha := strings.Repeat("ab", 32)
	members := []schemas.Member{{ItemID: "item-1", LabelID: "label-1"}, {ItemID: "item-2", LabelID: "label-2"}}
	evs := []schemas.Event{
		&schemas.ItemIngested{Envelope: env("ev-item", 0), ItemID: "item-1", Source: "s3-bucket-a", URI: "s3://bucket-a/img/1.png",
			SHA256: sha, Modality: "image", SliceTags: []string{"night", "urban"}, EdgeCaseTags: []string{"occluded"}, DatasetID: "ds-1", ProjectID: "proj-1"},
		&schemas.PreLabelProposed{Envelope: env("ev-prelabel", 1), ItemID: "item-1", QuestionID: "q-vehicle", Model: "detector", ModelVersion: "1.4.0",
			Value: schemas.Nominal("car"), Confidence: 0.91},
		&schemas.RoutingDecided{Envelope: env("ev-routing", 2), ItemID: "item-1", QuestionID: "q-vehicle", Route: schemas.RouteHumanReview,
			Rule: "confidence-below-threshold", Inputs: []schemas.RoutingInput{{Name: "confidence", Value: 0.91}, {Name: "threshold", Value: 0.95}}, Reason: "below 0.95"},
		&schemas.LabelSubmitted{Envelope: env("ev-label", 3), LabelID: "label-1", ItemID: "item-1", ProjectID: "proj-1", TaskID: "task-1",
			QuestionID: "q-vehicle", AnnotatorID: "ann-1", Cohort: "cohort-a", Vendor: "vendor-x", GuidelineVersion: "g-3",
			Value: schemas.Nominal("car"), TimeSpentMS: 4200, PreLabel: &schemas.PreLabelRef{Model: "detector", ModelVersion: "1.4.0"}},
		&schemas.LabelRetracted{Envelope: env("ev-retract", 4), LabelID: "label-1", ItemID: "item-1", Reason: "misclick"},
		&schemas.GoldLabelSet{Envelope: env("ev-gold", 5), ItemID: "item-1", QuestionID: "q-vehicle", Value: schemas.Ordinal("severe", 3), SetBy: "expert-1"},
		&schemas.ReviewCompleted{Envelope: env("ev-review", 6), ReviewID: "review-1", LabelID: "label-1", ItemID: "item-1", ReviewerID: "rev-1",
			Verdict: schemas.VerdictCorrect, CorrectedValue: ptr(schemas.MultiLabel("car", "truck")), Reason: "two vehicles"},
		&schemas.CoverageTargetSet{Envelope: env("ev-coverage", 7), DatasetID: "ds-1",
			SliceTargets:     []schemas.SliceTarget{{Slice: "night", TargetShare: ptr(0.3)}, {Slice: "urban", MinCount: ptr(int64(500))}},
			EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "occluded", MinCount: 50}}},
		&schemas.DatasetVersionCommitted{Envelope: env("ev-version", 8), DatasetID: "ds-1", Version: "2", ParentVersion: "1",
			Members: members, ManifestDigest: schemas.ManifestDigest(members)},
		&schemas.TrainingRunRegistered{Envelope: env("ev-run", 9), RunID: "run-1", Model: "detector-2", DatasetID: "ds-1",
			DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: "ds-1", Version: "2"}}},
		&schemas.EvalFindingReported{Envelope: env("ev-finding", 10), FindingID: "finding-1", EvalRun: "eval-7", Model: "detector-2",
			TrainingRunID: "run-1", Slice: "night", ImplicatedItemIDs: []string{"item-1", "item-2"}, Severity: schemas.SeverityHigh, ProjectID: "proj-1"},
		&schemas.RemediationStarted{Envelope: env("ev-rem-start", 11), FindingID: "finding-1", Owner: "data-team", Plan: "relabel night slice"},
		&schemas.RemediationShipped{Envelope: env("ev-rem-ship", 12), FindingID: "finding-1", DatasetID: "ds-1", FixingVersion: "3"},
		&schemas.EventRejected{Envelope: env("ev-rejected", 13), Source: "ingest", Original: []byte(`{"event_type":"Nope"}`), Reason: "unknown event type",
			Field: "event_type", OriginalProducer: "collector-a", OriginalTopic: "assay.items.v1", OriginalPartition: ptr(int32(2)), OriginalOffset: ptr(int64(41))},
	}
	for _, ev := range evs {
		ev.Meta().EventType = ev.Type()
	}
	return evs
}
