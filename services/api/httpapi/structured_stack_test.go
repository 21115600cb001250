package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/services/demo/detection"
	"github.com/assay-data/assay/services/demo/ner"
	"github.com/assay-data/assay/services/demo/preference"
	"github.com/assay-data/assay/streams/kpi"
)

// The projects of TestStructuredOverPipeline: the demo's structured programs beside a main
// project proj-strc (demo.Projects), whose own program the test does not play.
const (
	strcBase       = "proj-strc"
	strcNER        = strcBase + "-" + demo.NameNER
	strcDetection  = strcBase + "-" + demo.NameDetection
	strcPreference = strcBase + "-" + demo.NamePreference
)

var strcProjects = []string{strcNER, strcDetection, strcPreference}

type regionsAnswer struct {
	Filter  map[string]string  `json:"filter"`
	Regions httpapi.RegionsKPI `json:"regions"`
}

type preferencesAnswer struct {
	Filter      map[string]string      `json:"filter"`
	Preferences httpapi.PreferencesKPI `json:"preferences"`
}

// strcData is what TestStructuredOverPipeline plays and what it expects of it.
type strcData struct {
	ner  *ner.Workload
	det  *detection.Workload
	pref *preference.Workload
	// party is every annotator's vendor and cohort, by project.
	party map[string]map[string][2]string
	// unitPairs, goldScored: per region project, the unit pairs of scope all (pairs of
	// annotators of an item) and the labels scored against gold; prefValues, prefLabels,
	// prefScored: the preference program's pairable values, labels and labels on gold items.
	unitPairs, goldScored              map[string]int64
	prefValues, prefLabels, prefScored int64
}

