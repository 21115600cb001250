package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/runtime"
)

// scriptSink stores rows in memory; fail decides, per insert attempt, the
// error to return (nil to store the rows).
type scriptSink struct {
	mu      sync.Mutex
	rows    map[string][][]any
	inserts []insert
	fail    func(t runtime.Table, rows [][]any) error
}

type insert struct {
	table string
	rows  int
	err   error
}

func newScriptSink(fail func(runtime.Table, [][]any) error) *scriptSink {
	return &scriptSink{rows: map[string][][]any{}, fail: fail}
}

func (s *scriptSink) Write(_ context.Context, t runtime.Table, rows [][]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.fail != nil {
		err = s.fail(t, rows)
	}
	s.inserts = append(s.inserts, insert{t.Name, len(rows), err})
	if err == nil {
		s.rows[t.Name] = append(s.rows[t.Name], rows...)
	}
	return err
}

func (s *scriptSink) count(table string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows[table])
}

// offsets returns the offsets (the last value of every row) written to table, sorted.
func (s *scriptSink) offsets(table string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, r := range s.rows[table] {
		out = append(out, r[len(r)-1].(int64))
	}
	slices.Sort(out)
	return out
}

// failures counts failed inserts of exactly n rows into table.
func (s *scriptSink) failures(table string, n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := 0
	for _, in := range s.inserts {
		if in.table == table && in.rows == n && in.err != nil {
			c++
		}
	}
	return c
}

func (s *scriptSink) setFail(fail func(runtime.Table, [][]any) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// serverError is the error clickhouse-go returns for a server exception.
func serverError(code int32, msg string) error {
	return fmt.Errorf("insert 3 rows into t: %w", &clickhouse.Exception{Code: code, Name: "DB::Exception", Message: msg})
}

const throwIfMessage = "Value passed to 'throwIf' function is non zero"

// refuseOffsets refuses, with a server exception, any insert into table
// that holds the row of one of offsets (the last value of the row).
func refuseOffsets(table string, err error, offsets ...int64) func(runtime.Table, [][]any) error {
	return func(t runtime.Table, rows [][]any) error {
		if t.Name != table {
			return nil
		}
		for _, r := range rows {
			if slices.Contains(offsets, r[len(r)-1].(int64)) {
				return err
			}
		}
		return nil
	}
}

// rejections decodes the DLQ records of k, in the order they were produced.
func rejections(t *testing.T, k config.Kafka, want int) []*schemas.EventRejected {
	t.Helper()
	var out []*schemas.EventRejected
	for _, rec := range readAll(t, k, k.Topic("assay.dlq.v1"), want) {
		ev, err := schemas.DecodeAs[schemas.EventRejected](rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func rejectedOffsets(rs []*schemas.EventRejected) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, *r.OriginalOffset)
	}
	return out
}

// sameItem returns n events of one item, so they share a partition and
// their offsets are 0..n-1.
func sameItem(n int) []schemas.Event {
	var out []schemas.Event
	for i := range n {
		out = append(out, item("item-0", i))
	}
	return out
}

func allBut(n int, but ...int64) []int64 {
	var out []int64
	for i := range int64(n) {
		if !slices.Contains(but, i) {
			out = append(out, i)
		}
	}
	return out
}

func TestWriteIsolatesRefusedRecordsInRecordOrder(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(40)...)
	bad := []int64{3, 17, 18, 39}
	sink := newScriptSink(refuseOffsets("counts", serverError(395, throwIfMessage), bad...))
	reg := prometheus.NewRegistry()
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithRegisterer(reg), runtime.WithIsolateAfter(2))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 40 })
	if got, want := sink.offsets("counts"), allBut(40, bad...); !slices.Equal(got, want) {
		t.Fatalf("written offsets %v, want %v", got, want)
	}
	rs := rejections(t, k, len(bad))
	if got := rejectedOffsets(rs); !slices.Equal(got, bad) {
		t.Fatalf("DLQ holds offsets %v, want %v in record order", got, bad)
	}
	for _, r := range rs {
		for _, want := range []string{"write:", "table counts", "395", "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", throwIfMessage} {
			if !strings.Contains(r.Reason, want) {
				t.Errorf("reason %q lacks %q", r.Reason, want)
			}
		}
	}
	// Each refused record was tried alone exactly WithIsolateAfter times.
	if n := sink.failures("counts", 1); n != 2*len(bad) {
		t.Errorf("%d failed single-record inserts, want %d", n, 2*len(bad))
	}
	if got := sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != float64(len(bad)) {
		t.Errorf("isolated metric %v, want %d", got, len(bad))
	}
	if got := sumMetric(t, reg, "assay_processor_write_splits_total"); got == 0 {
		t.Error("no split counted")
	}
}

