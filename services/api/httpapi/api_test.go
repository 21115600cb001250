package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
)

type agreementAnswer struct {
	Agreement httpapi.AgreementKPI `json:"agreement"`
}
type accuracyAnswer struct {
	Accuracy httpapi.AccuracyKPI `json:"accuracy"`
}
type coverageAnswer struct {
	Coverage httpapi.CoverageKPI `json:"coverage"`
}
type remediationAnswer struct {
	Remediation httpapi.RemediationKPI `json:"remediation"`
}
type cycleAnswer struct {
	Cycle  httpapi.CycleKPI  `json:"cycle_time"`
	Rework httpapi.ReworkKPI `json:"rework"`
}

func near(a httpapi.Num, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }

// TestAPIOverPipeline plays the demo program through the real gateway, broker and
// processors into ClickHouse and checks every endpoint against the program's own figures,
// then tries SQL injection through every filter and the lineage path.
func TestAPIOverPipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	const project = "proj-api"
	p := s.play(t, "apit", project, 7, 120)

	wantCo := p.Workload.ExactCoincidences("")
	wantAlpha, err := kpi.Figures(wantCo, string(schemas.LevelNominal))
	if err != nil {
		t.Fatal(err)
	}
	wantCorrect, wantScored := p.Workload.ExactAccuracy("")
	var ag agreementAnswer
	var ac accuracyAnswer
	var rem remediationAnswer
	var cov coverageAnswer
	waitFor(t, 2*time.Minute, "every KPI of the program", func() (bool, string) {
		get(t, s.api.URL, "/v1/agreement"+q("project", project), &ag)
		get(t, s.api.URL, "/v1/accuracy"+q("project", project), &ac)
		get(t, s.api.URL, "/v1/remediation"+q("project", project), &rem)
		get(t, s.api.URL, "/v1/coverage"+q("project", project), &cov)
		state := fmt.Sprintf("pairable values %d/%d, scored %d/%d, findings %d shipped %d, coverage datasets %d",
			ag.Agreement.PairableValues, wantCo.PairableValues(), ac.Accuracy.ScoredLabels, wantScored,
			rem.Remediation.Findings, rem.Remediation.Shipped, len(cov.Coverage.Datasets))
		return ag.Agreement.PairableValues == wantCo.PairableValues() && ac.Accuracy.ScoredLabels == wantScored &&
			rem.Remediation.Findings == 2 && rem.Remediation.Shipped == 1 && len(cov.Coverage.Datasets) == 1 &&
			cov.Coverage.Datasets[0].Version == "v3", state
	})

	// Agreement and accuracy equal the generated labels' figures exactly.
	if !near(ag.Agreement.Alpha, wantAlpha.Alpha) || len(ag.Agreement.Questions) != 1 {
		t.Errorf("alpha %s over %d questions, want %.6f over 1", fmtNum(ag.Agreement.Alpha), len(ag.Agreement.Questions), wantAlpha.Alpha)
	}
	if len(ag.Agreement.Cohorts) != 3 {
		t.Errorf("cohorts %+v, want experts, inhouse, crowd", ag.Agreement.Cohorts)
	}
	for _, c := range ag.Agreement.Cohorts {
		want, err := kpi.Figures(p.Workload.ExactCoincidences(c.Cohort), string(schemas.LevelNominal))
		if err == nil && !near(c.Alpha, want.Alpha) {
			t.Errorf("cohort %s alpha %s, want %.6f", c.Cohort, fmtNum(c.Alpha), want.Alpha)
		}
	}
	if ac.Accuracy.CorrectLabels != wantCorrect || !near(ac.Accuracy.Accuracy, float64(wantCorrect)/float64(wantScored)) {
		t.Errorf("accuracy %d/%d, want %d/%d", ac.Accuracy.CorrectLabels, ac.Accuracy.ScoredLabels, wantCorrect, wantScored)
	}
	// A window that covers the whole program gives the all-time figures.
	var windowed agreementAnswer
	get(t, s.api.URL, "/v1/agreement"+q("project", project, "window", "30d"), &windowed)
	if !near(windowed.Agreement.Alpha, wantAlpha.Alpha) || windowed.Agreement.PairableValues != wantCo.PairableValues() || windowed.Agreement.WindowFromDay == "" {
		t.Errorf("30d window: alpha %s over %d values from %q, want the all-time %.6f over %d", fmtNum(windowed.Agreement.Alpha),
			windowed.Agreement.PairableValues, windowed.Agreement.WindowFromDay, wantAlpha.Alpha, wantCo.PairableValues())
	}

	// The cohort filter narrows to the cohort's own figures.
	var crowd agreementAnswer
	get(t, s.api.URL, "/v1/agreement"+q("project", project, "cohort", "crowd"), &crowd)
	wantCrowd, _ := kpi.Figures(p.Workload.ExactCoincidences("crowd"), string(schemas.LevelNominal))
	if crowd.Agreement.Scope != "cohort:crowd" || !near(crowd.Agreement.Alpha, wantCrowd.Alpha) {
		t.Errorf("cohort filter: scope %s alpha %s, want cohort:crowd %.6f", crowd.Agreement.Scope, fmtNum(crowd.Agreement.Alpha), wantCrowd.Alpha)
	}

	// Annotators: every one of the program's, with the cohort of its labels and its exact
	// accuracy on gold items; lowest agreement first.
	var an struct {
		Annotators []httpapi.AnnotatorFigure `json:"annotators"`
	}
	get(t, s.api.URL, "/v1/annotators"+q("project", project), &an)
	if len(an.Annotators) != 15 {
		t.Fatalf("%d annotators, want 15", len(an.Annotators))
	}
	for i, a := range an.Annotators {
		var correct, scored int64
		cohort := ""
		for _, l := range p.Workload.Labels {
			if l.Annotator == a.AnnotatorID {
				cohort = l.Cohort
				if l.Gold {
					scored++
					if l.Answer == l.Truth {
						correct++
					}
				}
			}
		}
		if a.Cohort != cohort || a.CorrectLabels != correct || a.ScoredLabels != scored || a.PairsCompared == 0 {
			t.Errorf("annotator %+v, want cohort %s and %d/%d correct on gold", a, cohort, correct, scored)
		}
		if i > 0 && *an.Annotators[i-1].Agreement > *a.Agreement {
			t.Errorf("annotators not sorted by agreement: %v before %v", *an.Annotators[i-1].Agreement, *a.Agreement)
		}
	}
	get(t, s.api.URL, "/v1/annotators"+q("project", project, "cohort", "crowd"), &an)
	if len(an.Annotators) != 6 || an.Annotators[0].Cohort != "crowd" {
		t.Errorf("crowd annotators: %+v", an.Annotators)
	}

	// Remediation: the shipped finding's time is exactly reported -> shipped.
	var reported, shipped int64
	for _, ev := range p.Events {
		switch e := ev.(type) {
		case *schemas.EvalFindingReported:
			if e.FindingID == p.Findings[0] {
				reported = e.OccurredAt
			}
		case *schemas.RemediationShipped:
			shipped = e.OccurredAt
		}
	}
	if !near(rem.Remediation.P50S, float64(shipped-reported)/1000) || rem.Remediation.Open != 1 || rem.Remediation.OldestOpenAgeS == nil {
		t.Errorf("remediation %+v, want p50 %.0f s and one open finding", rem.Remediation, float64(shipped-reported)/1000)
	}

	// Cycle time and the summary.
	var cy cycleAnswer
	get(t, s.api.URL, "/v1/cycle"+q("project", project), &cy)
	if cy.Cycle.Items == 0 || cy.Cycle.ToAcceptedP50S == nil || cy.Rework.Reviews == 0 {
		t.Errorf("cycle %+v rework %+v: want items and reviews", cy.Cycle, cy.Rework)
	}
	var sum httpapi.Summary
	// A 200 carries every section (a section that cannot be read fails the answer).
	if code := get(t, s.api.URL, "/v1/kpis"+q("project", project, "window", "7d"), &sum); code != 200 || sum.Agreement == nil || sum.Accuracy == nil ||
		sum.Coverage == nil || sum.Cycle == nil || sum.Rework == nil || sum.Remediation == nil || sum.Lineage == nil || sum.Routing == nil || sum.Volume == nil {
		t.Fatalf("kpis: %d %+v", code, sum)
	}
	if sum.Pipeline == nil || sum.Pipeline.ConsumerLagRecords == nil {
		t.Errorf("pipeline lag missing: %+v", sum.Pipeline)
	}
	if l := sum.Lineage; l == nil || l.Versions != 3 || l.CompleteVersions != 3 || l.Runs != 1 || l.CompleteRuns != 1 || !near(l.VersionShare, 1) {
		t.Errorf("lineage completeness %+v, want 3 of 3 versions and 1 of 1 run", sum.Lineage)
	}
	if sum.Volume == nil || sum.Volume.Labels != int64(countType(p.Events, schemas.TypeLabelSubmitted)) {
		t.Errorf("volume %+v, want %d labels", sum.Volume, countType(p.Events, schemas.TypeLabelSubmitted))
	}

	// Lineage of v1: every member is accepted, so every chain is complete; the training
	// run used it; v2 fixed the first finding.
	var lin httpapi.Lineage
	if code := get(t, s.api.URL, "/v1/lineage/"+url.PathEscape(p.Dataset)+"/v1", &lin); code != 200 {
		t.Fatalf("lineage: %d", code)
	}
	if lin.MemberCount == 0 || lin.CompleteCount != lin.MemberCount || !lin.Complete || !lin.ManifestOK || !slices.Contains(lin.TrainingRuns, "apit-train-1") {
		t.Errorf("lineage v1: members %d complete %d digest %v runs %v missing %v", lin.MemberCount, lin.CompleteCount, lin.ManifestOK, lin.TrainingRuns, lin.Missing)
	}
	get(t, s.api.URL, "/v1/lineage/"+url.PathEscape(p.Dataset)+"/v2", &lin)
	if !slices.Equal(lin.Fixes, p.Findings[:1]) {
		t.Errorf("lineage v2 fixes %v, want %v", lin.Fixes, p.Findings[:1])
	}
	var prob httpapi.Problem
	if code := get(t, s.api.URL, "/v1/lineage/"+url.PathEscape(p.Dataset)+"/v99", &prob); code != 404 || !strings.Contains(prob.Error, "v99") {
		t.Errorf("unknown version: %d %+v, want 404 naming it", code, prob)
	}

	// A version with a member that never went through the pipeline: its chain lacks the
	// item, the label and the review, and a run trained on it is not fully traced.
	real := lin.Members[0]
	ghost := []schemas.Member{{ItemID: real.ItemID, LabelID: real.LabelID}, {ItemID: "apit-ghost-item", LabelID: "apit-ghost-label"}}
	s.send(t, []schemas.Event{
		&schemas.DatasetVersionCommitted{DatasetID: p.Dataset, Version: "v9", ParentVersion: "v3", Members: ghost, ManifestDigest: schemas.ManifestDigest(ghost)},
		&schemas.TrainingRunRegistered{RunID: "apit-train-ghost", Model: "detector", DatasetID: p.Dataset,
			DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: p.Dataset, Version: "v9"}}},
	})
	waitFor(t, time.Minute, "the incomplete version", func() (bool, string) {
		get(t, s.api.URL, "/v1/kpis"+q("project", project), &sum)
		l := sum.Lineage
		return l != nil && l.Versions == 4 && l.Runs == 2, fmt.Sprintf("%+v", l)
	})
	if l := sum.Lineage; l.CompleteVersions != 3 || l.CompleteRuns != 1 || !near(l.VersionShare, 0.75) || l.CompleteMembers != l.Members-1 {
		t.Errorf("lineage with a ghost member: %+v, want 3/4 versions, 1/2 runs, all members but one", l)
	}
	get(t, s.api.URL, "/v1/lineage/"+url.PathEscape(p.Dataset)+"/v9", &lin)
	if lin.MemberCount != 2 || lin.CompleteCount != 1 || lin.Missing[lineage.MissingItem] != 1 || lin.Missing[lineage.MissingLabel] != 1 ||
		lin.Missing[lineage.MissingReview] != 1 || !lin.ManifestOK || lin.Complete {
		t.Errorf("lineage v9: %+v, want 1 of 2 complete, the ghost missing item, label and review", lin)
	}

	// Routing: automation, overrides of audited auto-accepts and pre-label precision.
	checkRouting(t, s, p, project)

	// Injection through every filter: the values are bound parameters, so each is just a
	// project, cohort or dataset without data; never more data, never an error.
	labelsBefore := countRows(t, s, "labels")
	attempts := []string{"x' OR 1=1 --", project + "' OR '1'='1", "'; DROP TABLE labels; --", `\' OR 1=1 --`, "x\\", "` OR 1=1 #", project + "') OR ('1'='1"}
	for _, a := range attempts {
		for _, tc := range []struct {
			path, param string
			empty       func(t *testing.T, path string)
		}{
			{"/v1/agreement", "project", func(t *testing.T, path string) {
				var v agreementAnswer
				mustOK(t, s, path, &v)
				if v.Agreement.PairableValues != 0 || len(v.Agreement.Questions) != 0 || len(v.Agreement.Cohorts) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Agreement)
				}
			}},
			{"/v1/agreement?window=30d&x=", "project", func(t *testing.T, path string) {
				var v agreementAnswer
				mustOK(t, s, strings.Replace(path, "&x=?", "&", 1), &v)
				if v.Agreement.PairableValues != 0 || len(v.Agreement.Cohorts) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Agreement)
				}
			}},
			{"/v1/agreement", "cohort", func(t *testing.T, path string) {
				var v agreementAnswer
				mustOK(t, s, path, &v)
				if v.Agreement.PairableValues != 0 || len(v.Agreement.Cohorts) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Agreement)
				}
			}},
			{"/v1/accuracy", "project", func(t *testing.T, path string) {
				var v accuracyAnswer
				mustOK(t, s, path, &v)
				if v.Accuracy.ScoredLabels != 0 || len(v.Accuracy.Cohorts) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Accuracy)
				}
			}},
			{"/v1/accuracy", "cohort", func(t *testing.T, path string) {
				var v accuracyAnswer
				mustOK(t, s, path, &v)
				if v.Accuracy.ScoredLabels != 0 || len(v.Accuracy.Cohorts) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Accuracy)
				}
			}},
			{"/v1/coverage", "project", func(t *testing.T, path string) {
				var v coverageAnswer
				mustOK(t, s, path, &v)
				if len(v.Coverage.Datasets) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Coverage)
				}
			}},
			{"/v1/coverage", "dataset", func(t *testing.T, path string) {
				var v coverageAnswer
				mustOK(t, s, path, &v)
				if len(v.Coverage.Datasets) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Coverage)
				}
			}},
			{"/v1/annotators", "project", func(t *testing.T, path string) {
				var v struct {
					Annotators []httpapi.AnnotatorFigure `json:"annotators"`
				}
				mustOK(t, s, path, &v)
				if len(v.Annotators) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Annotators)
				}
			}},
			{"/v1/annotators", "cohort", func(t *testing.T, path string) {
				var v struct {
					Annotators []httpapi.AnnotatorFigure `json:"annotators"`
				}
				mustOK(t, s, path, &v)
				if len(v.Annotators) != 0 {
					t.Errorf("%s returned data: %+v", path, v.Annotators)
				}
			}},
			{"/v1/remediation", "project", func(t *testing.T, path string) {
				var v remediationAnswer
				mustOK(t, s, path, &v)
				if v.Remediation.Findings != 0 {
					t.Errorf("%s returned data: %+v", path, v.Remediation)
				}
			}},
			{"/v1/routing", "project", func(t *testing.T, path string) {
				var v routingAnswer
				mustOK(t, s, path, &v)
				if v.Routing.Decisions != 0 || v.Routing.PrelabelsJudged != 0 || len(v.Routing.Projects) != 0 || len(v.Routing.Models) != 0 || v.Routing.AutomationRate != nil {
					t.Errorf("%s returned data: %+v", path, v.Routing)
				}
			}},
			{"/v1/cycle", "project", func(t *testing.T, path string) {
				var v cycleAnswer
				mustOK(t, s, path, &v)
				if v.Cycle.Items != 0 {
					t.Errorf("%s returned data: %+v", path, v.Cycle)
				}
			}},
			{"/v1/kpis", "project", func(t *testing.T, path string) {
				var v httpapi.Summary
				mustOK(t, s, path, &v)
				if len(v.Annotators) != 0 || v.Volume.Labels != 0 || v.Agreement.PairableValues != 0 || v.Remediation.Findings != 0 || v.Lineage.Versions != 0 || v.Lineage.Runs != 0 ||
					v.Routing.Decisions != 0 || v.Routing.PrelabelsJudged != 0 {
					t.Errorf("%s returned data or errors: %+v", path, v)
				}
			}},
		} {
			tc.empty(t, tc.path+q(tc.param, a))
		}
		for _, path := range []string{
			"/v1/lineage/" + url.PathEscape(a) + "/v1",
			"/v1/lineage/" + url.PathEscape(p.Dataset) + "/" + url.PathEscape("v1' OR '1'='1"),
		} {
			if code := get(t, s.api.URL, path, nil); code != 404 {
				t.Errorf("%s: %d, want 404", path, code)
			}
		}
	}
	if after := countRows(t, s, "labels"); after != labelsBefore {
		t.Errorf("labels went from %d to %d rows during the injection attempts", labelsBefore, after)
	}
	get(t, s.api.URL, "/v1/agreement"+q("project", project), &ag)
	if ag.Agreement.PairableValues != wantCo.PairableValues() {
		t.Errorf("after the injection attempts the project reads %d pairable values, want %d", ag.Agreement.PairableValues, wantCo.PairableValues())
	}

	// The sampler exports the unfiltered view's KPIs for Prometheus alerts.
	waitFor(t, 30*time.Second, "KPI gauges", func() (bool, string) {
		alpha, ok := s.gauge(t, "assay_api_kpi_agreement_alpha", "project", project)
		open, ok2 := s.gauge(t, "assay_api_kpi_open_findings")
		return ok && ok2 && math.Abs(alpha-wantAlpha.Alpha) < 1e-9 && open == 1, fmt.Sprintf("alpha %v (%v), open findings %v (%v)", alpha, ok, open, ok2)
	})

	// The history behind the charts has samples of the unfiltered view.
	var hist struct {
		Samples []httpapi.Sample `json:"samples"`
	}
	waitFor(t, 30*time.Second, "history samples with agreement", func() (bool, string) {
		get(t, s.api.URL, "/v1/history", &hist)
		n := len(hist.Samples)
		return n > 0 && hist.Samples[n-1].Agreement != nil, fmt.Sprintf("%d samples", n)
	})
}

