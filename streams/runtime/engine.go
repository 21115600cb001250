package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/schemas"
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
type batch struct {
	records int
	rows    map[string][][]any
	nrows   int
	produce []*kgo.Record // emitted events and DLQ records, in record order
	first   time.Time
}

func newBatch() *batch { return &batch{rows: map[string][][]any{}} }

func (b *batch) empty() bool { return b.records == 0 }

// poisonError marks why a record could not be processed, for the DLQ
// reason and the metric's cause label.
type poisonError struct {
	cause string // decode, apply, output
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
	out, err := e.p.Apply(state, rec)
	if err != nil {
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
			b.produce = append(b.produce, e.rejection(kr, err))
		}
		return true
	}
	for _, r := range out.Rows {
		b.rows[r.Table] = append(b.rows[r.Table], r.Values)
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
			b.produce = append(b.produce, e.rejection(kr, &poisonError{"output", err}))
			continue
		}
		b.produce = append(b.produce, &kgo.Record{Topic: e.kcfg.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val})
	}
	return false
}

// rejection builds the DLQ record for a poison record. Its event id is
// derived from the processor and the record's coordinates, so the same
// poison record replayed yields the same DLQ event id (the ledger's dlq
// table collapses the copies).
func (e *engine) rejection(kr *kgo.Record, cause error) *kgo.Record {
	rej := schemas.Rejection(e.producer, kr.Value, "", cause)
	part, off := kr.Partition, kr.Offset
	rej.OriginalTopic, rej.OriginalPartition, rej.OriginalOffset = kr.Topic, &part, &off
	rej.EventID = deterministicID(fmt.Sprintf("%s\x00%s\x00%d\x00%d", e.name, kr.Topic, part, off))
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

// deterministicID is a UUID-shaped (version 8, RFC 9562 custom) SHA-256 of s.
func deterministicID(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// write makes the rows of b durable, table by table in name order, retrying
// each table with exponential backoff until it succeeds, ctx ends, or the
// sink reports a permanent error. Tables already written are not rewritten
// when a later one fails (rewriting would be harmless, only slower).
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
	for _, n := range names {
		rows := b.rows[n]
		t := e.tables[n]
		bo := backoff.NewExponentialBackOff()
		bo.InitialInterval = 100 * time.Millisecond
		bo.MaxInterval = e.o.retryMax
		bo.MaxElapsedTime = 0 // never give up: an outage only delays
		attempt := 0
		err := backoff.RetryNotify(func() error {
			attempt++
			return e.sink.Write(ctx, t, rows)
		}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
			e.m.writeRetries.WithLabelValues(e.name, n).Inc()
			lvl := slog.LevelWarn
			if attempt > 1 && attempt%10 != 0 {
				lvl = slog.LevelDebug // one warning per ten attempts during a long outage
			}
			e.log.Log(ctx, lvl, "clickhouse write failed, retrying", "table", n, "rows", len(rows), "attempt", attempt, "retry_in", wait, "err", err)
		})
		if err != nil {
			return fmt.Errorf("write %d rows into %s: %w", len(rows), n, err)
		}
		e.m.rowsOut.WithLabelValues(e.name, n).Add(float64(len(rows)))
		delete(b.rows, n)
	}
	e.m.writeSeconds.WithLabelValues(e.name).Observe(time.Since(start).Seconds())
	return nil
}
