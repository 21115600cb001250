package readside

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/streams/gate/figures"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
)

// Probe is one read path to time.
type Probe struct {
	// Group says what kind of read it is: "endpoint" (a /v1 request through the API's
	// handlers), "section" (one section of /v1/kpis, as httpapi.Reader reads it), "read" (a
	// read function of streams/*), "grafana" (a query of ops/grafana's dashboards) or
	// "sampler" (one sample of the history of every due view).
	Group string
	Name  string
	Run   func(context.Context) error
}

// The principals the endpoint probes read as.
const (
	analystID       = "rs-analyst"
	projectAnalyst  = "rs-analyst-p0"
	vendorPrincipal = "rs-vendor-acme"
)

// API is an API server over a loaded database, with the tokens of its principals.
type API struct {
	Server *httpapi.Server
	mux    *http.ServeMux
	tokens map[string]string
}

// NewAPI builds the API's server over conn as services/api would (no consumer lag reader),
// with a query timeout long enough to time the slowest read rather than cut it, and three
// principals: an analyst of every project, an analyst of project 0 and acme's vendor
// principal in project 0 (a vendor's view reads the project's parties).
func NewAPI(conn driver.Conn) (*API, error) {
	a := &API{mux: http.NewServeMux(), tokens: map[string]string{}}
	var lines strings.Builder
	for _, p := range []struct{ id, attrs string }{
		{analystID, "role=analyst projects=*"},
		{projectAnalyst, "role=analyst projects=" + Project(0)},
		{vendorPrincipal, "role=vendor projects=" + Project(0) + " vendor=acme"},
	} {
		tok, err := access.NewToken()
		if err != nil {
			return nil, err
		}
		a.tokens[p.id] = tok
		lines.WriteString(p.id + " " + access.HashToken(tok) + " " + p.attrs + "\n")
	}
	reg, err := access.Parse("readside principals", lines.String())
	if err != nil {
		return nil, err
	}
	srv, err := httpapi.New(httpapi.Config{Conn: conn, Principals: access.NewStore(reg), QueryTimeout: 30 * time.Minute})
	if err != nil {
		return nil, err
	}
	srv.Mount(a.mux)
	a.Server = srv
	return a, nil
}

// Get serves one request as principal and fails unless it is answered 200.
func (a *API) Get(ctx context.Context, principal, path string) error {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://localhost"+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.tokens[principal])
	rec := httptest.NewRecorder()
	a.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		body, _ := io.ReadAll(rec.Body)
		return fmt.Errorf("GET %s as %s: %d %s", path, principal, rec.Code, strings.TrimSpace(string(body)))
	}
	return nil
}

