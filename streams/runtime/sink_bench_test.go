package runtime_test

import (
	"context"
	goruntime "runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// sinkBenchEvents is the runner's default batch size (WithBatchSize): the
// records one flush writes.
const sinkBenchEvents = 5000

// ledgerFlush returns the rows the ledger writes for events workload
// events, by table (one insert each, as a flush writes them), and their
// count.
func ledgerFlush(b *testing.B, events int) (map[string][][]any, int) {
	b.Helper()
	l := ledger.New()
	rows := map[string][][]any{}
	n := 0
	evs := workload.New("sinkbench", 17).Rounds((events + workload.TypesPerRound - 1) / workload.TypesPerRound)
	for i, ev := range evs[:events] {
		val, err := schemas.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		rec := runtime.Record{Topic: "bench." + ev.Family().Topic(), Family: ev.Family(), Partition: int32(i % 6), Offset: int64(i),
			Key: []byte(ev.Key()), Timestamp: time.UnixMilli(ev.Meta().RecordedAt), Value: val, Event: ev}
		out, err := l.Apply(nil, rec)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range out.Rows {
			rows[r.Table] = append(rows[r.Table], r.Values)
			n++
		}
	}
	return rows, n
}

// BenchmarkClickHouseSink writes the ledger's rows for one runner batch
// (5000 workload events, every table of the ledger, one insert a table in
// name order as a flush does) into the real ClickHouse, with row appends
// (rowSink, the sink before) and with the columnar ClickHouseSink, in the
// same run. Beside ns/op (one flush) it reports rows/s, the client's CPU
// per row (this process's user+system time: ClickHouse's own work is not in
// it) and allocations per row. Three more show what a flush would gain
// with its tables written four at a time and with four times the events,
// and the largest table and a typical one alone show the cost of an insert
// by its size.
//
//	ASSAY_INTEGRATION=1 go test -run '^$' -bench ClickHouseSink -benchmem ./streams/runtime
func BenchmarkClickHouseSink(b *testing.B) {
	rows, nrows := ledgerFlush(b, sinkBenchEvents)
	tables := map[string]runtime.Table{}
	for _, t := range ledger.Tables() {
		tables[t.Name] = t
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	slices.Sort(names)
	b.Logf("%d events: %d rows in %d tables", sinkBenchEvents, nrows, len(names))
	for _, t := range names {
		b.Logf("  %s: %d rows", t, len(rows[t]))
	}
	_, conn := testenv.MigratedClickHouse(b)
	sinks := []struct {
		name string
		sink runtime.Sink
	}{{"rows", rowSink{conn}}, {"columnar", runtime.ClickHouseSink(conn)}}
	ctx := context.Background()

	// write measures b.N flushes of rows in the tables names (n rows in
	// all), each table one insert, concurrent inserts at most at a time.
	write := func(b *testing.B, sink runtime.Sink, rows map[string][][]any, names []string, n, concurrent int) {
		var ru0, ru1 syscall.Rusage
		var ms0, ms1 goruntime.MemStats
		goruntime.ReadMemStats(&ms0)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		b.ResetTimer()
		for range b.N {
			var g errgroup.Group
			g.SetLimit(concurrent)
			for _, t := range names {
				g.Go(func() error { return sink.Write(ctx, tables[t], rows[t]) })
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		goruntime.ReadMemStats(&ms1)
		total := float64(b.N * n)
		cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/total, "client-cpu-ns/row")
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/row")
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/row")
	}

	// A flush as the runner writes it: one table after the other.
	for _, s := range sinks {
		b.Run(s.name+"/flush", func(b *testing.B) { write(b, s.sink, rows, names, nrows, 1) })
	}
	// The same inserts four at a time: what writing a flush's tables
	// concurrently would gain (the runner does not, yet).
	b.Run("columnar/flush-4-tables-at-once", func(b *testing.B) { write(b, runtime.ClickHouseSink(conn), rows, names, nrows, 4) })
	// Four times the events in one flush (assay replay's batch of 20,000):
	// as many inserts, four times the rows each.
	b.Run("columnar/flush-of-20000-events", func(b *testing.B) {
		big, nbig := ledgerFlush(b, 4*sinkBenchEvents)
		write(b, runtime.ClickHouseSink(conn), big, names, nbig, 1)
	})
	// The largest table (a row per event) and a typical one (a row per
	// event of one type) alone.
	for _, t := range []string{ledger.TableEvents, ledger.TableLabels} {
		for _, s := range sinks {
			b.Run(s.name+"/"+t, func(b *testing.B) { write(b, s.sink, rows, []string{t}, len(rows[t]), 1) })
		}
	}
}
