package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
)

// fakeMeasurer returns the figures the test set per version (goodFigures by default) and
// counts its calls.
type fakeMeasurer struct {
	mu    sync.Mutex
	figs  map[VersionRef]Figures
	calls map[VersionRef]int
	fail  map[VersionRef]bool
}

func newFakeMeasurer() *fakeMeasurer {
	return &fakeMeasurer{figs: map[VersionRef]Figures{}, calls: map[VersionRef]int{}, fail: map[VersionRef]bool{}}
}

func (m *fakeMeasurer) Measure(_ context.Context, ref VersionRef, _ int64) (Figures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[ref]++
	if m.fail[ref] {
		return Figures{}, errors.New("clickhouse is down")
	}
	if f, ok := m.figs[ref]; ok {
		return f, nil
	}
	return goodFigures(), nil
}

func (m *fakeMeasurer) set(ref VersionRef, f Figures) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.figs[ref] = f
}

func (m *fakeMeasurer) setFail(ref VersionRef, fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[ref] = fail
}

func (m *fakeMeasurer) count(ref VersionRef) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[ref]
}

// running is a gate runner in a goroutine.
type running struct {
	r      *Runner
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startGate(t *testing.T, k config.Kafka, m Measurer, name string) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(testWriter{t, name}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := New(k, m, WithTick(100*time.Millisecond), WithRecheck(200*time.Millisecond), WithSettle(time.Second),
		WithShutdownTimeout(5*time.Second), WithRegisterer(reg), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &running{r: r, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	})
	waitFor(t, name+" ready", func() bool {
		select {
		case err := <-g.done:
			g.done <- err
			t.Fatalf("%s stopped before it was ready: %v", name, err)
		default:
		}
		return r.Ready(context.Background()) == nil
	})
	return g
}

// stop cancels the runner and returns what Run returned.
func (g *running) stop(t *testing.T) error {
	t.Helper()
	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the gate did not stop within 30s of its cancellation")
		return nil
	}
}

type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimSpace(string(p)))
	return len(p), nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verdictLog reads the verdicts on the datasets topic as a read_committed consumer sees them.
type verdictLog struct {
	t   *testing.T
	cl  *kgo.Client
	all []schemas.Event
}

func newVerdictLog(t *testing.T, k config.Kafka) *verdictLog {
	cl := testenv.KafkaClient(t, k, kgo.ConsumeTopics(k.Topic(schemas.FamilyDatasets.Topic())),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	return &verdictLog{t: t, cl: cl}
}

// poll reads what is there now.
func (l *verdictLog) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	l.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			l.t.Fatalf("decode %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		if _, ok := verdictOfEvent(ev); ok {
			l.all = append(l.all, ev)
		}
	})
}

// of returns the verdicts on ref read so far, in log order.
func (l *verdictLog) of(ref VersionRef) []schemas.Event {
	var out []schemas.Event
	for _, ev := range l.all {
		if v, _ := verdictOfEvent(ev); v.DatasetID == ref.DatasetID && v.Version == ref.Version {
			out = append(out, ev)
		}
	}
	return out
}

// wait polls until ref has n verdicts and returns them.
func (l *verdictLog) wait(ref VersionRef, n int) []schemas.Event {
	l.t.Helper()
	waitFor(l.t, fmt.Sprintf("%d verdicts on %s", n, ref), func() bool {
		l.poll()
		return len(l.of(ref)) >= n
	})
	return l.of(ref)
}

// settle polls for a while, for the absence of verdicts to be meaningful.
func (l *verdictLog) settle(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		l.poll()
	}
}

// metric is the value of the counter or gauge name (with the label value verdict, if not
// "") in reg.
func metric(t *testing.T, reg *prometheus.Registry, name, verdict string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if verdict != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != verdict) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{%s}", name, verdict)
	return 0
}

