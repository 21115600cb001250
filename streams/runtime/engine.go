package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
)

// engine is what the group Runner and Replay share: turning Kafka records
// into a batch (apply, poison handling) and making a batch's rows durable.
type engine struct {
	p        Processor
	name     string
	kcfg     config.Kafka
	tables   map[string]Table
	emitter  bool
	o        *options
	m        *metrics
	sink     Sink
	log      *slog.Logger
	dlqTopic string
	producer string
}

func newEngine(p Processor, k config.Kafka, sink Sink, opts []Option) (*engine, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(o)
	}
	if len(o.errs) > 0 {
		return nil, fmt.Errorf("processor %s: %w", p.Name(), errors.Join(o.errs...))
	}
	e := &engine{
		p: p, name: p.Name(), kcfg: k, tables: map[string]Table{}, emitter: emits(p),
		o: o, m: newMetrics(o.reg), sink: sink, log: o.log.With("processor", p.Name()),
		dlqTopic: k.Topic(schemas.FamilyDLQ.Topic()), producer: o.producer,
	}
	if e.producer == "" {
		e.producer = "assay-processor/" + e.name
	}
	if e.name == "" {
		return nil, errors.New("processor has an empty name")
	}
	if len(p.Families()) == 0 {
		return nil, fmt.Errorf("processor %s consumes no family", e.name)
	}
	if in, ok := p.(Instrumented); ok && o.reg != nil {
		// A collector already registered (a second runner or a Replay of the
		// same processor in this process) is kept, not an error.
		for _, c := range in.Collectors() {
			var are prometheus.AlreadyRegisteredError
			if err := o.reg.Register(c); err != nil && !errors.As(err, &are) {
				return nil, fmt.Errorf("processor %s: register its metrics: %w", e.name, err)
			}
		}
	}
	for _, t := range p.Tables() {
		if t.Name == "" || len(t.Columns) == 0 {
			return nil, fmt.Errorf("processor %s: table %q needs a name and columns", e.name, t.Name)
		}
		e.tables[t.Name] = t
	}
	return e, nil
}

// topics are the full names of the processor's input topics.
func (e *engine) topics() []string {
	var out []string
	for _, f := range e.p.Families() {
		out = append(out, e.kcfg.Topic(f.Topic()))
	}
	return out
}

// batch accumulates the effect of consecutive records until it is flushed.
// Every row and every produced record remembers the record it comes from
// (its index in srcs), so a write can send the records whose rows
// ClickHouse refuses to the DLQ and write the others.
type batch struct {
	records int
	// markers counts the transaction markers polled since the last flush: nothing to apply,
	// but the flush's commit moves past them (Runner.loop).
	markers   int
	srcs      []*kgo.Record // the batch's records, in the order added
	rows      map[string]*tableRows
	nrows     int
	written   int           // rows made durable so far
	produce   []*kgo.Record // emitted events and DLQ records, in record order
	produceOf []int         // produceOf[i]: index in srcs of the record produce[i] comes from
	isolated  map[int]*isolation
	first     time.Time
}

// tableRows are the rows of one table in a batch.
type tableRows struct {
	rows [][]any
	recs []int // recs[i]: index in srcs of the record rows[i] comes from (non-decreasing)
}

// isolation is a record whose rows a table refused: the first table by
// name, when several did (also names the others).
type isolation struct {
	rec      int // index in srcs
	table    string
	attempts int
	err      error
	also     []string
}

func newBatch() *batch {
	return &batch{rows: map[string]*tableRows{}, isolated: map[int]*isolation{}}
}

func (b *batch) empty() bool { return b.records == 0 && b.markers == 0 }

// marker counts a transaction marker polled: the batch is not empty any more, so the next
// flush commits past it even when no record came with it.
func (b *batch) marker() {
	if b.empty() {
		b.first = time.Now()
	}
	b.markers++
}

func (b *batch) addProduce(rec int, kr *kgo.Record) {
	b.produce = append(b.produce, kr)
	b.produceOf = append(b.produceOf, rec)
}

// poisonError marks why a record could not be processed, for the DLQ
// reason and the metric's cause label.
type poisonError struct {
	cause string // decode, forbidden, apply, output, write
	err   error
}

func (p *poisonError) Error() string {
	msg := p.err.Error()
	if strings.HasPrefix(msg, p.cause+":") {
		return msg // schemas errors already start with "decode:"
	}
	return p.cause + ": " + msg
}
func (p *poisonError) Unwrap() error { return p.err }

