package gateway_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// mixBatch is the number of events of each request of the contract's mix.
const mixBatch = 500

// mixRequest is one request of the contract's mix: mixBatch events of the types one writing
// role writes, in turn, as NDJSON.
type mixRequest struct {
	role  access.Role
	token string
	body  []byte
}

// contractMix is one request per writing role (collector, model, labeler, qa, owner), each
// of mixBatch events of the types the role writes (ingesttest.Sample, so each is valid and in
// its principal's scope), taken in turn in contract order: every event type a caller may
// send, 2500 events in all. Types that no principal writes (the router's, the gate's, the
// DLQ's) are not in it.
func contractMix(t testing.TB) []mixRequest {
	t.Helper()
	byRole := map[access.Role][]schemas.EventType{}
	var roles []access.Role
	for _, typ := range ingesttest.AllTypes() {
		r, ok := access.WriterOf(typ)
		if !ok {
			continue
		}
		if byRole[r] == nil {
			roles = append(roles, r)
		}
		byRole[r] = append(byRole[r], typ)
	}
	var out []mixRequest
	for _, r := range roles {
		types := byRole[r]
		evs := make([]schemas.Event, mixBatch)
		for i := range evs {
			evs[i] = ingesttest.Sample(types[i%len(types)], i)
		}
		out = append(out, mixRequest{role: r, token: ingesttest.TokenOf(r), body: ndjson(t, evs...)})
	}
	return out
}

// perEvent reports the benchmark's cost per event besides its cost per op, for events events
// an op: ns/event (wall clock), cpu-ns/event (the CPU time of the whole process, the
// collector's included: steadier than the wall clock on a shared machine), B/event and
// allocs/event (from the memory statistics, as -benchmem computes B/op).
func perEvent(b *testing.B, events int) func() {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime(b)
	start := time.Now()
	return func() {
		elapsed := time.Since(start)
		cpu := cpuTime(b) - cpu0
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		n := float64(b.N) * float64(events)
		b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/event")
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/event")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/event")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mixCases are the benchmark's cases: "mix", every request of the contract's mix in one op,
// then each writing role's request alone.
func mixCases(reqs []mixRequest) []struct {
	name string
	reqs []mixRequest
} {
	cases := []struct {
		name string
		reqs []mixRequest
	}{{"mix", reqs}}
	for _, r := range reqs {
		cases = append(cases, struct {
			name string
			reqs []mixRequest
		}{string(r.role), []mixRequest{r}})
	}
	return cases
}

// BenchmarkEventPath measures the gateway's own work per event: the splitter's two passes,
// decode, check (stamp, validate, authorize), content hash and Avro encode of each event of
// a request, without HTTP and without Kafka (gateway.ProcessEvents). One op is the requests
// of a case (mixBatch events each); ns/event, B/event and allocs/event are per event. Cases:
// "mix" (one request of every writing role: every type a caller may send) and each role's
// request alone. Run with
//
//	go test -run '^$' -bench EventPath -benchmem ./services/ingest/gateway/
func BenchmarkEventPath(b *testing.B) {
	gw := benchGateway(b, benchFakeKafka(b))
	now := time.Now()
	for _, c := range mixCases(contractMix(b)) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for _, r := range c.reqs {
				size += len(r.body)
			}
			b.SetBytes(int64(size))
			done := perEvent(b, len(c.reqs)*mixBatch)
			for b.Loop() {
				for _, r := range c.reqs {
					n, err := gw.ProcessEvents(r.token, r.body, wire.MediaNDJSON, now)
					if err != nil || n != mixBatch {
						b.Fatalf("%s: %d records, %v", r.role, n, err)
					}
				}
			}
			done()
		})
	}
}

// BenchmarkRequestMix is BenchmarkEventPath through the whole gateway: each request served
// by ServeHTTP (authentication, rate limits, the in-flight budget, reading the body) and its
// records produced to an in-process Kafka (kfake, whose own CPU is counted too) and
// acknowledged before the 202.
//
//	go test -run '^$' -bench RequestMix -benchmem ./services/ingest/gateway/
func BenchmarkRequestMix(b *testing.B) {
	gw := benchGateway(b, benchFakeKafka(b))
	for _, c := range mixCases(contractMix(b)) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			done := perEvent(b, len(c.reqs)*mixBatch)
			for b.Loop() {
				for _, r := range c.reqs {
					req := httptest.NewRequest(http.MethodPost, wire.Path, bytes.NewReader(r.body))
					req.Header.Set("Authorization", "Bearer "+r.token)
					req.Header.Set("Content-Type", wire.MediaNDJSON)
					rec := httptest.NewRecorder()
					gw.ServeHTTP(rec, req)
					if rec.Code != http.StatusAccepted {
						b.Fatalf("%s: status %d: %.500s", r.role, rec.Code, rec.Body.Bytes())
					}
				}
			}
			done()
		})
	}
}

// benchGateway is a gateway for the benchmarks: the test principals, no request rate limit,
// and no duplicate window (every op encodes and produces its events again, although their
// ids repeat; the content hash is still computed for every event).
func benchGateway(b *testing.B, k config.Kafka) *gateway.Gateway {
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
	return gw
}
