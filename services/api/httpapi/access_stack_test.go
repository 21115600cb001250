package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/streams/lineage"
)

// accessData is what TestReadAccessOverPipeline plays: the demo program in rbacProject (the
// in-house cohorts experts and inhouse, acme's crowd) with labels of a second vendor, globex
// (cohort globex-crowd), and a cohort both vendors label in (mixed); and a smaller program in
// rbacOther (acme's crowd again). Each label's party, by label and annotator id.
type accessData struct {
	dataset, otherDataset string
	// labelParty and annotatorParty are the vendor and cohort of every label (by label id)
	// and every annotator (by annotator id) in rbacProject; otherAnnotators are rbacOther's.
	labelParty, annotatorParty map[string][2]string
	otherAnnotators            []string
}

// labelsOf are LabelSubmitted events of annotators of one party on items of a program.
func labelsOf(run, cohort, vendor string, annotators int, items []string) []schemas.Event {
	var evs []schemas.Event
	for i, item := range items {
		for a := range annotators {
			value := []string{"cat", "dog", "bird"}[(i+a)%3]
			evs = append(evs, &schemas.LabelSubmitted{LabelID: fmt.Sprintf("%s-%s-%s-label-%d-%d", run, vendor, cohort, i, a), ItemID: item,
				ProjectID: rbacProject, TaskID: run + "-task", QuestionID: "species", AnnotatorID: fmt.Sprintf("%s-%s-%s-%d", run, vendor, cohort, a),
				Cohort: cohort, Vendor: vendor, GuidelineVersion: "v1", Value: schemas.Nominal(value), TimeSpentMS: 3000})
		}
	}
	return evs
}

func playAccessData(t *testing.T, s *stack) *accessData {
	t.Helper()
	p := s.play(t, "rbac", rbacProject, 21, 60)
	other := s.play(t, "rbacq", rbacOther, 22, 20)
	var items []string
	for _, ev := range p.Events {
		if it, ok := ev.(*schemas.ItemIngested); ok && len(items) < 24 {
			items = append(items, it.ItemID)
		}
	}
	var extra []schemas.Event
	extra = append(extra, labelsOf("rbac", "globex-crowd", "globex", 3, items)...)
	// Both vendors label items 8 to 15 in cohort mixed, so it has figures of its own.
	extra = append(extra, labelsOf("rbac", "mixed", "globex", 1, items[:16])...)
	extra = append(extra, labelsOf("rbac", "mixed", "acme", 1, items[8:])...)
	s.send(t, extra)

	d := &accessData{dataset: p.Dataset, otherDataset: other.Dataset, labelParty: map[string][2]string{}, annotatorParty: map[string][2]string{}}
	for _, ev := range append(p.Events, extra...) {
		if l, ok := ev.(*schemas.LabelSubmitted); ok {
			d.labelParty[l.LabelID] = [2]string{l.Vendor, l.Cohort}
			d.annotatorParty[l.AnnotatorID] = [2]string{l.Vendor, l.Cohort}
		}
	}
	for _, ev := range other.Events {
		if l, ok := ev.(*schemas.LabelSubmitted); ok && !slices.Contains(d.otherAnnotators, l.AnnotatorID) {
			d.otherAnnotators = append(d.otherAnnotators, l.AnnotatorID)
		}
	}
	// Every label and annotator is in the API before the matrix runs.
	wantLabels := int64(len(d.labelParty))
	waitFor(t, 2*time.Minute, "every label of both projects and the annotators' figures", func() (bool, string) {
		var a, b httpapi.Summary
		get(t, s.api.URL, "/v1/kpis"+q("project", rbacProject), &a)
		get(t, s.api.URL, "/v1/kpis"+q("project", rbacOther), &b)
		return a.Volume != nil && a.Volume.Labels == wantLabels && len(a.Annotators) == len(d.annotatorParty) && b.Volume != nil && b.Volume.Labels > 0 && b.Lineage.Versions >= 1 &&
				len(a.Coverage.Datasets) == 1 && a.Lineage.Versions >= 1 && a.Routing.Decisions > 0,
			fmt.Sprintf("labels %v/%d, annotators %d/%d", a.Volume, wantLabels, len(a.Annotators), len(d.annotatorParty))
	})
	return d
}

// reading is one request of the matrix and the status each principal gets ("" = no token).
type reading struct {
	path string
	// want maps a principal to its status; absent principals get def.
	want map[string]int
	def  int
}

// The principals of the matrix besides the test ones: no token, and an unknown token.
const (
	noToken      = ""
	unknownToken = "unknown"
)

