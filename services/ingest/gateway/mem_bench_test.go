package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// BenchmarkRequestMemory measures what one request allocates on its way through the
// gateway (B/op and allocs/op with -benchmem), against an in-process Kafka: the figure the
// in-flight budget is meant to bound. Run with
//
//	go test -run '^$' -bench RequestMemory -benchmem ./services/ingest/gateway/
//
// Cases: a batch of 2000 events whose last is invalid (read, decoded, checked and encoded
// in full, then rejected all-or-nothing: one DLQ record, nothing published), the same batch
// valid (202; the duplicate window is off so every iteration encodes and produces), a gzip
// bomb past the 32 MiB body limit (413), and 32 MiB of gzipped newlines (400: no event).
func BenchmarkRequestMemory(b *testing.B) {
	k := benchFakeKafka(b)
	cfg := gateway.DefaultConfig()
	cfg.Principals = testPrincipals(b)
	cfg.DedupWindow = 0
	cfg.TokenRate = 0
	gw, err := gateway.New(cfg, k, serve.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	})
	var evs []schemas.Event
	for i := 0; i < 2000; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	valid := ndjson(b, evs...)
	bad := append(bytes.Clone(valid[:bytes.LastIndexByte(valid[:len(valid)-1], '\n')+1]), []byte(`{"event_type":"LabelSubmitted","nope":1}`+"\n")...)
	gz := func(c byte, n int) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(bytes.Repeat([]byte{c}, n))
		_ = zw.Close()
		return buf.Bytes()
	}
	for _, c := range []struct {
		name   string
		body   []byte
		gzip   bool
		status int
	}{
		{"batch-2000-last-invalid", bad, false, http.StatusUnprocessableEntity},
		{"batch-2000-valid", valid, false, http.StatusAccepted},
		{"gzip-bomb-past-limit", gz(0, 64<<20), true, http.StatusRequestEntityTooLarge},
		{"gzip-newlines-at-limit", gz('\n', 32<<20), true, http.StatusBadRequest},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, wire.Path, bytes.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+labelerToken)
				req.Header.Set("Content-Type", wire.MediaNDJSON)
				if c.gzip {
					req.Header.Set("Content-Encoding", "gzip")
				}
				rec := httptest.NewRecorder()
				gw.ServeHTTP(rec, req)
				if rec.Code != c.status {
					b.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body.Bytes())
				}
			}
			b.ReportMetric(float64(gw.BudgetPeak())/(1<<20), "budget_peak_MiB")
		})
	}
}

// benchFakeKafka is fakeKafka for benchmarks.
func benchFakeKafka(b *testing.B) config.Kafka {
	k := config.Kafka{TopicPrefix: "fake."}
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	return k
}
