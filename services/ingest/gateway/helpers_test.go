package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/services/internal/serve"
)

// Tokens of the test principals (ingesttest.Principals: one of every role, named after it,
// scoped to what ingesttest.Sample writes): "collector" writes ItemIngested, "labeler"
// LabelSubmitted and LabelRetracted, and so on.
// "labeler-2" is a second labeler of the same scope, for what two principals of one role do.
var (
	collectorToken = ingesttest.TokenOf(access.RoleCollector)
	labelerToken   = ingesttest.TokenOf(access.RoleLabeler)
	qaToken        = ingesttest.TokenOf(access.RoleQA)
	labeler2Token  = "tok-labeler-2-secret"
)

// testPrincipalsFile is the harness's principals file.
func testPrincipalsFile() string {
	return ingesttest.Principals() + "labeler-2 " + access.HashToken(labeler2Token) + " role=labeler projects=" + ingesttest.Project + " vendor=" + ingesttest.Vendor + " cohorts=" + ingesttest.Cohort + "\n"
}

func testPrincipals(t testing.TB) *access.Store {
	t.Helper()
	reg, err := access.Parse("test principals", testPrincipalsFile())
	if err != nil {
		t.Fatal(err)
	}
	return access.NewStore(reg)
}

type harness struct {
	gw  *gateway.Gateway
	srv *httptest.Server
	reg *prometheus.Registry
	k   config.Kafka
}

// newHarness serves a gateway for k over HTTP, closed when t ends.
func newHarness(t testing.TB, k config.Kafka, mutate func(*gateway.Config), opts ...kgo.Opt) *harness {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.Principals = testPrincipals(t)
	if mutate != nil {
		mutate(&cfg)
	}
	reg := serve.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	gw, err := gateway.New(cfg, k, reg, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	ops.AddCheck("kafka", gw.Ready)
	srv := httptest.NewServer(ops.Mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	})
	return &harness{gw: gw, srv: srv, reg: reg, k: k}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type answer struct {
	status   int
	header   http.Header
	body     []byte
	accepted wire.Accepted
	problem  wire.Problem
}

func (h *harness) post(t testing.TB, token, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+wire.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, &http.Client{Timeout: 60 * time.Second}, req)
}

// do sends req with hc and decodes the answer.
func do(t testing.TB, hc *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	if a.status == http.StatusAccepted {
		if err := json.Unmarshal(a.body, &a.accepted); err != nil {
			t.Fatalf("202 body %s: %v", a.body, err)
		}
	} else if err := json.Unmarshal(a.body, &a.problem); err != nil {
		t.Fatalf("%d body %s: %v", a.status, a.body, err)
	}
	return a
}

// jsonArray marshals events as a JSON array, with event_type set.
func jsonArray(t testing.TB, evs ...schemas.Event) []byte {
	t.Helper()
	var parts [][]byte
	for _, ev := range evs {
		parts = append(parts, marshal(t, ev))
	}
	return append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
}

// ndjson marshals events one a line.
func ndjson(t testing.TB, evs ...schemas.Event) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, ev := range evs {
		b.Write(marshal(t, ev))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func marshal(t testing.TB, ev schemas.Event) []byte {
	t.Helper()
	ev.Meta().EventType = ev.Type()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dlqRecords reads the namespace's DLQ until want records arrived and decodes them.
func dlqRecords(t testing.TB, k config.Kafka, want int) []*schemas.EventRejected {
	t.Helper()
	var out []*schemas.EventRejected
	for _, r := range ingesttest.ReadTopic(t, k, want, 20*time.Second, k.Topic(schemas.FamilyDLQ.Topic())) {
		rej, err := schemas.DecodeAs[schemas.EventRejected](r.Value)
		if err != nil {
			t.Fatalf("DLQ record at offset %d: %v", r.Offset, err)
		}
		if string(r.Key) != rej.Source {
			t.Errorf("DLQ record key %q, source %q", r.Key, rej.Source)
		}
		out = append(out, rej)
	}
	return out
}

// fakeServer wraps a URL in an httptest.Server value so harness.post can use it.
func fakeServer(url string) *httptest.Server { return &httptest.Server{URL: url} }

func scrape(t testing.TB, h *harness) string {
	t.Helper()
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