func TestWriteRetriesTransientErrorsWithoutIsolating(t *testing.T) {
	transient := []error{
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		fmt.Errorf("read: %w", syscall.ECONNRESET),
		context.DeadlineExceeded, // the deadline of one attempt, not of the run
		serverError(202, "Too many simultaneous queries. Maximum: 100"),
		serverError(252, "Too many parts (300). Merges are processing significantly slower than inserts."),
		serverError(242, "Table is in readonly mode"),
		serverError(60, "Table t_1.counts doesn't exist."),
		fmt.Errorf("prepare: %w", serverError(209, "Timeout exceeded while reading from socket")),
	}
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(20)...)
	failed := 0
	sink := newScriptSink(func(runtime.Table, [][]any) error {
		if failed < 3*len(transient) {
			failed++
			return transient[failed%len(transient)]
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithRegisterer(reg), runtime.WithRetryMaxInterval(10*time.Millisecond))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 20 })
	if n := sink.count("counts"); n != 20 {
		t.Fatalf("%d rows written, want 20", n)
	}
	if got := sumMetric(t, reg, "assay_processor_write_splits_total") + sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != 0 {
		t.Fatalf("transient errors split or isolated (%v)", got)
	}
	if rs := rejections(t, k, 0); len(rs) != 0 {
		t.Fatalf("%d DLQ records", len(rs))
	}
	if got := sumMetric(t, reg, "assay_processor_write_retries_total"); got != float64(3*len(transient)) {
		t.Errorf("retries %v, want %d", got, 3*len(transient))
	}
}

func TestWriteSplitsABlockTheServerRefusesAsAWhole(t *testing.T) {
	// A current ClickHouse refuses a block touching more than 100
	// partitions: here, more than 4 distinct offsets. Every smaller block
	// passes, so splitting writes everything and isolates nothing.
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(37)...)
	sink := newScriptSink(func(_ runtime.Table, rows [][]any) error {
		if len(rows) > 4 {
			return serverError(252, "Too many partitions for single INSERT block (more than 4). The limit is controlled by 'max_partitions_per_insert_block' setting.")
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond), runtime.WithRegisterer(reg))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 37 })
	if got, want := sink.offsets("counts"), allBut(37); !slices.Equal(got, want) {
		t.Fatalf("written offsets %v, want %v", got, want)
	}
	if rs := rejections(t, k, 0); len(rs) != 0 {
		t.Fatalf("%d DLQ records", len(rs))
	}
	if got := sumMetric(t, reg, "assay_processor_write_splits_total"); got == 0 {
		t.Error("no split counted")
	}
}

func TestWriteSplitsARepeatingSizeErrorButNeverIsolatesOnIt(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(20)...)
	memory := serverError(241, "Memory limit (for query) exceeded: would use 9.31 GiB")
	sink := newScriptSink(func(_ runtime.Table, rows [][]any) error {
		if len(rows) > 3 {
			return memory
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithRegisterer(reg), runtime.WithRetryMaxInterval(10*time.Millisecond))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 20 })
	if n := sink.count("counts"); n != 20 {
		t.Fatalf("%d rows, want 20", n)
	}
	// The first batch failed WithIsolateAfter (3) times before the first split.
	sink.mu.Lock()
	first := slices.Clone(sink.inserts[:4])
	sink.mu.Unlock()
	if n := first[0].rows; n <= 3 || first[1].rows != n || first[2].rows != n || first[3].rows >= n {
		t.Errorf("first inserts %+v: want three of the whole batch, then a half", first)
	}

	// One record that runs out of memory alone is retried without limit,
	// never sent to the DLQ: it is written once the server recovers.
	produce(t, client(t, k), k, item("item-0", 20))
	sink.setFail(func(runtime.Table, [][]any) error { return memory })
	eventually(t, "many attempts", func() bool { return sink.failures("counts", 1) >= 10 })
	sink.setFail(nil)
	eventually(t, "the record committed", func() bool { return committed(t, k, group) == 21 })
	if rs := rejections(t, k, 0); len(rs) != 0 || sumMetric(t, reg, "assay_processor_write_isolated_records_total") != 0 {
		t.Fatalf("a transient error isolated records: %d DLQ records", len(rs))
	}
}

