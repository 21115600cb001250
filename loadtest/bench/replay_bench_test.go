package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// replayRuns counts the runs of BenchmarkReplayCeiling in this process, to rotate the order
// of its measurements from one -count to the next.
var replayRuns atomic.Int32

// BenchmarkReplayCeiling is make bench's replay against its ClickHouse ceilings, alone and in
// one run, on one log (workload rounds as make bench sends them, produced straight to Kafka):
//
//   - ceiling@B: make bench's clickhouse_native_ceiling, clickhouse-client inserting the
//     ledger's rows as Native, every table's rows cut into ⌈events/B⌉ chunks, one insert per
//     table and chunk, one after the other (query time as clickhouse-client reports it);
//   - ceiling_runner@B: the same, of exactly the inserts a replay in batches of B makes (its
//     batches follow the fetches, so a batch holds the records of a few partitions and touches
//     only their tables), recorded by a replay into memory;
//   - raw_runner@B: those inserts through clickhouse-go (runtime.ClickHouseSink), one after
//     the other;
//   - replay_cN[o]@B: runtime.Replay(ledger) in batches of B, writing N tables at a time,
//     with overlapped writes when o ("replay_c1@B" is the replay before either).
//
// Every measurement goes into a fresh database. Each run takes them in an order rotated from
// one -count to the next and, with ASSAY_BENCH_REPEAT=R, R times, every other time in reverse
// (ABBA), so that a measurement and its comparison are taken side by side. Each figure is
// printed with the load average it was taken under, the replay's own CPU (this process's
// user+system time) per event and the ClickHouse server's CPU per event (the server is shared:
// other sessions' queries count too); the metrics are the means over the repeats, and each
// replay's ratio to the ceilings of its batch size.
//
//	ASSAY_INTEGRATION=1 go test -run '^$' -bench ReplayCeiling -benchtime 1x -count 3 ./loadtest/bench
//
// Knobs (environment): ASSAY_BENCH_ROUNDS (workload rounds, default 2000: 32,000 events),
// ASSAY_BENCH_BATCH (events a batch, default 5000, the processor's), ASSAY_BENCH_REPLAYS (the
// replays: write concurrencies, each followed by o for overlapped writes and optionally by
// @batch, default "1,4,1o,4o"), ASSAY_BENCH_ONLY (the names of the measurements to take,
// default all), ASSAY_BENCH_REPEAT (default 1).
func BenchmarkReplayCeiling(b *testing.B) {
	bin := "clickhouse-client"
	if _, err := exec.LookPath(bin); err != nil {
		b.Skipf("%s not found", bin)
	}
	rounds := envInt(b, "ASSAY_BENCH_ROUNDS", 2000)
	batch := envInt(b, "ASSAY_BENCH_BATCH", 5000)
	repeat := envInt(b, "ASSAY_BENCH_REPEAT", 1)
	type replayVariant struct {
		conc, batch int
		overlap     bool
	}
	spec := "1,4,1o,4o"
	if v := os.Getenv("ASSAY_BENCH_REPLAYS"); v != "" {
		spec = v
	}
	var variants []replayVariant
	batches := []int{batch}
	for _, f := range strings.Split(spec, ",") {
		v := replayVariant{batch: batch}
		f, at, ok := strings.Cut(strings.TrimSpace(f), "@")
		var err error
		if ok {
			if v.batch, err = strconv.Atoi(at); err != nil || v.batch < 1 {
				b.Fatalf("ASSAY_BENCH_REPLAYS=%q: %q is not a batch size", spec, at)
			}
		}
		v.overlap = strings.HasSuffix(f, "o")
		if v.conc, err = strconv.Atoi(strings.TrimSuffix(f, "o")); err != nil || v.conc < 1 {
			b.Fatalf("ASSAY_BENCH_REPLAYS=%q: want write concurrencies, each followed by o for overlapped writes and optionally by @batch", spec)
		}
		variants = append(variants, v)
		if !slices.Contains(batches, v.batch) {
			batches = append(batches, v.batch)
		}
	}
	var only []string
	if v := os.Getenv("ASSAY_BENCH_ONLY"); v != "" {
		only = strings.Split(v, ",")
	}
	wanted := func(name string) bool { return only == nil || slices.Contains(only, name) }
	ctx := context.Background()

	// The log: make bench's stream (no type only Assay's own components write).
	k := testenv.Kafka(b)
	testenv.Topics(b, k, 6)
	var evs []schemas.Event
	for _, ev := range workload.New("replaybench", 7).Rounds(rounds) {
		if !access.Internal(ev.Type()) {
			schemas.Stamp(ev, "bench", time.Now())
			evs = append(evs, ev)
		}
	}
	if err := workload.Produce(ctx, testenv.KafkaClient(b, k), k, evs); err != nil {
		b.Fatal(err)
	}
	n := len(evs)
	rows, nrows, err := ledgerRows(evs)
	if err != nil {
		b.Fatal(err)
	}
	stageCfg, _ := testenv.MigratedClickHouse(b)
	tables := map[string]runtime.Table{}
	for _, t := range ledger.Tables() {
		tables[t.Name] = t
	}

	type measure struct {
		name string
		run  func() (eventsPerSec float64, note string)
	}
	var measures []measure
	nativeMeasure := func(chunks *nativeChunks) func() (float64, string) {
		return func() (float64, string) {
			cfg, _ := testenv.MigratedClickHouse(b)
			c, err := chunks.insert(ctx, cfg.Database)
			if err != nil {
				b.Fatal(err)
			}
			return c.EventsPerSecond(n), fmt.Sprintf("%d inserts, query time %s", c.Inserts, c.Query.Round(time.Millisecond))
		}
	}
	for i, bs := range batches {
		suffix := "@" + strconv.Itoa(bs)
		if wanted("ceiling" + suffix) {
			chunks, err := prepareNative(ctx, bin, stageCfg, fmt.Sprintf("%s_stage%d", stageCfg.Database, 2*i), rows, n, bs)
			if err != nil {
				b.Fatal(err)
			}
			defer chunks.Close()
			measures = append(measures, measure{"ceiling" + suffix, nativeMeasure(chunks)})
		}
		if !wanted("ceiling_runner"+suffix) && !wanted("raw_runner"+suffix) {
			continue
		}
		rec := &recordingSink{sink: discard{}}
		if _, err := runtime.Replay(ctx, ledger.New(), k, rec, time.Time{}, runtime.WithBatchSize(bs),
			runtime.WithWriteConcurrency(1), runtime.WithOverlappedWrites(false)); err != nil {
			b.Fatal(err)
		}
		if wanted("ceiling_runner" + suffix) {
			chunks, err := prepareInserts(ctx, bin, stageCfg, fmt.Sprintf("%s_stage%d", stageCfg.Database, 2*i+1), rec.inserts)
			if err != nil {
				b.Fatal(err)
			}
			defer chunks.Close()
			measures = append(measures, measure{"ceiling_runner" + suffix, nativeMeasure(chunks)})
		}
		if wanted("raw_runner" + suffix) {
			measures = append(measures, measure{"raw_runner" + suffix, func() (float64, string) {
				_, conn := testenv.MigratedClickHouse(b)
				sink := runtime.ClickHouseSink(conn)
				start := time.Now()
				for _, in := range rec.inserts {
					if err := sink.Write(ctx, tables[in.table], in.rows); err != nil {
						b.Fatal(err)
					}
				}
				return float64(n) / time.Since(start).Seconds(), fmt.Sprintf("%d inserts through clickhouse-go", len(rec.inserts))
			}})
		}
	}
	for _, v := range variants {
		name := fmt.Sprintf("replay_c%d", v.conc)
		if v.overlap {
			name += "o"
		}
		name += "@" + strconv.Itoa(v.batch)
		if !wanted(name) {
			continue
		}
		measures = append(measures, measure{name, func() (float64, string) {
			_, conn := testenv.MigratedClickHouse(b)
			sink := &countingSink{sink: runtime.ClickHouseSink(conn)}
			cpu0 := selfCPU()
			st, err := runtime.Replay(ctx, ledger.New(), k, sink, time.Time{},
				runtime.WithBatchSize(v.batch), runtime.WithWriteConcurrency(v.conc), runtime.WithOverlappedWrites(v.overlap))
			cpu := selfCPU() - cpu0
			if err != nil {
				b.Fatal(err)
			}
			if st.Records != n || st.Rows != nrows || st.Rejected != 0 || st.Isolated != 0 {
				b.Fatalf("replay %+v: want %d records and %d rows", st, n, nrows)
			}
			return st.EventsPerSecond(), fmt.Sprintf("%d inserts in %s, CPU %.1f us/event", sink.inserts.Load(), st.Duration.Round(time.Millisecond), float64(cpu.Microseconds())/float64(n))
		}})
	}
	if len(measures) == 0 {
		b.Fatalf("ASSAY_BENCH_ONLY=%q names no measurement", os.Getenv("ASSAY_BENCH_ONLY"))
	}
	run := int(replayRuns.Add(1))
	rot := (run - 1) % len(measures)
	order := append(slices.Clone(measures[rot:]), measures[:rot]...)
	fmt.Printf("replaybench run %d: %d events, %d rows (%d tables)\n", run, n, nrows, len(rows))

	b.ResetTimer()
	rates := map[string]float64{}
	for range b.N {
		for r := range repeat {
			seq := order
			if r%2 == 1 {
				seq = slices.Clone(order)
				slices.Reverse(seq)
			}
			for _, m := range seq {
				load := loadavg()
				a := snapshotCPU()
				rate, note := m.run()
				rates[m.name] += rate / float64(b.N*repeat)
				// Printed, not logged: a benchmark's log is cut after a few lines.
				fmt.Printf("replaybench run %d: %-20s %8.0f events/s (%s; clickhouse-server CPU %.1f us/event; load %s)\n",
					run, m.name, rate, note, serverCPU(a, snapshotCPU())/float64(n)*1e6, load)
			}
		}
	}
	b.StopTimer()
	for _, m := range measures {
		b.ReportMetric(rates[m.name], m.name+"_events/s")
		base, at, _ := strings.Cut(m.name, "@")
		if !strings.HasPrefix(base, "replay") {
			continue
		}
		for _, c := range []string{"ceiling@" + at, "ceiling_runner@" + at} {
			if rates[c] > 0 {
				b.ReportMetric(rates[m.name]/rates[c], m.name+"/"+c)
			}
		}
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// selfCPU is this process's user and system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time, in seconds, the ClickHouse server used between a and b.
func serverCPU(a, b cpuSnapshot) float64 {
	var sec float64
	for pid, t := range b.ticks {
		if t.comm == "clickhouse-serv" {
			sec += float64(t.ticks-a.ticks[pid].ticks) / clockTicks
		}
	}
	return sec
}

// countingSink counts the inserts a replay makes.
type countingSink struct {
	sink    runtime.Sink
	inserts atomic.Int64
}

func (c *countingSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	c.inserts.Add(1)
	return c.sink.Write(ctx, t, rows)
}

// discard stores nothing.
type discard struct{}

func (discard) Write(context.Context, runtime.Table, [][]any) error { return nil }
