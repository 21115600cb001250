package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/runtime"
)

// v1Reads are requests for every /v1 endpoint that reads ClickHouse (with and without
// filters, so the windowed queries are covered too). /v1/pipeline reads the broker.
var v1Reads = []string{
	"/v1/kpis",
	"/v1/kpis?project=p&cohort=c&window=7d",
	"/v1/agreement",
	"/v1/agreement?window=7d",
	"/v1/accuracy?cohort=c",
	"/v1/annotators",
	"/v1/coverage",
	"/v1/cycle?window=1h",
	"/v1/remediation",
	"/v1/routing",
	"/v1/lineage/ds/v1",
	"/v1/history",
}

// The public messages of a failed read (errors.go): exact, so nothing else can ride along.
const (
	unavailableMsg = "the KPI store is unavailable; retry later (the API's log has the detail)"
	failedMsg      = "the KPI store could not answer this request (the API's log has the detail)"
)

// lockedBuffer collects the API's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveLikeMain serves the API the way services/api's main does: the ops routes with the
// ClickHouse readiness check, the API and dashboard mounted beside them, the Host allowlist
// around everything. It returns the server, its URL and its log.
func serveLikeMain(t *testing.T, cfg httpapi.Config) (*httpapi.Server, string, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := serve.NewRegistry()
	cfg.Registerer = reg
	cfg.ListenAddr = "127.0.0.1:18080"
	cfg.Principals = testStore(t)
	srv, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ops := serve.NewOps(reg)
	conn := cfg.Conn
	ops.AddCheck("clickhouse", func(ctx context.Context) error { return conn.Ping(ctx) })
	srv.Mount(ops.Mux)
	api := httptest.NewServer(srv.CheckHost(ops.Mux))
	t.Cleanup(api.Close)
	return srv, api.URL, logs
}

type answer struct {
	code int
	hdr  http.Header
	body string
}

// fetch GETs path as the test analyst with the given Host header ("" = the server's
// address).
func fetch(t *testing.T, base, path, host string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	authorize(t, req, testAnalyst)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// checkFailed asserts a failed read's answer: code, Retry-After on 503 only, a JSON
// Problem with exactly the public message, and a log line with the path and the detail.
func checkFailed(t *testing.T, base string, logs *lockedBuffer, path string, code int, detail string) {
	t.Helper()
	a := fetch(t, base, path, "")
	var p httpapi.Problem
	if a.code != code || a.hdr.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(a.body), &p) != nil {
		t.Errorf("%s: %d %s %q, want %d and a JSON problem", path, a.code, a.hdr.Get("Content-Type"), a.body, code)
		return
	}
	want, retry := failedMsg, ""
	if code == http.StatusServiceUnavailable {
		want, retry = unavailableMsg, "5"
	}
	if p.Error != want || p.Param != "" || a.hdr.Get("Retry-After") != retry {
		t.Errorf("%s: %q, Retry-After %q; want %q, Retry-After %q", path, a.body, a.hdr.Get("Retry-After"), want, retry)
	}
	for _, secret := range []string{"SELECT", "FROM", "kpi_", "code:", "dial", "127.0.0.1", "Exception", "doesn't exist"} {
		if strings.Contains(a.body, secret) {
			t.Errorf("%s: the answer leaks %q: %s", path, secret, a.body)
		}
	}
	u := strings.SplitN(path, "?", 2)[0]
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "api request failed") && strings.Contains(line, "path="+u) &&
			strings.Contains(line, "status="+strconv.Itoa(code)) && strings.Contains(line, detail) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: no log line with status %d and %q in:\n%s", path, code, detail, logs.String())
	}
}

func checkOps(t *testing.T, base string) {
	t.Helper()
	if a := fetch(t, base, "/healthz", ""); a.code != 200 {
		t.Errorf("healthz: %d %s, want 200 (the process is alive)", a.code, a.body)
	}
	if a := fetch(t, base, "/readyz", ""); a.code != 503 || !strings.Contains(a.body, "clickhouse") {
		t.Errorf("readyz: %d %s, want 503 naming clickhouse", a.code, a.body)
	}
}

