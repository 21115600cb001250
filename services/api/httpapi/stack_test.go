package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/services/ingest/client"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// stack is the real pipeline in one test: the ingest gateway (in process, producing to the
// real broker in a namespace of the test's own), the ledger, KPI (kpi_regions and
// kpi_preference included), lineage and router
// processors consuming it into a fresh ClickHouse database, and the API over that database,
// reading the processors' consumer lag from the broker.
type stack struct {
	k    config.Kafka
	conn driver.Conn
	// ingest has a collector client per principal of the demo (services/demo.Principals),
	// and writers picks the one that sends each event.
	ingest  map[string]*client.Client
	writers *access.Writers
	api     *httptest.Server
	srv     *httpapi.Server
	// principals are the API's readers (the test principals), swappable to revoke.
	principals *access.Store
	// reg holds the API's metrics.
	reg *prometheus.Registry
	// stops stops one processor by name (its runner leaves the group; its commits stay).
	stops map[string]context.CancelFunc
}

// stop stops the processor name, as a crash or an operator would.
func (s *stack) stop(t *testing.T, name string) {
	t.Helper()
	stop, ok := s.stops[name]
	if !ok {
		t.Fatalf("no processor %q in the stack", name)
	}
	stop()
}

// stackProjects are the projects the tests of this package play programs of: the demo's
// principals are scoped to them.
var stackProjects = append([]string{"proj-api", "proj-dash", "proj-lag", rbacProject, rbacOther, govProject}, strcProjects...)

// stackLabelers are the labelers beside the demo's that the tests' labels need: a second
// vendor, globex, and both vendors in a cohort they share (the access test); an in-house team
// without a cohort (the lag test's labels name none).
var stackLabelers = []access.Principal{
	{ID: "test-labelers-inhouse", Role: access.RoleLabeler, Projects: []string{"proj-lag"}},
	{ID: "test-labelers-globex", Role: access.RoleLabeler, Projects: []string{rbacProject}, Vendor: "globex", Cohorts: []string{"globex-crowd", "mixed"}},
	{ID: "test-labelers-acme-mixed", Role: access.RoleLabeler, Projects: []string{rbacProject}, Vendor: "acme", Cohorts: []string{"mixed"}},
}

