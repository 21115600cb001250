package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/anomaly"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/ledger"
)

// govProject is the project of TestGovernanceOverPipeline.
const govProject = "proj-gov"

type targetsAnswer struct {
	Targets httpapi.TargetsKPI `json:"targets"`
}
type gateAnswer struct {
	Gate httpapi.GateAnswer `json:"gate"`
}
type alertsAnswer struct {
	Alerts httpapi.AlertsKPI `json:"alerts"`
}
type confusionAnswer struct {
	Confusion httpapi.ConfusionKPI `json:"confusion"`
}

// wantScoredOf is the scored labels of species in a summary.
func wantScoredOf(sum httpapi.Summary) int64 {
	for _, f := range sum.Accuracy.Questions {
		if f.QuestionID == "species" {
			return f.ScoredLabels
		}
	}
	return -1
}

// produce writes events straight to their topics, as Assay's own components do (the gate's
// verdicts are internal: no principal may send them through the gateway), stamped with
// producer.
func (s *stack) produce(t *testing.T, producer string, evs ...schemas.Event) {
	t.Helper()
	cl := testenv.KafkaClient(t, s.k)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ev := range evs {
		schemas.Stamp(ev, producer, time.Now())
		rec := record(t, s, ev)
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", ev.Type(), err)
		}
	}
}

// govTargets are proj-gov's quality targets: t1 in force since two days (the demo's alpha and
// accuracy are below it), t2 scheduled for tomorrow, and a set narrowed to the dataset.
func govTargets(dataset string) []schemas.Event {
	now := time.Now()
	t1 := &schemas.QualityTargetsSet{ProjectID: govProject, TargetsVersion: "gov-t1", EffectiveAt: now.Add(-48 * time.Hour).UnixMilli(),
		Agreement:              &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: 0.99, MinPairableValues: 20},
		Accuracy:               &schemas.AccuracyTarget{MinAccuracy: 0.99, Denominator: schemas.DenominatorAllSubmitted, MinGoldLabels: 5},
		Coverage:               &schemas.CoverageTarget{MinSliceCoverage: ptr(1.0)},
		MinLineageCompleteness: ptr(1.0), MaxReworkRate: ptr(0.5), MaxLabelDrift: ptr(0.3)}
	t2 := &schemas.QualityTargetsSet{ProjectID: govProject, TargetsVersion: "gov-t2", EffectiveAt: now.Add(24 * time.Hour).UnixMilli(),
		Agreement: &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: 0.5, MinPairableValues: 20}}
	ds := &schemas.QualityTargetsSet{ProjectID: govProject, TargetsVersion: "gov-ds", DatasetID: dataset, EffectiveAt: now.Add(-48 * time.Hour).UnixMilli(),
		MinLineageCompleteness: ptr(0.5)}
	return []schemas.Event{t1, t2, ds}
}

func ptr[T any](v T) *T { return &v }

// driftLabels are labels of a question "mood" that moves from calm to angry: 150 units a
// day ten days ago (the baseline of the label-drift rule) and 150 now, each one label of the
// in-house team.
func driftLabels(run, dataset string) []schemas.Event {
	var evs []schemas.Event
	for w, at := range map[string]time.Time{"base": time.Now().Add(-10 * 24 * time.Hour), "now": time.Now().Add(-time.Hour)} {
		for i := range 150 {
			item := fmt.Sprintf("%s-mood-%s-%d", run, w, i)
			value := "calm"
			if (w == "now") != (i%10 == 0) {
				value = "angry"
			}
			ing := &schemas.ItemIngested{ItemID: item, Source: "camera-" + run, URI: "s3://mood/" + item, SHA256: strings.Repeat("cd", 32),
				Modality: "image", DatasetID: dataset, ProjectID: govProject}
			lab := &schemas.LabelSubmitted{LabelID: item + "-label", ItemID: item, ProjectID: govProject, TaskID: run + "-mood",
				QuestionID: "mood", AnnotatorID: fmt.Sprintf("%s-mood-annotator-%d", run, i%4), Cohort: "inhouse",
				GuidelineVersion: "v1", Value: schemas.Nominal(value), TimeSpentMS: 2000}
			ing.OccurredAt, lab.OccurredAt = at.UnixMilli(), at.UnixMilli()+1000
			evs = append(evs, ing, lab)
		}
	}
	return evs
}

