package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
)

// TestAuthentication: every /v1 route needs a bearer token of a principal that reads (401
// without one or with an unknown one, with a Bearer challenge; 403 naming role.read for the
// roles that write), /v1/whoami says who a token is, and a scope that is not every project is
// refused the figures over every project (scope.all_projects) and projects outside its own
// (scope.project) before anything is read; a registry swapped in refuses a removed token at
// once. Nothing here reaches ClickHouse.
func TestAuthentication(t *testing.T) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := New(Config{Conn: conn}); err == nil || !strings.Contains(err.Error(), "Principals is required") {
		t.Errorf("New without principals: %v", err)
	}
	lines := map[string]string{
		"ann":    "role=analyst projects=*",
		"pat":    "role=analyst projects=p",
		"duo":    "role=qa projects=p,q",
		"acme":   "role=vendor projects=p vendor=acme cohorts=crowd",
		"camera": "role=collector projects=p",
		"team":   "role=labeler projects=p vendor=acme cohorts=crowd",
		"bot":    "role=model projects=p models=*",
	}
	var text strings.Builder
	for id, attrs := range lines {
		text.WriteString(id + " " + access.HashToken("tok-"+id) + " " + attrs + "\n")
	}
	reg, err := access.Parse("test", text.String())
	if err != nil {
		t.Fatal(err)
	}
	store := access.NewStore(reg)
	metrics := prometheus.NewRegistry()
	srv, err := New(Config{Conn: conn, Principals: store, Registerer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	do := func(path, auth string) (int, http.Header, Problem, []byte) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var p Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, rec.Header(), p, rec.Body.Bytes()
	}
	bearer := func(id string) string { return "Bearer tok-" + id }

	for _, path := range []string{"/v1/whoami", "/v1/kpis", "/v1/agreement", "/v1/accuracy", "/v1/annotators", "/v1/coverage", "/v1/cycle",
		"/v1/remediation", "/v1/routing", "/v1/pipeline", "/v1/lineage/ds/v1", "/v1/history", "/v1/targets", "/v1/gate", "/v1/gate/ds/v1", "/v1/alerts", "/v1/confusion", "/v1/nope"} {
		for _, auth := range []string{"", "Bearer", "Basic dXNlcjpwdw==", "Bearer tok-nobody", "bearer  tok-ann-but-not"} {
			code, hdr, p, _ := do(path, auth)
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="assay"`) || p.Error == "" {
				t.Errorf("%s with %q: %d %q %+v, want 401 with a Bearer challenge", path, auth, code, hdr.Get("WWW-Authenticate"), p)
			}
		}
		for _, id := range []string{"camera", "team", "bot"} {
			if code, _, p, _ := do(path, bearer(id)); code != http.StatusForbidden || p.Rule != access.RuleRead || !strings.Contains(p.Error, id) {
				t.Errorf("%s as %s: %d %+v, want 403 naming %s", path, id, code, p, access.RuleRead)
			}
		}
	}
	if _, hdr, _, _ := do("/v1/kpis", "Bearer tok-nobody"); !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("unknown token: challenge %q, want invalid_token", hdr.Get("WWW-Authenticate"))
	}

	// whoami: the scope in the answer.
	for id, want := range map[string]WhoAmI{
		"ann":  {Principal: "ann", Role: "analyst", Projects: []string{"*"}, AllProjects: true, Full: true, Cohorts: []string{}},
		"pat":  {Principal: "pat", Role: "analyst", Projects: []string{"p"}, Full: true, Cohorts: []string{}},
		"acme": {Principal: "acme", Role: "vendor", Projects: []string{"p"}, Vendor: "acme", Cohorts: []string{"crowd"}},
	} {
		code, _, _, body := do("/v1/whoami", " bearer   tok-"+id+" ")
		var got WhoAmI
		if err := json.Unmarshal(body, &got); err != nil || code != 200 {
			t.Fatalf("whoami %s: %d %s", id, code, body)
		}
		want.Reads = got.Reads
		if got.Principal != want.Principal || got.Role != want.Role || strings.Join(got.Projects, ",") != strings.Join(want.Projects, ",") ||
			got.AllProjects != want.AllProjects || got.Full != want.Full || got.Vendor != want.Vendor || strings.Join(got.Cohorts, ",") != strings.Join(want.Cohorts, ",") || got.Reads == "" {
			t.Errorf("whoami %s: %+v, want %+v", id, got, want)
		}
	}

	// Refusals that need no read: the consumer lag needs a scope of every project; a project
	// outside the scope is refused whether it exists or not; a scope of several projects
	// names one.
	for _, tc := range []struct {
		path, id string
		code     int
		rule     string
	}{
		{"/v1/pipeline", "pat", 403, RuleAllProjects},
		{"/v1/pipeline", "duo", 403, RuleAllProjects},
		{"/v1/pipeline", "acme", 403, RuleAllProjects},
		{"/v1/kpis?project=q", "pat", 403, access.RuleProject},
		{"/v1/agreement?project=q", "acme", 403, access.RuleProject},
		{"/v1/history?project=q", "acme", 403, access.RuleProject},
		{"/v1/coverage?project=r", "duo", 403, access.RuleProject},
		{"/v1/targets?project=q", "acme", 403, access.RuleProject},
		{"/v1/targets", "duo", 400, ""},
		{"/v1/targets?project=p&window=7d", "pat", 400, ""},
		{"/v1/gate?project=q", "acme", 403, access.RuleProject},
		{"/v1/gate", "duo", 400, ""},
		{"/v1/gate?project=p&cohort=crowd", "pat", 400, ""},
		{"/v1/alerts?project=q", "pat", 403, access.RuleProject},
		{"/v1/alerts", "duo", 400, ""},
		{"/v1/gate/ds/v1?project=p", "ann", 400, ""},
		{"/v1/confusion?project=q", "acme", 403, access.RuleProject},
		{"/v1/confusion", "duo", 400, ""},
		{"/v1/confusion?project=p&scope=crowd", "pat", 400, ""},
		{"/v1/confusion?project=p&scope=cohort:", "pat", 400, ""},
		{"/v1/confusion?project=p&question=a&question=b", "pat", 400, ""},
		{"/v1/confusion?project=p&cohort=crowd", "pat", 400, ""},
		{"/v1/kpis", "duo", 400, ""},
		{"/v1/kpis?project=q&nope=1", "pat", 400, ""},
	} {
		code, _, p, _ := do(tc.path, bearer(tc.id))
		if code != tc.code || p.Rule != tc.rule {
			t.Errorf("%s as %s: %d %+v, want %d %q", tc.path, tc.id, code, p, tc.code, tc.rule)
		}
		if tc.code == 400 && tc.path == "/v1/kpis" && (p.Param != "project" || !strings.Contains(p.Error, "p,q")) {
			t.Errorf("%s as %s: %+v, want the project parameter required, naming p,q", tc.path, tc.id, p)
		}
	}

	// The alerts are detected by the sampler, which has not run: 503 with Retry-After, never
	// an empty list.
	if code, hdr, p, _ := do("/v1/alerts", bearer("ann")); code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(p.Error, "not been yet") {
		t.Errorf("alerts before the first detection: %d %q %+v, want 503 with Retry-After", code, hdr.Get("Retry-After"), p)
	}

	// A registry without pat's line: its token is refused at once, the others stay.
	text.Reset()
	for id, attrs := range lines {
		if id != "pat" {
			text.WriteString(id + " " + access.HashToken("tok-"+id) + " " + attrs + "\n")
		}
	}
	next, err := access.Parse("test", text.String())
	if err != nil {
		t.Fatal(err)
	}
	store.Swap(next)
	if code, _, _, _ := do("/v1/whoami", bearer("pat")); code != http.StatusUnauthorized {
		t.Errorf("removed token: %d, want 401", code)
	}
	if code, _, _, _ := do("/v1/whoami", bearer("ann")); code != http.StatusOK {
		t.Errorf("kept token: %d, want 200", code)
	}
	mfs, err := metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "assay_api_refused_requests_total" {
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counts["no_token"] == 0 || counts["unknown_token"] == 0 || counts[access.RuleRead] != 54 || counts[RuleAllProjects] != 3 || counts[access.RuleProject] != 8 {
		t.Errorf("assay_api_refused_requests_total: %v", counts)
	}
}
