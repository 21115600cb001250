package schemas_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

func ptr[T any](v T) *T { return &v }

// TestValidate: each case breaks one rule of a valid example and expects a
// *FieldError naming exactly that field; field "" means valid.
func TestValidate(t *testing.T) {
	type ev = schemas.Event
	cases := []struct {
		name  string
		typ   schemas.EventType
		edit  func(ev)
		field string
	}{
		// Envelope, on any type.
		{"valid", schemas.TypeLabelSubmitted, func(ev) {}, ""},
		{"event_id required", schemas.TypeLabelSubmitted, func(e ev) { e.Meta().EventID = " " }, "event_id"},
		{"event_type mismatch", schemas.TypeLabelSubmitted, func(e ev) { e.Meta().EventType = schemas.TypeGoldLabelSet }, "event_type"},
		{"event_type may be empty", schemas.TypeLabelSubmitted, func(e ev) { e.Meta().EventType = "" }, ""},
		{"occurred_at required", schemas.TypeGoldLabelSet, func(e ev) { e.Meta().OccurredAt = 0 }, "occurred_at"},
		{"recorded_at required", schemas.TypeGoldLabelSet, func(e ev) { e.Meta().RecordedAt = -1 }, "recorded_at"},
		{"producer required", schemas.TypeGoldLabelSet, func(e ev) { e.Meta().Producer = "" }, "producer"},
		{"trace optional", schemas.TypeGoldLabelSet, func(e ev) { e.Meta().Trace = schemas.Trace{} }, ""},

		// ItemIngested.
		{"sha256 short", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).SHA256 = "abc" }, "sha256"},
		{"sha256 uppercase", schemas.TypeItemIngested, func(e ev) {
			e.(*schemas.ItemIngested).SHA256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
		}, "sha256"},
		{"item_id required", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).ItemID = "" }, "item_id"},
		{"uri required", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).URI = "" }, "uri"},
		{"dataset_id optional", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).DatasetID = "" }, ""},
		{"duplicate slice tag", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).SliceTags = []string{"a", "a"} }, "slice_tags[1]"},
		{"duplicate slice tag in a long list", schemas.TypeItemIngested, func(e ev) {
			e.(*schemas.ItemIngested).SliceTags = append(strings.Fields("a b c d e f g h i j k l m n o p q r"), "c")
		}, "slice_tags[18]"},
		{"empty slice tag in a long list", schemas.TypeItemIngested, func(e ev) {
			e.(*schemas.ItemIngested).SliceTags = append(strings.Fields("a b c d e f g h i j k l m n o p q r"), " ")
		}, "slice_tags[18]"},
		{"empty edge tag", schemas.TypeItemIngested, func(e ev) { e.(*schemas.ItemIngested).EdgeCaseTags = []string{""} }, "edge_case_tags[0]"},

		// PreLabelProposed.
		{"confidence > 1", schemas.TypePreLabelProposed, func(e ev) { e.(*schemas.PreLabelProposed).Confidence = 1.5 }, "confidence"},
		{"confidence NaN", schemas.TypePreLabelProposed, func(e ev) { e.(*schemas.PreLabelProposed).Confidence = math.NaN() }, "confidence"},
		{"prelabel value", schemas.TypePreLabelProposed, func(e ev) { e.(*schemas.PreLabelProposed).Value = schemas.MultiLabel("a", "a") }, "value.categories[1]"},

		// RoutingDecided.
		{"bad route", schemas.TypeRoutingDecided, func(e ev) { e.(*schemas.RoutingDecided).Route = "later" }, "route"},
		{"rule required", schemas.TypeRoutingDecided, func(e ev) { e.(*schemas.RoutingDecided).Rule = "" }, "rule"},
		{"input name", schemas.TypeRoutingDecided, func(e ev) {
			e.(*schemas.RoutingDecided).Inputs = []schemas.RoutingInput{{Name: "a"}, {Value: 1}}
		}, "inputs[1].name"},

		// LabelSubmitted and label values by level.
		{"annotator required", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).AnnotatorID = "" }, "annotator_id"},
		{"negative time", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).TimeSpentMS = -1 }, "time_spent_ms"},
		{"pre_label model", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).PreLabel.Model = "" }, "pre_label.model"},
		{"no pre_label ok", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).PreLabel = nil }, ""},
		{"cohort vendor optional", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Cohort, e.(*schemas.LabelSubmitted).Vendor = "", "" }, ""},
		{"bad level", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value.Level = "fuzzy" }, "value.level"},
		{"ordinal ok", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Ordinal("good", 0) }, ""},
		{"ordinal needs rank", schemas.TypeLabelSubmitted, func(e ev) {
			e.(*schemas.LabelSubmitted).Value = schemas.LabelValue{Level: schemas.LevelOrdinal, Category: "good"}
		}, "value.rank"},
		{"ordinal negative rank", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Ordinal("good", -1) }, "value.rank"},
		{"ordinal needs category", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Ordinal("", 2) }, "value.category"},
		{"ordinal with number", schemas.TypeLabelSubmitted, func(e ev) {
			v := schemas.Ordinal("good", 2)
			v.Number = ptr(1.0)
			e.(*schemas.LabelSubmitted).Value = v
		}, "value.number"},
		{"nominal ok", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Nominal("x") }, ""},
		{"nominal with rank", schemas.TypeLabelSubmitted, func(e ev) {
			v := schemas.Nominal("x")
			v.Rank = ptr(int32(1))
			e.(*schemas.LabelSubmitted).Value = v
		}, "value.rank"},
		{"interval negative ok", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Interval(-3) }, ""},
		{"interval needs number", schemas.TypeLabelSubmitted, func(e ev) {
			e.(*schemas.LabelSubmitted).Value = schemas.LabelValue{Level: schemas.LevelInterval}
		}, "value.number"},
		{"interval infinite", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Interval(math.Inf(1)) }, "value.number"},
		{"ratio negative", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.Ratio(-0.5) }, "value.number"},
		{"ratio with category", schemas.TypeLabelSubmitted, func(e ev) {
			v := schemas.Ratio(2)
			v.Category = "x"
			e.(*schemas.LabelSubmitted).Value = v
		}, "value.category"},
		{"multi_label empty set ok", schemas.TypeLabelSubmitted, func(e ev) { e.(*schemas.LabelSubmitted).Value = schemas.MultiLabel() }, ""},
		{"multi_label with category", schemas.TypeLabelSubmitted, func(e ev) {
			v := schemas.MultiLabel("a")
			v.Category = "a"
			e.(*schemas.LabelSubmitted).Value = v
		}, "value.category"},

		// LabelRetracted, GoldLabelSet.
		{"retract reason", schemas.TypeLabelRetracted, func(e ev) { e.(*schemas.LabelRetracted).Reason = "" }, "reason"},
		{"gold set_by", schemas.TypeGoldLabelSet, func(e ev) { e.(*schemas.GoldLabelSet).SetBy = "" }, "set_by"},
		{"gold value", schemas.TypeGoldLabelSet, func(e ev) { e.(*schemas.GoldLabelSet).Value = schemas.Nominal("") }, "value.category"},

		// ReviewCompleted.
		{"bad verdict", schemas.TypeReviewCompleted, func(e ev) { e.(*schemas.ReviewCompleted).Verdict = "maybe" }, "verdict"},
		{"correct needs value", schemas.TypeReviewCompleted, func(e ev) { e.(*schemas.ReviewCompleted).CorrectedValue = nil }, "corrected_value"},
		{"accept forbids value", schemas.TypeReviewCompleted, func(e ev) { e.(*schemas.ReviewCompleted).Verdict = schemas.VerdictAccept }, "corrected_value"},
		{"accept ok", schemas.TypeReviewCompleted, func(e ev) {
			r := e.(*schemas.ReviewCompleted)
			r.Verdict, r.CorrectedValue, r.Reason = schemas.VerdictAccept, nil, ""
		}, ""},
		{"corrected value checked", schemas.TypeReviewCompleted, func(e ev) {
			e.(*schemas.ReviewCompleted).CorrectedValue = &schemas.LabelValue{Level: schemas.LevelRatio}
		}, "corrected_value.number"},

		// CoverageTargetSet.
		{"target needs share or count", schemas.TypeCoverageTargetSet, func(e ev) {
			setTargets(e, schemas.SliceTarget{Slice: "a", MinCount: ptr(int64(1))}, schemas.SliceTarget{Slice: "b"})
		}, "slice_targets[1]"},
		{"share out of range", schemas.TypeCoverageTargetSet, func(e ev) {
			setTargets(e, schemas.SliceTarget{Slice: "a", TargetShare: ptr(1.2)})
		}, "slice_targets[0].target_share"},
		{"shares sum over 1", schemas.TypeCoverageTargetSet, func(e ev) {
			setTargets(e, schemas.SliceTarget{Slice: "a", TargetShare: ptr(0.7)}, schemas.SliceTarget{Slice: "b", TargetShare: ptr(0.4)})
		}, "slice_targets"},
		{"shares sum to 1 ok", schemas.TypeCoverageTargetSet, func(e ev) {
			setTargets(e, schemas.SliceTarget{Slice: "a", TargetShare: ptr(0.7)}, schemas.SliceTarget{Slice: "b", TargetShare: ptr(0.3), MinCount: ptr(int64(0))})
		}, ""},
		{"duplicate slice", schemas.TypeCoverageTargetSet, func(e ev) {
			setTargets(e, schemas.SliceTarget{Slice: "a", MinCount: ptr(int64(1))}, schemas.SliceTarget{Slice: "b", MinCount: ptr(int64(1))},
				schemas.SliceTarget{Slice: "a", MinCount: ptr(int64(1))})
		}, "slice_targets[2].slice"},
		{"negative min count", schemas.TypeCoverageTargetSet, func(e ev) {
			e.(*schemas.CoverageTargetSet).EdgeCaseMinimums[0].MinCount = -1
		}, "edge_case_minimums[0].min_count"},
		{"no targets ok", schemas.TypeCoverageTargetSet, func(e ev) {
			c := e.(*schemas.CoverageTargetSet)
			c.SliceTargets, c.EdgeCaseMinimums = nil, nil
		}, ""},

		// DatasetVersionCommitted.
		{"members required", schemas.TypeDatasetVersionCommitted, func(e ev) {
			d := e.(*schemas.DatasetVersionCommitted)
			d.Members, d.ManifestDigest = nil, schemas.ManifestDigest(nil)
		}, "members"},
		{"digest mismatch", schemas.TypeDatasetVersionCommitted, func(e ev) {
			e.(*schemas.DatasetVersionCommitted).Members[0].LabelID = "label-other"
		}, "manifest_digest"},
		{"member label required", schemas.TypeDatasetVersionCommitted, func(e ev) {
			d := e.(*schemas.DatasetVersionCommitted)
			d.Members = []schemas.Member{{ItemID: "i", LabelID: "l"}, {ItemID: "j"}}
		}, "members[1].label_id"},
		{"member tab", schemas.TypeDatasetVersionCommitted, func(e ev) {
			e.(*schemas.DatasetVersionCommitted).Members[0].ItemID = "a\tb"
		}, "members[0].item_id"},
		{"duplicate member", schemas.TypeDatasetVersionCommitted, func(e ev) {
			d := e.(*schemas.DatasetVersionCommitted)
			d.Members = []schemas.Member{{ItemID: "i", LabelID: "l"}, {ItemID: "i", LabelID: "l"}}
			d.ManifestDigest = schemas.ManifestDigest(d.Members)
		}, "members[1]"},
		{"same item, two labels ok", schemas.TypeDatasetVersionCommitted, func(e ev) {
			d := e.(*schemas.DatasetVersionCommitted)
			d.Members = []schemas.Member{{ItemID: "i", LabelID: "l1"}, {ItemID: "i", LabelID: "l2"}}
			d.ManifestDigest = schemas.ManifestDigest(d.Members)
		}, ""},
		{"parent equals version", schemas.TypeDatasetVersionCommitted, func(e ev) {
			d := e.(*schemas.DatasetVersionCommitted)
			d.ParentVersion = d.Version
		}, "parent_version"},
		{"first version ok", schemas.TypeDatasetVersionCommitted, func(e ev) {
			e.(*schemas.DatasetVersionCommitted).ParentVersion = ""
		}, ""},

		// TrainingRunRegistered.
		{"versions required", schemas.TypeTrainingRunRegistered, func(e ev) {
			e.(*schemas.TrainingRunRegistered).DatasetVersions = nil
		}, "dataset_versions"},
		{"primary dataset listed", schemas.TypeTrainingRunRegistered, func(e ev) {
			e.(*schemas.TrainingRunRegistered).DatasetID = "ds-other"
		}, "dataset_id"},
		{"version ref", schemas.TypeTrainingRunRegistered, func(e ev) {
			r := e.(*schemas.TrainingRunRegistered)
			r.DatasetVersions = append(r.DatasetVersions, schemas.DatasetVersionRef{DatasetID: "ds-extra"})
		}, "dataset_versions[1].version"},
		{"duplicate version ref", schemas.TypeTrainingRunRegistered, func(e ev) {
			r := e.(*schemas.TrainingRunRegistered)
			r.DatasetVersions = append(r.DatasetVersions, r.DatasetVersions[0])
		}, "dataset_versions[1]"},

		// Findings.
		{"bad severity", schemas.TypeEvalFindingReported, func(e ev) { e.(*schemas.EvalFindingReported).Severity = "urgent" }, "severity"},
		{"training run optional", schemas.TypeEvalFindingReported, func(e ev) {
			f := e.(*schemas.EvalFindingReported)
			f.TrainingRunID, f.Slice, f.ImplicatedItemIDs = "", "", nil
		}, ""},
		{"owner required", schemas.TypeRemediationStarted, func(e ev) { e.(*schemas.RemediationStarted).Owner = "" }, "owner"},
		{"fixing version required", schemas.TypeRemediationShipped, func(e ev) { e.(*schemas.RemediationShipped).FixingVersion = "" }, "fixing_version"},

		// EventRejected.
		{"dlq reason", schemas.TypeEventRejected, func(e ev) { e.(*schemas.EventRejected).Reason = "" }, "reason"},
		{"dlq empty original ok", schemas.TypeEventRejected, func(e ev) { e.(*schemas.EventRejected).Original = nil }, ""},
		{"dlq offset needs topic", schemas.TypeEventRejected, func(e ev) { e.(*schemas.EventRejected).OriginalTopic = "" }, "original_topic"},
		{"dlq negative partition", schemas.TypeEventRejected, func(e ev) { e.(*schemas.EventRejected).OriginalPartition = ptr(int32(-1)) }, "original_partition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := schematest.Example(tc.typ)
			tc.edit(e)
			err := e.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError on %s", err, tc.field)
			}
			if fe.Field != tc.field || fe.Reason == "" || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("got FieldError %q (%s), want field %s", fe.Field, fe.Reason, tc.field)
			}
		})
	}
}

// setTargets replaces a CoverageTargetSet's slice targets.
func setTargets(e schemas.Event, ts ...schemas.SliceTarget) {
	e.(*schemas.CoverageTargetSet).SliceTargets = ts
}

func TestRejection(t *testing.T) {
	bad := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested)
	bad.URI = ""
	r := schemas.Rejection("ingest:http", []byte("raw"), "collector-1", bad.Validate())
	schemas.Stamp(r, "ingest", testNow)
	if r.Field != "uri" || r.Reason != "uri: required" || r.OriginalProducer != "collector-1" || r.Key() != "ingest:http" {
		t.Fatalf("%+v", r)
	}
	if _, err := schemas.Encode(r); err != nil {
		t.Fatal(err)
	}
}
