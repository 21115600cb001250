package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/anomaly"
	"github.com/assay-data/assay/streams/kpi"
)

// Config configures a Server.
type Config struct {
	// Conn reads ClickHouse (required).
	Conn driver.Conn
	// Principals authenticates the callers of /v1 (required): the registry in force, which
	// the caller swaps on reload (access.Loader); each request reads it once.
	Principals *access.Store
	// Registerer receives the assay_api_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Log receives request failures; nil discards.
	Log *slog.Logger
	// Lag reads the processors' consumer lag from the broker (GET /v1/pipeline, the pipeline
	// section of /v1/kpis); nil means no pipeline lag figure.
	Lag *LagReader
	// SampleInterval is the period of the history sampler (default 2s).
	SampleInterval time.Duration
	// History is how much history each view keeps (default 1h).
	History time.Duration
	// QueryTimeout bounds the ClickHouse work of one request or sample (default 10s).
	QueryTimeout time.Duration
	// ListenAddr is the address the server listens on (host:port); its host is allowed in
	// the Host header beside localhost, 127.0.0.1 and [::1]. Empty allows those only.
	ListenAddr string
	// AllowedHosts are further names the Host header may carry: the public name of the
	// API in production. "name" allows it on any port, "name:port" with that port only.
	AllowedHosts []string
	// MaxUnitizingSpans bounds the unitizing alpha the API computes on read (GET /v1/regions):
	// a spans question whose labels hold more spans, or are more labels, is answered without
	// it, saying so with the bound (kpi.ErrTooManySpans). Zero means
	// kpi.DefaultMaxUnitizingSpans; negative is an error.
	MaxUnitizingSpans int
	// Anomaly configures the anomaly rules the sampler runs once per SampleInterval (GET
	// /v1/alerts); its Now and Project are the sampler's (now, every project), and zero
	// fields take streams/anomaly's defaults.
	Anomaly anomaly.Config
}

// Server is the API: handlers, history sampler and dashboard.
type Server struct {
	cfg    Config
	reader *Reader
	hist   *history
	m      *metrics
	hosts  hostList
	// gov is the latest detection of the alerts, for every viewer.
	gov governance
}

// Problem is the body of every 4xx and 5xx answer.
type Problem struct {
	// Error says what is wrong, for people.
	Error string `json:"error"`
	// Param names the offending query parameter, for 400s about one.
	Param string `json:"param,omitempty"`
	// Rule names the rule that refused a 403 (access.RuleRead, access.RuleProject,
	// RuleAllProjects, RuleParty).
	Rule string `json:"rule,omitempty"`
}

// Filter parameters per endpoint.
var (
	kpiParams         = []string{"project", "cohort", "dataset", "window"}
	agreementParams   = []string{"project", "cohort", "window"}
	accuracyParams    = []string{"project", "cohort"}
	coverageParams    = []string{"project", "dataset"}
	cycleParams       = []string{"project", "window"}
	remediationParams = []string{"project", "window"}
	routingParams     = []string{"project"}
	historyParams     = []string{"project", "cohort", "dataset", "window", "since"}
	targetsParams     = []string{"project"}
	gateParams        = []string{"project", "dataset"}
	alertsParams      = []string{"project"}
)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Conn == nil {
		return nil, errors.New("httpapi: Config.Conn is required")
	}
	if cfg.Principals == nil || cfg.Principals.Load() == nil {
		return nil, errors.New("httpapi: Config.Principals is required: every /v1 request is authenticated")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 2 * time.Second
	}
	if cfg.History <= 0 {
		cfg.History = time.Hour
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 10 * time.Second
	}
	switch {
	case cfg.MaxUnitizingSpans < 0:
		return nil, fmt.Errorf("httpapi: Config.MaxUnitizingSpans is %d: want a positive bound (0 for kpi.DefaultMaxUnitizingSpans)", cfg.MaxUnitizingSpans)
	case cfg.MaxUnitizingSpans == 0:
		cfg.MaxUnitizingSpans = kpi.DefaultMaxUnitizingSpans
	}
	hosts, err := newHostList(cfg.ListenAddr, cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	samples := max(int(cfg.History/cfg.SampleInterval), 1)
	reader := NewReader(cfg.Conn, cfg.Lag)
	// A vendor's dashboard asks twice per poll and the sampler once per interval: one read of
	// a project's parties serves them all for an interval.
	reader.parties.ttl = cfg.SampleInterval
	// Likewise the region and preference figures and unitizing alpha: one read per key and
	// interval for every dashboard, vendor or not (each view filters a copy).
	reader.regionCache.ttl, reader.preferenceCache.ttl, reader.unitizingCache.ttl = cfg.SampleInterval, cfg.SampleInterval, cfg.SampleInterval
	reader.maxSpans = cfg.MaxUnitizingSpans
	return &Server{cfg: cfg, reader: reader, hist: newHistory(samples, 16, 2*time.Minute), m: m, hosts: hosts}, nil
}

