package runtime_test

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// discard is a sink that keeps nothing: recovery does not read the rows, and writing every
// figure row of millions of labels would only slow the history down.
type discard struct{}

func (discard) Write(context.Context, runtime.Table, [][]any) error { return nil }

// recoveryLabel is label i of a history over a fixed population: units (item x question)
// take their labels in turn, each from the next annotator, so a longer history means more
// labels per unit, not more items. 30 annotators in 3 cohorts, one of them a vendor's.
func recoveryLabel(i, items, questions int) *schemas.LabelSubmitted {
	units := items * questions
	u, round := i%units, i/units
	ann := (u + round) % 30
	cohort := []string{"experts", "crowd", "vendor"}[ann%3]
	vendor := ""
	if cohort == "vendor" {
		vendor = "acme"
	}
	l := &schemas.LabelSubmitted{
		LabelID: fmt.Sprintf("lbl-%09d", i), ItemID: fmt.Sprintf("item-%07d", u/questions), ProjectID: "proj", TaskID: "task",
		QuestionID: fmt.Sprintf("q%d", u%questions), AnnotatorID: fmt.Sprintf("ann-%02d", ann), Cohort: cohort, Vendor: vendor,
		GuidelineVersion: "g1", Value: schemas.Nominal([]string{"cat", "dog", "bird", "fish"}[(u*7+round*(ann%2))%4]),
	}
	l.EventID = fmt.Sprintf("ev-%09d", i)
	schemas.Stamp(l, "tool", time.UnixMilli(1_767_225_600_000+int64(i)))
	return l
}

// produceHistory writes n labels to the labels topic, encoding on every core.
func produceHistory(b *testing.B, cl *kgo.Client, k config.Kafka, n, items, questions int) {
	b.Helper()
	const chunk = 20_000
	topic := k.Topic(schemas.FamilyLabels.Topic())
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		mu    sync.Mutex
		first error
	)
	for range goruntime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(chunk)) - chunk
				if from >= n {
					return
				}
				recs := make([]*kgo.Record, 0, chunk)
				for i := from; i < min(n, from+chunk); i++ {
					l := recoveryLabel(i, items, questions)
					val, err := schemas.Encode(l)
					if err != nil {
						panic(err)
					}
					recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(l.ItemID), Value: val})
				}
				if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// frozenAt is a snapshot store that can refuse snapshots, as a process dies before its next
// one: what it stored stays readable.
type frozenAt struct {
	runtime.SnapshotStore
	on atomic.Bool
}

func (f *frozenAt) Save(ctx context.Context, s runtime.Snapshot) error {
	if f.on.Load() {
		return fmt.Errorf("frozen")
	}
	return f.SnapshotStore.Save(ctx, s)
}

// recovery is one measured start: time from Run to Ready, the state setup within it, and the
// records replayed.
type recovery struct {
	ready, setup time.Duration
	restore      time.Duration // sum over partitions of loading and decoding their snapshots
	replayed     float64
	restored     float64
	snapBytes    float64
	keys         float64
}