func TestWriteIsolatesAnUnknownServerErrorOnlyWhenItRepeats(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(10)...)
	unknown := serverError(9999, "something new")
	flaky := 0 // offset 6 alone is refused twice, then accepted
	sink := newScriptSink(func(t runtime.Table, rows [][]any) error {
		for _, r := range rows {
			switch r[2].(int64) {
			case 4:
				return unknown
			case 6: // refused with others, and twice alone
				if len(rows) > 1 || flaky < 2 {
					if len(rows) == 1 {
						flaky++
					}
					return unknown
				}
			}
		}
		return nil
	})
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond), runtime.WithIsolateAfter(3))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 10 })
	if got, want := sink.offsets("counts"), allBut(10, 4); !slices.Equal(got, want) {
		t.Fatalf("written offsets %v, want %v", got, want)
	}
	rs := rejections(t, k, 1)
	if got := rejectedOffsets(rs); !slices.Equal(got, []int64{4}) {
		t.Fatalf("DLQ offsets %v, want [4]", got)
	}
	if !strings.Contains(rs[0].Reason, "9999") || !strings.Contains(rs[0].Reason, "something new") || !strings.Contains(rs[0].Reason, "3 attempts") {
		t.Errorf("reason %q", rs[0].Reason)
	}
}

func TestWriteIsolatesValuesTheClientCannotConvert(t *testing.T) {
	// chSink wraps Append errors in backoff.Permanent; they used to stop the
	// processor and now isolate the record like a server refusal.
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(8)...)
	sink := newScriptSink(refuseOffsets("counts", backoff.Permanent(errors.New("append row 0 to counts batch: clickhouse [AppendRow]: converting string to Enum8 is unsupported")), 5))
	start(t, counter{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond))
	eventually(t, "every record committed", func() bool { return committed(t, k, group) == 8 })
	rs := rejections(t, k, 1)
	if got := rejectedOffsets(rs); !slices.Equal(got, []int64{5}) || !strings.Contains(rs[0].Reason, "Enum8") {
		t.Fatalf("DLQ %v: %+v", got, rs)
	}
	if n := sink.count("counts"); n != 7 {
		t.Fatalf("%d rows, want 7", n)
	}
}

// fanout writes one row per record into each of three tables.
type fanout struct{}

func (fanout) Name() string               { return "fanout" }
func (fanout) Families() []schemas.Family { return []schemas.Family{schemas.FamilyItems} }
func (fanout) Tables() []runtime.Table {
	var ts []runtime.Table
	for _, n := range []string{"a", "b", "c"} {
		ts = append(ts, runtime.Table{Name: n, Columns: []string{"item_id", "offset"}})
	}
	return ts
}
func (fanout) NewState(string, int32) any { return nil }
func (fanout) Apply(_ any, rec runtime.Record) (runtime.Output, error) {
	id := rec.Event.(*schemas.ItemIngested).ItemID
	var out runtime.Output
	for _, n := range []string{"c", "a", "b"} { // any order: the runner writes tables by name
		out.Rows = append(out.Rows, runtime.Row{Table: n, Values: []any{id, rec.Offset}})
	}
	return out, nil
}