func produce(t *testing.T, k config.Kafka, evs ...schemas.Event) {
	t.Helper()
	cl := testenv.KafkaClient(t, k, kgo.RequiredAcks(kgo.AllISRAcks()))
	defer cl.Close()
	var recs []*kgo.Record
	for _, ev := range evs {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestRunnerIntegration runs the gate on the real broker with a fake Measurer: a commit gets
// a verdict, a changed figure a superseding one, a restarted gate emits nothing twice, and a
// second instance fences the first.
func TestRunnerIntegration(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	m := newFakeMeasurer()
	verdicts := newVerdictLog(t, k)
	ref2, ref3, ref4 := VersionRef{dataset, "2"}, VersionRef{dataset, "3"}, VersionRef{dataset, "4"}

	produce(t, k, targets("t-1", "", "", t0-1000, full), commit("1", t0))
	a := startGate(t, k, m, "gate-a")

	// A commit gets a verdict.
	first := verdicts.wait(ref1, 1)[0]
	if v, ok := first.(*schemas.DatasetVersionCertified); !ok || v.Sequence != 1 || v.Producer != Producer {
		t.Fatalf("first verdict %+v", first)
	}

	// A changed figure gets a superseding verdict.
	bad := goodFigures()
	bad.LineageComplete = 90
	m.set(ref1, bad)
	second := verdicts.wait(ref1, 2)[1]
	if v, ok := second.(*schemas.DatasetVersionRejected); !ok || v.Sequence != 2 || v.Supersedes != first.Meta().EventID ||
		!strings.Contains(v.Reason, "min_lineage_completeness") {
		t.Fatalf("second verdict %+v", second)
	}
	waitFor(t, "the verdict metrics", func() bool {
		return metric(t, a.reg, "assay_gate_verdicts_total", "certified") == 1 &&
			metric(t, a.reg, "assay_gate_verdicts_total", "rejected") == 1
	})
	if got := metric(t, a.reg, "assay_gate_ready", ""); got != 1 {
		t.Fatalf("assay_gate_ready %v", got)
	}

	// Measuring errors are retried at the next tick.
	m.setFail(ref2, true)
	produce(t, k, commit("2", t0))
	waitFor(t, "failed measurements of version 2", func() bool { return m.count(ref2) >= 3 })
	if n := len(verdicts.of(ref2)); n != 0 {
		t.Fatalf("%d verdicts on a version that could not be measured", n)
	}
	m.setFail(ref2, false)
	verdicts.wait(ref2, 1)
	if metric(t, a.reg, "assay_gate_measure_failures_total", "") < 3 {
		t.Fatal("measure failures not counted")
	}

	// A restarted gate emits nothing twice.
	if err := a.stop(t); err != nil {
		t.Fatalf("the gate stopped with %v", err)
	}
	before := map[VersionRef]int{ref1: m.count(ref1), ref2: m.count(ref2)}
	b := startGate(t, k, m, "gate-b")
	waitFor(t, "the restarted gate to measure again", func() bool {
		return m.count(ref1) >= before[ref1]+3 && m.count(ref2) >= before[ref2]+3
	})
	verdicts.settle(time.Second)
	if n1, n2 := len(verdicts.of(ref1)), len(verdicts.of(ref2)); n1 != 2 || n2 != 1 {
		t.Fatalf("after the restart: %d verdicts on version 1 (want 2), %d on version 2 (want 1)", n1, n2)
	}
	// A version not in the ledger is rejected after the settle time.
	produce(t, k, commit("3", time.Now().UnixMilli()))
	m.set(ref3, Figures{})
	if v, _ := verdictOfEvent(verdicts.wait(ref3, 1)[0]); !strings.HasPrefix(v.Reason, NotInLedger) {
		t.Fatalf("version 3's verdict %+v", v)
	}

	// A second instance fences the first: the first stops with an error at its next
	// transaction, the second decides. (The second cannot measure version 4 until the
	// first has tried, or it would decide it first and the first, reading that verdict,
	// would have nothing to produce.)
	mc := newFakeMeasurer()
	mc.setFail(ref4, true)
	c := startGate(t, k, mc, "gate-c")
	produce(t, k, commit("4", t0))
	select {
	case err := <-b.done:
		b.done <- err
		if err == nil || !strings.Contains(err.Error(), "fenced") {
			t.Fatalf("the fenced gate returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the first gate was not fenced")
	}
	mc.setFail(ref4, false)
	verdicts.wait(ref4, 1)
	verdicts.settle(time.Second)
	if n := len(verdicts.of(ref4)); n != 1 {
		t.Fatalf("%d verdicts on version 4, want 1", n)
	}
	if err := c.stop(t); err != nil {
		t.Fatalf("the second gate stopped with %v", err)
	}
}
