package anomaly

import (
	"github.com/assay-data/assay/schemas"
)

// TargetSet is what the rules read of one QualityTargetsSet.
type TargetSet struct {
	ProjectID, DatasetID, QuestionID string
	// EffectiveAt is when the set comes into force (epoch milliseconds).
	EffectiveAt int64
	// Order is the set's place in the log (its Kafka offset: a project's sets share a
	// partition); of two sets with the same EffectiveAt the later in the log wins.
	Order int64
	// Agreement and MaxLabelDrift are the targets the rules use; nil when not stated.
	Agreement     *schemas.AgreementTarget
	MaxLabelDrift *float64
}

// Targets are the monitoring targets in force for one (project, question).
type Targets struct {
	// Agreement is the agreement target in force (its MinPairableValues is the evidence a
	// window needs, for questions at its level); nil when none is.
	Agreement *schemas.AgreementTarget
	// MaxLabelDrift is the largest label drift tolerated; nil when none is in force.
	MaxLabelDrift *float64
}

// InForce resolves the targets in force at now (epoch milliseconds) for a project's question.
// Anomalies concern the project's labels, not a dataset version, so only the project's sets
// (DatasetID empty) count: among those with EffectiveAt <= now, the latest by EffectiveAt
// (ties: the later in the log) of the question's own sets (QuestionID = question) and of the
// project-wide ones (QuestionID empty). Each target is the question's set's when that set
// states it, else the project-wide set's: a question-narrowed set replaces a target for its
// question, and leaves the others to the project's (the gate's rule for agreement, applied
// target by target).
func InForce(sets []TargetSet, project, question string, now int64) Targets {
	var base, narrow *TargetSet
	later := func(cur *TargetSet, s *TargetSet) bool {
		return cur == nil || s.EffectiveAt > cur.EffectiveAt || (s.EffectiveAt == cur.EffectiveAt && s.Order > cur.Order)
	}
	for i := range sets {
		s := &sets[i]
		if s.ProjectID != project || s.DatasetID != "" || s.EffectiveAt > now {
			continue
		}
		switch s.QuestionID {
		case "":
			if later(base, s) {
				base = s
			}
		case question:
			if question != "" && later(narrow, s) {
				narrow = s
			}
		}
	}
	var t Targets
	for _, s := range []*TargetSet{base, narrow} {
		if s == nil {
			continue
		}
		if s.Agreement != nil {
			t.Agreement = s.Agreement
		}
		if s.MaxLabelDrift != nil {
			t.MaxLabelDrift = s.MaxLabelDrift
		}
	}
	return t
}

// minEvidence is the evidence a window of a question at level needs: the agreement target's
// min_pairable_values when it judges that level, else def.
func (t Targets) minEvidence(level string, def int64) int64 {
	if t.Agreement != nil && string(t.Agreement.Level) == level && t.Agreement.MinPairableValues > 0 {
		return t.Agreement.MinPairableValues
	}
	return def
}

// maxDrift is the project's max_label_drift in force, else def.
func (t Targets) maxDrift(def float64) float64 {
	if t.MaxLabelDrift != nil {
		return *t.MaxLabelDrift
	}
	return def
}