// TestWriteDropsARefusedRecordOnlyWhereRefused: a flush writes its tables
// concurrently, each on its own, so a record one table refuses is isolated
// there and written in every other table, whatever the concurrency: for
// each table a record is either written or named by a DLQ record (the
// guarantee the sequential write gave by keeping the tables before the
// refusing one and dropping the tables after it), and the DLQ record is
// the sequential path's, with the same deterministic id.
func TestWriteDropsARefusedRecordOnlyWhereRefused(t *testing.T) {
	for _, conc := range []int{1, 2, runtime.DefaultWriteConcurrency} {
		t.Run(fmt.Sprintf("concurrency=%d", conc), func(t *testing.T) {
			k := cluster(t, "p.")
			produce(t, client(t, k), k, sameItem(12)...)
			sink := newScriptSink(refuseOffsets("b", serverError(469, "Constraint `lim` for table d.b is violated at row 1"), 7))
			start(t, fanout{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
				runtime.WithIsolateAfter(1), runtime.WithWriteConcurrency(conc))
			eventually(t, "every record committed", func() bool { return committed(t, k, "p.assay.processor.fanout") == 12 })
			for _, n := range []string{"a", "c"} {
				if got := sink.offsets(n); !slices.Equal(got, allBut(12)) {
					t.Errorf("table %s: %v, want every record", n, got)
				}
			}
			if got := sink.offsets("b"); !slices.Equal(got, allBut(12, 7)) {
				t.Errorf("table b: %v, want every record but 7", got)
			}
			rs := rejections(t, k, 1)
			if len(rs) != 1 || !strings.Contains(rs[0].Reason, "table b") || !strings.Contains(rs[0].Reason, "VIOLATED_CONSTRAINT") ||
				strings.Contains(rs[0].Reason, "also refused") {
				t.Fatalf("DLQ %+v", rs)
			}
			if want := runtime.RejectionID("fanout", k.Topic(schemas.FamilyItems.Topic()), *rs[0].OriginalPartition, 7, "b"); rs[0].EventID != want {
				t.Errorf("DLQ event id %s, want %s (derived from the record and table b)", rs[0].EventID, want)
			}
		})
	}
}

// gatedSink holds the inserts into table a that carry offset 5 until table
// c has refused offset 5 alone, so that c's isolation ends first.
type gatedSink struct {
	*scriptSink
	cRefused chan struct{}
	once     sync.Once
	timedOut atomic.Bool
}

func (g *gatedSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	carries := slices.ContainsFunc(rows, func(r []any) bool { return r[len(r)-1].(int64) == 5 })
	if t.Name == "a" && carries {
		select {
		case <-g.cRefused:
		case <-time.After(10 * time.Second):
			g.timedOut.Store(true)
		}
	}
	err := g.scriptSink.Write(ctx, t, rows)
	if t.Name == "c" && carries && len(rows) == 1 && err != nil {
		g.once.Do(func() { close(g.cRefused) })
	}
	return err
}

// TestWriteNamesTheFirstRefusingTableWhateverEndsFirst: when several tables
// refuse one record, its DLQ record names the first of them by name, with
// that table's deterministic id (what the sequential write produced), even
// when another table's isolation ended first; the others are named in the
// reason and counted in the metric, and the record's rows are written in
// the table that takes them.
func TestWriteNamesTheFirstRefusingTableWhateverEndsFirst(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(12)...)
	refused := serverError(469, "Constraint `lim` is violated at row 1")
	refuse := func(t runtime.Table, rows [][]any) error {
		if t.Name == "b" {
			return nil
		}
		return refuseOffsets(t.Name, refused, 5)(t, rows)
	}
	sink := &gatedSink{scriptSink: newScriptSink(refuse), cRefused: make(chan struct{})}
	reg := prometheus.NewRegistry()
	start(t, fanout{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithIsolateAfter(1), runtime.WithWriteConcurrency(2), runtime.WithRegisterer(reg))
	eventually(t, "every record committed", func() bool { return committed(t, k, "p.assay.processor.fanout") == 12 })
	if sink.timedOut.Load() {
		t.Fatal("table a was written before table c refused offset 5: the tables were not written concurrently")
	}
	if got := sink.offsets("b"); !slices.Equal(got, allBut(12)) {
		t.Errorf("table b: %v, want every record", got)
	}
	for _, n := range []string{"a", "c"} {
		if got := sink.offsets(n); !slices.Equal(got, allBut(12, 5)) {
			t.Errorf("table %s: %v, want every record but 5", n, got)
		}
	}
	rs := rejections(t, k, 1)
	if len(rs) != 1 {
		t.Fatalf("%d DLQ records, want 1", len(rs))
	}
	if r := rs[0]; !strings.Contains(r.Reason, "table a refused") || !strings.Contains(r.Reason, "also refused by c") {
		t.Errorf("reason %q: want table a, and c named as also refusing", r.Reason)
	}
	if want := runtime.RejectionID("fanout", k.Topic(schemas.FamilyItems.Topic()), *rs[0].OriginalPartition, 5, "a"); rs[0].EventID != want {
		t.Errorf("DLQ event id %s, want %s (derived from the record and table a)", rs[0].EventID, want)
	}
	if got := sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != 2 {
		t.Errorf("isolated metric %v, want 2 (one per refusing table)", got)
	}
}

// countingSink counts the inserts in flight; the first two wait for each
// other, so that a flush writing its tables one at a time never gets past
// them without a timeout.
type countingSink struct {
	*scriptSink
	inflight, peak atomic.Int32
	arrived        sync.WaitGroup
	met            chan struct{}
	metOnce        sync.Once
	first          atomic.Int32
}

func (c *countingSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	if c.first.Add(1) <= 2 {
		c.arrived.Done()
		go func() { c.arrived.Wait(); c.metOnce.Do(func() { close(c.met) }) }()
		select {
		case <-c.met:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(50 * time.Millisecond) // room for an insert over the limit to show
	}
	return c.scriptSink.Write(ctx, t, rows)
}

func TestWriteKeepsAtMostTheConcurrencyInFlight(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(12)...)
	sink := &countingSink{scriptSink: newScriptSink(nil), met: make(chan struct{})}
	sink.arrived.Add(2)
	start(t, fanout{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond), runtime.WithWriteConcurrency(2))
	eventually(t, "every record committed", func() bool { return committed(t, k, "p.assay.processor.fanout") == 12 })
	select {
	case <-sink.met:
	default:
		t.Error("no two inserts were in flight at once")
	}
	if p := sink.peak.Load(); p != 2 {
		t.Errorf("at most %d inserts in flight, want 2", p)
	}
	for _, n := range []string{"a", "b", "c"} {
		if got := sink.offsets(n); !slices.Equal(got, allBut(12)) {
			t.Errorf("table %s: %v, want every record", n, got)
		}
	}
}

func TestWriteConcurrencyMustBePositive(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := runtime.New(fanout{}, config.Kafka{Brokers: []string{"127.0.0.1:1"}}, newScriptSink(nil), runtime.WithWriteConcurrency(n)); err == nil ||
			!strings.Contains(err.Error(), "write concurrency") {
			t.Errorf("WithWriteConcurrency(%d): err %v", n, err)
		}
	}
}