func startStack(t *testing.T) *stack {
	t.Helper()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	_, conn := testenv.MigratedClickHouse(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		// A runner retrying a failing write could hold the test forever; its warnings are
		// in the log by then.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(45 * time.Second):
			t.Error("processors did not stop within 45s of the end of the test")
		}
	})
	// Warnings (a failing write, a rebalance) go to the test log: they explain a timeout.
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Processors, each stoppable on its own; the API reads their lag from the broker.
	reg := serve.NewRegistry()
	// The router runs with its default rules, as in make run.
	rt, err := router.New(router.Config{})
	if err != nil {
		t.Fatal(err)
	}
	stops := map[string]context.CancelFunc{}
	var consumers []httpapi.Consumer
	for _, p := range []runtime.Processor{ledger.New(), kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewFlow(), kpi.NewRegions(), kpi.NewPreference(), lineage.NewProcessor(), rt} {
		r, err := runtime.New(p, k, runtime.ClickHouseSink(conn), runtime.WithRegisterer(reg), runtime.WithLogger(log),
			runtime.WithBatchSize(1000), runtime.WithFlushInterval(200*time.Millisecond),
			runtime.WithKafkaOptions(kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		c := httpapi.Consumer{Name: p.Name(), Group: r.Group()}
		for _, f := range p.Families() {
			c.Topics = append(c.Topics, k.Topic(f.Topic()))
		}
		consumers = append(consumers, c)
		pctx, stop := context.WithCancel(ctx)
		stops[p.Name()] = stop
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(pctx); err != nil && pctx.Err() == nil {
				t.Errorf("processor %s: %v", p.Name(), err)
			}
		}()
	}
	lag, err := httpapi.NewLagReader(kadm.NewClient(testenv.KafkaClient(t, k)), consumers, 0)
	if err != nil {
		t.Fatal(err)
	}

	// The ingest gateway, whose callers are the demo's principals.
	var lines strings.Builder
	tokens := map[string]string{}
	for _, p := range append(demo.Principals(stackProjects...), stackLabelers...) {
		tok, err := access.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tokens[p.ID] = tok
		lines.WriteString(p.Line(access.HashToken(tok)) + "\n")
	}
	principals, err := access.Parse("stack principals", lines.String())
	if err != nil {
		t.Fatal(err)
	}
	gcfg := gateway.DefaultConfig()
	gcfg.Principals = access.NewStore(principals)
	gw, err := gateway.New(gcfg, k, serve.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+wire.Path, gw)
	ingest := httptest.NewServer(mux)
	t.Cleanup(func() {
		ingest.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = gw.Close(cctx)
	})

	apiReg := prometheus.NewRegistry()
	readers := testStore(t)
	srv, err := httpapi.New(httpapi.Config{Conn: conn, Principals: readers, Registerer: apiReg, Log: log, Lag: lag, SampleInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	apiMux := http.NewServeMux()
	srv.Mount(apiMux)
	// Behind the Host allowlist, as main serves it: the browser test's page loads through it.
	api := httptest.NewServer(srv.CheckHost(apiMux))
	t.Cleanup(api.Close)
	wg.Add(1)
	go func() { defer wg.Done(); srv.RunSampler(ctx) }()
	clients := map[string]*client.Client{}
	for id, tok := range tokens {
		clients[id] = client.New(ingest.URL, tok)
	}
	return &stack{k: k, conn: conn, ingest: clients, writers: access.NewWriters(principals), api: api, srv: srv, principals: readers, reg: apiReg, stops: stops}
}

// play sends the demo program of run, project, seed and items through the gateway, dated as
// if it were played now.
func (s *stack) play(t *testing.T, run, project string, seed uint64, items int) *demo.Program {
	t.Helper()
	p := demo.Build(run, project, seed, items)
	demo.Shift(p.Events, time.Now())
	s.send(t, p.Events)
	return p
}

// send delivers events through the gateway.
func (s *stack) send(t *testing.T, evs []schemas.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Each event by the principal that may write it, in order: consecutive events of one
	// principal go together.
	for len(evs) > 0 {
		p, err := s.writers.Pick(evs[0])
		if err != nil {
			t.Fatalf("no principal sends %s %s: %v", evs[0].Type(), evs[0].Meta().EventID, err)
		}
		n := 1
		for ; n < len(evs); n++ {
			q, err := s.writers.Pick(evs[n])
			if err != nil || q != p {
				break
			}
		}
		if _, err := s.ingest[p.ID].Send(ctx, evs[:n]...); err != nil {
			t.Fatalf("send %d events as %s: %v", n, p.ID, err)
		}
		evs = evs[n:]
	}
}

// get fetches path from the API as the test analyst (every figure of every project) and
// decodes the JSON answer into out (when not nil), returning the status code.
func get(t *testing.T, base, path string, out any) int {
	t.Helper()
	return getAs(t, base, path, testAnalyst, out)
}

// getAs is get as the test principal id ("": without a token).
func getAs(t *testing.T, base, path, id string, out any) int {
	t.Helper()
	code, body := getBody(t, base, path, id)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: decode %s: %v", path, body, err)
		}
	}
	return code
}

// getBody fetches path as the test principal id ("": without a token) and returns the status
// and the JSON body.
func getBody(t *testing.T, base, path, id string) (int, []byte) {
	t.Helper()
	tok := ""
	if id != "" {
		tok = testToken(t, id)
	}
	return getWithToken(t, base, path, tok)
}

// getWithToken fetches path with the bearer token tok ("": none) and returns the status and
// the JSON body.
func getWithToken(t *testing.T, base, path, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q, body %s", path, ct, body)
	}
	return resp.StatusCode, body
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func fmtNum(n httpapi.Num) string {
	if n == nil {
		return "null"
	}
	return fmt.Sprintf("%.6f", *n)
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// gauge returns the value of the API's gauge name with the given label pairs, or false.
func (s *stack) gauge(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
