package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/runtime"
)

// memSink stores rows in memory and can fail on demand.
type memSink struct {
	mu       sync.Mutex
	rows     map[string][][]any
	failNext int // fail this many writes, then succeed
	attempts int
}

func newMemSink() *memSink { return &memSink{rows: map[string][][]any{}} }

func (s *memSink) Write(_ context.Context, t runtime.Table, rows [][]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.failNext > 0 {
		s.failNext--
		return errors.New("sink unavailable")
	}
	s.rows[t.Name] = append(s.rows[t.Name], rows...)
	return nil
}

func (s *memSink) count(table string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows[table])
}

func (s *memSink) snapshot(table string) [][]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rows[table])
}

// counter is a stateful test processor: per item key it counts ItemIngested
// events and writes (item, count, offset). Items named "bad-*" fail Apply.
type counter struct{}

type counts map[string]int64

func (counter) Name() string               { return "counter" }
func (counter) Families() []schemas.Family { return []schemas.Family{schemas.FamilyItems} }
func (counter) Tables() []runtime.Table {
	return []runtime.Table{{Name: "counts", Columns: []string{"item_id", "n", "offset"}}}
}
func (counter) NewState(string, int32) any { return counts{} }
func (counter) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	it, ok := rec.Event.(*schemas.ItemIngested)
	if !ok {
		return runtime.Output{}, nil
	}
	if strings.HasPrefix(it.ItemID, "bad-") {
		return runtime.Output{}, fmt.Errorf("item %s is rejected by the test processor", it.ItemID)
	}
	c := state.(counts)
	c[it.ItemID]++
	return runtime.Output{Rows: []runtime.Row{{Table: "counts", Values: []any{it.ItemID, c[it.ItemID], rec.Offset}}}}, nil
}

// reviewer is an emitting processor: every label gets an accepting review.
type reviewer struct{}

func (reviewer) Name() string               { return "reviewer" }
func (reviewer) Families() []schemas.Family { return []schemas.Family{schemas.FamilyLabels} }
func (reviewer) Tables() []runtime.Table {
	return []runtime.Table{{Name: "reviewed", Columns: []string{"label_id"}}}
}
func (reviewer) NewState(string, int32) any { return nil }
func (reviewer) EmitsEvents() bool          { return true }
func (reviewer) Apply(_ any, rec runtime.Record) (runtime.Output, error) {
	l := rec.Event.(*schemas.LabelSubmitted)
	rv := &schemas.ReviewCompleted{ReviewID: "r-" + l.LabelID, LabelID: l.LabelID, ItemID: l.ItemID, ReviewerID: "bot", Verdict: schemas.VerdictAccept}
	rv.EventID = "review-of-" + l.EventID
	schemas.Stamp(rv, "reviewer", time.UnixMilli(l.OccurredAt))
	return runtime.Output{
		Rows: []runtime.Row{{Table: "reviewed", Values: []any{l.LabelID}}},
		Emit: []schemas.Event{rv},
	}, nil
}

func cluster(t *testing.T, prefix string) config.Kafka {
	t.Helper()
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, prefix+f.Topic())
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return config.Kafka{Brokers: c.ListenAddrs(), TopicPrefix: prefix}
}