func mustOK(t *testing.T, s *stack, path string, out any) {
	t.Helper()
	if code := get(t, s.api.URL, path, out); code != http.StatusOK {
		t.Fatalf("%s: status %d, want 200 (a bound parameter is just a value without data)", path, code)
	}
}

func countRows(t *testing.T, s *stack, table string) uint64 {
	t.Helper()
	var n uint64
	if err := s.conn.QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func countType(evs []schemas.Event, typ schemas.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.Type() == typ {
			n++
		}
	}
	return n
}

// TestBadParameters: every malformed request is a 400 whose JSON names the parameter and
// says what is wrong; unknown endpoints are 404; an empty, migrated database answers 200.
func TestBadParameters(t *testing.T) {
	t.Parallel()
	_, conn := testenv.MigratedClickHouse(t)
	reg := prometheus.NewRegistry()
	srv, err := httpapi.New(httpapi.Config{Conn: conn, Principals: testStore(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	api := httptest.NewServer(mux)
	defer api.Close()

	for _, tc := range []struct {
		path, param, says string
	}{
		{"/v1/kpis?window=forever", "window", "not a window"},
		{"/v1/kpis?window=0s", "window", "not a window"},
		{"/v1/kpis?window=-5m", "window", "not a window"},
		{"/v1/kpis?window=400d", "window", "out of range"},
		{"/v1/kpis?window=99999999999999999d", "window", "out of range"},
		{"/v1/kpis?window=1ms", "window", "out of range"},
		{"/v1/kpis?projet=x", "projet", "unknown parameter"},
		{"/v1/kpis?project=a&project=b", "project", "given 2 times"},
		{"/v1/kpis?project=" + strings.Repeat("p", 129), "project", "longer than 128 bytes"},
		{"/v1/kpis?project=a%00b", "project", "control character"},
		{"/v1/kpis?cohort=a%0Ab", "cohort", "control character"},
		{"/v1/kpis?dataset=%ff", "dataset", "UTF-8"},
		{"/v1/agreement?window=1y", "window", "not a window"},
		{"/v1/accuracy?window=1h", "window", "cannot be windowed"},
		{"/v1/coverage?window=1h", "window", "cannot be windowed"},
		{"/v1/agreement?dataset=d", "dataset", "unknown parameter"},
		{"/v1/remediation?cohort=c", "cohort", "unknown parameter"},
		{"/v1/annotators?window=7d", "window", "cannot be windowed"},
		{"/v1/history?since=yesterday", "since", "epoch milliseconds"},
		{"/v1/history?since=-1", "since", "epoch milliseconds"},
		{"/v1/lineage/ds/v1?project=p", "project", "unknown parameter"},
		{"/v1/lineage/a%00b/v1", "dataset", "control character"},
		{"/v1/pipeline?x=1", "x", "unknown parameter"},
		{"/v1/routing?window=7d", "window", "cannot be windowed"},
		{"/v1/routing?cohort=crowd", "cohort", "unknown parameter"},
		{"/v1/routing?project=a&project=b", "project", "given 2 times"},
		{"/v1/routing?project=a%00b", "project", "control character"},
		{"/v1/routing?project=" + strings.Repeat("p", 129), "project", "longer than 128 bytes"},
		{"/v1/regions?scope=bogus", "scope", "not a scope"},
		{"/v1/regions?scope=cohort%3A", "scope", "not a scope"},
		{"/v1/regions?window=1y", "window", "not a window"},
		{"/v1/regions?cohort=crowd", "cohort", "unknown parameter"},
		{"/v1/regions?question=a&question=b", "question", "given 2 times"},
		{"/v1/preferences?question=a%00b", "question", "control character"},
		{"/v1/preferences?scope=" + strings.Repeat("s", 129), "scope", "longer than 128 bytes"},
		{"/v1/preferences?dataset=d", "dataset", "unknown parameter"},
	} {
		var prob httpapi.Problem
		code := get(t, api.URL, tc.path, &prob)
		if code != http.StatusBadRequest || prob.Param != tc.param || !strings.Contains(prob.Error, tc.says) || !strings.Contains(prob.Error, tc.param) {
			t.Errorf("%s: %d %+v, want 400 about %q saying %q", tc.path, code, prob, tc.param, tc.says)
		}
	}
	var prob httpapi.Problem
	if code := get(t, api.URL, "/v1/nope", &prob); code != http.StatusNotFound || !strings.Contains(prob.Error, "/v1/kpis") {
		t.Errorf("unknown endpoint: %d %+v", code, prob)
	}
	var sum httpapi.Summary
	if code := get(t, api.URL, "/v1/kpis?window=15m", &sum); code != 200 || sum.Agreement == nil || sum.Agreement.Alpha != nil {
		t.Errorf("empty database: %d %+v", code, sum)
	}
	if r := sum.Routing; r == nil || r.Decisions != 0 || r.AutomationRate != nil || r.OverrideRate != nil || r.PrelabelPrecision != nil {
		t.Errorf("empty database: routing %+v, want no decisions and null rates", sum.Routing)
	}
	if sum.Regions == nil || len(sum.Regions.Questions) != 0 || sum.Preferences == nil || len(sum.Preferences.Questions) != 0 {
		t.Errorf("empty database: regions %+v, preferences %+v; want sections without questions", sum.Regions, sum.Preferences)
	}
	var ra regionsAnswer
	var pa preferencesAnswer
	if code := get(t, api.URL, "/v1/regions?window=7d", &ra); code != 200 || ra.Regions.Figures == nil || len(ra.Regions.Figures) != 0 || ra.Regions.WindowFromDay == "" {
		t.Errorf("empty database: /v1/regions %d %+v", code, ra)
	}
	if code := get(t, api.URL, "/v1/preferences", &pa); code != 200 || pa.Preferences.Figures == nil || len(pa.Preferences.Figures) != 0 {
		t.Errorf("empty database: /v1/preferences %d %+v", code, pa)
	}
	// Request metrics carry the route pattern and the code.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "assay_api_requests_total" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "code" && l.GetValue() == "400" {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Error("assay_api_requests_total has no code=400 series")
	}
}
