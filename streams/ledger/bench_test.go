package ledger_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// BenchmarkLedgerThroughput measures, in one run and on the same events:
//
//   - kafka: raw franz-go consumption of every record (no decoding): the
//     ceiling the broker sets;
//   - clickhouse: raw clickhouse-go batch inserts of exactly the rows the
//     ledger writes for those records (precomputed), in batches of the
//     same size: the ceiling the database sets;
//   - ledger: the ledger processor under the runner, as a consumer group
//     member, from the first record to the last row durable and committed,
//     with its batches' tables written runtime.DefaultWriteConcurrency at a
//     time (the default);
//   - ledger_sequential: the same with the tables written one after the
//     other (runtime.WithWriteConcurrency(1), the runner before).
//
// It reports events/s for each and the ledger's ratio to both ceilings and
// to its sequential self.
// Run with: make bench, or
// ASSAY_INTEGRATION=1 go test -run '^$' -bench LedgerThroughput -benchtime 1x ./streams/ledger
func BenchmarkLedgerThroughput(b *testing.B) {
	const (
		rounds    = 4000 // 56,000 events, ~150,000 rows
		batchSize = 5000
	)
	k := testenv.Kafka(b)
	testenv.Topics(b, k, 6)
	ctx := context.Background()
	cl := testenv.KafkaClient(b, k)
	evs := workload.New("bench", 11).Rounds(rounds)
	if err := workload.Produce(ctx, cl, k, evs); err != nil {
		b.Fatal(err)
	}
	events := len(evs)

	// The rows the ledger writes for the produced records, computed once.
	recs := consumeAll(b, k, events)
	rows := map[string][][]any{}
	for _, kr := range recs {
		rec := decodeRecord(b, k, kr)
		out, err := ledger.New().Apply(nil, rec)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range out.Rows {
			rows[r.Table] = append(rows[r.Table], r.Values)
		}
	}
	nrows := 0
	for _, rs := range rows {
		nrows += len(rs)
	}

	var kafkaDur, chDur, ledgerDur, seqDur time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		consumeAll(b, k, events)
		kafkaDur += time.Since(start)

		_, conn := testenv.MigratedClickHouse(b)
		sink := runtime.ClickHouseSink(conn)
		start = time.Now()
		rawInsert(b, sink, rows, nrows, events, batchSize)
		chDur += time.Since(start)

		// Alternate which of the two goes first.
		runs := []struct {
			conc int
			dur  *time.Duration
		}{{runtime.DefaultWriteConcurrency, &ledgerDur}, {1, &seqDur}}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for j, r := range runs {
			_, conn = testenv.MigratedClickHouse(b)
			start = time.Now()
			runLedger(b, k, conn, fmt.Sprintf("%sbench.%d.%d", k.TopicPrefix, i, j), nrows, batchSize, r.conc)
			*r.dur += time.Since(start)
		}
	}
	b.StopTimer()
	n := float64(b.N * events)
	kafkaRate, chRate, ledgerRate, seqRate := n/kafkaDur.Seconds(), n/chDur.Seconds(), n/ledgerDur.Seconds(), n/seqDur.Seconds()
	b.ReportMetric(ledgerRate, "ledger_events/s")
	b.ReportMetric(seqRate, "ledger_sequential_events/s")
	b.ReportMetric(ledgerRate/seqRate, "ratio_to_sequential")
	b.ReportMetric(kafkaRate, "kafka_consume_events/s")
	b.ReportMetric(chRate, "clickhouse_insert_events/s")
	b.ReportMetric(ledgerRate/kafkaRate, "ratio_to_kafka")
	b.ReportMetric(ledgerRate/chRate, "ratio_to_clickhouse")
	b.ReportMetric(float64(nrows)/float64(events), "rows/event")
	b.Logf("%d events, %d rows: ledger %.0f ev/s (sequential writes %.0f), raw kafka consume %.0f ev/s, raw clickhouse insert %.0f ev/s; ratios %.3f and %.3f",
		events, nrows, ledgerRate, seqRate, kafkaRate, chRate, ledgerRate/kafkaRate, ledgerRate/chRate)
}

// consumeAll reads n records of every ledger topic with a plain franz-go
// client from the start of the log.
func consumeAll(b *testing.B, k config.Kafka, n int) []*kgo.Record {
	b.Helper()
	var topics []string
	for _, f := range ledger.New().Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	cl := testenv.KafkaClient(b, k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	out := make([]*kgo.Record, 0, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			b.Fatalf("consumed %d of %d: %v", len(out), n, err)
		}
		out = append(out, fs.Records()...)
	}
	cl.Close()
	return out
}

func decodeRecord(b *testing.B, k config.Kafka, kr *kgo.Record) runtime.Record {
	b.Helper()
	rec := runtime.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Timestamp: kr.Timestamp, Value: kr.Value}
	ev, err := decode(kr.Value)
	if err != nil {
		b.Fatal(err)
	}
	rec.Event, rec.Family = ev, ev.Family()
	return rec
}

// rawInsert writes the rows with one batch insert per table per chunk of
// batchSize events' worth of rows, as the runner does.
func rawInsert(b *testing.B, sink runtime.Sink, rows map[string][][]any, nrows, events, batchSize int) {
	b.Helper()
	tables := map[string]runtime.Table{}
	for _, t := range ledger.Tables() {
		tables[t.Name] = t
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	chunks := (events + batchSize - 1) / batchSize
	for c := range chunks {
		for _, n := range names {
			rs := rows[n]
			lo, hi := c*len(rs)/chunks, (c+1)*len(rs)/chunks
			if lo == hi {
				continue
			}
			if err := sink.Write(context.Background(), tables[n], rs[lo:hi]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// runLedger runs the ledger in a fresh group until all its rows (every
// table's) are durable (the runner counts them after the insert returns), writing at
// most writeConcurrency tables at a time.
func runLedger(b *testing.B, k config.Kafka, conn driver.Conn, group string, rows, batchSize, writeConcurrency int) {
	b.Helper()
	reg := prometheus.NewRegistry()
	r, err := runtime.New(ledger.New(), k, runtime.ClickHouseSink(conn), runtime.WithGroup(group),
		runtime.WithBatchSize(batchSize), runtime.WithFlushInterval(100*time.Millisecond), runtime.WithRegisterer(reg),
		runtime.WithWriteConcurrency(writeConcurrency))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Minute)
	for written(b, reg) < rows {
		if time.Now().After(deadline) {
			b.Fatalf("ledger wrote %d of %d rows", written(b, reg), rows)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// written is the number of rows, in every table, the runner made durable.
func written(b *testing.B, reg *prometheus.Registry) int {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "assay_processor_rows_written_total" {
			for _, m := range mf.GetMetric() {
				n += int(m.GetCounter().GetValue())
			}
		}
	}
	return n
}

var decode = schemas.Decode