// Reader returns the server's KPI reader (for the CLI and tests).
func (s *Server) Reader() *Reader { return s.reader }

// Mount registers the API and the dashboard on mux (beside /healthz, /readyz and /metrics
// of services/internal/serve). Every /v1 route, unknown ones included, authenticates its
// caller first; the dashboard's page and static files hold no figure and are open.
func (s *Server) Mount(mux *http.ServeMux) {
	s.read(mux, "GET /v1/whoami", s.whoami)
	s.read(mux, "GET /v1/kpis", s.kpis)
	s.read(mux, "GET /v1/agreement", s.agreement)
	s.read(mux, "GET /v1/accuracy", s.accuracy)
	s.read(mux, "GET /v1/annotators", s.annotators)
	s.read(mux, "GET /v1/coverage", s.coverage)
	s.read(mux, "GET /v1/cycle", s.cycle)
	s.read(mux, "GET /v1/remediation", s.remediation)
	s.read(mux, "GET /v1/routing", s.routing)
	s.read(mux, "GET /v1/pipeline", s.pipeline)
	s.read(mux, "GET /v1/lineage/{dataset}/{version}", s.lineage)
	s.read(mux, "GET /v1/history", s.history)
	s.read(mux, "GET /v1/targets", s.targets)
	s.read(mux, "GET /v1/gate", s.gate)
	s.read(mux, "GET /v1/gate/{dataset}/{version}", s.gateVersion)
	s.read(mux, "GET /v1/alerts", s.alerts)
	s.read(mux, "GET /v1/confusion", s.confusion)
	s.read(mux, "GET /v1/regions", s.regions)
	s.read(mux, "GET /v1/preferences", s.preferences)
	s.read(mux, "/v1/", func(w http.ResponseWriter, r *http.Request, _ access.ReadScope) error {
		return &httpError{code: http.StatusNotFound, msg: "no such endpoint: " + r.URL.Path + " (see GET /v1/whoami, /v1/kpis, /v1/agreement, /v1/accuracy, /v1/annotators, /v1/coverage, /v1/cycle, /v1/remediation, /v1/routing, /v1/pipeline, /v1/lineage/{dataset}/{version}, /v1/history, /v1/targets, /v1/gate, /v1/gate/{dataset}/{version}, /v1/alerts, /v1/confusion, /v1/regions, /v1/preferences)"}
	})
	static, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(static)
	s.handle(mux, "GET /{$}", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
		return nil
	})
	s.handle(mux, "GET /static/", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-cache")
		http.StripPrefix("/static/", files).ServeHTTP(w, r)
		return nil
	})
}

// httpError is an error with its status code and public message.
type httpError struct {
	code  int
	msg   string
	param string
}