// Probes lists every read path of the API and the dashboards over conn's database (loaded
// with a Program): every /v1 endpoint (several filters of the costly ones, and a vendor's
// view), each section of /v1/kpis alone, the read functions of streams/* they use, the
// gate's figures of a version, the Grafana dashboard's SQL, and the history sampler.
func Probes(conn driver.Conn, a *API) []Probe {
	p0, ds, ver := Project(0), Dataset(0, 0), Version(3)
	ep := func(name, principal, path string) Probe {
		return Probe{Group: "endpoint", Name: name, Run: func(ctx context.Context) error { return a.Get(ctx, principal, path) }}
	}
	out := []Probe{
		ep("GET /v1/whoami", analystID, "/v1/whoami"),
		ep("GET /v1/kpis", analystID, "/v1/kpis"),
		ep("GET /v1/kpis?project=P", analystID, "/v1/kpis?project="+p0),
		ep("GET /v1/kpis (vendor of P)", vendorPrincipal, "/v1/kpis"),
		ep("GET /v1/agreement", analystID, "/v1/agreement"),
		ep("GET /v1/agreement?project=P&window=30d", analystID, "/v1/agreement?project="+p0+"&window=30d"),
		ep("GET /v1/accuracy", analystID, "/v1/accuracy"),
		ep("GET /v1/annotators", analystID, "/v1/annotators"),
		ep("GET /v1/annotators?project=P", analystID, "/v1/annotators?project="+p0),
		ep("GET /v1/coverage", analystID, "/v1/coverage"),
		ep("GET /v1/cycle", analystID, "/v1/cycle"),
		ep("GET /v1/remediation", analystID, "/v1/remediation"),
		ep("GET /v1/routing", analystID, "/v1/routing"),
		ep("GET /v1/pipeline", analystID, "/v1/pipeline"),
		ep("GET /v1/lineage/{ds}/{v}", analystID, "/v1/lineage/"+ds+"/"+ver),
		ep("GET /v1/lineage/{ds}/{v} (analyst of P)", projectAnalyst, "/v1/lineage/"+ds+"/"+ver),
		ep("GET /v1/targets?project=P", analystID, "/v1/targets?project="+p0),
		ep("GET /v1/gate", analystID, "/v1/gate"),
		ep("GET /v1/gate?project=P", analystID, "/v1/gate?project="+p0),
		ep("GET /v1/gate/{ds}/{v}", analystID, "/v1/gate/"+ds+"/"+ver),
		ep("GET /v1/confusion?project=P", analystID, "/v1/confusion?project="+p0),
		{Group: "sampler", Name: "SampleOnce (unfiltered view + alerts)", Run: func(ctx context.Context) error {
			a.Server.SampleOnce(ctx)
			return nil
		}},
		ep("GET /v1/history", analystID, "/v1/history"),
		ep("GET /v1/alerts", analystID, "/v1/alerts"),
	}
	r := a.Server.Reader()
	for _, f := range []struct {
		name string
		v    httpapi.View
	}{{"all", httpapi.EveryFigure(httpapi.Filter{WindowText: "all"})}, {"P", httpapi.EveryFigure(httpapi.Filter{Project: p0, WindowText: "all"})}} {
		v := f.v
		sec := func(name string, read func(context.Context) error) Probe {
			return Probe{Group: "section", Name: name + " (" + f.name + ")", Run: read}
		}
		out = append(out,
			sec("agreement", func(ctx context.Context) error { _, err := r.Agreement(ctx, v); return err }),
			sec("accuracy", func(ctx context.Context) error { _, err := r.Accuracy(ctx, v); return err }),
			sec("coverage", func(ctx context.Context) error { _, err := r.Coverage(ctx, v); return err }),
			sec("cycle_time", func(ctx context.Context) error { _, err := r.Cycle(ctx, v); return err }),
			sec("rework", func(ctx context.Context) error { _, err := r.Rework(ctx, v); return err }),
			sec("remediation", func(ctx context.Context) error { _, err := r.Remediation(ctx, v); return err }),
			sec("annotators", func(ctx context.Context) error { _, err := r.Annotators(ctx, v); return err }),
			sec("lineage", func(ctx context.Context) error { _, err := r.LineageCompleteness(ctx, v); return err }),
			sec("routing", func(ctx context.Context) error { _, err := r.Routing(ctx, v); return err }),
			sec("gate", func(ctx context.Context) error { _, err := r.Gate(ctx, v); return err }),
			sec("volume", func(ctx context.Context) error { _, err := r.Volume(ctx, v); return err }),
		)
	}
	read := func(name string, fn func(context.Context) error) Probe {
		return Probe{Group: "read", Name: name, Run: fn}
	}
	out = append(out,
		read("kpi.ReadAgreement (all, cohorts)", func(ctx context.Context) error {
			_, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Scope: kpi.ScopeAll, Cohorts: true})
			return err
		}),
		read("kpi.ReadAgreement (P, cohorts)", func(ctx context.Context) error {
			_, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Project: p0, Scope: kpi.ScopeAll, Cohorts: true})
			return err
		}),
		read("kpi.ReadConfusion (P)", func(ctx context.Context) error {
			_, err := kpi.ReadConfusion(ctx, conn, kpi.ConfusionFilter{Project: p0, Scope: kpi.ScopeAll})
			return err
		}),
		read("kpi.ReadRegions (all)", func(ctx context.Context) error {
			_, err := kpi.ReadRegions(ctx, conn, kpi.RegionFilter{Scope: kpi.ScopeAll, Cohorts: true})
			return err
		}),
		read("kpi.ReadPreferences (all)", func(ctx context.Context) error {
			_, err := kpi.ReadPreferences(ctx, conn, kpi.PreferenceFilter{Scope: kpi.ScopeAll, Cohorts: true})
			return err
		}),
		read("lineage.ReadCompleteness (all)", func(ctx context.Context) error {
			_, err := lineage.ReadCompleteness(ctx, conn, "")
			return err
		}),
		read("lineage.ReadCompleteness (P)", func(ctx context.Context) error {
			_, err := lineage.ReadCompleteness(ctx, conn, p0)
			return err
		}),
		read("lineage.ReadVersion", func(ctx context.Context) error {
			_, err := lineage.ReadVersion(ctx, conn, lineage.VersionRef{DatasetID: ds, Version: ver})
			return err
		}),
		read("figures.Read (gate figures of a version)", func(ctx context.Context) error {
			_, err := figures.Read(ctx, conn, figures.Request{DatasetID: ds, Version: ver, CommittedAt: base.Add(2 * span).UnixMilli()})
			return err
		}),
	)
	for _, q := range grafanaQueries {
		out = append(out, Probe{Group: "grafana", Name: q.name, Run: func(ctx context.Context) error { return drain(ctx, conn, q.sql) }})
	}
	for _, more := range pairs {
		out = append(out, more(conn, a)...)
	}
	return out
}

