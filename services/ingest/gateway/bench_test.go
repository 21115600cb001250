package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Benchmark shape: LabelSubmitted events (the most frequent type), NDJSON batches of
// benchBatch events, benchClients concurrent HTTP clients, 6 partitions. Run with e.g.
//
//	go test -run '^$' -bench 'GatewayThroughput|RawProduce' -benchtime 100000x ./services/ingest/gateway/
const (
	benchBatch   = 500
	benchClients = 4
)

// benchEvent returns event n as NDJSON and as the Avro record value the gateway writes
// for it (same size: only the stamped recorded_at differs).
func benchEvent(b *testing.B, n int) (line, value []byte, key string) {
	ev := ingesttest.Sample(schemas.TypeLabelSubmitted, n)
	ev.Meta().EventID = fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n)
	ev.Meta().EventType = ev.Type()
	line, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	schemas.Stamp(ev, "labeler", time.Now())
	value, err = schemas.Encode(ev)
	if err != nil {
		b.Fatal(err)
	}
	return line, value, ev.Key()
}

// rawProduce writes values with franz-go directly (acks=all, idempotent: the defaults, as in
// the gateway), benchClients producers' worth of concurrency in one client, and returns
// records per second.
func rawProduce(b *testing.B, k config.Kafka, keys []string, values [][]byte) float64 {
	cl, err := kafka.NewClient(k)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	topic := k.Topic(schemas.FamilyLabels.Topic())
	var failed atomic.Int64
	start := time.Now()
	for i := range values {
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte(keys[i]), Value: values[i]}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d raw produces failed", n)
	}
	return float64(len(values)) / time.Since(start).Seconds()
}

// BenchmarkRawProduce is the baseline: franz-go producing the gateway's record values
// straight to the broker. One op is one record.
func BenchmarkRawProduce(b *testing.B) {
	k := testenv.Kafka(b)
	testenv.Topics(b, k, partitions)
	keys, values := make([]string, b.N), make([][]byte, b.N)
	for i := range values {
		_, values[i], keys[i] = benchEvent(b, i)
	}
	b.SetBytes(int64(len(values[0])))
	b.ResetTimer()
	rps := rawProduce(b, k, keys, values)
	b.StopTimer()
	b.ReportMetric(rps, "records/s")
}

// BenchmarkGatewayThroughput posts NDJSON batches through the gateway over loopback HTTP
// (auth, decode, validate, encode, produce, wait for acks). One op is one event. After the
// timed part it produces the same number of equal-size records raw, in the same process
// and namespace, and reports the ratio gateway/raw.
func BenchmarkGatewayThroughput(b *testing.B) {
	k := testenv.Kafka(b)
	testenv.Topics(b, k, partitions)
	h := newHarness(b, k, nil)
	n := (b.N + benchBatch - 1) / benchBatch * benchBatch
	var bodies [][]byte
	keys, values := make([]string, n), make([][]byte, n)
	var body bytes.Buffer
	for i := 0; i < n; i++ {
		var line []byte
		line, values[i], keys[i] = benchEvent(b, i)
		body.Write(line)
		body.WriteByte('\n')
		if (i+1)%benchBatch == 0 {
			bodies = append(bodies, bytes.Clone(body.Bytes()))
			body.Reset()
		}
	}
	b.SetBytes(int64(len(values[0])))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}, Timeout: time.Minute}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, h.srv.URL+wire.Path, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", wire.MediaNDJSON)
				req.Header.Set("Authorization", "Bearer "+labelerToken)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var acc wire.Accepted
				_ = json.NewDecoder(resp.Body).Decode(&acc)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || acc.Accepted != benchBatch {
					errs <- fmt.Errorf("batch %d: status %d, %d accepted", i, resp.StatusCode, acc.Accepted)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	eps := float64(n) / elapsed.Seconds()
	raw := rawProduce(b, k, keys, values)
	b.ReportMetric(eps, "events/s")
	b.ReportMetric(raw, "raw_records/s")
	b.ReportMetric(eps/raw, "ratio_to_raw")
}