// TestReadAccessOverPipeline plays programs of two projects, with the labels of two vendors
// and in-house cohorts, through the real gateway, broker and processors into ClickHouse, and
// reads every /v1 endpoint as every role (and without a token, and with an unknown one),
// checking each status against the matrix and the rule a 403 names; then, for every answer a
// vendor gets, that no other party's annotator id, label id, cohort or vendor name appears in
// it anywhere, while its own annotators and the shared project-level figures do (the same
// figures as the analyst's).
func TestReadAccessOverPipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	d := playAccessData(t, s)
	ds, other := url.PathEscape(d.dataset), url.PathEscape(d.otherDataset)

	const (
		analyst, owner, qa        = "test-analyst", "test-owner", "test-qa"
		collector, labeler, model = "test-collector", "test-labeler", "test-model"
		analystP                  = "test-analyst-rbac"
		acme, globex, acmeCrowd   = "test-vendor-acme", "test-vendor-globex", "test-vendor-acme-crowd"
	)
	vendors := []string{acme, globex, acmeCrowd}
	principals := []string{noToken, unknownToken, collector, labeler, model, qa, owner, analyst, analystP, acme, globex, acmeCrowd}
	// refusedAll: the statuses every request shares for who may not read.
	refusedAll := map[string]int{noToken: 401, unknownToken: 401, collector: 403, labeler: 403, model: 403}
	with := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range refusedAll {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	P, O := url.QueryEscape(rbacProject), url.QueryEscape(rbacOther)
	matrix := []reading{
		{"/v1/whoami", with(nil), 200},
		// No project: every project for a scope of every project, the scope's only project
		// otherwise; globex reads two projects and must name one.
		{"/v1/kpis", with(map[string]int{globex: 400}), 200},
		{"/v1/kpis?project=" + P, with(nil), 200},
		{"/v1/kpis?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/kpis?project=" + P + "&cohort=crowd&window=7d", with(map[string]int{globex: 403}), 200},
		{"/v1/agreement?project=" + P, with(nil), 200},
		{"/v1/agreement?project=" + P + "&cohort=crowd", with(map[string]int{globex: 403}), 200},
		{"/v1/agreement?project=" + P + "&cohort=globex-crowd", with(map[string]int{acme: 403, acmeCrowd: 403}), 200},
		{"/v1/agreement?project=" + P + "&cohort=experts", with(map[string]int{acme: 403, acmeCrowd: 403, globex: 403}), 200},
		// A cohort of two vendors is neither vendor's.
		{"/v1/agreement?project=" + P + "&cohort=mixed", with(map[string]int{acme: 403, acmeCrowd: 403, globex: 403}), 200},
		{"/v1/accuracy?project=" + P, with(nil), 200},
		{"/v1/accuracy?project=" + P + "&cohort=globex-crowd", with(map[string]int{acme: 403, acmeCrowd: 403}), 200},
		{"/v1/annotators?project=" + P, with(nil), 200},
		{"/v1/annotators?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/annotators?project=" + P + "&cohort=inhouse", with(map[string]int{acme: 403, acmeCrowd: 403, globex: 403}), 200},
		{"/v1/coverage?project=" + P, with(nil), 200},
		{"/v1/cycle?project=" + P, with(nil), 200},
		{"/v1/remediation?project=" + P, with(nil), 200},
		{"/v1/routing?project=" + P, with(nil), 200},
		{"/v1/routing?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/pipeline", with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403, globex: 403}), 200},
		{"/v1/lineage/" + ds + "/v1", with(nil), 200},
		{"/v1/lineage/" + ds + "/v2", with(nil), 200},
		{"/v1/lineage/" + other + "/v1", with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		// A version that does not exist: 404 to whoever may read the dataset's project.
		{"/v1/lineage/" + ds + "/v99", with(nil), 404},
		{"/v1/lineage/no-such-dataset/v1", with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403, globex: 403}), 404},
		{"/v1/history?project=" + P, with(nil), 200},
		{"/v1/history?project=" + P + "&cohort=globex-crowd", with(map[string]int{acme: 403, acmeCrowd: 403}), 200},
		{"/v1/history", with(map[string]int{globex: 400}), 200},
		// Governance: targets and verdicts are project-level; the confusion of a party's scope
		// is that party's (scope.party for another's); the alerts are filtered, never refused
		// within the projects.
		{"/v1/targets?project=" + P, with(nil), 200},
		{"/v1/targets?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/gate?project=" + P, with(nil), 200},
		{"/v1/gate?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/gate/" + ds + "/v1", with(nil), 200},
		{"/v1/gate/" + other + "/v1", with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/gate/" + ds + "/v99", with(nil), 404},
		{"/v1/alerts?project=" + P, with(nil), 200},
		{"/v1/alerts?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/confusion?project=" + P, with(nil), 200},
		{"/v1/confusion?project=" + P + "&scope=" + url.QueryEscape("cohort:crowd"), with(map[string]int{globex: 403}), 200},
		{"/v1/confusion?project=" + P + "&scope=" + url.QueryEscape("cohort:globex-crowd"), with(map[string]int{acme: 403, acmeCrowd: 403}), 200},
		{"/v1/confusion?project=" + P + "&scope=" + url.QueryEscape("cohort:mixed"), with(map[string]int{acme: 403, acmeCrowd: 403, globex: 403}), 200},
		// acme labeled in crowd and mixed: its vendor figure is its own, not acme-crowd's.
		{"/v1/confusion?project=" + P + "&scope=" + url.QueryEscape("vendor:acme"), with(map[string]int{acmeCrowd: 403, globex: 403}), 200},
		// Region and preference figures: project-level in scope all, a party's own otherwise.
		{"/v1/regions?project=" + P, with(nil), 200},
		{"/v1/regions?project=" + O, with(map[string]int{analystP: 403, acme: 403, acmeCrowd: 403}), 200},
		{"/v1/regions?project=" + P + "&scope=" + url.QueryEscape("cohort:globex-crowd"), with(map[string]int{acme: 403, acmeCrowd: 403}), 200},
		{"/v1/preferences?project=" + P, with(nil), 200},
		{"/v1/preferences?project=" + P + "&scope=" + url.QueryEscape("vendor:acme"), with(map[string]int{acmeCrowd: 403, globex: 403}), 200},
		{"/v1/preferences?project=" + P + "&scope=" + url.QueryEscape("cohort:mixed"), with(map[string]int{acme: 403, acmeCrowd: 403, globex: 403}), 200},
		{"/v1/nope", with(nil), 404},
	}
	// The rule each 403 names.
	rule := func(path, id string) string {
		switch {
		case id == collector || id == labeler || id == model:
			return access.RuleRead
		case strings.HasPrefix(path, "/v1/pipeline"):
			return httpapi.RuleAllProjects
		case strings.Contains(path, "cohort=") || strings.Contains(path, "scope="):
			return httpapi.RuleParty
		}
		return access.RuleProject
	}

	// The history views are sampled once per (filter, scope) from the first request on: ask,
	// and wait for the sampler, so the matrix reads samples too.
	for _, id := range append([]string{analyst, analystP}, vendors...) {
		waitFor(t, 30*time.Second, id+"'s history samples", func() (bool, string) {
			var h struct {
				Samples []httpapi.Sample `json:"samples"`
			}
			getAs(t, s.api.URL, "/v1/history?project="+P, id, &h)
			return len(h.Samples) > 0, fmt.Sprintf("%d samples", len(h.Samples))
		})
	}

	bodies := map[string]map[string][]byte{} // principal -> path -> 200 body
	for _, id := range principals {
		bodies[id] = map[string][]byte{}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-58s", "request")
	for _, id := range principals {
		fmt.Fprintf(&table, " %s", label(id))
	}
	table.WriteString("\n")
	for _, m := range matrix {
		fmt.Fprintf(&table, "%-58s", shorten(m.path, d))
		for _, id := range principals {
			want, ok := m.want[id]
			if !ok {
				want = m.def
			}
			var code int
			var body []byte
			if id == unknownToken {
				code, body = getWithToken(t, s.api.URL, m.path, "assay_not-a-token-of-this-api")
			} else {
				code, body = getBody(t, s.api.URL, m.path, id)
			}
			fmt.Fprintf(&table, " %*d", len(label(id)), code)
			if code != want {
				t.Errorf("%s as %q: %d %s, want %d", m.path, id, code, body, want)
				continue
			}
			switch code {
			case 200:
				bodies[id][m.path] = body
			case 403:
				var p httpapi.Problem
				if err := json.Unmarshal(body, &p); err != nil || p.Rule != rule(m.path, id) || !strings.Contains(p.Error, p.Rule) {
					t.Errorf("%s as %q: 403 %s, want the rule %s named", m.path, id, body, rule(m.path, id))
				}
			}
		}
		table.WriteString("\n")
	}
	t.Logf("status of every request by principal:\n%s", table.String())

	// No vendor answer carries another party's annotator, label, cohort or vendor.
	own := map[string]func(party [2]string) bool{
		acme:      func(p [2]string) bool { return p[0] == "acme" },
		acmeCrowd: func(p [2]string) bool { return p[0] == "acme" && p[1] == "crowd" },
		globex:    func(p [2]string) bool { return p[0] == "globex" },
	}
	// Ids are looked for as JSON strings ("rbac-l-1" is in "rbac-l-10"), cohort names as
	// strings and as KPI scopes, vendor names anywhere.
	for _, v := range vendors {
		var foreign, mine []string
		ownCohorts := map[string]bool{}
		for id, party := range d.annotatorParty {
			if own[v](party) {
				mine = append(mine, id)
				ownCohorts[party[1]] = true
			} else {
				foreign = append(foreign, `"`+id+`"`)
			}
		}
		for id, party := range d.labelParty {
			if !own[v](party) {
				foreign = append(foreign, `"`+id+`"`)
			}
		}
		for _, id := range d.otherAnnotators {
			foreign = append(foreign, `"`+id+`"`)
		}
		for _, name := range []string{"experts", "inhouse", "crowd", "globex-crowd", "mixed"} {
			if !ownCohorts[name] {
				foreign = append(foreign, `"`+name+`"`, "cohort:"+name+`"`)
			}
		}
		for _, name := range []string{"acme", "globex"} {
			if name != map[string]string{acme: "acme", acmeCrowd: "acme", globex: "globex"}[v] {
				foreign = append(foreign, name)
			}
		}
		leaks := 0
		for path, body := range bodies[v] {
			for _, f := range foreign {
				if strings.Contains(string(body), f) {
					leaks++
					if leaks < 20 {
						t.Errorf("%s's answer to %s carries %q", v, path, f)
					}
				}
			}
		}
		sort.Strings(mine)
		t.Logf("%s: %d answers checked for %d strings of other parties, %d leaks; its own annotators %v", v, len(bodies[v]), len(foreign), leaks, mine)
	}

	// Positive controls: the vendor sees its own annotators, all of them, and the project's
	// shared figures equal the analyst's.
	annotatorsIn := func(id, path string) []string {
		var a struct {
			Annotators []httpapi.AnnotatorFigure `json:"annotators"`
		}
		if err := json.Unmarshal(bodies[id][path], &a); err != nil {
			t.Fatalf("%s %s: %v", id, path, err)
		}
		var out []string
		for _, f := range a.Annotators {
			out = append(out, f.AnnotatorID)
		}
		sort.Strings(out)
		return out
	}
	wantOf := func(ok func([2]string) bool) []string {
		var out []string
		for id, party := range d.annotatorParty {
			if ok(party) {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	annPath := "/v1/annotators?project=" + P
	if got, want := annotatorsIn(analyst, annPath), wantOf(func([2]string) bool { return true }); !slices.Equal(got, want) {
		t.Errorf("analyst's annotators %v, want every one %v", got, want)
	}
	for _, v := range vendors {
		if got, want := annotatorsIn(v, annPath), wantOf(own[v]); !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%s's annotators %v, want its own %v", v, got, want)
		}
	}
	var full, partial httpapi.Summary
	kpisPath := "/v1/kpis?project=" + P
	mustDecode(t, bodies[analyst][kpisPath], &full)
	for _, v := range vendors {
		mustDecode(t, bodies[v][kpisPath], &partial)
		if !sameNum(full.Agreement.Alpha, partial.Agreement.Alpha) || full.Agreement.PairableValues != partial.Agreement.PairableValues ||
			!sameNum(full.Accuracy.Accuracy, partial.Accuracy.Accuracy) || !sameNum(full.Coverage.SliceCoverage, partial.Coverage.SliceCoverage) ||
			full.Cycle.Items != partial.Cycle.Items || full.Remediation.Findings != partial.Remediation.Findings ||
			full.Lineage.Completeness != partial.Lineage.Completeness || full.Routing.Decisions != partial.Routing.Decisions || full.Volume.Labels != partial.Volume.Labels {
			t.Errorf("%s's project-level figures differ from the analyst's:\n%+v\n%+v", v, partial, full)
		}
		// Every project's figures at once are not a vendor's.
		if partial.Rework != nil || partial.Pipeline != nil || partial.Volume.Rejected != nil {
			t.Errorf("%s reads figures of every project: rework %+v, pipeline %+v, rejected %v", v, partial.Rework, partial.Pipeline, partial.Volume.Rejected)
		}
		var cohorts []string
		for _, c := range partial.Agreement.Cohorts {
			cohorts = append(cohorts, c.Cohort)
		}
		if want := map[string]string{acme: "crowd", acmeCrowd: "crowd", globex: "globex-crowd"}[v]; !slices.Equal(cohorts, []string{want}) {
			t.Errorf("%s's cohorts %v, want [%s] (mixed is two vendors', the others in-house or another's)", v, cohorts, want)
		}
	}
	if full.Rework == nil || full.Pipeline == nil || full.Volume.Rejected == nil || len(full.Agreement.Cohorts) != 5 {
		t.Errorf("the analyst of every project lacks figures: rework %+v, pipeline %+v, rejected %v, cohorts %+v", full.Rework, full.Pipeline, full.Volume.Rejected, full.Agreement.Cohorts)
	}
	mustDecode(t, bodies[analystP][kpisPath], &partial)
	if partial.Rework != nil || partial.Pipeline != nil || partial.Volume.Rejected != nil || len(partial.Annotators) != len(full.Annotators) {
		t.Errorf("the analyst of one project: rework %+v, pipeline %+v, rejected %v, %d annotators (want every figure of its project but those of every project)",
			partial.Rework, partial.Pipeline, partial.Volume.Rejected, len(partial.Annotators))
	}

	// The dashboard signed in as acme (headless Chromium).
	t.Run("vendor dashboard", func(t *testing.T) { vendorDashboard(t, s, d, full.Agreement.Alpha) })

	// Lineage: the vendor's members are its own labels' chains, the counts the version's.
	for _, version := range []string{"v1", "v2"} {
		path := "/v1/lineage/" + ds + "/" + version
		var all httpapi.Lineage
		mustDecode(t, bodies[analyst][path], &all)
		for _, v := range vendors {
			var mine httpapi.Lineage
			mustDecode(t, bodies[v][path], &mine)
			wantMembers := 0
			for _, m := range all.Members {
				if own[v](d.labelParty[m.LabelID]) {
					wantMembers++
				}
			}
			if !mine.Partial || len(mine.Members) != wantMembers || mine.MemberCount != all.MemberCount || mine.CompleteCount != all.CompleteCount || mine.Complete != all.Complete {
				t.Errorf("%s's lineage of %s: %d members (partial %v), counts %d/%d; want its %d members of %d, counts %d/%d",
					v, version, len(mine.Members), mine.Partial, mine.CompleteCount, mine.MemberCount, wantMembers, len(all.Members), all.CompleteCount, all.MemberCount)
			}
			for _, m := range mine.Members {
				if !own[v](d.labelParty[m.LabelID]) || m.Gold != nil {
					t.Errorf("%s's lineage of %s lists %+v", v, version, m)
				}
			}
		}
		if version == "v1" && (!slices.ContainsFunc(all.Members, func(m lineage.MemberChain) bool { return own[acme](d.labelParty[m.LabelID]) }) ||
			!slices.ContainsFunc(all.Members, func(m lineage.MemberChain) bool { return !own[acme](d.labelParty[m.LabelID]) })) {
			t.Errorf("v1's members are not acme's and others' both: the lineage check shows nothing")
		}
	}

	// History: each scope is served its own view's samples.
	for _, id := range append([]string{analyst, analystP}, vendors...) {
		var h struct {
			Filter  httpapi.Filter   `json:"filter"`
			Samples []httpapi.Sample `json:"samples"`
		}
		mustDecode(t, bodies[id]["/v1/history?project="+P], &h)
		if h.Filter.Project != rbacProject || len(h.Samples) == 0 {
			t.Errorf("%s's history: filter %+v, %d samples", id, h.Filter, len(h.Samples))
			continue
		}
		last := h.Samples[len(h.Samples)-1]
		if (id == analyst) != (last.ConsumerLag != nil) {
			t.Errorf("%s's history sample carries the consumer lag %v: only a scope of every project reads it", id, last.ConsumerLag)
		}
	}
}

func label(id string) string {
	switch id {
	case noToken:
		return "none"
	case unknownToken:
		return "unknown"
	}
	return strings.TrimPrefix(id, "test-")
}

func shorten(path string, d *accessData) string {
	return strings.NewReplacer(url.QueryEscape(rbacOther), "O", url.QueryEscape(rbacProject), "P", url.PathEscape(d.dataset), "<P's dataset>",
		url.PathEscape(d.otherDataset), "<O's dataset>").Replace(path)
}

func mustDecode(t *testing.T, body []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func sameNum(a, b httpapi.Num) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