// Error implements error.
func (e *httpError) Error() string { return e.msg }

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// readFunc is a /v1 handler: it answers what its caller's read scope may see.
type readFunc func(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error

// read wraps h with authentication (authenticate): a request without a token, or with one
// the registry in force does not know, is answered 401; one whose principal reads nothing
// 403 naming access.RuleRead; h answers the others.
func (s *Server) read(mux *http.ServeMux, pattern string, h readFunc) {
	s.handle(mux, pattern, func(w http.ResponseWriter, r *http.Request) error {
		sc, err := s.authenticate(r)
		if err != nil {
			return err
		}
		return h(w, r, sc)
	})
}

// handle wraps h with metrics and error answers: missing or unknown credentials are a 401, an
// *access.Violation a 403 naming its rule, a ParamError a 400, httpError its own code,
// errNotFound a 404, anything else a failed ClickHouse read, answered 503 or 500
// (storeStatus) with a message that says nothing of the failure, whose detail is logged.
// A handler writes its answer only once every read has succeeded, so a failure never
// leaves a partial answer behind a 200.
func (s *Server) handle(mux *http.ServeMux, pattern string, h handlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		if err := h(rec, r.WithContext(ctx)); err != nil {
			s.fail(rec, r, err)
		}
		s.m.observe(pattern, rec.code, time.Since(start))
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *ParamError
	var he *httpError
	var ae *authError
	var v *access.Violation
	if reason, ok := refusal(err); ok {
		s.m.refused.WithLabelValues(reason).Inc()
	}
	switch {
	case errors.As(err, &ae):
		// RFC 6750: no token is a bare challenge, a token that is not known an invalid one.
		challenge := `Bearer realm="assay"`
		if !errors.Is(ae.err, access.ErrNoCredentials) {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, Problem{Error: ae.Error() + "; a reader's token (analyst, owner, qa or vendor) is made with assay token create"})
	case errors.As(err, &v):
		// Debug: a dashboard left on a refused filter asks every two seconds; the refusals are
		// counted by rule in assay_api_refused_requests_total.
		s.cfg.Log.Debug("api request refused", "path", r.URL.Path, "query", r.URL.RawQuery, "rule", v.Rule, "reason", v.Reason)
		writeJSON(w, http.StatusForbidden, Problem{Error: v.Error(), Rule: v.Rule})
	case errors.As(err, &pe):
		writeJSON(w, http.StatusBadRequest, Problem{Error: pe.Error(), Param: pe.Param})
	case errors.As(err, &he):
		writeJSON(w, he.code, Problem{Error: he.msg, Param: he.param})
	case errors.Is(err, errNotFound):
		writeJSON(w, http.StatusNotFound, Problem{Error: err.Error()})
	default:
		code := storeStatus(err)
		level := slog.LevelError
		if code == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		s.cfg.Log.Log(r.Context(), level, "api request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "status", code, "err", err)
		writeStoreError(w, code)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// noWindow refuses a window on the all-time KPIs, so that a client never believes it got a
// windowed figure.
func noWindow(r *http.Request, what string) error {
	if w := r.URL.Query().Get("window"); w != "" && w != "all" {
		return &ParamError{Param: "window", Reason: what + " cannot be windowed; window applies to agreement (units by the day of their first label), cycle time (items by ingestion time) and remediation (findings by report time)"}
	}
	return nil
}

// view parses the request's filter (the parameters the endpoint takes) and narrows it to
// sc (Reader.View).
func (s *Server) view(r *http.Request, sc access.ReadScope, params ...string) (View, error) {
	f, err := ParseFilter(r.URL.Query(), params...)
	if err != nil {
		return View{}, err
	}
	return s.reader.View(r.Context(), f, sc)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if _, err := ParseFilter(r.URL.Query()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, whoAmI(sc))
	return nil
}

func (s *Server) kpis(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, kpiParams...)
	if err != nil {
		return err
	}
	sum, err := s.reader.Summary(r.Context(), v)
	if err != nil {
		s.m.sectionFailed(err)
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// section answers one KPI section, with the filter echoed.
func section[T any](w http.ResponseWriter, f Filter, name string, v T, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": f, name: v})
	return nil
}

func (s *Server) agreement(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, agreementParams...)
	if err != nil {
		return err
	}
	a, err := s.reader.Agreement(r.Context(), v)
	return section(w, v.Filter, "agreement", a, err)
}

func (s *Server) accuracy(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if err := noWindow(r, "accuracy is kept as all-time totals per partition and"); err != nil {
		return err
	}
	v, err := s.view(r, sc, accuracyParams...)
	if err != nil {
		return err
	}
	a, err := s.reader.Accuracy(r.Context(), v)
	return section(w, v.Filter, "accuracy", a, err)
}

func (s *Server) annotators(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if err := noWindow(r, "annotator agreement and accuracy are kept as all-time totals and"); err != nil {
		return err
	}
	v, err := s.view(r, sc, accuracyParams...)
	if err != nil {
		return err
	}
	a, err := s.reader.Annotators(r.Context(), v)
	return section(w, v.Filter, "annotators", a, err)
}

func (s *Server) coverage(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if err := noWindow(r, "coverage describes the latest version of each dataset and"); err != nil {
		return err
	}
	v, err := s.view(r, sc, coverageParams...)
	if err != nil {
		return err
	}
	c, err := s.reader.Coverage(r.Context(), v)
	return section(w, v.Filter, "coverage", c, err)
}

func (s *Server) cycle(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, cycleParams...)
	if err != nil {
		return err
	}
	c, err := s.reader.Cycle(r.Context(), v)
	if err != nil {
		return err
	}
	rw, err := s.reader.Rework(r.Context(), v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": v.Filter, "cycle_time": c, "rework": rw})
	return nil
}

func (s *Server) remediation(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, remediationParams...)
	if err != nil {
		return err
	}
	rem, err := s.reader.Remediation(r.Context(), v)
	return section(w, v.Filter, "remediation", rem, err)
}

func (s *Server) routing(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if err := noWindow(r, "routing figures are kept as all-time decisions and labels and"); err != nil {
		return err
	}
	v, err := s.view(r, sc, routingParams...)
	if err != nil {
		return err
	}
	rt, err := s.reader.Routing(r.Context(), v)
	return section(w, v.Filter, "routing", rt, err)
}

// pipeline answers the processors' consumer lag: a figure over every project at once (the
// topics carry every project's events), read only by a scope of every project.
func (s *Server) pipeline(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	if _, err := ParseFilter(r.URL.Query()); err != nil {
		return err
	}
	if !allProjects(sc) {
		projects, _ := sc.Projects()
		return &access.Violation{Rule: RuleAllProjects, Reason: fmt.Sprintf("%s reads projects %s; the consumer lag is every project's at once, read by principals of every project (projects=*)",
			sc.Principal().ID, strings.Join(projects, ","))}
	}
	if s.reader.lag == nil {
		writeJSON(w, http.StatusOK, map[string]any{"pipeline": nil, "note": "no consumer lag configured (-lag-processors is empty)"})
		return nil
	}
	// A processor whose lag cannot be read makes the total unknown: 502, not the sum of the
	// others' lag.
	p, err := s.reader.lag.Read(r.Context())
	if err != nil {
		s.cfg.Log.Warn("api request failed", "path", r.URL.Path, "status", http.StatusBadGateway, "err", err)
		return &httpError{code: http.StatusBadGateway, msg: fmt.Sprintf("the broker did not give the consumer lag of %d of %d processors (%s), so the total is unknown",
			len(p.Unanswered), len(s.reader.lag.consumers), strings.Join(p.Unanswered, ", "))}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipeline": p})
	return nil
}

func (s *Server) lineage(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	ds, ver, err := versionPath(r)
	if err != nil {
		return err
	}
	v, err := s.reader.Lineage(r.Context(), sc, ds, ver)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// targets answers the quality targets of the view's project: project-level data, which
// every reader of the project reads (a vendor too: the targets its labels are judged by).
func (s *Server) targets(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, targetsParams...)
	if err != nil {
		return err
	}
	t, err := s.reader.Targets(r.Context(), v)
	return section(w, v.Filter, "targets", t, err)
}

// gate answers every dataset version of the view's project with the gate's standing verdict,
// its checks and overrides: project-level figures (the checks are over all labels), which
// every reader of the project reads.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, gateParams...)
	if err != nil {
		return err
	}
	g, err := s.reader.GateVersions(r.Context(), v)
	return section(w, v.Filter, "gate", g, err)
}

// alerts answers the alerts of the latest detection (once per sample interval, for every
// viewer) that the caller's view sees: 503 before the first detection and while the latest
// failed.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	v, err := s.view(r, sc, alertsParams...)
	if err != nil {
		return err
	}
	a, err := s.Alerts(v)
	if err != nil {
		if _, ok := err.(*httpError); ok {
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
			return err
		}
		return fmt.Errorf("latest alert detection: %w", err)
	}
	return section(w, v.Filter, "alerts", a, nil)
}

// gateVersion answers one version's standing: 404 when it was neither committed nor judged,
// 403 for a version outside the caller's projects (existing or not).
func (s *Server) gateVersion(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	ds, ver, err := versionPath(r)
	if err != nil {
		return err
	}
	g, err := s.reader.GateVersion(r.Context(), sc, ds, ver)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// versionPath reads the {dataset} and {version} of a path, refusing any query parameter.
func versionPath(r *http.Request) (dataset, version string, err error) {
	if _, err := ParseFilter(r.URL.Query()); err != nil {
		return "", "", err
	}
	ds, ver := r.PathValue("dataset"), r.PathValue("version")
	if err := CheckID(ds); err != nil || ds == "" {
		return "", "", &ParamError{Param: "dataset", Reason: "not a dataset id: " + reason(err, "empty")}
	}
	if err := CheckID(ver); err != nil || ver == "" {
		return "", "", &ParamError{Param: "version", Reason: "not a version: " + reason(err, "empty")}
	}
	return ds, ver, nil
}

func reason(err error, def string) string {
	if err != nil {
		return err.Error()
	}
	return def
}

// history answers the samples of the caller's view: its filter narrowed by its scope, so a
// vendor is served the samples of a vendor's view of its project, never another's.
func (s *Server) history(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	q := r.URL.Query()
	var since int64
	if v := q.Get("since"); v != "" {
		var err error
		if since, err = strconv.ParseInt(v, 10, 64); err != nil || since < 0 {
			return &ParamError{Param: "since", Reason: fmt.Sprintf("%q is not a time: want epoch milliseconds (the at_ms of the last sample you have)", v)}
		}
	}
	v, err := s.view(r, sc, historyParams...)
	if err != nil {
		return err
	}
	samples, err := s.hist.want(v, since, time.Now())
	if err != nil {
		if _, refused := refusal(err); refused {
			return err
		}
		return fmt.Errorf("latest history sample: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": v.Filter, "interval_ms": s.cfg.SampleInterval.Milliseconds(), "samples": samples})
	return nil
}

// statusRecorder remembers the status code for the request metrics.
type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

// WriteHeader records the first status code.
func (r *statusRecorder) WriteHeader(code int) {
	if !r.written {
		r.code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write marks the status as written (200 when WriteHeader was not called).
func (r *statusRecorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}