// playStructured plays the three structured programs of the demo through the gateway: the
// named-entity program with every annotator labeling every text (so that unitizing alpha, over
// the items every annotator of a scope labeled, is defined in every scope), the detection
// program as the demo plays it, and the preference program with enough pairs for the biased
// rater's interval to tell it apart.
func playStructured(t *testing.T, s *stack) *strcData {
	t.Helper()
	nc := demo.NERConfig("strc", strcBase, 31, 120)
	for i := range nc.Cohorts {
		nc.Cohorts[i].Annotators = 2
	}
	nc.RatersPerItem, nc.Items = 4, 24
	dc := demo.DetectionConfig("strc", strcBase, 32, 120)
	dc.Items = 24
	pc := demo.PreferenceConfig("strc", strcBase, 33, 120)
	pc.Items = 150
	d := &strcData{ner: ner.Generate(nc), det: detection.Generate(dc), pref: preference.Generate(pc),
		party: map[string]map[string][2]string{}, unitPairs: map[string]int64{}, goldScored: map[string]int64{}}
	evs := demo.Merge(d.ner.Events, d.det.Events, d.pref.Events)
	demo.Shift(evs, time.Now())
	s.send(t, evs)

	type label struct{ item, annotator, cohort, vendor string }
	count := func(project string, labels []label, gold map[string]bool) (pairs, values, scored int64) {
		d.party[project] = map[string][2]string{}
		per := map[string]int64{}
		for _, l := range labels {
			d.party[project][l.annotator] = [2]string{l.vendor, l.cohort}
			per[l.item]++
			if gold[l.item] {
				scored++
			}
		}
		for _, n := range per {
			pairs += n * (n - 1) / 2
			if n > 1 {
				values += n
			}
		}
		return pairs, values, scored
	}
	var nl, dl, pl []label
	for _, l := range d.ner.Labels {
		nl = append(nl, label{l.ItemID, l.Annotator, l.Cohort, l.Vendor})
	}
	for _, l := range d.det.Labels {
		dl = append(dl, label{l.ItemID, l.Annotator, l.Cohort, l.Vendor})
	}
	for _, l := range d.pref.Labels {
		pl = append(pl, label{l.ItemID, l.Annotator, l.Cohort, l.Vendor})
	}
	d.unitPairs[strcNER], _, d.goldScored[strcNER] = count(strcNER, nl, d.ner.Gold)
	d.unitPairs[strcDetection], _, d.goldScored[strcDetection] = count(strcDetection, dl, d.det.Gold)
	_, d.prefValues, d.prefScored = count(strcPreference, pl, d.pref.Gold)
	d.prefLabels = int64(len(pl))

	// Every label is in the KPI tables, as their one read path reads them.
	ctx := context.Background()
	waitFor(t, 3*time.Minute, "every structured label in kpi_regions' and kpi_preference's tables", func() (bool, string) {
		var state []string
		done := true
		for _, project := range []string{strcNER, strcDetection} {
			figs, err := kpi.ReadRegions(ctx, s.conn, kpi.RegionFilter{Project: project, Scope: kpi.ScopeAll})
			if err != nil {
				t.Fatal(err)
			}
			var pairs, scored int64
			if len(figs) == 1 {
				pairs = figs[0].Agreement.UnitPairs
				if figs[0].Gold != nil {
					scored = figs[0].Gold.Values
				}
			}
			done = done && pairs == d.unitPairs[project] && scored == d.goldScored[project]
			state = append(state, fmt.Sprintf("%s: unit pairs %d/%d, scored %d/%d", project, pairs, d.unitPairs[project], scored, d.goldScored[project]))
		}
		figs, err := kpi.ReadPreferences(ctx, s.conn, kpi.PreferenceFilter{Project: strcPreference, Scope: kpi.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		var values, labels, scored int64
		if len(figs) == 1 {
			values, labels, scored = figs[0].Nominal.PairableValues, figs[0].BiasCounts.Labels, figs[0].AccuracyCounts.Labels
		}
		state = append(state, fmt.Sprintf("%s: pairable values %d/%d, labels %d/%d, scored %d/%d", strcPreference, values, d.prefValues, labels, d.prefLabels, scored, d.prefScored))
		return done && values == d.prefValues && labels == d.prefLabels && scored == d.prefScored, strings.Join(state, "; ")
	})
	return d
}

// sees says whether a principal of vendor ("" for a full scope) reads the figures of scope
// in project, by the test's own account of who labeled what: every label behind the figure
// must be the vendor's.
func (d *strcData) sees(vendor, project, scope string) bool {
	if vendor == "" || scope == kpi.ScopeAll {
		return true
	}
	kind, id, _ := strings.Cut(scope, ":")
	switch kind {
	case "vendor":
		return id == vendor
	case "annotator":
		return d.party[project][id][0] == vendor
	case "cohort":
		found := false
		for _, p := range d.party[project] {
			if p[1] == id {
				if p[0] != vendor {
					return false
				}
				found = true
			}
		}
		return found
	}
	return false
}

// jsonOf is v's JSON, for comparing figures whole.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStructuredOverPipeline plays the demo's named-entity, detection and preference programs
// through the real gateway, broker and kpi_regions and kpi_preference processors into
// ClickHouse, and reads GET /v1/regions, /v1/preferences and the sections of /v1/kpis as
// principals of every kind: each answer holds exactly the figures of kpi.ReadRegions,
// kpi.ReadUnitizing and kpi.ReadPreferences that the principal's scope reads (a vendor: the
// project's, and its own cohorts', vendor's and annotators'), and no other party's name; the
// requests a principal may not make are refused as /v1/agreement and /v1/confusion refuse
// them; a unitizing read above the bound says so instead of computing; and the dashboard shows
// the figures (Chromium).
func TestStructuredOverPipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	d := playStructured(t, s)
	ctx := context.Background()

	const (
		analyst, analystS, collector = "test-analyst", "test-analyst-strc", "test-collector"
		acme, lexica                 = "test-vendor-acme-strc", "test-vendor-lexica-strc"
		acmeRBAC, analystRBAC        = "test-vendor-acme", "test-analyst-rbac"
	)
	vendorOf := map[string]string{acme: "acme", lexica: "lexica"}

	// Every reader's answers equal the read functions' figures it may read, whole.
	wantRegions := map[string][]kpi.RegionFigure{}
	wantPrefs := map[string][]kpi.PreferenceFigure{}
	for _, project := range strcProjects {
		var err error
		if wantRegions[project], err = kpi.ReadRegions(ctx, s.conn, kpi.RegionFilter{Project: project}); err != nil {
			t.Fatal(err)
		}
		if wantPrefs[project], err = kpi.ReadPreferences(ctx, s.conn, kpi.PreferenceFilter{Project: project}); err != nil {
			t.Fatal(err)
		}
	}
	if len(wantRegions[strcNER]) == 0 || len(wantRegions[strcDetection]) == 0 || len(wantPrefs[strcPreference]) == 0 {
		t.Fatalf("no figures to compare: %d NER, %d detection, %d preference", len(wantRegions[strcNER]), len(wantRegions[strcDetection]), len(wantPrefs[strcPreference]))
	}
	var analystRegions regionsAnswer
	var analystPrefs preferencesAnswer
	for _, id := range []string{analyst, analystS, acme, lexica} {
		vendor := vendorOf[id]
		projects := strcProjects
		if id == lexica {
			projects = []string{strcNER}
		}
		for _, project := range projects {
			var ra regionsAnswer
			if code := getAs(t, s.api.URL, "/v1/regions"+q("project", project), id, &ra); code != 200 {
				t.Fatalf("%s: /v1/regions of %s: %d", id, project, code)
			}
			var want, got []string
			for _, f := range wantRegions[project] {
				if d.sees(vendor, project, f.Scope) {
					want = append(want, jsonOf(t, f))
				}
			}
			for _, f := range ra.Regions.Figures {
				got = append(got, jsonOf(t, f.RegionFigure))
				// Unitizing alpha of a spans question's scope of raters is kpi.ReadUnitizing's.
				spans := f.Level == "spans" && !strings.HasPrefix(f.Scope, "annotator:")
				if spans {
					u, err := kpi.ReadUnitizing(ctx, s.conn, kpi.UnitizingFilter{Project: f.ProjectID, Question: f.QuestionID, Scope: f.Scope})
					if err != nil {
						t.Fatal(err)
					}
					if f.Unitizing == nil || jsonOf(t, f.Unitizing) != jsonOf(t, u) {
						t.Errorf("%s: unitizing alpha of %s/%s in %s:\n%s\nwant kpi.ReadUnitizing's\n%s", id, project, f.QuestionID, f.Scope, jsonOf(t, f.Unitizing), jsonOf(t, u))
					}
				} else if f.Unitizing != nil || f.UnitizingUndefined == "" {
					t.Errorf("%s: %s/%s %s in %s has unitizing %v (%q), want none and the reason", id, project, f.QuestionID, f.Level, f.Scope, f.Unitizing, f.UnitizingUndefined)
				}
				if f.ThresholdDiffers != f.RegionFigure.ThresholdDiffers() {
					t.Errorf("%s: threshold_differs %v of %s in %s", id, f.ThresholdDiffers, project, f.Scope)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: /v1/regions of %s holds %d figures, want the %d of kpi.ReadRegions it reads:\n%s\nwant\n%s", id, project, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if id == analyst && project == strcNER {
				analystRegions = ra
			}

			var pa preferencesAnswer
			if code := getAs(t, s.api.URL, "/v1/preferences"+q("project", project), id, &pa); code != 200 {
				t.Fatalf("%s: /v1/preferences of %s: %d", id, project, code)
			}
			want, got = nil, nil
			for _, f := range wantPrefs[project] {
				if d.sees(vendor, project, f.Scope) {
					want = append(want, jsonOf(t, f))
				}
			}
			for _, f := range pa.Preferences.Figures {
				got = append(got, jsonOf(t, f))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: /v1/preferences of %s holds %d figures, want the %d of kpi.ReadPreferences it reads:\n%s\nwant\n%s", id, project, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if id == analyst && project == strcPreference {
				analystPrefs = pa
			}
		}
	}

	// Positive controls: unitizing alpha is defined over the named-entity program (every
	// annotator labeled every text); a vendor reads its own cohort, vendor and annotators; the
	// biased rater's interval excludes the share expected without bias.
	scopes := func(figs []httpapi.RegionFigure) []string {
		var out []string
		for _, f := range figs {
			out = append(out, f.Scope)
		}
		return out
	}
	var nerAll *httpapi.RegionFigure
	for i, f := range analystRegions.Regions.Figures {
		if f.Scope == kpi.ScopeAll {
			nerAll = &analystRegions.Regions.Figures[i]
		}
	}
	if nerAll == nil || nerAll.Unitizing == nil || nerAll.Unitizing.Alpha == nil || nerAll.Unitizing.Raters != 4 || nerAll.Unitizing.Items != 24 ||
		nerAll.Agreement.PairwiseF1 == nil || nerAll.Agreement.LabelAlpha == nil || nerAll.Gold == nil || nerAll.Gold.F1 == nil {
		t.Fatalf("the NER program's figures in scope all: %s", jsonOf(t, nerAll))
	}
	var lexicaRegions regionsAnswer
	getAs(t, s.api.URL, "/v1/regions"+q("project", strcNER), lexica, &lexicaRegions)
	if got := scopes(lexicaRegions.Regions.Figures); !slices.Contains(got, "cohort:linguists") || !slices.Contains(got, "vendor:lexica") ||
		slices.Contains(got, "cohort:crowd") || len(got) != 1+1+1+2 {
		t.Errorf("lexica's scopes %v, want all, its cohort, its vendor and its two annotators", got)
	}
	flagged := ""
	for _, f := range analystPrefs.Preferences.Figures {
		if f.Scope == "annotator:"+d.pref.Biased && f.Bias != nil && f.Bias.ExcludesExpected {
			flagged = d.pref.Biased
		}
	}
	if d.pref.Biased == "" || flagged != d.pref.Biased {
		t.Errorf("the biased rater %q is not flagged: %s", d.pref.Biased, jsonOf(t, analystPrefs.Preferences.Figures))
	}

	// The sampler sets the headline gauges from the unfiltered view, for Prometheus.
	var allPref *kpi.PreferenceFigure
	for i, f := range wantPrefs[strcPreference] {
		if f.Scope == kpi.ScopeAll {
			allPref = &wantPrefs[strcPreference][i]
		}
	}
	waitFor(t, 30*time.Second, "the region and preference gauges", func() (bool, string) {
		f1, ok1 := s.gauge(t, "assay_api_kpi_region_pairwise_f1_ratio", "project", strcNER, "question", nerAll.QuestionID)
		alpha, ok2 := s.gauge(t, "assay_api_kpi_region_label_alpha", "project", strcNER, "question", nerAll.QuestionID)
		bias, ok3 := s.gauge(t, "assay_api_kpi_preference_position_bias_ratio", "project", strcPreference, "question", allPref.QuestionID)
		nominal, ok4 := s.gauge(t, "assay_api_kpi_preference_alpha", "project", strcPreference, "question", allPref.QuestionID, "coding", kpi.CodingNominal)
		return ok1 && ok2 && ok3 && ok4 && f1 == *nerAll.Agreement.PairwiseF1 && alpha == *nerAll.Agreement.LabelAlpha && bias == allPref.Bias.Share && nominal == *allPref.Nominal.Alpha,
			fmt.Sprintf("F1 %v %v, label alpha %v %v, position bias %v %v, nominal alpha %v %v", f1, ok1, alpha, ok2, bias, ok3, nominal, ok4)
	})

	// The headlines of /v1/kpis: the project's questions in the view's scope, beside alpha.
	var sum httpapi.Summary
	if code := get(t, s.api.URL, "/v1/kpis"+q("project", strcNER), &sum); code != 200 || sum.Regions == nil || sum.Preferences == nil {
		t.Fatalf("kpis of %s: %d %+v", strcNER, code, sum)
	}
	if got, want := jsonOf(t, sum.Regions.Questions), jsonOf(t, []kpi.RegionFigure{wantRegions[strcNER][0]}); sum.Regions.Scope != kpi.ScopeAll || got != want || len(sum.Preferences.Questions) != 0 {
		t.Errorf("kpis of %s: regions in %s %s, preferences %d; want %s", strcNER, sum.Regions.Scope, got, len(sum.Preferences.Questions), want)
	}
	getAs(t, s.api.URL, "/v1/kpis"+q("project", strcPreference, "cohort", "crowd"), acme, &sum)
	wantCrowd := []kpi.PreferenceFigure{}
	for _, f := range wantPrefs[strcPreference] {
		if f.Scope == kpi.CohortScope("crowd") {
			wantCrowd = append(wantCrowd, f)
		}
	}
	if got, want := jsonOf(t, sum.Preferences.Questions), jsonOf(t, wantCrowd); sum.Preferences.Scope != "cohort:crowd" || got != want || len(wantCrowd) != 1 {
		t.Errorf("acme's kpis of %s, cohort crowd: preferences in %s %s; want %s", strcPreference, sum.Preferences.Scope, got, want)
	}

	// A window covering the programs reads the same figures, from its first day.
	var windowed regionsAnswer
	get(t, s.api.URL, "/v1/regions"+q("project", strcNER, "window", "30d"), &windowed)
	if windowed.Regions.WindowFromDay == "" || jsonOf(t, scopes(windowed.Regions.Figures)) != jsonOf(t, scopes(analystRegions.Regions.Figures)) ||
		jsonOf(t, windowed.Regions.Figures[0]) != jsonOf(t, analystRegions.Regions.Figures[0]) || windowed.Filter["window"] != "30d" {
		t.Errorf("a 30d window: from %q, %s; want the all-time figures", windowed.Regions.WindowFromDay, jsonOf(t, windowed.Regions.Figures))
	}
	// One scope, one question.
	var one regionsAnswer
	get(t, s.api.URL, "/v1/regions"+q("project", strcNER, "question", nerAll.QuestionID, "scope", "cohort:crowd"), &one)
	if len(one.Regions.Figures) != 1 || one.Regions.Figures[0].Scope != "cohort:crowd" || one.Filter["scope"] != "cohort:crowd" || one.Filter["question"] != nerAll.QuestionID {
		t.Errorf("scope cohort:crowd of %s: %s", nerAll.QuestionID, jsonOf(t, one))
	}

	// Who may ask what: the statuses and the rule of each refusal.
	lexicaAnnotator := ""
	for a, p := range d.party[strcNER] {
		if p[0] == "lexica" {
			lexicaAnnotator = a
		}
	}
	N, P := url.QueryEscape(strcNER), url.QueryEscape(strcPreference)
	type ask struct {
		path string
		want map[string]int // by principal; "" is no token, "unknown" an unknown token
		rule string         // of the 403s other than role.read
	}
	everyone := func(code int, m map[string]int) map[string]int {
		out := map[string]int{"": 401, "unknown": 401, collector: 403, analyst: code, analystS: code, acme: code, lexica: code, acmeRBAC: code, analystRBAC: code}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	asks := []ask{
		{"/v1/regions?project=" + N, everyone(200, map[string]int{acmeRBAC: 403, analystRBAC: 403}), access.RuleProject},
		{"/v1/preferences?project=" + P, everyone(200, map[string]int{lexica: 403, acmeRBAC: 403, analystRBAC: 403}), access.RuleProject},
		// Several projects: name one (the vendor of one project reads its only one).
		{"/v1/regions", everyone(200, map[string]int{analystS: 400, acme: 400}), ""},
		{"/v1/regions?project=" + N + "&scope=cohort%3Alinguists", everyone(200, map[string]int{acme: 403, acmeRBAC: 403, analystRBAC: 403}), httpapi.RuleParty},
		{"/v1/regions?project=" + N + "&scope=vendor%3Aacme", everyone(200, map[string]int{lexica: 403, acmeRBAC: 403, analystRBAC: 403}), httpapi.RuleParty},
		{"/v1/regions?project=" + N + "&scope=" + url.QueryEscape("annotator:"+lexicaAnnotator), everyone(200, map[string]int{acme: 403, acmeRBAC: 403, analystRBAC: 403}), httpapi.RuleParty},
		{"/v1/preferences?project=" + P + "&scope=cohort%3Aexperts", everyone(200, map[string]int{acme: 403, lexica: 403, acmeRBAC: 403, analystRBAC: 403}), httpapi.RuleParty},
		{"/v1/kpis?project=" + N + "&cohort=linguists", everyone(200, map[string]int{acme: 403, acmeRBAC: 403, analystRBAC: 403}), httpapi.RuleParty},
		// Malformed values: 400 naming the parameter, before the project is looked at.
		{"/v1/regions?project=" + N + "&scope=bogus", everyone(400, nil), ""},
		{"/v1/regions?project=" + N + "&window=1y", everyone(400, nil), ""},
		{"/v1/preferences?project=" + P + "&question=%00", everyone(400, nil), ""},
		{"/v1/preferences?project=" + P + "&cohort=crowd", everyone(400, nil), ""},
		{"/v1/regions?project=" + N + "&project=" + P, everyone(400, nil), ""},
	}
	// reads says whether id reads the project of path: a 403 of one who does not names
	// scope.project, whatever else the request asks.
	reads := func(id, path string) bool {
		switch id {
		case acmeRBAC, analystRBAC:
			return false
		case lexica:
			return !strings.Contains(path, "project="+P)
		}
		return true
	}
	bodies := map[string][]string{}
	for _, a := range asks {
		for id, want := range a.want {
			var code int
			var body []byte
			if id == "unknown" {
				code, body = getWithToken(t, s.api.URL, a.path, "assay_not-a-token-of-this-api")
			} else {
				code, body = getBody(t, s.api.URL, a.path, id)
			}
			var p httpapi.Problem
			_ = json.Unmarshal(body, &p)
			rule := a.rule
			switch {
			case id == collector:
				rule = access.RuleRead
			case !reads(id, a.path):
				rule = access.RuleProject
			}
			switch {
			case code != want:
				t.Errorf("%s as %q: %d %s, want %d", a.path, id, code, body, want)
			case code == 403 && (p.Rule != rule || !strings.Contains(p.Error, rule)):
				t.Errorf("%s as %q: 403 %s, want the rule %s named", a.path, id, body, rule)
			case code == 400 && (p.Param == "" || !strings.Contains(p.Error, p.Param)):
				t.Errorf("%s as %q: 400 %s, want the parameter named", a.path, id, body)
			case code == 200 && vendorOf[id] != "":
				bodies[id] = append(bodies[id], string(body))
			}
		}
	}
	// Injection through the new parameters is a value without data.
	for _, v := range []string{"x' OR 1=1 --", strcNER + "' OR '1'='1"} {
		var ra regionsAnswer
		var pa preferencesAnswer
		mustOK(t, s, "/v1/regions"+q("project", v), &ra)
		mustOK(t, s, "/v1/regions"+q("project", strcNER, "question", v), &ra)
		mustOK(t, s, "/v1/preferences"+q("project", strcPreference, "question", v), &pa)
		if len(ra.Regions.Figures) != 0 || len(pa.Preferences.Figures) != 0 {
			t.Errorf("%q returned figures: %d regions, %d preferences", v, len(ra.Regions.Figures), len(pa.Preferences.Figures))
		}
	}

	// No vendor answer names another party: its annotators, cohorts or vendor.
	for id, vendor := range vendorOf {
		for _, project := range strcProjects {
			for _, path := range []string{"/v1/regions", "/v1/preferences", "/v1/kpis"} {
				if id == lexica && project != strcNER {
					continue
				}
				_, body := getBody(t, s.api.URL, path+q("project", project), id)
				bodies[id] = append(bodies[id], string(body))
			}
		}
		var foreign []string
		for _, parties := range d.party {
			for a, p := range parties {
				if p[0] != vendor {
					foreign = append(foreign, `"`+a+`"`, "annotator:"+a+`"`, `"`+p[1]+`"`, "cohort:"+p[1]+`"`)
				}
			}
		}
		for _, other := range []string{"acme", "lexica"} {
			if other != vendor {
				foreign = append(foreign, other)
			}
		}
		leaks := 0
		for _, body := range bodies[id] {
			for _, f := range foreign {
				if strings.Contains(body, f) && leaks < 20 {
					leaks++
					t.Errorf("%s's answer carries %s", id, f)
				}
			}
		}
		t.Logf("%s: %d answers checked for %d strings of other parties, %d leaks", id, len(bodies[id]), len(foreign), leaks)
	}

	// Unitizing alpha above the API's bound is not computed, and the answer says so with the
	// bound; the other figures stand.
	bounded, err := httpapi.New(httpapi.Config{Conn: s.conn, Principals: testStore(t), Registerer: prometheus.NewRegistry(), MaxUnitizingSpans: 5})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	bounded.Mount(mux)
	small := httptest.NewServer(mux)
	defer small.Close()
	var capped regionsAnswer
	if code := get(t, small.URL, "/v1/regions"+q("project", strcNER, "scope", "all"), &capped); code != 200 || len(capped.Regions.Figures) != 1 {
		t.Fatalf("bounded API: %d %s", code, jsonOf(t, capped))
	}
	if c := capped.Regions.Figures[0]; c.Unitizing != nil || !strings.Contains(c.UnitizingUndefined, "too many spans to compute on read") ||
		!strings.Contains(c.UnitizingUndefined, "at most 5 ") || capped.Regions.MaxUnitizingSpans != 5 || jsonOf(t, c.RegionFigure) != jsonOf(t, nerAll.RegionFigure) {
		t.Errorf("above the bound: %s", jsonOf(t, c))
	} else {
		t.Logf("above the bound: %s", c.UnitizingUndefined)
	}

	t.Run("dashboard", func(t *testing.T) { structuredDashboard(t, s, d, analystRegions, analystPrefs) })
}
