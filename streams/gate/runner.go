package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/infra/logview"
)

// Measurer measures the figures a dataset version is judged on, as of its commit
// (committedAtMs, epoch milliseconds). streams/gate/figures.Read is the implementation over
// ClickHouse; main adapts it.
type Measurer interface {
	Measure(ctx context.Context, ref VersionRef, committedAtMs int64) (Figures, error)
}

// MeasurerFunc adapts a function to a Measurer.
type MeasurerFunc func(ctx context.Context, ref VersionRef, committedAtMs int64) (Figures, error)

// Measure implements Measurer.
func (f MeasurerFunc) Measure(ctx context.Context, ref VersionRef, committedAtMs int64) (Figures, error) {
	return f(ctx, ref, committedAtMs)
}

// Runner is the gate's process: it reads the datasets and projects topics into a State,
// measures the due versions every tick and produces their verdicts in Kafka transactions.
// Create it with New and call Run once.
type Runner struct {
	k      config.Kafka
	m      Measurer
	o      *options
	met    *metrics
	log    *slog.Logger
	topics []string
	s      *State

	started atomic.Bool
	ready   atomic.Bool
}

// New returns the gate's runner over the topics of k, measuring with m. It checks the
// options and registers the metrics; it connects to nothing (Run does).
func New(k config.Kafka, m Measurer, opts ...Option) (*Runner, error) {
	o := defaultOptions(k)
	for _, opt := range opts {
		opt(o)
	}
	switch {
	case len(k.Brokers) == 0:
		return nil, errors.New("gate: no Kafka brokers")
	case m == nil:
		return nil, errors.New("gate: no Measurer")
	case o.tick <= 0:
		return nil, fmt.Errorf("gate: tick must be > 0, got %s", o.tick)
	case o.settle <= 0:
		return nil, fmt.Errorf("gate: settle timeout must be > 0, got %s", o.settle)
	case o.recheck < o.tick:
		return nil, fmt.Errorf("gate: recheck interval %s is shorter than the tick %s", o.recheck, o.tick)
	case o.measureTimeout <= 0:
		return nil, fmt.Errorf("gate: measure timeout must be > 0, got %s", o.measureTimeout)
	case o.shutdownTimeout <= 0:
		return nil, fmt.Errorf("gate: shutdown timeout must be > 0, got %s", o.shutdownTimeout)
	case o.txnID == "":
		return nil, errors.New("gate: empty transactional id")
	case o.log == nil:
		return nil, errors.New("gate: nil logger")
	}
	met, err := newMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	return &Runner{
		k: k, m: m, o: o, met: met, log: o.log.With("component", "gate"),
		topics: []string{k.Topic(schemas.FamilyDatasets.Topic()), k.Topic(schemas.FamilyProjects.Topic())},
		s:      NewState(SettleTimeout(o.settle), RecheckInterval(o.recheck)),
	}, nil
}

// TransactionalID is the Kafka transactional id the runner fences other instances with.
func (r *Runner) TransactionalID() string { return r.o.txnID }

// Ready returns nil once the runner has rebuilt its state to the end of the log as it was at
// the start and is deciding, for /readyz.
func (r *Runner) Ready(context.Context) error {
	if !r.ready.Load() {
		return errors.New("gate: not ready (starting, rebuilding its state from the log, or stopped)")
	}
	return nil
}

