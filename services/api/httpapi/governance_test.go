package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/anomaly"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/kpi"
)

// TestAlertsScope: the alerts of the latest detection are served per view: a project's
// only; to a vendor the project-wide ones (a label drift, a figure below its target) and the
// agreement drops of its own cohorts, vendor and annotators, never another party's or a
// mixed one's; before the first detection and while the latest failed, an error (never an
// empty list).
func TestAlertsScope(t *testing.T) {
	var s Server
	if _, err := s.Alerts(EveryFigure(Filter{})); !errors.Is(err, errNotDetected) {
		t.Fatalf("before the first detection: %v", err)
	}
	alert := func(kind, project, scope string) Alert {
		return Alert{Anomaly: anomaly.Anomaly{Kind: kind, ProjectID: project, QuestionID: "species", Scope: scope}}
	}
	all := []Alert{
		alert(anomaly.KindLabelDrift, "p", "all"),
		alert(KindBelowTarget, "p", "all"),
		alert(anomaly.KindAgreementDrop, "p", "cohort:crowd"),
		alert(anomaly.KindAgreementDrop, "p", "cohort:night"),   // acme's, outside acme-crowd's cohorts
		alert(anomaly.KindAgreementDrop, "p", "cohort:mixed"),   // acme's and globex's
		alert(anomaly.KindAgreementDrop, "p", "cohort:g-crowd"), // globex's
		alert(anomaly.KindAgreementDrop, "p", "cohort:experts"), // in house
		alert(anomaly.KindAgreementDrop, "p", "vendor:acme"),
		alert(anomaly.KindAgreementDrop, "p", "vendor:globex"),
		alert(anomaly.KindAgreementDrop, "p", "annotator:a1"),
		alert(anomaly.KindAgreementDrop, "p", "annotator:a-mixed"),
		alert(anomaly.KindAgreementDrop, "p", "annotator:g1"),
		alert(anomaly.KindAgreementDrop, "q", "all"),
		alert(anomaly.KindAgreementDrop, "q", "cohort:crowd"),
	}
	now := time.UnixMilli(1_800_000_000_000)
	s.gov.set(now, all, nil)
	ps := &parties{
		annotators: map[string][]party{
			"a1": {{"acme", "crowd"}}, "a2": {{"acme", "night"}}, "a-mixed": {{"acme", "crowd"}, {"globex", "g-crowd"}},
			"g1": {{"globex", "g-crowd"}}, "h1": {{"", "experts"}},
		},
		cohorts: map[string][]party{
			"crowd": {{"acme", "crowd"}}, "night": {{"acme", "night"}}, "mixed": {{"acme", "mixed"}, {"globex", "mixed"}},
			"g-crowd": {{"globex", "g-crowd"}}, "experts": {{"", "experts"}},
		},
	}
	view := func(line, project string) View {
		return View{Filter: Filter{Project: project, WindowText: "all"}, scope: scopeOf(t, line), parties: ps}
	}
	list := func(v View) string {
		a, err := s.Alerts(v)
		if err != nil {
			t.Fatal(err)
		}
		if a.AsOfMillis != s.gov.at.UnixMilli() || a.Definition == "" {
			t.Errorf("as of %d, want the detection's %d", a.AsOfMillis, s.gov.at.UnixMilli())
		}
		var out []string
		for _, x := range a.Alerts {
			out = append(out, x.ProjectID+"/"+x.Scope)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		v    View
		want string
	}{
		{"every project", EveryFigure(Filter{WindowText: "all"}), "p/all,p/all,p/cohort:crowd,p/cohort:night,p/cohort:mixed,p/cohort:g-crowd,p/cohort:experts,p/vendor:acme,p/vendor:globex,p/annotator:a1,p/annotator:a-mixed,p/annotator:g1,q/all,q/cohort:crowd"},
		{"analyst of p", view("pat - role=analyst projects=p", "p"), "p/all,p/all,p/cohort:crowd,p/cohort:night,p/cohort:mixed,p/cohort:g-crowd,p/cohort:experts,p/vendor:acme,p/vendor:globex,p/annotator:a1,p/annotator:a-mixed,p/annotator:g1"},
		// acme labeled in crowd, night and mixed: the vendor-wide figure is its own.
		{"vendor acme", view("acme - role=vendor projects=p vendor=acme", "p"), "p/all,p/all,p/cohort:crowd,p/cohort:night,p/vendor:acme,p/annotator:a1"},
		// Restricted to crowd: night is not its cohort, so neither is acme's vendor-wide figure.
		{"vendor acme, cohort crowd", view("acme-crowd - role=vendor projects=p vendor=acme cohorts=crowd", "p"), "p/all,p/all,p/cohort:crowd,p/annotator:a1"},
		{"vendor globex", view("globex - role=vendor projects=p,q vendor=globex", "p"), "p/all,p/all,p/cohort:g-crowd,p/vendor:globex,p/annotator:g1"},
	} {
		if got := list(tc.v); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// A failed detection: its error until one succeeds again.
	boom := errors.New("boom")
	if !s.gov.set(now, nil, boom) {
		t.Error("a first failure is a change")
	}
	if _, err := s.Alerts(EveryFigure(Filter{})); !errors.Is(err, boom) {
		t.Errorf("after a failure: %v", err)
	}
	if !s.gov.set(now.Add(time.Second), all[:1], nil) {
		t.Error("a recovery is a change")
	}
	if got := list(EveryFigure(Filter{WindowText: "all"})); got != "p/all" {
		t.Errorf("after the recovery: %s", got)
	}
}

// TestBelowTarget: a question's alpha and all-submitted accuracy below the targets in force
// are alerts; not enough evidence, another level, another denominator or a figure that meets
// its target are not.
func TestBelowTarget(t *testing.T) {
	targets := &TargetsKPI{Projects: []ProjectTargets{{ProjectID: "p", Resolved: []ResolvedTarget{
		{ProjectID: "p", QuestionID: "low", Target: gate.TargetAlpha, Threshold: 0.8, Level: "nominal", MinEvidence: 20, TargetsVersion: "t1"},
		{ProjectID: "p", QuestionID: "thin", Target: gate.TargetAlpha, Threshold: 0.8, Level: "nominal", MinEvidence: 20},
		{ProjectID: "p", QuestionID: "fine", Target: gate.TargetAlpha, Threshold: 0.8, Level: "nominal", MinEvidence: 20},
		{ProjectID: "p", QuestionID: "bound", Target: gate.TargetAlpha, Threshold: 0.5, Level: "nominal", OnLowerBound: true, MinEvidence: 2, TargetsVersion: "t1"},
		{ProjectID: "p", QuestionID: "wide", Target: gate.TargetAlpha, Threshold: 0.5, Level: "nominal", OnLowerBound: true, MinEvidence: 2},
		{ProjectID: "p", QuestionID: "bound-met", Target: gate.TargetAlpha, Threshold: 0.5, Level: "nominal", OnLowerBound: true, MinEvidence: 2},
		{ProjectID: "p", QuestionID: "low", Target: gate.TargetAccuracy, Threshold: 0.9, Denominator: string(schemas.DenominatorAllSubmitted), MinEvidence: 10, TargetsVersion: "t1"},
		{ProjectID: "p", QuestionID: "fine", Target: gate.TargetAccuracy, Threshold: 0.9, Denominator: string(schemas.DenominatorFinalAfterReview), MinEvidence: 10},
	}}}}
	fig := func(q string, alpha float64, values int64) kpi.AgreementFigure {
		return kpi.AgreementFigure{ProjectID: "p", QuestionID: q, Level: "nominal", Scope: kpi.ScopeAll, PairableValues: values, Alpha: agreement.AlphaResult{Alpha: alpha}}
	}
	sum := &Summary{
		Agreement: &AgreementKPI{Questions: []kpi.AgreementFigure{fig("low", 0.61, 400), fig("thin", 0.1, 19), fig("fine", 0.85, 400),
			withCI(fig("bound", 0.6, 400), 0.4, 0.8), fig("wide", 0.1, 400), withCI(fig("bound-met", 0.7, 400), 0.55, 0.85)}},
		Accuracy: &AccuracyKPI{Questions: []AccuracyFigure{
			{ProjectID: "p", QuestionID: "low", Accuracy: num(0.8), CorrectLabels: 80, ScoredLabels: 100},
			{ProjectID: "p", QuestionID: "fine", Accuracy: num(0.5), CorrectLabels: 5, ScoredLabels: 10},
		}},
	}
	var got []string
	for _, a := range belowTarget(targets, sum) {
		got = append(got, fmt.Sprintf("%s %s %s %.2f<%.2f n=%d", a.Kind, a.QuestionID, a.Target, a.Current, a.Threshold, a.Evidence))
		if a.Detail == "" || a.Scope != kpi.ScopeAll || !strings.Contains(a.Detail, "t1") {
			t.Errorf("alert %+v: want a detail naming the targets version, scope all", a)
		}
	}
	// "bound" is judged on its interval's lower end (0.4 < 0.5, though alpha is 0.6);
	// "wide" has no interval, so nothing says it is below.
	want := []string{"below_target low min_alpha 0.61<0.80 n=400", "below_target bound min_alpha 0.40<0.50 n=400", "below_target low min_accuracy 0.80<0.90 n=100"}
	if !slices.Equal(got, want) {
		t.Errorf("below target:\n got %q\nwant %q", got, want)
	}
}

func withCI(f kpi.AgreementFigure, low, high float64) kpi.AgreementFigure {
	f.AlphaCI = &agreement.Interval{Low: low, High: high, Level: 0.95, Method: agreement.MethodJackknifeUnits}
	return f
}

// TestConfusions: per question, the cells most first, the totals (the diagonal is correct),
// and the off-diagonal cells as the top confusions with their shares.
func TestConfusions(t *testing.T) {
	cell := func(q, gold, label string, n int64) kpi.ConfusionCell {
		return kpi.ConfusionCell{ProjectID: "p", QuestionID: q, Scope: "all", GoldValue: gold, LabelValue: label, Count: n, Error: gold != label}
	}
	got := confusions([]kpi.ConfusionCell{cell("species", "cat", "cat", 50), cell("species", "dog", "dog", 30), cell("species", "cat", "dog", 12),
		cell("species", "dog", "cat", 6), cell("color", "red", "red", 9), cell("species", "bird", "cat", 2), cell("color", "red", "", 1)})
	if len(got) != 2 || got[0].QuestionID != "color" || got[1].QuestionID != "species" {
		t.Fatalf("questions: %+v", got)
	}
	sp := got[1]
	if sp.ScoredLabels != 100 || sp.CorrectLabels != 80 || !nearly(sp.Accuracy, 0.8) || len(sp.Cells) != 5 {
		t.Errorf("species totals: %+v", sp)
	}
	var top []string
	for _, c := range sp.TopConfusions {
		top = append(top, fmt.Sprintf("%s>%s %d %.3f %.2f", c.GoldValue, c.LabelValue, c.Count, *c.ShareOfGold, *c.ShareOfErrors))
	}
	if want := []string{"cat>dog 12 0.194 0.60", "dog>cat 6 0.167 0.30", "bird>cat 2 1.000 0.10"}; !slices.Equal(top, want) {
		t.Errorf("top confusions %q, want %q", top, want)
	}
	if c := got[0]; len(c.TopConfusions) != 1 || c.TopConfusions[0].LabelValue != "" || c.CorrectLabels != 9 {
		t.Errorf("color: %+v", c)
	}
}

func nearly(n Num, v float64) bool { return n != nil && *n > v-1e-9 && *n < v+1e-9 }

// TestGateKPI: versions count by standing verdict; a run counts for the view when it used one
// of its versions, as uncertified when one it used was not certified at its registration, as
// overridden when every such one was overridden by then.
func TestGateKPI(t *testing.T) {
	v := func(ds, ver, verdict string, overrides int) GateVersion {
		return GateVersion{DatasetID: ds, Version: ver, Verdict: verdict, Overrides: overrides}
	}
	use := func(ds, ver string, uncertified, overridden bool) runUse {
		return runUse{ref: versionKey{ds, ver}, uncertified: uncertified, overridden: overridden}
	}
	g := &gateRead{
		versions: []GateVersion{v("d", "1", VerdictCertified, 0), v("d", "2", VerdictRejected, 1), v("d", "3", VerdictRejected, 0), v("d", "4", VerdictUnjudged, 0)},
		runs: map[string][]runUse{
			"certified":  {use("d", "1", false, false)},
			"overridden": {use("d", "1", false, false), use("d", "2", true, true)},
			"rejected":   {use("d", "2", true, true), use("d", "3", true, false)},
			"unjudged":   {use("d", "4", true, false)},
			"other":      {use("e", "1", true, false)}, // another project's version
		},
	}
	k := g.kpi()
	if k.Versions != (VersionCounts{Certified: 1, Rejected: 2, Unjudged: 1, Overridden: 1}) || k.TrainingRuns != 4 ||
		k.TrainingRunsUncertified != 3 || k.TrainingRunsOverridden != 1 || k.Definition == "" {
		t.Errorf("gate KPI %+v", k)
	}
}
