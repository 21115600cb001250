package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// fakeKafka is an in-process cluster with every contract topic, for tests that need to hold
// produce requests at will.
func fakeKafka(t *testing.T) (*kfake.Cluster, config.Kafka) {
	t.Helper()
	k := config.Kafka{TopicPrefix: "fake."}
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	return c, k
}

// holdProduce makes the cluster hold its next produce request until release is closed.
func holdProduce(c *kfake.Cluster, release <-chan struct{}) (held <-chan struct{}) {
	h := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(h)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	return h
}

// TestBackpressure fills the in-flight budget with a request whose produce is held (what it
// holds then is its records), and checks that a request larger than the room left waits
// InFlightWait and then gets 503 with Retry-After, that the gauge shows the held bytes, and
// that the held request completes with 202 once released.
func TestBackpressure(t *testing.T) {
	c, k := fakeKafka(t)
	var evs []schemas.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	first := jsonArray(t, evs...)
	const budget = 64 << 10
	h := newHarness(t, k, func(cfg *gateway.Config) {
		cfg.MaxInFlightBytes = budget
		cfg.MaxInFlightShare = 1
		cfg.InFlightWait = 200 * time.Millisecond
	})
	release := make(chan struct{})
	held := holdProduce(c, release)
	got := make(chan answer, 1)
	go func() { got <- h.post(t, labelerToken, wire.MediaJSON, first) }()
	<-held
	used := h.gw.BudgetUsed()
	if used <= 0 {
		t.Fatalf("the held request holds %d bytes", used)
	}
	var more []schemas.Event
	for i := 100; len(jsonArray(t, more...)) <= budget-int(used); i++ {
		more = append(more, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}

	start := time.Now()
	a := h.post(t, labelerToken, wire.MediaJSON, jsonArray(t, more...))
	if a.status != http.StatusServiceUnavailable || a.problem.Code != wire.CodeOverloaded || a.header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %s", a.status, a.body)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("answered 503 after %s, before the in-flight wait", waited)
	}
	m := scrape(t, h)
	if !containsLine(m, "assay_ingest_inflight_bytes "+itoa(int(used))) {
		t.Errorf("in-flight gauge does not show the held %d bytes", used)
	}
	if !containsLine(m, `assay_ingest_inflight_refused_total{limit="budget"} 1`) {
		t.Error("the refusal is not counted against the budget")
	}
	close(release)
	if a := <-got; a.status != http.StatusAccepted {
		t.Fatalf("held request: %d %s", a.status, a.body)
	}
	if m := scrape(t, h); !containsLine(m, "assay_ingest_inflight_bytes 0") {
		t.Error("in-flight gauge not back to 0")
	}
}

// TestGracefulShutdown cancels the server's context while a request's produce is held: the
// server waits for it, the client gets its 202, and the records are on the topic.
func TestGracefulShutdown(t *testing.T) {
	c, k := fakeKafka(t)
	cfg := gateway.DefaultConfig()
	cfg.Principals = testPrincipals(t)
	reg := serve.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(cfg, k, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve.ListenAndServe(ctx, "127.0.0.1:0", ops.Mux, 10*time.Second, log, func(a net.Addr) { addrc <- a })
	}()
	h := &harness{gw: gw, k: k}
	h.srv = fakeServer("http://" + (<-addrc).String())

	release := make(chan struct{})
	held := holdProduce(c, release)
	got := make(chan answer, 1)
	go func() {
		got <- h.post(t, collectorToken, wire.MediaJSON, jsonArray(t, ingesttest.Sample(schemas.TypeItemIngested, 1), ingesttest.Sample(schemas.TypeItemIngested, 2)))
	}()
	<-held
	cancel() // SIGTERM arrives while the request waits for Kafka
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	if a := <-got; a.status != http.StatusAccepted {
		t.Fatalf("in-flight request during shutdown: %d %s", a.status, a.body)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	closeCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := gw.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if recs := ingesttest.ReadTopic(t, k, 2, 5*time.Second, k.Topic(schemas.FamilyItems.Topic())); len(recs) != 2 {
		t.Fatalf("%d records after shutdown, want 2", len(recs))
	}
}