// decode turns a Kafka record into a Record, or a poison error.
func (e *engine) decode(kr *kgo.Record) (Record, error) {
	fam, ok := schemas.FamilyOfTopic(e.kcfg.TopicPrefix, kr.Topic)
	if !ok {
		return Record{}, &poisonError{"decode", fmt.Errorf("topic %s is not a contract topic", kr.Topic)}
	}
	ev, err := schemas.Decode(kr.Value)
	if err != nil {
		return Record{}, &poisonError{"decode", err}
	}
	if ev.Family() != fam {
		return Record{}, &poisonError{"decode", fmt.Errorf("%s event on the %s topic", ev.Type(), fam)}
	}
	return Record{
		Topic: kr.Topic, Family: fam, Partition: kr.Partition, Offset: kr.Offset,
		Key: kr.Key, Timestamp: kr.Timestamp, Value: kr.Value, Event: ev,
	}, nil
}

// apply runs the processor on one record and checks its output against the
// declared tables, so a bad output is poison instead of a stuck batch.
func (e *engine) apply(state any, kr *kgo.Record) (Output, error) {
	rec, err := e.decode(kr)
	if err != nil {
		return Output{}, err
	}
	if err := e.authorize(&rec); err != nil {
		return Output{}, &poisonError{"forbidden", err}
	}
	out, err := e.p.Apply(state, rec)
	if err != nil {
		if _, ok := forbidden(err); ok {
			return Output{}, &poisonError{"forbidden", err}
		}
		return Output{}, &poisonError{"apply", err}
	}
	for _, r := range out.Rows {
		t, ok := e.tables[r.Table]
		if !ok {
			return Output{}, &poisonError{"output", fmt.Errorf("row for undeclared table %q", r.Table)}
		}
		if len(r.Values) != len(t.Columns) {
			return Output{}, &poisonError{"output", fmt.Errorf("row for %s has %d values, table has %d columns", r.Table, len(r.Values), len(t.Columns))}
		}
	}
	if len(out.Emit) > 0 && !e.emitter {
		return Output{}, &poisonError{"output", fmt.Errorf("processor %s emitted %d events but does not implement Emitter", e.name, len(out.Emit))}
	}
	return out, nil
}