// lagReader reads the consumer lag of a "ledger" processor that never ran, over a topic of
// its own on the real broker holding 7 records: a lag of 7. With more, it reads them too (a
// consumer whose topic does not exist cannot be read).
func lagReader(t *testing.T, more ...httpapi.Consumer) *httpapi.LagReader {
	t.Helper()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 2)
	cl := testenv.KafkaClient(t, k)
	topic := k.Topic(schemas.FamilyItems.Topic())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 7 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumers := append([]httpapi.Consumer{{Name: "ledger", Group: runtime.DefaultGroup(k, "ledger"), Topics: []string{topic}}}, more...)
	l, err := httpapi.NewLagReader(kadm.NewClient(cl), consumers, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestClickHouseOutage cuts the API's connection to ClickHouse (testenv's proxy) and checks
// that every /v1 read is a 503 with Retry-After and a body that says nothing of the failure,
// logged with its detail; that /healthz stays 200 and /readyz says not ready; and that the
// answers are 200 again once ClickHouse is back.
func TestClickHouseOutage(t *testing.T) {
	t.Parallel()
	cfg, direct := testenv.MigratedClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// One committed version, so the lineage read answers 200 while ClickHouse is up.
	if err := direct.Exec(ctx, "INSERT INTO lineage_versions (dataset_id, version, occurred_at_ms, manifest_digest) SELECT 'ds', 'v1', toInt64(1), 'd'"); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewTCPProxy(t, cfg.Addr[0])
	viaProxy := cfg
	viaProxy.Addr = []string{proxy.Addr()}
	conn, err := clickhouse.Open(ctx, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	srv, base, logs := serveLikeMain(t, httpapi.Config{Conn: conn, Lag: lagReader(t), QueryTimeout: 10 * time.Second})

	srv.SampleOnce(ctx)
	for _, p := range append(v1Reads, "/v1/pipeline", "/healthz", "/readyz") {
		if a := fetch(t, base, p, ""); a.code != 200 {
			t.Fatalf("ClickHouse up: %s: %d %s", p, a.code, a.body)
		}
	}
	var pl struct {
		Pipeline httpapi.PipelineKPI `json:"pipeline"`
	}
	if code := get(t, base, "/v1/pipeline", &pl); code != 200 || pl.Pipeline.ConsumerLagRecords == nil || *pl.Pipeline.ConsumerLagRecords != 7 {
		t.Fatalf("pipeline: %d %+v, want a lag of 7", code, pl.Pipeline)
	}

	proxy.Cut()
	srv.SampleOnce(ctx)
	for _, p := range v1Reads {
		checkFailed(t, base, logs, p, http.StatusServiceUnavailable, "err=")
	}
	if !strings.Contains(logs.String(), "kpi history sampling failed") {
		t.Error("the sampler did not log its failure")
	}
	// The lag is read from the broker, not ClickHouse.
	if code := get(t, base, "/v1/pipeline", &pl); code != 200 || pl.Pipeline.ConsumerLagRecords == nil {
		t.Errorf("pipeline during the ClickHouse outage: %d %+v, want 200 (it does not read ClickHouse)", code, pl.Pipeline)
	}
	checkOps(t, base)

	// The Host allowlist holds whatever ClickHouse does.
	for _, p := range []string{"/v1/kpis", "/healthz", "/"} {
		if a := fetch(t, base, p, "evil.example:18080"); a.code != http.StatusMisdirectedRequest {
			t.Errorf("Host evil.example:18080 %s: %d, want 421", p, a.code)
		}
	}
	if a := fetch(t, base, "/healthz", "localhost:18080"); a.code != 200 {
		t.Errorf("Host localhost:18080 /healthz: %d, want 200", a.code)
	}

	proxy.Restore(t)
	waitFor(t, 30*time.Second, "the API to read ClickHouse again", func() (bool, string) {
		a := fetch(t, base, "/v1/kpis", "")
		return a.code == 200, a.body
	})
	srv.SampleOnce(ctx)
	var hist struct {
		Samples []httpapi.Sample `json:"samples"`
	}
	if code := get(t, base, "/v1/history", &hist); code != 200 || len(hist.Samples) != 2 {
		t.Errorf("history after recovery: %d with %d samples, want 200 with the sample before and the one after the outage", code, len(hist.Samples))
	}
	if !strings.Contains(logs.String(), "kpi history sampling recovered") {
		t.Error("the sampler did not log its recovery")
	}
	for _, p := range append(v1Reads, "/readyz") {
		if a := fetch(t, base, p, ""); a.code != 200 {
			t.Errorf("after recovery: %s: %d %s", p, a.code, a.body)
		}
	}
}

// TestClickHouseMissingDatabase points the API at a database that does not exist: every
// read is a 500 (asking again will not help, so no Retry-After), logged with the server's
// error; /readyz says not ready.
func TestClickHouseMissingDatabase(t *testing.T) {
	t.Parallel()
	cfg, _ := testenv.ClickHouse(t)
	conn := lazyConn(t, cfg.Addr, cfg.Database+"_missing", cfg.User, cfg.Password, 5*time.Second)
	srv, base, logs := serveLikeMain(t, httpapi.Config{Conn: conn})
	srv.SampleOnce(context.Background())
	for _, p := range v1Reads {
		checkFailed(t, base, logs, p, http.StatusInternalServerError, "code: 81")
	}
	checkOps(t, base)
}

// TestClickHouseDoesNotAnswer points the API at a server that accepts connections and never
// answers: every read is a 503 once the connection attempt times out.
func TestClickHouseDoesNotAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	conn := lazyConn(t, []string{ln.Addr().String()}, "assay", "default", "", 300*time.Millisecond)
	srv, base, logs := serveLikeMain(t, httpapi.Config{Conn: conn, QueryTimeout: time.Second})
	srv.SampleOnce(context.Background())
	for _, p := range v1Reads {
		checkFailed(t, base, logs, p, http.StatusServiceUnavailable, "err=")
	}
	checkOps(t, base)
}