func TestWriteIsolationsGoIntoTheTransaction(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	var labels []schemas.Event
	for i := range 12 {
		l := &schemas.LabelSubmitted{LabelID: fmt.Sprintf("l%d", i), ItemID: "i", ProjectID: "p", TaskID: "t",
			QuestionID: "q", AnnotatorID: "a", GuidelineVersion: "g", Value: schemas.Nominal("x")}
		l.EventID = fmt.Sprintf("label-%d", i)
		schemas.Stamp(l, "test", time.UnixMilli(1_700_000_000_000))
		labels = append(labels, l)
	}
	produce(t, cl, k, labels...)
	sink := newScriptSink(func(_ runtime.Table, rows [][]any) error {
		for _, r := range rows {
			if r[0] == "l4" || r[0] == "l9" {
				return serverError(53, "Type mismatch")
			}
		}
		return nil
	})
	start(t, reviewer{}, k, sink, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond), runtime.WithIsolateAfter(1))
	eventually(t, "offsets committed", func() bool { return committed(t, k, "p.assay.processor.reviewer") == 12 })
	if n := sink.count("reviewed"); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
	// The reviews of every label stand (Apply folded them in); the two
	// refused labels are in the DLQ, committed in the same transaction.
	if reviews := readAll(t, k, k.Topic("assay.reviews.v1"), 12); len(reviews) != 12 {
		t.Fatalf("%d reviews, want 12", len(reviews))
	}
	rs := rejections(t, k, 2)
	if got := rejectedOffsets(rs); len(got) != 2 {
		t.Fatalf("DLQ offsets %v", got)
	}
}

func TestReplayIsolatesWithoutProducing(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(30)...)
	sink := newScriptSink(refuseOffsets("counts", serverError(395, throwIfMessage), 0, 29))
	reg := prometheus.NewRegistry()
	stats, err := runtime.Replay(context.Background(), counter{}, k, sink, time.Time{}, runtime.WithBatchSize(20000), runtime.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 30 || stats.Rows != 28 || stats.Isolated != 2 {
		t.Fatalf("stats %+v", stats)
	}
	if got, want := sink.offsets("counts"), allBut(30, 0, 29); !slices.Equal(got, want) {
		t.Fatalf("written %v", got)
	}
	if rs := rejections(t, k, 0); len(rs) != 0 {
		t.Fatalf("replay produced %d DLQ records", len(rs))
	}
	if got := sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != 2 {
		t.Errorf("isolated metric %v", got)
	}
}