// add applies kr and adds its effect to b, reporting whether kr was
// poison. live=false (replay) drops emitted events and DLQ records: they
// were produced when the log was first processed.
func (e *engine) add(b *batch, state any, kr *kgo.Record, live bool) (poison bool) {
	if b.records == 0 {
		b.first = time.Now()
	}
	b.records++
	b.srcs = append(b.srcs, kr)
	rec := len(b.srcs) - 1
	out, err := e.apply(state, kr)
	if err != nil {
		var pe *poisonError
		cause := "apply"
		if errors.As(err, &pe) {
			cause = pe.cause
		}
		e.m.dlq.WithLabelValues(e.name, cause).Inc()
		e.log.Warn("poison record", "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset, "err", err)
		if live {
			b.addProduce(rec, e.rejection(kr, err, ""))
		}
		return true
	}
	for _, r := range out.Rows {
		tr := b.rows[r.Table]
		if tr == nil {
			tr = &tableRows{}
			b.rows[r.Table] = tr
		}
		tr.rows = append(tr.rows, r.Values)
		tr.recs = append(tr.recs, rec)
		b.nrows++
	}
	if !live {
		return false
	}
	for _, ev := range out.Emit {
		val, err := schemas.Encode(ev)
		if err != nil {
			// The processor built an invalid event: the input record is what
			// goes to the DLQ, with the reason, and nothing is emitted for it.
			e.m.dlq.WithLabelValues(e.name, "output").Inc()
			b.addProduce(rec, e.rejection(kr, &poisonError{"output", err}, ""))
			continue
		}
		b.addProduce(rec, &kgo.Record{Topic: e.kcfg.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val})
	}
	return false
}

// rejection builds the DLQ record for a poison record. Its event id is
// derived from the processor, the record's coordinates and, for a record
// whose rows a table refused, that table (table is "" otherwise), so the
// same poison record replayed yields the same DLQ event id (the ledger's
// dlq table collapses the copies). It names the original's producer when
// the record decodes, and, for a refusal by the write rules, the field the
// rule looked at.
func (e *engine) rejection(kr *kgo.Record, cause error, table string) *kgo.Record {
	var producer string
	if ev, err := schemas.Decode(kr.Value); err == nil {
		producer = ev.Meta().Producer
	}
	rej := schemas.Rejection(e.producer, kr.Value, producer, cause)
	if v, ok := forbidden(cause); ok && v.Field != "" {
		rej.Field = v.Field
	}
	part, off := kr.Partition, kr.Offset
	rej.OriginalTopic, rej.OriginalPartition, rej.OriginalOffset = kr.Topic, &part, &off
	rej.EventID = rejectionID(e.name, kr.Topic, part, off, table)
	rej.Trace.CorrelationID = rej.EventID
	if ts := kr.Timestamp.UnixMilli(); ts > 0 {
		rej.OccurredAt = ts
	}
	schemas.Stamp(rej, e.producer, time.Now())
	val, err := schemas.Encode(rej)
	if err != nil {
		// Cannot happen for a stamped rejection with a reason; keep the
		// record anyway with a minimal reason rather than lose it.
		rej.Reason = "unencodable rejection: " + err.Error()
		val, _ = schemas.Encode(rej)
	}
	return &kgo.Record{Topic: e.dlqTopic, Key: []byte(rej.Source), Value: val}
}

// rejectionID is the event id of the DLQ record of the record at (topic,
// partition, offset) for processor, refused by table (table is "" for a
// record that is poison before any write).
func rejectionID(processor, topic string, partition int32, offset int64, table string) string {
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d", processor, topic, partition, offset)
	if table != "" {
		key += "\x00write\x00" + table
	}
	return deterministicID(key)
}

// deterministicID is a UUID-shaped (version 8, RFC 9562 custom) SHA-256 of s.
func deterministicID(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// write makes the rows of b durable under the rule that no record stalls a
// partition (see the package doc): transient failures are retried without
// limit, and an insert that ClickHouse refuses is split until the records
// responsible are found. The tables are written concurrently, at most
// WithWriteConcurrency inserts at a time, each on its own: a record whose
// rows one table refuses is isolated there, and its rows are written in
// every table that takes them. The isolations are merged in table name
// order, so b.isolated names, for each isolated record, the first table by
// name that refused it whatever insert ended first. write returns an error
// only when ctx ends first; the tables written by then are removed from b
// (rewriting them would be harmless, only slower: their rows are keyed
// deterministically).
func (e *engine) write(ctx context.Context, b *batch) error {
	if b.nrows == 0 {
		return nil
	}
	start := time.Now()
	names := make([]string, 0, len(b.rows))
	for n := range b.rows {
		names = append(names, n)
	}
	slices.Sort(names)
	results := make([]tableWrite, len(names))
	var g errgroup.Group
	g.SetLimit(e.o.writeConc)
	for i, n := range names {
		if ctx.Err() != nil {
			break // g.Wait reports it through the writes already started, or below
		}
		tr := b.rows[n]
		tw := &results[i]
		g.Go(func() error {
			err := e.writePart(ctx, e.tables[n], tr.rows, tr.recs, b.srcs, tw)
			tw.done = err == nil
			return err
		})
	}
	err := g.Wait()
	for i, n := range names {
		tw := &results[i]
		b.written += tw.written
		for _, iso := range tw.isolated {
			b.addIsolation(iso)
		}
		if tw.done {
			delete(b.rows, n)
		}
	}
	if err == nil && len(b.rows) > 0 {
		err = fmt.Errorf("write %d tables: %w", len(b.rows), ctx.Err())
	}
	if err != nil {
		return err
	}
	e.m.writeSeconds.WithLabelValues(e.name).Observe(time.Since(start).Seconds())
	return nil
}

// addIsolation records iso in b.isolated, keeping for each record the first
// refusing table by name and the others, sorted, in also (a batch written
// again after its context ended may meet a record's tables in another
// order).
func (b *batch) addIsolation(iso *isolation) {
	prev := b.isolated[iso.rec]
	switch {
	case prev == nil:
		b.isolated[iso.rec] = iso
		return
	case iso.table == prev.table || slices.Contains(prev.also, iso.table):
		return
	case iso.table < prev.table:
		iso.also = append(append(iso.also, prev.table), prev.also...)
		b.isolated[iso.rec] = iso
	default:
		prev.also = append(prev.also, iso.table)
	}
	slices.Sort(b.isolated[iso.rec].also)
}

// tableWrite is what the write of one table's rows did: its own, so the
// tables of a batch can be written concurrently and merged in name order.
type tableWrite struct {
	written  int          // rows made durable
	isolated []*isolation // records the table refused, in the order found
	done     bool         // every row written or isolated
}

// writePart writes rows, which come from the records recs (indexes in
// srcs), retrying transient failures with exponential backoff. When
// ClickHouse refuses the rows of several records (or a size-sensitive
// transient error repeats), it writes each half of the records in turn,
// recursively; when it refuses the rows of one record isolateAfter times,
// that record is isolated. It returns an error only when ctx ends.
func (e *engine) writePart(ctx context.Context, t Table, rows [][]any, recs []int, srcs []*kgo.Record, tw *tableWrite) error {
	single := recs[0] == recs[len(recs)-1]
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = e.o.retryMax
	bo.MaxElapsedTime = 0 // never give up: an outage only delays
	bo.Reset()
	var (
		last    int32 = math.MinInt32 // identity of the previous failure
		repeats int                   // consecutive failures with that identity
		refused int                   // failures refusing the rows of a single record
	)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write %d rows into %s: %w", len(rows), t.Name, err)
		}
		err := e.sink.Write(ctx, t, rows)
		if err == nil {
			e.m.rowsOut.WithLabelValues(e.name, t.Name).Add(float64(len(rows)))
			tw.written += len(rows)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("write %d rows into %s: %w (last attempt: %v)", len(rows), t.Name, cerr, err)
		}
		f := classify(err)
		if id := sameFailure(err); id == last {
			repeats++
		} else {
			last, repeats = id, 1
		}
		switch {
		case !single && (f == failRows || f == failTransientSize && repeats >= e.o.isolateAfter):
			return e.split(ctx, t, rows, recs, srcs, tw, f, err)
		case f == failRows:
			refused++
			if refused >= e.o.isolateAfter {
				e.isolate(tw, srcs, recs[0], t.Name, refused, err)
				return nil
			}
		}
		wait := bo.NextBackOff()
		e.m.writeRetries.WithLabelValues(e.name, t.Name).Inc()
		lvl := slog.LevelWarn
		if attempt > 1 && attempt%10 != 0 {
			lvl = slog.LevelDebug // one warning per ten attempts during a long outage
		}
		e.log.Log(ctx, lvl, "clickhouse write failed, retrying", "table", t.Name, "rows", len(rows),
			"attempt", attempt, "failure", f, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("write %d rows into %s: %w (last attempt: %v)", len(rows), t.Name, ctx.Err(), err)
		case <-timer.C:
		}
	}
}