// TestPipelineLagAllOrNothing: the lag total is the sum over every processor or nothing; a
// processor whose lag cannot be read makes /v1/pipeline a 502 naming it, and a broker that
// does not answer makes every processor's lag unknown within the reader's timeout.
func TestPipelineLagAllOrNothing(t *testing.T) {
	t.Parallel()
	ghost := httpapi.Consumer{Name: "ghost", Group: "assay.test.ghost", Topics: []string{"assay.test.no-such-topic"}}
	lag := lagReader(t, ghost)
	p, err := lag.Read(context.Background())
	if err == nil || p.ConsumerLagRecords != nil || p.Processors["ledger"] != 7 || !slices.Equal(p.Unanswered, []string{"ghost"}) {
		t.Errorf("one of two processors unreadable: %+v, %v; want no total, the ledger's 7 and the ghost unanswered", p, err)
	}
	// No ClickHouse is needed for /v1/pipeline: a connection that never dials.
	conn := lazyConn(t, []string{"127.0.0.1:1"}, "assay", "default", "", time.Second)
	_, base, logs := serveLikeMain(t, httpapi.Config{Conn: conn, Lag: lag})
	a := fetch(t, base, "/v1/pipeline", "")
	var prob httpapi.Problem
	if a.code != http.StatusBadGateway || json.Unmarshal([]byte(a.body), &prob) != nil || !strings.Contains(prob.Error, "1 of 2") ||
		!strings.Contains(prob.Error, "ghost") || strings.Contains(prob.Error, "UNKNOWN_TOPIC") {
		t.Errorf("pipeline with an unreadable processor: %d %s, want 502 naming it (and not the broker's error)", a.code, a.body)
	}
	if !strings.Contains(logs.String(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("the broker's error is not in the log:\n%s", logs.String())
	}

	// A broker that does not answer: every processor's lag is unknown once the reader's
	// timeout passes.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	down, err := httpapi.NewLagReader(kadm.NewClient(cl), []httpapi.Consumer{{Name: "ledger", Group: "g", Topics: []string{"t"}}}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p, err = down.Read(context.Background())
	if err == nil || p.ConsumerLagRecords != nil || !slices.Equal(p.Unanswered, []string{"ledger"}) {
		t.Errorf("broker down: %+v, %v; want every processor unanswered", p, err)
	}
}

// lazyConn opens a ClickHouse connection without dialling (streams/infra/clickhouse.Open pings, and
// these servers must not answer).
func lazyConn(t *testing.T, addr []string, database, user, password string, dialTimeout time.Duration) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Protocol: ch.Native, Addr: addr, DialTimeout: dialTimeout,
		Auth: ch.Auth{Database: database, Username: user, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
