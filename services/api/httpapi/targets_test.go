package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
)

func ptr[T any](v T) *T { return &v }

// TestTargetsTimeline: per project, dataset and question, the version in force is the latest
// whose effective time has passed (ties: the later in the log); earlier ones are superseded
// from the next one's effective time, later ones scheduled; the thresholds resolve per
// question, the question's own targets over the project's, min_alpha only at its level.
func TestTargetsTimeline(t *testing.T) {
	set := func(order uint64, project, version, dataset, question string, effective int64, f func(*schemas.QualityTargetsSet)) TargetsSet {
		s := TargetsSet{order: order}
		s.ProjectID, s.TargetsVersion, s.DatasetID, s.QuestionID, s.EffectiveAt = project, version, dataset, question, effective
		if f != nil {
			f(&s.QualityTargetsSet)
		}
		return s
	}
	nominal := func(min float64) func(*schemas.QualityTargetsSet) {
		return func(e *schemas.QualityTargetsSet) {
			e.Agreement = &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: min, MinPairableValues: 20, OnLowerBound: true}
			e.Accuracy = &schemas.AccuracyTarget{MinAccuracy: 0.9, Denominator: schemas.DenominatorAllSubmitted, MinGoldLabels: 10}
			e.Coverage = &schemas.CoverageTarget{MinSliceCoverage: ptr(1.0)}
			e.MinLineageCompleteness, e.MaxLabelDrift = ptr(1.0), ptr(0.2)
		}
	}
	sets := []TargetsSet{
		set(1, "p", "t1", "", "", 100, nominal(0.667)),
		set(2, "p", "t2", "", "", 200, nominal(0.8)),
		// Same effective time, later in the log: replaces t2 from the start.
		set(3, "p", "t2b", "", "", 200, func(e *schemas.QualityTargetsSet) { nominal(0.75)(e); e.MaxReworkRate = ptr(0.1) }),
		set(4, "p", "t3", "", "", 900, nominal(0.9)), // scheduled
		set(5, "p", "q-species", "", "species", 150, func(e *schemas.QualityTargetsSet) {
			e.Accuracy = &schemas.AccuracyTarget{MinAccuracy: 0.95, Denominator: schemas.DenominatorFinalAfterReview, MinGoldLabels: 5}
		}),
		set(6, "p", "ds-only", "ds1", "", 120, nominal(0.5)),
		set(7, "q", "other", "", "", 100, func(e *schemas.QualityTargetsSet) {
			e.Agreement = &schemas.AgreementTarget{Level: schemas.LevelInterval, MinAlpha: 0.7, MinPairableValues: 2}
		}),
	}
	questions := []Question{
		{"p", "species", string(schemas.LevelNominal)},
		{"p", "count", string(schemas.LevelInterval)}, // p's min_alpha is nominal: not judged
		{"p", "kind", string(schemas.LevelNominal)},
		{"q", "size", string(schemas.LevelInterval)},
	}
	got := projectTargets(sets, questions, 500)
	if len(got) != 2 || got[0].ProjectID != "p" || got[1].ProjectID != "q" {
		t.Fatalf("projects: %+v", got)
	}
	p := got[0]
	var hist []string
	for _, s := range p.History {
		until := ""
		if s.SupersededAt != nil {
			until = fmt.Sprintf("@%d>%s", *s.SupersededAt, s.SupersededBy)
		}
		hist = append(hist, s.TargetsVersion+":"+s.Status+until)
	}
	if want := "t1:superseded@200>t2,t2:superseded@200>t2b,t2b:in_force,t3:scheduled,q-species:in_force,ds-only:in_force"; strings.Join(hist, ",") != want {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(hist, ","), want)
	}
	var inForce []string
	for _, s := range p.InForce {
		inForce = append(inForce, s.DatasetID+"/"+s.QuestionID+"="+s.TargetsVersion)
	}
	if strings.Join(inForce, ",") != "/=t2b,/species=q-species,ds1/=ds-only" {
		t.Errorf("in force: %v", inForce)
	}
	var resolved []string
	for _, r := range p.Resolved {
		resolved = append(resolved, fmt.Sprintf("%s/%s=%v(%s)", r.QuestionID, r.Target, r.Threshold, r.TargetsVersion))
	}
	want := "/min_slice_coverage=1(t2b),/min_lineage_completeness=1(t2b),/max_rework_rate=0.1(t2b)," +
		"count/min_accuracy=0.9(t2b),count/max_label_drift=0.2(t2b)," +
		"kind/min_alpha=0.75(t2b),kind/min_accuracy=0.9(t2b),kind/max_label_drift=0.2(t2b)," +
		// The set narrowed to species replaces agreement and accuracy, even the agreement
		// it leaves out (gate.Evaluate's rule); drift is the project's.
		"species/min_accuracy=0.95(q-species),species/max_label_drift=0.2(t2b)"
	if strings.Join(resolved, ",") != want {
		t.Errorf("resolved:\n%s\nwant\n%s", strings.Join(resolved, ","), want)
	}
	for _, r := range p.Resolved {
		switch r.QuestionID + "/" + r.Target {
		case "kind/min_alpha":
			if r.Level != "nominal" || !r.OnLowerBound || r.MinEvidence != 20 {
				t.Errorf("min_alpha qualifiers: %+v", r)
			}
		case "species/min_accuracy":
			if r.Denominator != "final_after_review" || r.MinEvidence != 5 {
				t.Errorf("min_accuracy qualifiers: %+v", r)
			}
		}
	}
	if q := got[1]; len(q.Resolved) != 1 || q.Resolved[0].Target != gate.TargetAlpha || q.Resolved[0].QuestionID != "size" {
		t.Errorf("q resolved: %+v", q.Resolved)
	}

	// A target narrowed to a question judges it whatever its level (the gate fails it when
	// the levels differ), and the threshold is exported for it.
	r := projectTargets([]TargetsSet{set(1, "r", "r-n", "", "n", 10, func(e *schemas.QualityTargetsSet) {
		e.Agreement = &schemas.AgreementTarget{Level: schemas.LevelInterval, MinAlpha: 0.6, MinPairableValues: 2}
	})}, []Question{{"r", "n", string(schemas.LevelOrdinal)}}, 500)
	if len(r) != 1 || len(r[0].Resolved) != 1 || r[0].Resolved[0].Level != "interval" || r[0].Resolved[0].Threshold != 0.6 {
		t.Errorf("narrowed alpha at another level: %+v", r)
	}

	// Before any version is in force: only scheduled ones, nothing resolved.
	early := projectTargets(sets[:1], questions, 50)
	if len(early) != 1 || len(early[0].InForce) != 0 || len(early[0].Resolved) != 0 || early[0].History[0].Status != TargetsScheduled {
		t.Errorf("before effect: %+v", early)
	}
}