// split writes the first and then the second half of rows, cut at a
// record boundary so that the rows of one record stay together.
func (e *engine) split(ctx context.Context, t Table, rows [][]any, recs []int, srcs []*kgo.Record, tw *tableWrite, f failure, cause error) error {
	m := len(recs) / 2
	for m < len(recs) && recs[m] == recs[m-1] {
		m++
	}
	if m == len(recs) {
		for m = len(recs) / 2; recs[m] == recs[m-1]; m-- {
		}
	}
	e.m.writeSplits.WithLabelValues(e.name, t.Name).Inc()
	e.log.Info("splitting a clickhouse insert", "table", t.Name, "rows", len(rows),
		"first_rows", m, "failure", f, "err", cause)
	if err := e.writePart(ctx, t, rows[:m], recs[:m], srcs, tw); err != nil {
		return err
	}
	return e.writePart(ctx, t, rows[m:], recs[m:], srcs, tw)
}

// isolate records that table refused the rows of record rec (an index in
// srcs).
func (e *engine) isolate(tw *tableWrite, srcs []*kgo.Record, rec int, table string, attempts int, err error) {
	tw.isolated = append(tw.isolated, &isolation{rec: rec, table: table, attempts: attempts, err: err})
	e.m.isolated.WithLabelValues(e.name, table).Inc()
	kr := srcs[rec]
	e.log.Warn("clickhouse refused a record's rows; the record goes to the DLQ and the partition moves on",
		"table", table, "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset, "attempts", attempts, "err", err)
}

// dlqIsolated adds the DLQ records of the records write isolated to
// b.produce, each after what its record produced itself, so b.produce
// stays in record order.
func (e *engine) dlqIsolated(b *batch) {
	if len(b.isolated) == 0 {
		return
	}
	recs := make([]int, 0, len(b.isolated))
	for rec := range b.isolated {
		recs = append(recs, rec)
	}
	slices.Sort(recs)
	produce := make([]*kgo.Record, 0, len(b.produce)+len(recs))
	of := make([]int, 0, len(b.produce)+len(recs))
	i := 0
	for _, rec := range recs {
		for ; i < len(b.produce) && b.produceOf[i] <= rec; i++ {
			produce, of = append(produce, b.produce[i]), append(of, b.produceOf[i])
		}
		iso := b.isolated[rec]
		msg := fmt.Sprintf("table %s refused the record's rows (%d attempts): %s", iso.table, iso.attempts, describe(iso.err))
		if len(iso.also) > 0 {
			msg += "; also refused by " + strings.Join(iso.also, ", ")
		}
		cause := &poisonError{"write", errors.New(msg)}
		e.m.dlq.WithLabelValues(e.name, "write").Inc()
		produce, of = append(produce, e.rejection(b.srcs[rec], cause, iso.table)), append(of, rec)
	}
	b.produce, b.produceOf = append(produce, b.produce[i:]...), append(of, b.produceOf[i:]...)
}