func client(t *testing.T, k config.Kafka, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func item(id string, n int) *schemas.ItemIngested {
	ev := &schemas.ItemIngested{ItemID: id, Source: "s", URI: "u", SHA256: strings.Repeat("a", 64), Modality: "text", ProjectID: "p"}
	ev.EventID = fmt.Sprintf("%s-%d", id, n)
	schemas.Stamp(ev, "test", time.UnixMilli(1_700_000_000_000+int64(n)))
	return ev
}

func produce(t *testing.T, cl *kgo.Client, k config.Kafka, evs ...schemas.Event) {
	t.Helper()
	var recs []*kgo.Record
	for _, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// items returns n events over keys item-0..item-(keys-1), numbered from first.
func items(first, n, keys int) []schemas.Event {
	var out []schemas.Event
	for i := first; i < first+n; i++ {
		out = append(out, item(fmt.Sprintf("item-%d", i%keys), i))
	}
	return out
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, p runtime.Processor, k config.Kafka, sink runtime.Sink, opts ...runtime.Option) *running {
	t.Helper()
	opts = append([]runtime.Option{runtime.WithFlushInterval(50 * time.Millisecond), runtime.WithRetryMaxInterval(50 * time.Millisecond)}, opts...)
	r, err := runtime.New(p, k, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("runner: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("runner did not stop within 30s")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed sums the committed offsets of group over all partitions.
func committed(t *testing.T, k config.Kafka, group string) int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, k))
	offs, err := adm.FetchOffsets(context.Background(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}

// readAll reads every committed record of topic.
func readAll(t *testing.T, k config.Kafka, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := client(t, k, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, fs.Records()...)
	}
	// Anything beyond want must also show up quickly; give it a moment.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	out = append(out, cl.PollFetches(ctx2).Records()...)
	return out
}

const group = "p.assay.processor.counter"

func TestRunnerWritesEveryRecordOnceAndCommits(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	produce(t, cl, k, items(0, 300, 10)...)
	sink := newMemSink()
	reg := prometheus.NewRegistry()
	r := start(t, counter{}, k, sink, runtime.WithBatchSize(64), runtime.WithRegisterer(reg))
	eventually(t, "300 rows", func() bool { return sink.count("counts") >= 300 })
	eventually(t, "offsets committed", func() bool { return committed(t, k, group) == 300 })
	if got := sumMetric(t, reg, "assay_processor_records_in_total"); got != 300 {
		t.Errorf("records_in = %v", got)
	}
	for _, name := range []string{"assay_processor_batch_size_records", "assay_processor_write_duration_seconds", "assay_processor_consumer_lag_records", "assay_processor_rows_written_total"} {
		if !hasMetric(t, reg, name) {
			t.Errorf("metric %s missing", name)
		}
	}
	r.stop(t)
	if n := sink.count("counts"); n != 300 {
		t.Fatalf("%d rows, want 300", n)
	}
	// Counts per key grow 1..30 in log order: the state is per partition and
	// every key lives on one partition.
	seen := map[string][]int64{}
	for _, row := range sink.snapshot("counts") {
		seen[row[0].(string)] = append(seen[row[0].(string)], row[1].(int64))
	}
	for key, ns := range seen {
		for i, n := range ns {
			if n != int64(i+1) {
				t.Fatalf("%s: counts %v, want 1..%d", key, ns, len(ns))
			}
		}
	}
}

// sumMetric sums every series of a counter or gauge family (the getter of
// the other kind reads zero).
func sumMetric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func hasMetric(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return true
		}
	}
	return false
}

func TestRunnerSendsPoisonToDLQAndContinues(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	garbage := make([]byte, 64)
	for i := range garbage {
		garbage[i] = byte(rand.IntN(256))
	}
	produce(t, cl, k, item("item-1", 1))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: k.Topic("assay.items.v1"), Key: []byte("item-1"), Value: garbage}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, k, item("bad-1", 2), item("item-1", 3))
	sink := newMemSink()
	start(t, counter{}, k, sink)
	eventually(t, "2 rows", func() bool { return sink.count("counts") == 2 })
	eventually(t, "offsets committed past the poison", func() bool { return committed(t, k, group) == 4 })
	dlq := readAll(t, k, k.Topic("assay.dlq.v1"), 2)
	if len(dlq) != 2 {
		t.Fatalf("%d DLQ records, want 2", len(dlq))
	}
	reasons := map[string]bool{}
	for _, rec := range dlq {
		ev, err := schemas.DecodeAs[schemas.EventRejected](rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Source != "assay-processor/counter" || ev.OriginalTopic != k.Topic("assay.items.v1") || ev.OriginalOffset == nil || ev.OriginalPartition == nil {
			t.Errorf("rejection without coordinates: %+v", ev)
		}
		switch {
		case strings.HasPrefix(ev.Reason, "decode:") && string(ev.Original) == string(garbage):
			reasons["decode"] = true
		case strings.HasPrefix(ev.Reason, "apply:") && strings.Contains(ev.Reason, "bad-1"):
			reasons["apply"] = true
		default:
			t.Errorf("unexpected rejection reason %q", ev.Reason)
		}
	}
	if !reasons["decode"] || !reasons["apply"] {
		t.Fatalf("reasons seen: %v", reasons)
	}
	// The record after the poison got count 2: the apply failure left the
	// state of item-1 alone and the partition went on.
	if rows := sink.snapshot("counts"); rows[1][1].(int64) != 2 {
		t.Fatalf("rows %v", rows)
	}
}

func TestRunnerRetriesWritesAndCommitsOnlyAfterThem(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	produce(t, cl, k, items(0, 50, 5)...)
	sink := newMemSink()
	sink.failNext = 1 << 30
	start(t, counter{}, k, sink)
	eventually(t, "several failed attempts", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.attempts >= 5
	})
	if c := committed(t, k, group); c != 0 {
		t.Fatalf("committed %d offsets while the sink was failing", c)
	}
	sink.mu.Lock()
	sink.failNext = 0
	sink.mu.Unlock()
	eventually(t, "50 rows", func() bool { return sink.count("counts") >= 50 })
	eventually(t, "offsets committed", func() bool { return committed(t, k, group) == 50 })
	time.Sleep(200 * time.Millisecond)
	if n := sink.count("counts"); n != 50 {
		t.Fatalf("%d rows, want 50", n)
	}
}