// startReady starts a runner of p, waits until it is ready and returns what the start took.
// The runner keeps running until stop is called.
func startReady(b *testing.B, p runtime.Processor, k config.Kafka, opts ...runtime.Option) (recovery, func()) {
	b.Helper()
	goruntime.GC()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	r, err := runtime.New(p, k, discard{}, append([]runtime.Option{runtime.WithRegisterer(reg), runtime.WithBatchSize(5000),
		runtime.WithKafkaOptions(kgo.SessionTimeout(10 * time.Second))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	go func() { done <- r.Run(ctx) }()
	for r.Ready(ctx) != nil {
		select {
		case err := <-done:
			b.Fatalf("runner stopped before it was ready: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	rec := recovery{ready: time.Since(start)}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "assay_processor_rebuild_duration_seconds":
				rec.setup += time.Duration(m.GetHistogram().GetSampleSum() * float64(time.Second))
			case "assay_processor_snapshot_restore_duration_seconds":
				rec.restore += time.Duration(m.GetHistogram().GetSampleSum() * float64(time.Second))
			case "assay_processor_rebuild_records_total":
				rec.replayed += m.GetCounter().GetValue()
			case "assay_processor_snapshot_restores_total":
				rec.restored += m.GetCounter().GetValue()
			case "assay_processor_snapshot_bytes":
				rec.snapBytes += m.GetGauge().GetValue()
			case "assay_processor_state_keys":
				rec.keys += m.GetGauge().GetValue()
			}
		}
	}
	return rec, func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatalf("runner: %v", err)
		}
	}
}

// recoverySizes are the history lengths measured: ASSAY_RECOVERY_RECORDS (comma-separated),
// else 200,000 and 1,000,000, which keep `make gobench` short. The figures of the issue are
// measured with ASSAY_RECOVERY_RECORDS=1000000,5000000.
func recoverySizes(b *testing.B) []int {
	spec := os.Getenv("ASSAY_RECOVERY_RECORDS")
	if spec == "" {
		spec = "200000,1000000"
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("ASSAY_RECOVERY_RECORDS=%q: %q is not a positive count", spec, f)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkRecovery measures, on the real Kafka and ClickHouse, the time from a processor's
// start to ready (Runner.Ready: its group joined and every assigned partition's state set up)
// with H label records of history on 3 partitions, for each H of recoverySizes and for
// kpi_flow and kpi_agreement (ASSAY_RECOVERY_PROCESSORS narrows it):
//
//   - history: a runner with snapshots (defaults: every 100,000 records and at least an
//     eighth of the state's keys, or 5 minutes) applies the whole history; snapshots are then
//     frozen, so its stop leaves the latest periodic snapshots, as a crash would;
//   - after a crash: a new runner restores those snapshots and replays the records after them;
//     it stops cleanly, which snapshots every state at its final commit;
//   - clean restart: a new runner restores the final snapshots and replays nothing;
//   - no snapshots: a runner without them rebuilds every state from the start of the log.
//
// The history is H labels over a fixed population of 100,000 items and 5 questions (labels
// per unit grow with H; ASSAY_RECOVERY_ITEMS=scaled grows the population instead):
// kpi_flow keeps per item, so its state does not grow with the history; kpi_agreement keeps
// every label and every label event (for retractions and duplicates), so its state grows
// with it. Rows are discarded (a sink that writes nothing).
// Each size runs in its own topics and database. It reports seconds to ready per case and
// prints the table with the ratios between sizes.
func BenchmarkRecovery(b *testing.B) {
	const questions, partitions = 5, 3
	// ASSAY_RECOVERY_ITEMS=scaled makes the population grow with the history instead (three
	// labels a unit, as a program labels new items): every state then grows with it, and
	// kpi_agreement's apply costs stay those of three-rater units.
	itemsFor := func(records int) int { return 100_000 }
	population := "100,000 items"
	if os.Getenv("ASSAY_RECOVERY_ITEMS") == "scaled" {
		itemsFor = func(records int) int { return max(1, records/(3*questions)) }
		population = "records/15 items (3 labels a unit)"
	}
	procs := []func() runtime.Processor{
		func() runtime.Processor { return kpi.NewFlow() },
		func() runtime.Processor { return kpi.NewAgreement() },
	}
	if only := os.Getenv("ASSAY_RECOVERY_PROCESSORS"); only != "" {
		var keep []func() runtime.Processor
		for _, p := range procs {
			if strings.Contains(","+only+",", ","+p().Name()+",") {
				keep = append(keep, p)
			}
		}
		procs = keep
	}
	type row struct {
		proc                  string
		records               int
		keys                  int
		history               time.Duration
		crash, clean, rebuild recovery
	}
	var rows []row
	for _, n := range recoverySizes(b) {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			env := testenv.Stack(b, partitions, testenv.MigratedDatabase)
			start := time.Now()
			produceHistory(b, env.Client, env.Kafka, n, itemsFor(n), questions)
			b.Logf("%d labels produced in %s", n, time.Since(start).Round(time.Millisecond))
			for _, mk := range procs {
				p := mk()
				store := &frozenAt{SnapshotStore: runtime.ClickHouseSnapshots(env.Conn)}
				snaps := runtime.WithSnapshots(store)
				group := runtime.DefaultGroup(env.Kafka, p.Name())
				adm := kadm.NewClient(env.Client)

				start := time.Now()
				_, stop := startReady(b, p, env.Kafka, snaps)
				for {
					offs, err := adm.FetchOffsets(context.Background(), group)
					if err != nil {
						b.Fatal(err)
					}
					var sum int64
					offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
					if sum >= int64(n) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				history := time.Since(start)
				store.on.Store(true)
				stop()
				store.on.Store(false)
				// One measurement of each (run with -benchtime 1x: each start takes seconds).
				r := row{proc: p.Name(), records: n, history: history}
				r.crash, stop = startReady(b, p, env.Kafka, snaps)
				stop()
				r.clean, stop = startReady(b, p, env.Kafka, snaps)
				stop()
				r.rebuild, stop = startReady(b, p, env.Kafka)
				stop()
				r.keys = int(r.clean.keys)
				b.ReportMetric(r.clean.ready.Seconds(), p.Name()+"-ready-s/snapshot")
				b.ReportMetric(r.crash.ready.Seconds(), p.Name()+"-ready-s/crash")
				b.ReportMetric(r.rebuild.ready.Seconds(), p.Name()+"-ready-s/rebuild")
				b.Logf("%s, %d records (history applied in %s): ready in %s from the final snapshots (%.0f bytes, %.0f restored in %s summed over partitions, %.0f records replayed); "+
					"%s after a crash (%.0f records replayed after the periodic snapshots); %s without snapshots (%.0f records replayed)",
					p.Name(), n, history.Round(time.Millisecond), r.clean.ready.Round(time.Millisecond), r.clean.snapBytes, r.clean.restored,
					r.clean.restore.Round(time.Millisecond), r.clean.replayed,
					r.crash.ready.Round(time.Millisecond), r.crash.replayed, r.rebuild.ready.Round(time.Millisecond), r.rebuild.replayed)
				rows = append(rows, r)
			}
		})
	}
	if len(rows) == 0 {
		return
	}
	var t strings.Builder
	fmt.Fprintf(&t, "\nrecovery: time from a runner's start to ready, %d partitions, labels over %s x %d questions (GOMAXPROCS %d)\n",
		partitions, population, questions, goruntime.GOMAXPROCS(0))
	fmt.Fprintf(&t, "%-14s %9s %10s %10s %11s %8s %9s %8s %10s %10s %10s\n", "processor", "records", "state_keys", "history_s", "snapshot_MB",
		"ready_s", "(setup_s)", "crash_s", "(replayed)", "rebuild_s", "x_faster")
	for _, r := range rows {
		fmt.Fprintf(&t, "%-14s %9d %10d %10.1f %11.1f %8.2f %9.2f %8.2f %10.0f %10.2f %10.1f\n", r.proc, r.records, r.keys, r.history.Seconds(),
			r.clean.snapBytes/1e6, r.clean.ready.Seconds(), r.clean.setup.Seconds(), r.crash.ready.Seconds(), r.crash.replayed,
			r.rebuild.ready.Seconds(), r.rebuild.ready.Seconds()/r.clean.ready.Seconds())
	}
	for i, r := range rows {
		for _, s := range rows[i+1:] {
			if s.proc == r.proc {
				fmt.Fprintf(&t, "%s: %d / %d records: ready %.2fx with snapshots (crash %.2fx), %.2fx without\n", r.proc, s.records, r.records,
					s.clean.ready.Seconds()/r.clean.ready.Seconds(), s.crash.ready.Seconds()/r.crash.ready.Seconds(),
					s.rebuild.ready.Seconds()/r.rebuild.ready.Seconds())
			}
		}
	}
	// Printed, not logged: a parent benchmark's log is not shown.
	fmt.Print(t.String())
}
