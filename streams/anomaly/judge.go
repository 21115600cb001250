package anomaly

import (
	"fmt"
	"strings"
	"time"
)

// ScopeMeasures are one scope's agreement in the preceding and the current window.
type ScopeMeasures struct {
	ProjectID, QuestionID, Level string
	// Scope is cohort:<c>, vendor:<v> or annotator:<a>.
	Scope             string
	Previous, Current Measure
}

// QuestionDistributions are one question's labels in the current window and the baseline.
type QuestionDistributions struct {
	ProjectID, QuestionID string
	Current, Baseline     Distribution
}

// Inputs are the facts a judgement reads (Detect reads them from ClickHouse).
type Inputs struct {
	// Windows are the spans judged.
	Windows Windows
	// Targets are the project's QualityTargetsSets.
	Targets []TargetSet
	// Agreement are the cohorts', vendors' and annotators' measures.
	Agreement []ScopeMeasures
	// Distributions are the questions' label distributions.
	Distributions []QuestionDistributions
}

// Judge applies the rules to in with cfg's settings (defaults filled): the pure core of
// Detect. Anomalies come sorted by kind, project, question and scope.
func Judge(in Inputs, cfg Config) ([]Anomaly, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	now := cfg.Now.UnixMilli()
	since := in.Windows.Current.From.UTC().Format(time.DateOnly)
	type pq struct{ project, question string }
	cache := map[pq]Targets{}
	targets := func(project, question string) Targets {
		k := pq{project, question}
		t, ok := cache[k]
		if !ok {
			t = InForce(in.Targets, project, question, now)
			cache[k] = t
		}
		return t
	}
	var out []Anomaly
	z := zOneSided(cfg.FalseAlarm)
	for _, s := range in.Agreement {
		rule := DropRule{MinEvidence: targets(s.ProjectID, s.QuestionID).minEvidence(s.Level, cfg.MinPairableValues), Z: z, MinDrop: cfg.MinDrop}
		v := rule.Judge(s.Previous, s.Current)
		if !v.Fired {
			continue
		}
		what := "alpha"
		if strings.HasPrefix(s.Scope, annotatorPrefix) {
			what = "agreement with the other annotators"
		}
		prev := s.Previous.Value
		significance := fmt.Sprintf("beyond the noise margin %.3f (%.2f standard errors)", v.Margin, z)
		if v.Scale != "" {
			significance = fmt.Sprintf("%.3f on %s, beyond the noise margin %.3f there (%.2f standard errors)", v.ScaleDrop, v.Scale, v.Margin, z)
		}
		out = append(out, Anomaly{Kind: KindAgreementDrop, ProjectID: s.ProjectID, QuestionID: s.QuestionID, Scope: s.Scope,
			Current: s.Current.Value, Previous: &prev, Threshold: v.Threshold,
			Evidence: s.Current.Evidence, ReferenceEvidence: s.Previous.Evidence, Since: since,
			Detail: fmt.Sprintf("%s of %s on %s fell from %.3f (evidence %d) to %.3f (evidence %d) since %s: a drop of %.3f (%s), at least the minimum %.3f",
				what, s.Scope, s.QuestionID, prev, s.Previous.Evidence, s.Current.Value, s.Current.Evidence, since,
				v.Drop, significance, cfg.MinDrop)})
	}
	for _, d := range in.Distributions {
		rule := DriftRule{MinLabels: cfg.MinDriftLabels, MaxDrift: targets(d.ProjectID, d.QuestionID).maxDrift(cfg.MaxLabelDrift), FalseAlarm: cfg.FalseAlarm}
		v := rule.Judge(d.Current, d.Baseline)
		if !v.Fired {
			continue
		}
		noise := v.NoiseBound
		moved := make([]string, len(v.Shifts))
		for i, s := range v.Shifts {
			moved[i] = describeShift(s)
		}
		out = append(out, Anomaly{Kind: KindLabelDrift, ProjectID: d.ProjectID, QuestionID: d.QuestionID, Scope: ScopeAll,
			Current: v.Distance, NoiseBound: &noise, Threshold: v.Threshold,
			Evidence: d.Current.Labels(), ReferenceEvidence: d.Baseline.Labels(), Since: since, Shifts: v.Shifts,
			Detail: fmt.Sprintf("labels of %s since %s (%d) are at total-variation distance %.3f from the %d windows before (%d labels), over the maximum %.3f and the noise bound %.3f; most moved: %s",
				d.QuestionID, since, d.Current.Labels(), v.Distance, cfg.BaselineWindows, d.Baseline.Labels(), rule.MaxDrift, noise, strings.Join(moved, ", "))})
	}
	sortAnomalies(out)
	return out, nil
}

// annotatorPrefix starts an annotator's scope.
const annotatorPrefix = "annotator:"