func TestRunnerRebuildsStateFromTheLog(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	produce(t, cl, k, items(0, 40, 4)...) // 10 per key
	first := newMemSink()
	r := start(t, counter{}, k, first)
	eventually(t, "first run", func() bool { return committed(t, k, group) == 40 })
	r.stop(t)

	produce(t, cl, k, items(40, 8, 4)...) // 2 more per key
	second := newMemSink()
	reg := prometheus.NewRegistry()
	start(t, counter{}, k, second, runtime.WithRegisterer(reg))
	eventually(t, "second run", func() bool { return committed(t, k, group) == 48 })
	rows := second.snapshot("counts")
	if len(rows) != 8 {
		t.Fatalf("second run wrote %d rows, want only the 8 new records' (the rebuild must not write)", len(rows))
	}
	for _, row := range rows {
		if n := row[1].(int64); n != 11 && n != 12 {
			t.Fatalf("row %v: count %d, want 11 or 12 (state rebuilt from 10)", row, n)
		}
	}
	if got := sumMetric(t, reg, "assay_processor_rebuild_records_total"); got != 40 {
		t.Errorf("rebuild replayed %v records, want 40", got)
	}
}

func TestRunnerFlushesOnShutdown(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	produce(t, cl, k, items(0, 20, 3)...)
	sink := newMemSink()
	reg := prometheus.NewRegistry()
	r := start(t, counter{}, k, sink, runtime.WithFlushInterval(time.Hour), runtime.WithBatchSize(1000), runtime.WithRegisterer(reg))
	eventually(t, "20 records polled", func() bool { return sumMetric(t, reg, "assay_processor_records_in_total") == 20 })
	if sink.count("counts") != 0 {
		t.Fatal("wrote before the batch was due")
	}
	r.stop(t)
	if n := sink.count("counts"); n != 20 {
		t.Fatalf("%d rows after shutdown, want 20", n)
	}
	if c := committed(t, k, group); c != 20 {
		t.Fatalf("committed %d after shutdown, want 20", c)
	}
}

func TestRunnerEmitsInTransactions(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	var labels []schemas.Event
	for i := range 30 {
		l := &schemas.LabelSubmitted{LabelID: fmt.Sprintf("l%d", i), ItemID: fmt.Sprintf("i%d", i%4), ProjectID: "p", TaskID: "t",
			QuestionID: "q", AnnotatorID: "a", GuidelineVersion: "g", Value: schemas.Nominal("x")}
		l.EventID = fmt.Sprintf("label-%d", i)
		schemas.Stamp(l, "test", time.UnixMilli(1_700_000_000_000))
		labels = append(labels, l)
	}
	produce(t, cl, k, labels...)
	sink := newMemSink()
	start(t, reviewer{}, k, sink, runtime.WithBatchSize(7))
	eventually(t, "offsets committed", func() bool { return committed(t, k, "p.assay.processor.reviewer") == 30 })
	reviews := readAll(t, k, k.Topic("assay.reviews.v1"), 30)
	if len(reviews) != 30 {
		t.Fatalf("%d committed reviews, want 30", len(reviews))
	}
	if n := sink.count("reviewed"); n != 30 {
		t.Fatalf("%d rows, want 30", n)
	}
}

func TestRunnerRejectsEventsFromNonEmitters(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	produce(t, cl, k, item("item-1", 1))
	sink := newMemSink()
	start(t, sneaky{}, k, sink)
	dlq := readAll(t, k, k.Topic("assay.dlq.v1"), 1)
	if len(dlq) != 1 {
		t.Fatalf("%d DLQ records, want 1", len(dlq))
	}
	ev, err := schemas.DecodeAs[schemas.EventRejected](dlq[0].Value)
	if err != nil || !strings.Contains(ev.Reason, "Emitter") {
		t.Fatalf("rejection %+v, %v", ev, err)
	}
}

// sneaky emits without declaring it.
type sneaky struct{ counter }

func (sneaky) Name() string { return "sneaky" }
func (sneaky) Apply(_ any, rec runtime.Record) (runtime.Output, error) {
	return runtime.Output{Emit: []schemas.Event{rec.Event}}, nil
}

func TestReplayReadsToTheHighWaterMarks(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	old := items(0, 30, 3)
	produce(t, cl, k, old...)
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	produce(t, cl, k, items(30, 12, 3)...)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: k.Topic("assay.items.v1"), Value: []byte("junk")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	sink := newMemSink()
	stats, err := runtime.Replay(context.Background(), counter{}, k, sink, time.Time{}, runtime.WithBatchSize(10))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 43 || stats.Rows != 42 || stats.Rejected != 1 || sink.count("counts") != 42 {
		t.Fatalf("stats %+v, %d rows", stats, sink.count("counts"))
	}
	if committed(t, k, group) != 0 {
		t.Fatal("replay committed offsets")
	}
	if dlq := readAll(t, k, k.Topic("assay.dlq.v1"), 0); len(dlq) != 0 {
		t.Fatalf("replay produced %d DLQ records", len(dlq))
	}

	since := newMemSink()
	stats, err = runtime.Replay(context.Background(), counter{}, k, since, cut)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 13 || since.count("counts") != 12 {
		t.Fatalf("since: stats %+v, %d rows", stats, since.count("counts"))
	}
}