// Run runs the gate until ctx is cancelled or it is fenced. It first initialises its
// transactional producer, which fences any other instance with the same transactional id
// and aborts that instance's open transaction, then reads both topics from their start to
// the end offsets they had (ready), then polls, applies and, every tick, decides. On
// cancellation a transaction in progress gets the shutdown timeout to end, and is aborted
// otherwise. Run returns nil after a cancellation, or the error that stopped it: the client
// could not start, the state could not be rebuilt, or another instance fenced this one.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("gate: Run called twice")
	}
	txCtx, stopGrace := afterGrace(ctx, r.o.shutdownTimeout)
	defer stopGrace()

	opts := []kgo.Opt{
		// Every partition of both topics, directly, from the start: the state spans them
		// all, so the gate is one process, not a group member (see the package doc).
		kgo.ConsumeTopics(r.topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Verdicts (ours and an earlier instance's) count only once committed; an aborted
		// transaction's verdicts are never applied.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are fetched so the rebuild sees its position pass them: the
		// last offset below a high watermark is often one.
		kgo.KeepControlRecords(),
		// One fixed id per deployment: a second instance fences this one.
		kgo.TransactionalID(r.o.txnID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	cl, err := kafka.NewClient(r.k, append(opts, r.o.kgoOpts...)...)
	if err != nil {
		return fmt.Errorf("gate: kafka client: %w", err)
	}
	defer cl.Close()
	defer r.setReady(false)

	// Fence now rather than at the first verdict: an older instance must stop before this
	// one reads the log, and its open transaction must be aborted, or read_committed reads
	// would wait for it.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("gate: initialise the transactional producer %s: %w", r.o.txnID, err)
	}
	start := time.Now()
	n, err := r.rebuild(ctx, cl)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("gate: rebuild state: %w", err)
	}
	r.met.pending.Set(float64(r.s.Pending()))
	r.setReady(true)
	r.log.Info("gate ready", "records", n, "duration", time.Since(start), "pending", r.s.Pending(),
		"transactional_id", r.o.txnID, "topics", r.topics)

	next := time.Now()
	for ctx.Err() == nil {
		if wait := time.Until(next); wait > 0 {
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches := cl.PollFetches(pctx)
			cancel()
			if fetches.IsClientClosed() {
				return errors.New("gate: kafka client closed")
			}
			r.logFetchErrors(fetches)
			fetches.EachRecord(r.apply)
			continue
		}
		if err := r.tick(ctx, txCtx, cl); err != nil {
			return err
		}
		next = time.Now().Add(r.o.tick)
	}
	r.log.Info("gate stopped")
	return nil
}

func (r *Runner) setReady(ok bool) {
	r.ready.Store(ok)
	if ok {
		r.met.ready.Set(1)
	} else {
		r.met.ready.Set(0)
	}
}

// apply folds one polled record into the state; control records and records that do not
// decode change nothing (the ledger sends the latter to the DLQ).
func (r *Runner) apply(kr *kgo.Record) {
	if kr.Attrs.IsControl() {
		return
	}
	ev, err := schemas.Decode(kr.Value)
	if err != nil {
		r.log.Warn("skipping a record that does not decode", "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset, "err", err)
		return
	}
	r.s.Apply(ev)
}

func (r *Runner) logFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			r.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		}
	})
}

// rebuildIdle bounds how long the rebuild may make no progress towards the end offsets.
const rebuildIdle = 2 * time.Minute

// rebuild applies every record of both topics below the end offsets they had when it
// started (logview.Targets: a partition is caught up once a record, data or control, at or
// past its end offset minus one is fetched; one without records at once).
func (r *Runner) rebuild(ctx context.Context, cl *kgo.Client) (int, error) {
	targets, err := logview.ListTargets(ctx, kadm.NewClient(cl), r.topics...)
	if err != nil {
		return 0, err
	}
	n := 0
	progress := time.Now()
	for !targets.Done() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if fetches.IsClientClosed() {
			return n, errors.New("kafka client closed")
		}
		r.logFetchErrors(fetches)
		fetches.EachRecord(func(kr *kgo.Record) {
			targets.Saw(kr)
			if !kr.Attrs.IsControl() {
				n++
			}
			progress = time.Now()
			r.apply(kr)
		})
		if time.Since(progress) > rebuildIdle {
			return n, fmt.Errorf("no progress for %s with %d partitions short of their end offsets", rebuildIdle, targets.Left())
		}
	}
	return n, nil
}

// tick measures every due version and emits the verdicts Decide returns, in one transaction.
// It returns an error only when the gate must stop (it was fenced).
func (r *Runner) tick(ctx, txCtx context.Context, cl *kgo.Client) error {
	var evs []schemas.Event
	for _, ref := range r.s.Due(time.Now()) {
		if ctx.Err() != nil {
			return nil
		}
		at, _ := r.s.Committed(ref)
		mctx, cancel := context.WithTimeout(ctx, r.o.measureTimeout)
		start := time.Now()
		f, err := r.m.Measure(mctx, ref, at)
		cancel()
		r.met.measureSeconds.Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.met.measureFailures.Inc()
			r.log.Warn("measuring a dataset version failed; retrying at the next tick", "version", ref.String(), "err", err)
			continue
		}
		if f.Members == 0 {
			r.log.Debug("dataset version not in the ledger yet", "version", ref.String())
		}
		if ev, ok := r.s.Decide(ref, f, time.Now()); ok {
			evs = append(evs, ev)
		}
	}
	r.met.pending.Set(float64(r.s.Pending()))
	if len(evs) == 0 || ctx.Err() != nil {
		return nil
	}
	return r.emit(txCtx, cl, evs)
}

// abortTimeout bounds the abort of a transaction that could not end, typically because the
// shutdown grace ran out.
const abortTimeout = 5 * time.Second

