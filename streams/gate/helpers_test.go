package gate

import (
	"fmt"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
)

// The fixtures every test shares: project p-1, dataset ds-1, questions q-1 (nominal) and
// q-2 (ordinal), all times epoch ms around t0.

const (
	project = "p-1"
	dataset = "ds-1"
	t0      = int64(1_780_000_000_000)
)

var ref1 = VersionRef{dataset, "1"}

func f64(x float64) *float64 { return &x }

// targets returns a QualityTargetsSet of project p-1 effective at eff, with the given
// version, narrowed to ds and q when they are not "", stating what mods set.
func targets(version, ds, q string, eff int64, mods ...func(*schemas.QualityTargetsSet)) *schemas.QualityTargetsSet {
	s := &schemas.QualityTargetsSet{
		Envelope: schemas.Envelope{EventID: "ev-" + version, EventType: schemas.TypeQualityTargetsSet,
			OccurredAt: eff, RecordedAt: eff, Producer: "owner-1"},
		ProjectID: project, TargetsVersion: version, DatasetID: ds, QuestionID: q, EffectiveAt: eff,
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func withAlpha(level schemas.MeasurementLevel, min float64, pairable int64) func(*schemas.QualityTargetsSet) {
	return func(s *schemas.QualityTargetsSet) {
		s.Agreement = &schemas.AgreementTarget{Level: level, MinAlpha: min, MinPairableValues: pairable}
	}
}

func withAccuracy(min float64, d schemas.AccuracyDenominator, gold int64) func(*schemas.QualityTargetsSet) {
	return func(s *schemas.QualityTargetsSet) {
		s.Accuracy = &schemas.AccuracyTarget{MinAccuracy: min, Denominator: d, MinGoldLabels: gold}
	}
}

// full states one of every target, met by goodFigures.
func full(s *schemas.QualityTargetsSet) {
	withAlpha(schemas.LevelNominal, 0.667, 20)(s)
	withAccuracy(0.7, schemas.DenominatorFinalAfterReview, 10)(s)
	s.Coverage = &schemas.CoverageTarget{MinSliceCoverage: f64(1), MinEdgeCaseCoverage: f64(0.5)}
	s.MinLineageCompleteness = f64(1)
	s.MaxReworkRate = f64(0.25)
	s.MaxOpenFindings = []schemas.FindingLimit{{Severity: schemas.SeverityHigh, Max: 2}, {Severity: schemas.SeverityCritical, Max: 0}}
}

// goodFigures meets every target of full.
func goodFigures() Figures {
	return Figures{
		ProjectID: project, Members: 100, Questions: []string{"q-1", "q-2"},
		Agreement: []AgreementFigure{
			{QuestionID: "q-1", Level: schemas.LevelNominal, Alpha: f64(0.81), Low: f64(0.74), High: f64(0.87), Method: "jackknife", PairableValues: 240},
			{QuestionID: "q-2", Level: schemas.LevelOrdinal, Alpha: f64(0.9), Low: f64(0.85), High: f64(0.95), Method: "jackknife", PairableValues: 300},
		},
		Accuracy: []AccuracyFigure{
			{QuestionID: "q-1", Denominator: schemas.DenominatorAllSubmitted, Correct: 60, Total: 100},
			{QuestionID: "q-1", Denominator: schemas.DenominatorFinalAfterReview, Correct: 45, Total: 50},
			{QuestionID: "q-2", Denominator: schemas.DenominatorFinalAfterReview, Correct: 40, Total: 50},
		},
		Coverage:        &CoverageFigure{TargetsEventID: "ev-cov", SliceTargets: 4, SlicesMet: 4, EdgeCaseTargets: 2, EdgeCasesMet: 1},
		LineageComplete: 100, ReworkedLabels: 10, ReviewedLabels: 80,
		OpenFindings: map[schemas.Severity]int64{schemas.SeverityHigh: 2, schemas.SeverityLow: 7},
	}
}

func commit(version string, at int64) *schemas.DatasetVersionCommitted {
	m := []schemas.Member{{ItemID: "item-" + version, LabelID: "label-" + version}}
	return &schemas.DatasetVersionCommitted{
		Envelope: schemas.Envelope{EventID: "ev-commit-" + version, EventType: schemas.TypeDatasetVersionCommitted,
			OccurredAt: at, RecordedAt: at, Producer: "collector-1"},
		DatasetID: dataset, Version: version, Members: m, ManifestDigest: schemas.ManifestDigest(m),
	}
}

func override(version, reason string) *schemas.GateOverrideGranted {
	return &schemas.GateOverrideGranted{
		Envelope:  schemas.Envelope{EventID: "ev-override-" + version, EventType: schemas.TypeGateOverrideGranted, OccurredAt: t0, RecordedAt: t0, Producer: "owner-1"},
		DatasetID: dataset, Version: version, ProjectID: project, Reason: reason,
	}
}

// ms is the instant t0 + d.
func ms(d time.Duration) time.Time { return time.UnixMilli(t0).Add(d) }

// roundTrip encodes ev (which validates it) and decodes it, as the log would give it back.
func roundTrip(t *testing.T, ev schemas.Event) schemas.Event {
	t.Helper()
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatalf("encode %s: %v", ev.Type(), err)
	}
	out, err := schemas.Decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", ev.Type(), err)
	}
	return out
}

func verdictOf(t *testing.T, ev schemas.Event) (*schemas.GateVerdict, bool) {
	t.Helper()
	switch e := ev.(type) {
	case *schemas.DatasetVersionCertified:
		return &e.GateVerdict, true
	case *schemas.DatasetVersionRejected:
		return &e.GateVerdict, false
	}
	t.Fatalf("not a verdict: %T", ev)
	return nil, false
}

// describeChecks renders checks compactly for failure messages and table expectations:
// target[/scope]=status.
func describeChecks(cs []schemas.TargetCheck) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		s := c.Target
		if c.Scope != "" {
			s += "/" + c.Scope
		}
		out[i] = fmt.Sprintf("%s=%s", s, c.Status)
	}
	return out
}