// TestGovernanceOverPipeline plays a program of proj-gov through the real gateway, broker and
// processors, its owner's quality targets, the gate's verdicts (produced as the gate does)
// and an owner's override, training runs on certified and overridden versions, and a label
// distribution that drifts; then reads /v1/targets, /v1/gate, /v1/gate/{dataset}/{version},
// /v1/kpis's gate section, /v1/alerts and the governance series of /metrics, as an analyst,
// as a vendor of the project and as an analyst of another project.
func TestGovernanceOverPipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	p := demoWithoutGovernance("govt", govProject, 5, 60)
	s.send(t, p.Events)
	ds := p.Dataset
	s.send(t, govTargets(ds))
	s.send(t, driftLabels("govt", ds))

	// Targets: in force, scheduled, narrowed to the dataset, and resolved per question.
	var ta targetsAnswer
	waitFor(t, time.Minute, "proj-gov's targets", func() (bool, string) {
		get(t, s.api.URL, "/v1/targets"+q("project", govProject), &ta)
		return len(ta.Targets.Projects) == 1 && len(ta.Targets.Projects[0].History) == 3, fmt.Sprintf("%+v", ta.Targets.Projects)
	})
	pt := ta.Targets.Projects[0]
	status := map[string]string{}
	for _, h := range pt.History {
		status[h.TargetsVersion] = h.Status
	}
	if status["gov-t1"] != httpapi.TargetsInForce || status["gov-t2"] != httpapi.TargetsScheduled || status["gov-ds"] != httpapi.TargetsInForce || len(pt.InForce) != 2 {
		t.Errorf("targets history %v, in force %d, want t1 and the dataset's in force, t2 scheduled", status, len(pt.InForce))
	}
	resolved := map[string]float64{}
	for _, r := range pt.Resolved {
		resolved[r.QuestionID+"/"+r.Target] = r.Threshold
	}
	for k, want := range map[string]float64{"species/min_alpha": 0.99, "species/min_accuracy": 0.99, "mood/max_label_drift": 0.3, "/min_slice_coverage": 1, "/min_lineage_completeness": 1, "/max_rework_rate": 0.5} {
		if got, ok := resolved[k]; !ok || got != want {
			t.Errorf("resolved %s = %v (%v), want %v; all %v", k, got, ok, want, resolved)
		}
	}

	// The gate's verdicts: v1 certified; v2 rejected, then rejected again (superseding) with
	// a failing check, and overridden by the owner; v3 never judged.
	var committed gateAnswer
	waitFor(t, time.Minute, "the program's three versions", func() (bool, string) {
		get(t, s.api.URL, "/v1/gate"+q("project", govProject), &committed)
		return len(committed.Gate.Versions) == 3, fmt.Sprintf("%+v", committed.Gate.Versions)
	})
	verdict := func(v string, seq int64, supersedes string, certified bool, checks ...schemas.TargetCheck) schemas.Event {
		g := schemas.GateVerdict{DatasetID: ds, Version: v, ProjectID: govProject, TargetsVersions: []string{"gov-t1"}, Sequence: seq, Supersedes: supersedes, Checks: checks}
		id := fmt.Sprintf("govt-verdict-%s-%d", v, seq)
		if certified {
			g.Reason = "meets all checks of gov-t1"
			return &schemas.DatasetVersionCertified{Envelope: schemas.Envelope{EventID: id}, GateVerdict: g}
		}
		g.Reason = "min_alpha on species failed"
		return &schemas.DatasetVersionRejected{Envelope: schemas.Envelope{EventID: id}, GateVerdict: g}
	}
	pass := schemas.TargetCheck{Target: gate.TargetLineage, Threshold: 1, Figure: ptr(1.0), Evidence: 20, Status: schemas.CheckPass}
	fail := schemas.TargetCheck{Target: gate.TargetAlpha, Scope: "species", Threshold: 0.99, Figure: ptr(0.62), Low: ptr(0.55), High: ptr(0.69),
		Evidence: 300, Status: schemas.CheckFail, Detail: "nominal alpha 0.620 over 300 pairable values, below 0.990"}
	s.produce(t, ledger.GateProducer,
		verdict("v1", 1, "", true, pass),
		verdict("v2", 1, "", false, pass),
		verdict("v2", 2, "govt-verdict-v2-1", false, fail, pass))
	const overrideReason = "ablation run on v2 signed off by the data owner"
	s.send(t, []schemas.Event{&schemas.GateOverrideGranted{DatasetID: ds, Version: "v2", ProjectID: govProject, Reason: overrideReason}})
	var ga gateAnswer
	waitFor(t, time.Minute, "the verdicts and the override", func() (bool, string) {
		code, body := getBody(t, s.api.URL, "/v1/gate"+q("project", govProject), testAnalyst)
		ga = gateAnswer{}
		mustDecode(t, body, &ga)
		c := ga.Gate.KPI.Versions
		return code == 200 && c.Certified == 1 && c.Rejected == 1 && c.Overridden == 1 && ga.Gate.Versions[0].Sequence+ga.Gate.Versions[1].Sequence+ga.Gate.Versions[2].Sequence == 3,
			fmt.Sprintf("%d %+v %.300s", code, c, body)
	})
	// Runs registered after the verdicts: on v1 (certified), on v2 (overridden: a run on
	// uncertified data).
	s.send(t, []schemas.Event{
		&schemas.TrainingRunRegistered{RunID: "govt-run-v1", Model: "detector", DatasetID: ds, DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: ds, Version: "v1"}}},
		&schemas.TrainingRunRegistered{RunID: "govt-run-v2", Model: "detector", DatasetID: ds, DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: ds, Version: "v2"}}},
	})
	waitFor(t, time.Minute, "the training runs", func() (bool, string) {
		get(t, s.api.URL, "/v1/gate"+q("project", govProject), &ga)
		return ga.Gate.KPI.TrainingRuns == 2, fmt.Sprintf("%+v", ga.Gate.KPI)
	})
	byVersion := map[string]httpapi.GateVersion{}
	for _, v := range ga.Gate.Versions {
		byVersion[v.Version] = v
	}
	if v := byVersion["v1"]; v.Verdict != httpapi.VerdictCertified || v.Sequence != 1 || v.Failing != 0 || len(v.Checks) != 1 || !v.Trainable || v.TrainingRuns != 1 || v.TrainingRunsUncertified != 0 || v.CommittedAt == 0 {
		t.Errorf("v1: %+v", v)
	}
	v2 := byVersion["v2"]
	if v2.Verdict != httpapi.VerdictRejected || v2.Sequence != 2 || v2.Verdicts != 2 || v2.Supersedes != "govt-verdict-v2-1" || v2.Failing != 1 || len(v2.Checks) != 2 ||
		v2.Override == nil || v2.Override.Reason != overrideReason || v2.Override.GrantedBy != "demo-owner" || !v2.Trainable || v2.TrainingRunsUncertified != 1 ||
		!slices.Equal(v2.TargetsVersions, []string{"gov-t1"}) || v2.Reason == "" {
		t.Errorf("v2: %+v", v2)
	}
	if c := v2.Checks[0]; c.Target != gate.TargetAlpha || c.Scope != "species" || c.Figure == nil || *c.Figure != 0.62 || c.Low == nil || *c.Low != 0.55 || c.Status != schemas.CheckFail || c.Detail != fail.Detail {
		t.Errorf("v2's failing check: %+v", c)
	}
	if v := byVersion["v3"]; v.Verdict != httpapi.VerdictUnjudged || v.Sequence != 0 || v.Trainable || len(v.Checks) != 0 || v.ProjectID != govProject {
		t.Errorf("v3: %+v", v)
	}
	if k := ga.Gate.KPI; k.TrainingRunsUncertified != 1 || k.TrainingRunsOverridden != 1 || k.Versions.Unjudged != 1 {
		t.Errorf("gate KPI %+v, want 1 of 2 runs on uncertified (overridden) data, 1 unjudged version", k)
	}

	// One version; an unknown one is 404, and another project's reader is refused either.
	var one httpapi.GateVersion
	if code := get(t, s.api.URL, "/v1/gate/"+url.PathEscape(ds)+"/v2", &one); code != 200 || one.Sequence != 2 || one.Override == nil {
		t.Errorf("GET /v1/gate/%s/v2: %d %+v", ds, code, one)
	}
	var prob httpapi.Problem
	if code := get(t, s.api.URL, "/v1/gate/"+url.PathEscape(ds)+"/v99", &prob); code != 404 {
		t.Errorf("unknown version: %d %+v, want 404", code, prob)
	}
	for _, path := range []string{"/v1/gate/" + url.PathEscape(ds) + "/v2", "/v1/gate/" + url.PathEscape(ds) + "/v99", "/v1/gate" + q("project", govProject),
		"/v1/targets" + q("project", govProject), "/v1/alerts" + q("project", govProject)} {
		if code := getAs(t, s.api.URL, path, "test-analyst-rbac", &prob); code != 403 || prob.Rule != "scope.project" {
			t.Errorf("%s as an analyst of another project: %d %+v, want 403 scope.project", path, code, prob)
		}
	}

	// The KPI in /v1/kpis.
	var sum httpapi.Summary
	if code := get(t, s.api.URL, "/v1/kpis"+q("project", govProject), &sum); code != 200 || sum.Gate == nil || sum.Gate.TrainingRunsUncertified != 1 || sum.Gate.Versions.Certified != 1 {
		t.Errorf("kpis gate: %d %+v", code, sum.Gate)
	}

	// Alerts: mood's labels drifted; species's alpha and accuracy are below gov-t1.
	var al alertsAnswer
	kinds := func(a httpapi.AlertsKPI) []string {
		var out []string
		for _, x := range a.Alerts {
			out = append(out, x.Kind+" "+x.QuestionID+" "+x.Target)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"below_target species min_accuracy", "below_target species min_alpha", "label_drift mood "}
	waitFor(t, time.Minute, "the alerts", func() (bool, string) {
		get(t, s.api.URL, "/v1/alerts"+q("project", govProject), &al)
		return slices.Equal(kinds(al.Alerts), want), fmt.Sprintf("%q", kinds(al.Alerts))
	})
	for _, x := range al.Alerts.Alerts {
		if x.Kind == anomaly.KindLabelDrift && (x.Scope != "all" || x.Current < 0.7 || x.Threshold < 0.3 || x.Evidence != 150 || x.Since == "") {
			t.Errorf("label drift: %+v", x)
		}
	}
	// The vendor of the project sees the project-wide alerts too.
	var vendor alertsAnswer
	if code := getAs(t, s.api.URL, "/v1/alerts", "test-vendor-acme-gov", &vendor); code != 200 || !slices.Equal(kinds(vendor.Alerts), want) {
		t.Errorf("vendor's alerts: %d %q, want %q", code, kinds(vendor.Alerts), want)
	}
	var vg gateAnswer
	if code := getAs(t, s.api.URL, "/v1/gate", "test-vendor-acme-gov", &vg); code != 200 || len(vg.Gate.Versions) != 3 {
		t.Errorf("vendor's gate: %d %d versions", code, len(vg.Gate.Versions))
	}

	// The series, set once per sample interval.
	waitFor(t, 30*time.Second, "the governance series", func() (bool, string) {
		thr, ok1 := s.gauge(t, "assay_api_quality_target", "project", govProject, "question", "species", "target", "min_alpha")
		cov, ok2 := s.gauge(t, "assay_api_quality_target", "project", govProject, "question", "", "target", "min_slice_coverage")
		act, ok3 := s.gauge(t, "assay_api_anomaly_active", "kind", "label_drift", "project", govProject, "question", "mood", "scope", "all")
		cur, ok4 := s.gauge(t, "assay_api_anomaly_figure", "kind", "label_drift", "project", govProject, "question", "mood", "window", "current")
		unc, ok5 := s.gauge(t, "assay_api_kpi_training_runs_uncertified")
		cer, ok6 := s.gauge(t, "assay_api_kpi_versions", "verdict", "certified")
		unj, ok7 := s.gauge(t, "assay_api_kpi_versions", "verdict", "unjudged")
		state := fmt.Sprintf("min_alpha %v %v, slice %v %v, drift active %v %v figure %v %v, uncertified runs %v %v, certified %v %v, unjudged %v %v", thr, ok1, cov, ok2, act, ok3, cur, ok4, unc, ok5, cer, ok6, unj, ok7)
		return ok1 && thr == 0.99 && ok2 && cov == 1 && ok3 && act == 1 && ok4 && cur > 0.7 && ok5 && unc == 1 && ok6 && cer == 1 && ok7 && unj == 1, state
	})
	// Alpha's interval beside alpha: the question's, and the headline's (one question with an
	// alpha: mood has no pairable values).
	var ag agreementAnswer
	get(t, s.api.URL, "/v1/agreement"+q("project", govProject), &ag)
	var speciesCI *agreement.Interval
	for _, f := range ag.Agreement.Questions {
		if f.QuestionID == "species" {
			speciesCI = f.AlphaCI
		}
	}
	if ci := ag.Agreement.AlphaCI; speciesCI == nil || ci == nil || *ci != *speciesCI || ag.Agreement.Alpha == nil || ci.Low > *ag.Agreement.Alpha || ci.High < *ag.Agreement.Alpha ||
		ci.Level != 0.95 || ci.Method == "" {
		t.Errorf("alpha %s with interval %+v (species %+v): want the question's 95%% interval around it", fmtNum(ag.Agreement.Alpha), ag.Agreement.AlphaCI, speciesCI)
	}

	// The confusion of species: exactly the program's gold labels by (truth, answer).
	wantCells := map[[2]string]int64{}
	for _, l := range p.Workload.Labels {
		if l.Gold {
			wantCells[[2]string{l.Truth, l.Answer}]++
		}
	}
	var cf confusionAnswer
	if code := get(t, s.api.URL, "/v1/confusion"+q("project", govProject, "question", "species"), &cf); code != 200 || len(cf.Confusion.Questions) != 1 {
		t.Fatalf("confusion: %d %+v", code, cf)
	}
	qc := cf.Confusion.Questions[0]
	got := map[[2]string]int64{}
	for _, c := range qc.Cells {
		got[[2]string{c.GoldValue, c.LabelValue}] = c.Count
	}
	if !maps.Equal(got, wantCells) || qc.ScoredLabels != wantScoredOf(sum) || len(qc.TopConfusions) == 0 {
		t.Errorf("species confusion %v (%d scored), want %v (%d)", got, qc.ScoredLabels, wantCells, wantScoredOf(sum))
	}
	for i, c := range qc.TopConfusions {
		if c.GoldValue == c.LabelValue || c.Count != wantCells[[2]string{c.GoldValue, c.LabelValue}] || (i > 0 && c.Count > qc.TopConfusions[i-1].Count) {
			t.Errorf("top confusion %d: %+v", i, c)
		}
	}
	// A vendor reads the project's confusion and its own cohort's, not another party's.
	if code := getAs(t, s.api.URL, "/v1/confusion"+q("scope", "cohort:crowd"), "test-vendor-acme-gov", &cf); code != 200 || cf.Confusion.Scope != "cohort:crowd" {
		t.Errorf("acme's crowd confusion: %d %+v", code, cf.Confusion)
	}
	if code := getAs(t, s.api.URL, "/v1/confusion"+q("scope", "cohort:experts"), "test-vendor-acme-gov", &prob); code != 403 || prob.Rule != httpapi.RuleParty {
		t.Errorf("the experts' confusion as acme: %d %+v, want 403 %s", code, prob, httpapi.RuleParty)
	}

	// The series the quality rules compare with the targets (ops/prometheus/rules): each
	// question's figures and evidence, the targets' qualifiers, the latest version's strict
	// lineage completeness.
	var wantAlpha, wantAccuracy float64
	var wantPairable, wantScored int64
	for _, f := range sum.Agreement.Questions {
		if f.QuestionID == "species" {
			wantAlpha, wantPairable = f.Alpha.Alpha, f.PairableValues
		}
	}
	for _, f := range sum.Accuracy.Questions {
		if f.QuestionID == "species" && f.Accuracy != nil {
			wantAccuracy, wantScored = *f.Accuracy, f.ScoredLabels
		}
	}
	species := []string{"project", govProject, "question", "species"}
	for _, g := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"assay_api_kpi_question_agreement_alpha", species, wantAlpha},
		{"assay_api_kpi_question_agreement_alpha_low", species, speciesCI.Low},
		{"assay_api_kpi_question_agreement_alpha_high", species, speciesCI.High},
		{"assay_api_kpi_question_agreement_pairable_values", species, float64(wantPairable)},
		{"assay_api_kpi_question_accuracy_ratio", species, wantAccuracy},
		{"assay_api_kpi_question_accuracy_labels", species, float64(wantScored)},
		{"assay_api_quality_target", append(slices.Clone(species), "target", "min_pairable_values"), 20},
		{"assay_api_quality_target", append(slices.Clone(species), "target", "alpha_on_lower_bound"), 0},
		{"assay_api_quality_target", append(slices.Clone(species), "target", "min_gold_labels"), 5},
		{"assay_api_quality_target", append(slices.Clone(species), "target", "accuracy_final_after_review"), 0},
		{"assay_api_quality_target", []string{"project", govProject, "question", "mood", "target", "max_label_drift"}, 0.3},
		{"assay_api_kpi_lineage_completeness_ratio", []string{"project", govProject, "dataset", ds}, 1},
	} {
		if got, ok := s.gauge(t, g.name, g.labels...); !ok || got != g.want {
			t.Errorf("%s%v = %v (%v), want %v", g.name, g.labels, got, ok, g.want)
		}
	}
	t.Logf("targets %v; gate %+v; alerts %q", resolved, ga.Gate.KPI.Versions, kinds(al.Alerts))

	t.Run("dashboard", func(t *testing.T) { governanceDashboard(t, s, ds, overrideReason) })
}

