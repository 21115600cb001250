package gate

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
)

func TestEvaluate(t *testing.T) {
	type set = *schemas.QualityTargetsSet
	base := func(mods ...func(set)) []set { return []set{targets("t-1", "", "", t0, mods...)} }
	only := func(mods ...func(set)) []set { // the base set with nothing but mods, gold allowed
		return base(append([]func(set){func(s set) { s.AllowGoldInTraining = true }}, mods...)...)
	}
	const (
		pass = "pass"
		fail = "fail"
		ned  = "not_enough_data"
	)
	tests := []struct {
		name      string
		sets      []set
		figures   func(*Figures)
		checks    []string // target[/scope]=status, in order
		certified bool
		reason    string // a substring of the reason
	}{
		{name: "no targets in force", checks: []string{"targets_in_force=" + ned}, reason: "no quality targets in force"},
		{name: "every target met", sets: base(full), certified: true, reason: "meets all 10 checks of t-1",
			checks: []string{"min_alpha/q-1=" + pass, "min_accuracy/q-1=" + pass, "min_accuracy/q-2=" + pass,
				"min_slice_coverage=" + pass, "min_edge_case_coverage=" + pass, "min_lineage_completeness=" + pass,
				"max_rework_rate=" + pass, "max_open_findings/critical=" + pass, "max_open_findings/high=" + pass,
				"no_gold_in_training=" + pass}},
		{name: "targets that judge nothing", sets: only(func(s set) { s.MaxLabelDrift = f64(0.2) }),
			checks: []string{"targets_in_force=" + ned}, reason: "state no target the gate judges"},

		// min_alpha
		{name: "alpha below the minimum", sets: only(withAlpha(schemas.LevelNominal, 0.9, 20)),
			checks: []string{"min_alpha/q-1=" + fail}, reason: "min_alpha on q-1 failed: nominal alpha 0.81 over 240 pairable values, below 0.9"},
		{name: "alpha on too few pairable values", sets: only(withAlpha(schemas.LevelNominal, 0.5, 241)),
			checks: []string{"min_alpha/q-1=" + ned}, reason: "240 pairable values, below the minimum of 241"},
		{name: "alpha undefined", sets: only(withAlpha(schemas.LevelNominal, 0.5, 20)),
			figures: func(f *Figures) {
				f.Agreement[0].Alpha, f.Agreement[0].Low, f.Agreement[0].High = nil, nil, nil
				f.Agreement[0].Undefined = "no disagreement is expected: one value only"
			},
			checks: []string{"min_alpha/q-1=" + ned}, reason: "one value only"},
		{name: "alpha not finite is undefined", sets: only(withAlpha(schemas.LevelNominal, 0.5, 20)),
			figures: func(f *Figures) { f.Agreement[0].Alpha, f.Agreement[0].Low = f64(math.NaN()), f64(math.Inf(-1)) },
			checks:  []string{"min_alpha/q-1=" + ned}, reason: "nominal alpha is undefined over 240 pairable values"},
		{name: "alpha judged on its lower bound", sets: only(withAlpha(schemas.LevelNominal, 0.8, 20), func(s set) { s.Agreement.OnLowerBound = true }),
			checks: []string{"min_alpha/q-1=" + fail}, reason: "lower bound of nominal alpha's 95% interval (jackknife) 0.74"},
		{name: "a project-wide alpha target skips questions at another level", sets: only(withAlpha(schemas.LevelOrdinal, 0.8, 20)),
			checks: []string{"min_alpha/q-2=" + pass}, certified: true},
		{name: "a question with no alpha at all is not enough data", sets: only(withAlpha(schemas.LevelNominal, 0.5, 20)),
			figures: func(f *Figures) { f.Agreement = f.Agreement[1:] },
			checks:  []string{"min_alpha/q-1=" + ned}},
		{name: "a narrowed alpha target at another level than its question's fails",
			sets:   append(only(), targets("t-q2", "", "q-2", t0, withAlpha(schemas.LevelNominal, 0.5, 20))),
			checks: []string{"min_alpha/q-2=" + fail}, reason: "answered at level ordinal"},

		{name: "a project-wide alpha target at a level no question has is not enough data, not a pass",
			sets:   only(withAlpha(schemas.LevelInterval, 0.8, 20)),
			checks: []string{"min_alpha=" + ned}, reason: "no question of the project has a interval alpha to judge"},
		{name: "targets on a project with no question yet (the ledger lags) are not enough data",
			sets:    only(withAlpha(schemas.LevelNominal, 0.8, 20), withAccuracy(0.7, schemas.DenominatorAllSubmitted, 10)),
			figures: func(f *Figures) { f.Questions, f.Agreement, f.Accuracy = nil, nil, nil },
			checks:  []string{"min_alpha=" + ned, "min_accuracy=" + ned}},

		// min_accuracy
		{name: "accuracy below the minimum", sets: only(withAccuracy(0.85, schemas.DenominatorFinalAfterReview, 10)),
			checks: []string{"min_accuracy/q-1=" + pass, "min_accuracy/q-2=" + fail}, reason: "min_accuracy on q-2 failed: final_after_review accuracy 0.8 (40 of 50 labels equal gold), below 0.85"},
		{name: "accuracy counts the target's denominator", sets: only(withAccuracy(0.7, schemas.DenominatorAllSubmitted, 10)),
			checks: []string{"min_accuracy/q-1=" + fail, "min_accuracy/q-2=" + ned}},
		{name: "accuracy on too few gold labels", sets: only(withAccuracy(0.7, schemas.DenominatorFinalAfterReview, 51)),
			checks: []string{"min_accuracy/q-1=" + ned, "min_accuracy/q-2=" + ned}, reason: "50 final_after_review labels counted against gold, below the minimum of 51 (and 1 more"},

		// question-narrowed targets
		{name: "a narrowed set replaces the base's agreement and accuracy for its question",
			sets: append(only(withAlpha(schemas.LevelNominal, 0.9, 20), withAccuracy(0.85, schemas.DenominatorFinalAfterReview, 10)),
				targets("t-q1", "", "q-1", t0, withAlpha(schemas.LevelNominal, 0.8, 20))),
			checks: []string{"min_alpha/q-1=" + pass, "min_accuracy/q-2=" + fail}},
		{name: "a narrowed set with only accuracy replaces the base's alpha for its question too",
			sets: append(only(withAlpha(schemas.LevelNominal, 0.9, 20)),
				targets("t-q1", "", "q-1", t0, withAccuracy(0.5, schemas.DenominatorFinalAfterReview, 10))),
			checks: []string{"min_accuracy/q-1=" + pass}, certified: true},
		{name: "unknown question", sets: append(only(), targets("t-q9", "", "q-9", t0, withAlpha(schemas.LevelNominal, 0.5, 20), withAccuracy(0.5, schemas.DenominatorAllSubmitted, 1))),
			checks: []string{"min_alpha/q-9=" + fail, "min_accuracy/q-9=" + fail}, reason: "unknown question: no label of the project answers q-9"},
		{name: "only narrowed sets judge gold by default",
			sets:   []set{targets("t-q1", "", "q-1", t0, withAccuracy(0.5, schemas.DenominatorFinalAfterReview, 10))},
			checks: []string{"min_accuracy/q-1=" + pass, "no_gold_in_training=" + pass}, certified: true},

		// coverage
		{name: "slice coverage below the minimum", sets: only(func(s set) { s.Coverage = &schemas.CoverageTarget{MinSliceCoverage: f64(1)} }),
			figures: func(f *Figures) { f.Coverage.SlicesMet = 3 },
			checks:  []string{"min_slice_coverage=" + fail}, reason: "meets 3 of 4 slice targets of CoverageTargetSet ev-cov, below 1"},
		{name: "edge-case coverage below the minimum", sets: only(func(s set) { s.Coverage = &schemas.CoverageTarget{MinEdgeCaseCoverage: f64(0.6)} }),
			checks: []string{"min_edge_case_coverage=" + fail}},
		{name: "no coverage targets in force for the dataset", sets: only(func(s set) {
			s.Coverage = &schemas.CoverageTarget{MinSliceCoverage: f64(1), MinEdgeCaseCoverage: f64(0.5)}
		}),
			figures: func(f *Figures) { f.Coverage = nil },
			checks:  []string{"min_slice_coverage=" + ned, "min_edge_case_coverage=" + ned}, reason: "no CoverageTargetSet in force at the commit"},
		{name: "coverage targets without edge cases", sets: only(func(s set) { s.Coverage = &schemas.CoverageTarget{MinEdgeCaseCoverage: f64(0.5)} }),
			figures: func(f *Figures) { f.Coverage.EdgeCaseTargets, f.Coverage.EdgeCasesMet = 0, 0 },
			checks:  []string{"min_edge_case_coverage=" + ned}},

		// the version as a whole
		{name: "lineage incomplete", sets: only(func(s set) { s.MinLineageCompleteness = f64(1) }),
			figures: func(f *Figures) { f.LineageComplete = 99 },
			checks:  []string{"min_lineage_completeness=" + fail}, reason: "99 of 100 members have a complete chain, below 1"},
		{name: "rework above the maximum", sets: only(func(s set) { s.MaxReworkRate = f64(0.1) }),
			checks: []string{"max_rework_rate=" + fail}, reason: "10 of 80 reviewed member labels rejected or corrected, above 0.1"},
		{name: "rework without reviews", sets: only(func(s set) { s.MaxReworkRate = f64(0.1) }),
			figures: func(f *Figures) { f.ReviewedLabels, f.ReworkedLabels = 0, 0 },
			checks:  []string{"max_rework_rate=" + ned}},
		{name: "open findings above a severity's maximum", sets: only(func(s set) {
			s.MaxOpenFindings = []schemas.FindingLimit{{Severity: schemas.SeverityLow, Max: 5}, {Severity: schemas.SeverityCritical, Max: 0}}
		}),
			checks: []string{"max_open_findings/critical=" + pass, "max_open_findings/low=" + fail}, reason: "7 open low findings"},
		{name: "gold in training", sets: base(),
			figures: func(f *Figures) { f.GoldMembers = 3 },
			checks:  []string{"no_gold_in_training=" + fail}, reason: "3 of 100 members are gold items"},
		{name: "gold allowed", sets: only(func(s set) { s.MinLineageCompleteness = f64(1) }),
			figures: func(f *Figures) { f.GoldMembers = 3 },
			checks:  []string{"min_lineage_completeness=" + pass}, certified: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodFigures()
			if tt.figures != nil {
				tt.figures(&f)
			}
			v := Evaluate(Resolve(tt.sets, dataset, t0), f)
			if got := describeChecks(v.Checks); !slices.Equal(got, tt.checks) {
				t.Fatalf("checks\n got %v\nwant %v", got, tt.checks)
			}
			if Certified(v) != tt.certified {
				t.Fatalf("certified = %v, want %v (reason %q)", Certified(v), tt.certified, v.Reason)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Fatalf("reason %q does not contain %q", v.Reason, tt.reason)
			}
			if v.ProjectID != project {
				t.Fatalf("project %q", v.ProjectID)
			}
			// Every verdict Evaluate builds is a valid event body.
			g := v
			g.DatasetID, g.Version, g.Sequence = dataset, "1", 1
			env := schemas.Envelope{EventID: "ev-x", OccurredAt: t0, RecordedAt: t0, Producer: Producer}
			var ev schemas.Event = &schemas.DatasetVersionRejected{Envelope: env, GateVerdict: g}
			if Certified(v) {
				ev = &schemas.DatasetVersionCertified{Envelope: env, GateVerdict: g}
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid verdict: %v", err)
			}
		})
	}
}

