package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

type routingAnswer struct {
	Routing httpapi.RoutingKPI `json:"routing"`
}

// routingWant is what a demo program implies for the routing KPIs under the router's default
// rules (the router of the test stack and of make run). The accepted human label of an item is
// the most frequent of its final labels; when its annotators tie, the view may pick any of the
// tied values, so the figures that compare with it are known as a range.
type routingWant struct {
	decisions, autoAccepted, audits, escalations int64
	overriddenLo, overriddenHi                   int64
	// per model version: judged pre-labels and the range of correct ones
	judged, correctLo, correctHi map[string]int64
}

func (w routingWant) automation() float64 { return float64(w.autoAccepted) / float64(w.decisions) }

// wantRouting runs the pure router (DefaultRules) over the program's events, one partition
// per topic (decisions are per item, so partitioning does not change them), and compares the
// pre-labels with the program's final labels.
func wantRouting(t *testing.T, p *demo.Program) routingWant {
	t.Helper()
	r, err := router.New(router.Config{}) // the built-in rules
	if err != nil {
		t.Fatal(err)
	}
	w := routingWant{judged: map[string]int64{}, correctLo: map[string]int64{}, correctHi: map[string]int64{}}
	decided := map[string]*schemas.RoutingDecided{}
	states := map[schemas.Family]any{}
	offsets := map[schemas.Family]int64{}
	for _, ev := range p.Events {
		fam := ev.Family()
		if fam != schemas.FamilyItems && fam != schemas.FamilyLabels {
			continue
		}
		if states[fam] == nil {
			states[fam] = r.NewState(fam.Topic(), 0)
		}
		out, err := r.Apply(states[fam], runtime.Record{Topic: fam.Topic(), Family: fam, Offset: offsets[fam], Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		offsets[fam]++
		for _, em := range out.Emit {
			d := em.(*schemas.RoutingDecided)
			switch d.Rule {
			case router.RuleLowAgreement:
				w.escalations++
			default:
				w.decisions++
				decided[d.ItemID] = d
				switch d.Rule {
				case router.RuleConfident:
					w.autoAccepted++
				case router.RuleAuditSample:
					w.autoAccepted++
					w.audits++
				}
			}
		}
	}
	// The accepted values of each item: the most frequent final answers (several on a tie).
	counts := map[string]map[string]int{}
	for _, l := range p.Workload.Labels {
		if counts[l.ItemID] == nil {
			counts[l.ItemID] = map[string]int{}
		}
		counts[l.ItemID][l.Answer]++
	}
	accepted := func(item string) (top []string) {
		best := 0
		for v, n := range counts[item] {
			switch {
			case n > best:
				best, top = n, []string{v}
			case n == best:
				top = append(top, v)
			}
		}
		return top
	}
	// agrees says whether value certainly (lo) and possibly (hi) equals the accepted value.
	agrees := func(item, value string) (certain, possible bool) {
		top := accepted(item)
		for _, v := range top {
			if v == value {
				return len(top) == 1, true
			}
		}
		return false, false
	}
	// Each item has one pre-label, the one decided on.
	prelabel := map[string]string{}
	for _, pl := range p.Workload.PreLabels {
		prelabel[pl.ItemID] = pl.Answer
	}
	for item, d := range decided {
		if d.Rule != router.RuleAuditSample || len(counts[item]) == 0 {
			continue
		}
		certain, possible := agrees(item, prelabel[item])
		if !possible {
			w.overriddenLo++
		}
		if !certain {
			w.overriddenHi++
		}
	}
	for _, pl := range p.Workload.PreLabels {
		if len(counts[pl.ItemID]) == 0 {
			continue
		}
		w.judged[pl.Version]++
		certain, possible := agrees(pl.ItemID, pl.Answer)
		if certain {
			w.correctLo[pl.Version]++
		}
		if possible {
			w.correctHi[pl.Version]++
		}
	}
	return w
}

// checkRouting checks /v1/routing, its part of /v1/kpis and the routing gauges against the
// program's own figures, once the router's decisions and every label are in.
func checkRouting(t *testing.T, s *stack, p *demo.Program, project string) {
	t.Helper()
	want := wantRouting(t, p)
	if want.decisions == 0 || want.autoAccepted == 0 || want.audits == 0 || want.autoAccepted == want.decisions {
		t.Fatalf("the program gives the router nothing to decide both ways: %+v", want)
	}
	var judged int64
	for _, n := range want.judged {
		judged += n
	}
	var rt routingAnswer
	waitFor(t, 2*time.Minute, "the router's decisions and the accepted labels", func() (bool, string) {
		get(t, s.api.URL, "/v1/routing"+q("project", project), &rt)
		r := rt.Routing
		return r.Decisions == want.decisions && r.AuditsLabeled == want.audits && r.PrelabelsJudged == judged && r.Escalations == want.escalations,
			fmt.Sprintf("decisions %d/%d, audits labeled %d/%d, pre-labels judged %d/%d, escalations %d/%d",
				r.Decisions, want.decisions, r.AuditsLabeled, want.audits, r.PrelabelsJudged, judged, r.Escalations, want.escalations)
	})
	r := rt.Routing
	if r.AutoAccepted != want.autoAccepted || r.Audits != want.audits || !near(r.AutomationRate, want.automation()) ||
		!near(r.AuditRate, float64(want.audits)/float64(want.decisions)) || r.HumanReview != want.decisions-want.autoAccepted ||
		r.HumanLabel != 0 || r.ExpertReview != 0 {
		t.Errorf("automation %+v, want %d of %d auto-accepted (%d audited), the rest human_review", r, want.autoAccepted, want.decisions, want.audits)
	}
	if r.AuditsOverridden < want.overriddenLo || r.AuditsOverridden > want.overriddenHi || !near(r.OverrideRate, float64(r.AuditsOverridden)/float64(want.audits)) {
		t.Errorf("overrides %d of %d audits (rate %s), want %d..%d", r.AuditsOverridden, r.AuditsLabeled, fmtNum(r.OverrideRate), want.overriddenLo, want.overriddenHi)
	}
	if len(r.Projects) != 1 || r.Projects[0].ProjectID != project || r.Projects[0].Decisions != want.decisions {
		t.Errorf("projects %+v, want %s alone", r.Projects, project)
	}
	if len(r.Models) != len(want.judged) {
		t.Errorf("models %+v, want %d versions", r.Models, len(want.judged))
	}
	for _, m := range r.Models {
		v := m.ModelVersion
		if m.ProjectID != project || m.PrelabelsJudged != want.judged[v] || m.PrelabelsCorrect < want.correctLo[v] || m.PrelabelsCorrect > want.correctHi[v] ||
			!near(m.PrelabelPrecision, float64(m.PrelabelsCorrect)/float64(m.PrelabelsJudged)) {
			t.Errorf("precision %+v, want %d judged, %d..%d correct", m, want.judged[v], want.correctLo[v], want.correctHi[v])
		}
	}
	// Per model version, the project's figures are those of kpi_prelabel_precision (the
	// only project in this database).
	for _, m := range r.Models {
		var judgedView, correctView uint64
		if err := s.conn.QueryRow(context.Background(), "SELECT prelabels_judged, correct FROM kpi_prelabel_precision WHERE model = ? AND model_version = ?",
			m.Model, m.ModelVersion).Scan(&judgedView, &correctView); err != nil {
			t.Fatal(err)
		}
		if int64(judgedView) != m.PrelabelsJudged || int64(correctView) != m.PrelabelsCorrect {
			t.Errorf("%s@%s: API %d/%d, kpi_prelabel_precision %d/%d", m.Model, m.ModelVersion, m.PrelabelsCorrect, m.PrelabelsJudged, correctView, judgedView)
		}
	}

	// /v1/kpis carries the same section.
	var sum httpapi.Summary
	get(t, s.api.URL, "/v1/kpis"+q("project", project), &sum)
	if sum.Routing == nil || sum.Routing.Decisions != r.Decisions || !near(sum.Routing.AutomationRate, want.automation()) {
		t.Errorf("kpis routing %+v, want the /v1/routing figures", sum.Routing)
	}

	// The sampler exports them as gauges: per project, and precision per model version.
	waitFor(t, 30*time.Second, "routing gauges", func() (bool, string) {
		auto, ok1 := s.gauge(t, "assay_api_kpi_automation_ratio", "project", project)
		over, ok2 := s.gauge(t, "assay_api_kpi_override_ratio", "project", project)
		n, ok3 := s.gauge(t, "assay_api_kpi_audits_labeled", "project", project)
		ok := ok1 && ok2 && ok3 && math.Abs(auto-want.automation()) < 1e-9 && math.Abs(over-*r.OverrideRate) < 1e-9 && n == float64(want.audits)
		for _, m := range r.Models {
			prec, okp := s.gauge(t, "assay_api_kpi_prelabel_precision_ratio", "project", project, "model", m.Model, "model_version", m.ModelVersion)
			ok = ok && okp && math.Abs(prec-*m.PrelabelPrecision) < 1e-9
		}
		return ok, fmt.Sprintf("automation %v (%v), override %v (%v), audits labeled %v (%v)", auto, ok1, over, ok2, n, ok3)
	})
	t.Logf("routing of the program: automation %s (%d of %d), override %s (%d of %d audits), precision %s over %d pre-labels, %d escalations",
		fmtNum(r.AutomationRate), r.AutoAccepted, r.Decisions, fmtNum(r.OverrideRate), r.AuditsOverridden, r.AuditsLabeled,
		fmtNum(r.PrelabelPrecision), r.PrelabelsJudged, r.Escalations)
}