// governanceDashboard opens the dashboard on proj-gov in headless Chromium as the analyst:
// the thresholds are the targets in force (the agreement tile judged against min_alpha 0.99,
// the chart's target line there), the gate panel shows each version's verdict with v2's
// failing check and its override, the alerts panel the drift and the figures below their
// targets, the training-runs tile the run on uncertified data.
func governanceDashboard(t *testing.T, s *stack, dataset, overrideReason string) {
	browser := chromium(t)
	ctx := startBrowser(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.api.URL+"/"+q("project", govProject))); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	signIn(t, ctx, testToken(t, testAnalyst))
	text := func(sel string) string {
		return fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)
	}
	waitPage(t, ctx, "the agreement tile judged against min_alpha", `document.getElementById("tile-agreement").dataset.level + " | " + `+text("#agreement-detail"),
		func(v string) bool { return strings.HasPrefix(v, "bad | ") && strings.Contains(v, "target ≥ 0.990") })
	waitPage(t, ctx, "the agreement chart's target line", `document.getElementById("chart-agreement").dataset.target`, func(v string) bool { return v == "0.99" })
	gateRows := waitPage(t, ctx, "the gate panel", `[...document.querySelectorAll("#gate tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ")).join("\n")`,
		func(v string) bool {
			return strings.Count(v, dataset+" @ ") == 3 && strings.Contains(v, overrideReason)
		})
	for _, want := range []string{dataset + " @ v1 certified all passed", dataset + " @ v2 rejected (#2) min_alpha species: 0.620 [0.550, 0.690] vs ≥ 0.990 " + overrideReason, dataset + " @ v3 unjudged not judged yet"} {
		if !strings.Contains(gateRows, want) {
			t.Errorf("gate panel:\n%s\nlacks %q", gateRows, want)
		}
	}
	alerts := waitPage(t, ctx, "the alerts panel", `[...document.querySelectorAll("#alerts tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ")).join("\n")`,
		func(v string) bool { return strings.Count(v, "\n") == 2 })
	for _, want := range []string{"label drift mood", "below target min_alpha species", "below target min_accuracy species"} {
		if !strings.Contains(alerts, want) {
			t.Errorf("alerts panel:\n%s\nlacks %q", alerts, want)
		}
	}
	questions := waitPage(t, ctx, "the questions panel", `[...document.querySelectorAll("#questions tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ")).join("\n")`,
		func(v string) bool { return strings.Contains(v, "species") && strings.Contains(v, "≥ 0.990") })
	waitPage(t, ctx, "the training-runs tile", text("#gate-value"), func(v string) bool { return v == "1" })
	waitPage(t, ctx, "alpha's interval on the tile", text("#agreement-ci"), func(v string) bool { return strings.HasPrefix(v, "95% CI 0.") })
	waitPage(t, ctx, "alpha's interval on its chart", "("+text("#chart-agreement .last")+`) + " " + document.querySelectorAll("#chart-agreement path.band").length`,
		func(v string) bool { return strings.Contains(v, " [0.") && strings.HasSuffix(v, " 1") })
	if !strings.Contains(questions, "species (nominal) 0.") || !strings.Contains(questions, "[0.") {
		t.Errorf("questions panel %q: want species's alpha with its interval", questions)
	}
	confusions := waitPage(t, ctx, "the top confusions", `[...document.querySelectorAll("#confusions tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ")).join("\n")`,
		func(v string) bool { return strings.Contains(v, "species") && strings.Contains(v, " → ") })
	t.Logf("top confusions:\n%s", confusions)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeShot(t, filepath.Join(artifactDir(t), "dashboard-gate.png"), shot)
	t.Logf("gate panel:\n%s\nalerts:\n%s\nquestions:\n%s", gateRows, alerts, questions)
}

// demoWithoutGovernance is the demo program of run, dated as if played now, without its
// owner's targets, override and training run: the test sets its own targets and overrides,
// and registers runs after the gate's verdicts (a gateway that gates training runs would
// refuse one on a version not judged yet).
func demoWithoutGovernance(run, project string, seed uint64, items int) *demo.Program {
	p := demo.Build(run, project, seed, items)
	demo.Shift(p.Events, time.Now())
	p.Events = slices.DeleteFunc(p.Events, func(ev schemas.Event) bool {
		switch ev.Type() {
		case schemas.TypeTrainingRunRegistered, schemas.TypeQualityTargetsSet, schemas.TypeGateOverrideGranted:
			return true
		}
		return false
	})
	return p
}

// record is ev as a Kafka record of its topic in s's namespace.
func record(t *testing.T, s *stack, ev schemas.Event) *kgo.Record {
	t.Helper()
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: s.k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b}
}