// emit produces evs in one transaction and, once it is committed, applies them to the state.
// A transaction that fails is aborted and its versions are due again at the next tick (they
// are decided again, with the same event ids). It returns an error when another instance
// fenced this one.
func (r *Runner) emit(ctx context.Context, cl *kgo.Client, evs []schemas.Event) error {
	recs := make([]*kgo.Record, 0, len(evs))
	var kept []schemas.Event
	for _, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			// A verdict the contract refuses is a bug in the gate; it is not emitted, and is
			// decided (and refused) again at the next recheck.
			r.log.Error("a verdict does not encode; not emitted", "event_id", ev.Meta().EventID, "err", err)
			continue
		}
		recs = append(recs, &kgo.Record{Topic: r.k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val})
		kept = append(kept, ev)
	}
	if len(recs) == 0 {
		return nil
	}
	if err := cl.BeginTransaction(); err != nil {
		r.forget(kept)
		return r.fatal("begin a transaction", err)
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	for _, rec := range recs {
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				prodErr = errors.Join(prodErr, err)
				mu.Unlock()
			}
		})
	}
	flushErr := cl.Flush(ctx)
	mu.Lock()
	failed := errors.Join(flushErr, prodErr)
	mu.Unlock()
	if failed == nil {
		endErr := cl.EndTransaction(ctx, kgo.TryCommit)
		if endErr == nil {
			for _, ev := range kept {
				r.s.Apply(ev)
				verdict := "rejected"
				if ev.Type() == schemas.TypeDatasetVersionCertified {
					verdict = "certified"
				}
				r.met.verdicts.WithLabelValues(verdict).Inc()
				v, _ := verdictOfEvent(ev)
				r.log.Info("verdict", "version", VersionRef{v.DatasetID, v.Version}.String(), "verdict", verdict,
					"sequence", v.Sequence, "reason", v.Reason, "event_id", ev.Meta().EventID)
			}
			r.met.pending.Set(float64(r.s.Pending()))
			return nil
		}
		failed = endErr
	}
	r.forget(kept)
	if isFenced(failed) {
		r.abort(ctx, cl)
		return r.fatal("produce verdicts", failed)
	}
	r.log.Warn("the verdicts' transaction failed; aborting, the versions are decided again at the next tick",
		"verdicts", len(kept), "err", failed)
	r.abort(ctx, cl)
	return nil
}

// abort ends the open transaction by aborting it, with a budget of its own: ctx may be over
// (the shutdown grace ran out), and an open transaction would hold back every read_committed
// reader of the datasets topic until the broker's transaction timeout.
func (r *Runner) abort(ctx context.Context, cl *kgo.Client) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(abortTimeout, r.o.shutdownTimeout))
	defer cancel()
	if err := cl.AbortBufferedRecords(actx); err != nil {
		r.log.Warn("could not abort the buffered verdicts", "err", err)
	}
	if err := cl.EndTransaction(actx, kgo.TryAbort); err != nil && !isFenced(err) {
		r.log.Warn("could not abort the transaction; the broker aborts it at its timeout", "err", err)
	}
}

// forget makes the versions of evs due at the next tick again: their verdicts were not
// committed.
func (r *Runner) forget(evs []schemas.Event) {
	for _, ev := range evs {
		if v, ok := verdictOfEvent(ev); ok {
			delete(r.s.measured, VersionRef{v.DatasetID, v.Version})
		}
	}
}

func (r *Runner) fatal(what string, err error) error {
	if isFenced(err) {
		r.log.Error("fenced: another gate instance runs with the same transactional id; stopping", "transactional_id", r.o.txnID, "err", err)
		return fmt.Errorf("gate: %s: fenced by another instance with transactional id %s: %w", what, r.o.txnID, err)
	}
	return fmt.Errorf("gate: %s: %w", what, err)
}

// isFenced reports whether err says another producer with this transactional id took over.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

func verdictOfEvent(ev schemas.Event) (*schemas.GateVerdict, bool) {
	switch e := ev.(type) {
	case *schemas.DatasetVersionCertified:
		return &e.GateVerdict, true
	case *schemas.DatasetVersionRejected:
		return &e.GateVerdict, true
	}
	return nil, false
}

// afterGrace returns a context that ends grace after parent ends, or when stop is called. No
// goroutine outlives stop.
func afterGrace(parent context.Context, grace time.Duration) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	var (
		mu      sync.Mutex
		timer   *time.Timer
		stopped bool
	)
	unregister := context.AfterFunc(parent, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = time.AfterFunc(grace, cancel)
		}
	})
	return ctx, func() {
		unregister()
		mu.Lock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}
