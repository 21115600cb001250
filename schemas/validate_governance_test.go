package schemas_test

import (
	"errors"
	"math"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// TestValidateGovernance: the quality targets, the gate's verdicts and the overrides refuse
// what is out of range or incoherent, naming the field (the gateway's 400), and accept the
// examples' variations that are valid.
func TestValidateGovernance(t *testing.T) {
	type ev = schemas.Event
	targets := func(e ev) *schemas.QualityTargetsSet { return e.(*schemas.QualityTargetsSet) }
	certified := func(e ev) *schemas.GateVerdict { return &e.(*schemas.DatasetVersionCertified).GateVerdict }
	rejected := func(e ev) *schemas.GateVerdict { return &e.(*schemas.DatasetVersionRejected).GateVerdict }
	for _, tc := range []struct {
		name  string
		typ   schemas.EventType
		edit  func(ev)
		field string
	}{
		{"targets valid", schemas.TypeQualityTargetsSet, func(ev) {}, ""},
		{"targets for the whole project", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).DatasetID, targets(e).QuestionID = "", "" }, ""},
		{"alpha above 1", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Agreement.MinAlpha = 1.2 }, "agreement.min_alpha"},
		{"alpha NaN", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Agreement.MinAlpha = math.NaN() }, "agreement.min_alpha"},
		{"negative alpha allowed", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Agreement.MinAlpha = -0.5 }, ""},
		{"unknown level", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Agreement.Level = "cardinal" }, "agreement.level"},
		{"too few pairable values", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Agreement.MinPairableValues = 1 }, "agreement.min_pairable_values"},
		{"accuracy above 1", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Accuracy.MinAccuracy = 1.5 }, "accuracy.min_accuracy"},
		{"unknown denominator", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Accuracy.Denominator = "reviewed" }, "accuracy.denominator"},
		{"no gold labels", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Accuracy.MinGoldLabels = 0 }, "accuracy.min_gold_labels"},
		{"empty coverage", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).Coverage = &schemas.CoverageTarget{} }, "coverage"},
		{"negative rework rate", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).MaxReworkRate = ptr(-0.1) }, "max_rework_rate"},
		{"completeness above 1", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).MinLineageCompleteness = ptr(1.01) }, "min_lineage_completeness"},
		{"unknown severity", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).MaxOpenFindings[1].Severity = "urgent" }, "max_open_findings[1].severity"},
		{"severity twice", schemas.TypeQualityTargetsSet, func(e ev) {
			targets(e).MaxOpenFindings[1].Severity = schemas.SeverityCritical
		}, "max_open_findings[1].severity"},
		{"negative finding limit", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).MaxOpenFindings[0].Max = -1 }, "max_open_findings[0].max"},
		{"effective_at required", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).EffectiveAt = 0 }, "effective_at"},
		{"targets_version required", schemas.TypeQualityTargetsSet, func(e ev) { targets(e).TargetsVersion = "" }, "targets_version"},
		{"no target but gold allowed", schemas.TypeQualityTargetsSet, func(e ev) {
			*targets(e) = schemas.QualityTargetsSet{Envelope: e.(*schemas.QualityTargetsSet).Envelope, ProjectID: "p", TargetsVersion: "t",
				EffectiveAt: 1, AllowGoldInTraining: true}
		}, "targets"},
		{"only no gold in training", schemas.TypeQualityTargetsSet, func(e ev) {
			*targets(e) = schemas.QualityTargetsSet{Envelope: e.(*schemas.QualityTargetsSet).Envelope, ProjectID: "p", TargetsVersion: "t", EffectiveAt: 1}
		}, ""},

		{"certified valid", schemas.TypeDatasetVersionCertified, func(ev) {}, ""},
		{"first verdict", schemas.TypeDatasetVersionCertified, func(e ev) { certified(e).Sequence, certified(e).Supersedes = 1, "" }, ""},
		{"first verdict supersedes", schemas.TypeDatasetVersionCertified, func(e ev) { certified(e).Sequence = 1 }, "supersedes"},
		{"later verdict supersedes nothing", schemas.TypeDatasetVersionRejected, func(e ev) { rejected(e).Supersedes = "" }, "supersedes"},
		{"sequence 0", schemas.TypeDatasetVersionRejected, func(e ev) { rejected(e).Sequence = 0 }, "sequence"},
		{"certified with a failed check", schemas.TypeDatasetVersionCertified, func(e ev) { certified(e).Checks[1].Status = schemas.CheckFail }, "checks[1].status"},
		{"certified without targets", schemas.TypeDatasetVersionCertified, func(e ev) { certified(e).TargetsVersions = nil }, "checks"},
		{"rejected without targets", schemas.TypeDatasetVersionRejected, func(e ev) {
			v := rejected(e)
			v.TargetsVersions, v.Checks = nil, []schemas.TargetCheck{{Target: "targets_in_force", Status: schemas.CheckFail}}
		}, ""},
		{"unknown status", schemas.TypeDatasetVersionRejected, func(e ev) { rejected(e).Checks[0].Status = "maybe" }, "checks[0].status"},
		{"NaN figure", schemas.TypeDatasetVersionRejected, func(e ev) { rejected(e).Checks[0].Figure = ptr(math.NaN()) }, "checks[0].figure"},
		{"infinite bound", schemas.TypeDatasetVersionCertified, func(e ev) { certified(e).Checks[0].High = ptr(math.Inf(1)) }, "checks[0].high"},
		{"no figure", schemas.TypeDatasetVersionRejected, func(e ev) {
			c := &rejected(e).Checks[0]
			c.Figure, c.Status = nil, schemas.CheckNotEnoughData
		}, ""},
		{"verdict reason required", schemas.TypeDatasetVersionRejected, func(e ev) { rejected(e).Reason = "" }, "reason"},

		{"override valid", schemas.TypeGateOverrideGranted, func(ev) {}, ""},
		{"override reason too short", schemas.TypeGateOverrideGranted, func(e ev) { e.(*schemas.GateOverrideGranted).Reason = " because " }, "reason"},
		{"override project required", schemas.TypeGateOverrideGranted, func(e ev) { e.(*schemas.GateOverrideGranted).ProjectID = "" }, "project_id"},
	} {
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
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("got %v, want a *FieldError on %s", err, tc.field)
			}
		})
	}
}