// TestEvaluateFigures pins what one check carries: threshold, figure, interval and evidence.
func TestEvaluateFigures(t *testing.T) {
	v := Evaluate(Resolve([]*schemas.QualityTargetsSet{targets("t-1", "", "", t0, full)}, dataset, t0), goodFigures())
	byName := map[string]schemas.TargetCheck{}
	for _, c := range v.Checks {
		byName[c.Target+"/"+c.Scope] = c
	}
	want := []struct {
		key               string
		threshold, figure float64
		low, high         *float64
		evidence          int64
	}{
		{"min_alpha/q-1", 0.667, 0.81, f64(0.74), f64(0.87), 240},
		{"min_accuracy/q-1", 0.7, 0.9, nil, nil, 50},
		{"min_slice_coverage/", 1, 1, nil, nil, 4},
		{"min_edge_case_coverage/", 0.5, 0.5, nil, nil, 2},
		{"min_lineage_completeness/", 1, 1, nil, nil, 100},
		{"max_rework_rate/", 0.25, 0.125, nil, nil, 80},
		{"max_open_findings/high", 2, 2, nil, nil, 2},
		{"no_gold_in_training/", 0, 0, nil, nil, 100},
	}
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	for _, w := range want {
		c, ok := byName[w.key]
		if !ok {
			t.Fatalf("no check %s in %v", w.key, describeChecks(v.Checks))
		}
		if c.Threshold != w.threshold || c.Figure == nil || *c.Figure != w.figure || !eq(c.Low, w.low) || !eq(c.High, w.high) || c.Evidence != w.evidence {
			t.Errorf("%s: threshold %v figure %v low %v high %v evidence %d, want %v %v %v %v %d", w.key,
				c.Threshold, deref(c.Figure), deref(c.Low), deref(c.High), c.Evidence, w.threshold, w.figure, deref(w.low), deref(w.high), w.evidence)
		}
		if c.Detail == "" {
			t.Errorf("%s: no detail", w.key)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