// grafanaQueries are the SQL panels of ops/grafana/dashboards/assay-kpis.json, with
// Grafana's time filter over the program's last week.
var grafanaQueries = []struct{ name, sql string }{
	{"agreement by question and scope", `SELECT project_id, question_id, level, scope, pairable_units, pairable_values, round(alpha_nominal, 3) AS alpha_nominal
FROM kpi_agreement ORDER BY project_id, question_id, scope`},
	{"accuracy by cohort", `SELECT project_id, question_id, scope, correct_labels, scored_labels, round(accuracy, 3) AS accuracy
FROM kpi_accuracy WHERE scope = 'all' OR scope LIKE 'cohort:%' ORDER BY project_id, question_id, scope`},
	{"cycle time", `SELECT * FROM kpi_cycle_time ORDER BY project_id`},
	{"rework", `SELECT * FROM kpi_rework`},
	{"remediation by severity", `SELECT * FROM kpi_remediation ORDER BY severity`},
	{"coverage of dataset versions", `SELECT dataset_id, version, items, target_slices, slices_meeting, round(tv_distance, 3) AS tv_distance, edge_case_tags, edge_case_tags_covered
FROM kpi_coverage ORDER BY dataset_id, version`},
	{"labels per hour (last week)", `SELECT toStartOfHour(occurred_at) AS time, count() AS labels FROM labels FINAL
WHERE occurred_at BETWEEN toDateTime('2026-11-24 00:00:00') AND toDateTime('2026-12-01 00:00:00') GROUP BY time ORDER BY time`},
	{"rejected per hour (last week)", `SELECT toStartOfHour(recorded_at) AS time, count() AS rejected FROM dlq FINAL
WHERE recorded_at BETWEEN toDateTime('2026-11-24 00:00:00') AND toDateTime('2026-12-01 00:00:00') GROUP BY time ORDER BY time`},
}

// drain runs a query and reads every row.
func drain(ctx context.Context, conn driver.Conn, sql string, args ...any) error {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// pairs are probes registered by other files of the package (the reads that replace a slow
// one, each beside the read it replaces), appended to Probes' list.
var pairs []func(conn driver.Conn, a *API) []Probe
