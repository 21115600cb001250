package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// tp names one partition of one topic: the unit of state.
type tp struct {
	topic     string
	partition int32
}

// Runner runs one processor as a member of its consumer group. Create it
// with New and call Run once.
type Runner struct {
	e     *engine
	group string

	// mu guards states and b. The poll loop holds it while applying and
	// flushing; rebalance callbacks take it to flush or drop state, which
	// BlockRebalanceOnPoll already keeps from overlapping a poll's work.
	mu     sync.Mutex
	states map[tp]any
	b      *batch

	// Snapshots (WithSnapshots): snapper is nil when they are off or the
	// processor is not a Snapshotter. snaps (guarded by mu) follows every
	// partition state; one snapshot at a time is written in the background
	// (writing), reporting to snapResults; snapWG waits for it.
	snapper     Snapshotter
	snaps       map[tp]*snapState
	writing     bool
	snapResults chan snapDone
	snapWG      sync.WaitGroup

	cl       *kgo.Client
	sess     *kgo.GroupTransactSession // set instead of plain polling when the processor emits
	writeCtx context.Context           // ends one shutdown grace after the run context
	joined   atomic.Bool
	running  atomic.Bool
	fatal    error // set by callbacks, returned by Run
}

// New returns a runner of p reading the topics of p's families in the
// namespace of k and writing rows to sink.
func New(p Processor, k config.Kafka, sink Sink, opts ...Option) (*Runner, error) {
	e, err := newEngine(p, k, sink, opts)
	if err != nil {
		return nil, err
	}
	r := &Runner{e: e, group: e.o.group, states: map[tp]any{}, b: newBatch(),
		snaps: map[tp]*snapState{}, snapResults: make(chan snapDone, 1)}
	if r.group == "" {
		r.group = DefaultGroup(k, e.name)
	}
	if sp, ok := p.(Snapshotter); ok && e.o.snap.store != nil {
		r.snapper = sp
	}
	return r, nil
}

// Group is the consumer group the runner joins.
func (r *Runner) Group() string { return r.group }

// Ready returns nil once the runner has joined its group and set up its
// first assignment (which may be empty when there are more members than
// partitions), for /readyz.
func (r *Runner) Ready(context.Context) error {
	switch {
	case !r.running.Load():
		return errors.New("runner is not running")
	case !r.joined.Load():
		return errors.New("runner has not joined its consumer group yet")
	}
	return nil
}

// Run consumes until ctx is cancelled, then flushes the current batch,
// commits and leaves the group. Everything that writes or rebuilds (the
// poll loop's flush, rebalance callbacks, the final flush) runs under a
// context that ends one shutdown timeout (WithShutdownTimeout) after ctx
// is cancelled, so the shutdown is bounded even while ClickHouse is down;
// a batch that is not durable by then is not committed (a transaction is
// aborted) and is re-read by the next owner of its partitions. Run returns
// nil after a clean shutdown, or the error that stopped it: a failed
// transaction, a rebuild that could not finish, or a shutdown grace that
// ran out before the batch was durable.
func (r *Runner) Run(ctx context.Context) error {
	writeCtx, stopGrace := afterGrace(ctx, r.e.o.shutdownTimeout, func() {
		r.e.log.Info("stopping: flushing and committing within the shutdown grace", "grace", r.e.o.shutdownTimeout)
	})
	defer stopGrace()
	r.writeCtx = writeCtx

	opts := []kgo.Opt{
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(r.e.topics()...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Offsets are committed by hand, after the batch is durable.
		kgo.DisableAutoCommit(),
		// Rebalance callbacks run only between polls, never in the middle
		// of applying a batch, so a revoke can flush and commit cleanly.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		// Events emitted by transactional processors count only once committed.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A committed transaction ends with a marker in each partition it wrote. Polling
		// the markers lets the commit move past them: otherwise a group that has consumed
		// everything commits the offset of the marker, and its lag on the broker (what
		// kadm, kafka-consumer-groups and the API read) stays 1 per such partition.
		kgo.KeepControlRecords(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	opts = append(opts, r.e.o.kgoOpts...)
	var err error
	if r.e.emitter {
		opts = append(opts, kgo.TransactionalID(fmt.Sprintf("%s-%d", r.group, time.Now().UnixNano())))
		r.sess, err = kgo.NewGroupTransactSession(append([]kgo.Opt{kgo.SeedBrokers(r.e.kcfg.Brokers...)}, opts...)...)
		if err == nil {
			r.cl = r.sess.Client()
		}
	} else {
		r.cl, err = kafka.NewClient(r.e.kcfg, opts...)
	}
	if err != nil {
		return fmt.Errorf("processor %s: kafka client: %w", r.e.name, err)
	}
	r.running.Store(true)
	defer r.running.Store(false)
	// A snapshot still being written when Run returns is waited for; its
	// context ends with the shutdown grace.
	defer r.snapWG.Wait()
	r.e.log.Info("processor started", "group", r.group, "topics", r.e.topics(), "transactional", r.e.emitter,
		"snapshots", r.snapper != nil)

	runErr := r.loop(ctx)

	// Graceful shutdown: flush what was polled, commit, snapshot what is
	// not snapshotted yet, leave the group, all within the grace that
	// started when ctx was cancelled.
	r.mu.Lock()
	if runErr == nil {
		runErr = r.flush(writeCtx)
	}
	if runErr == nil {
		r.finalSnapshots(writeCtx)
	}
	r.mu.Unlock()
	if r.sess != nil {
		r.sess.CloseAllowingRebalance()
	} else {
		r.cl.CloseAllowingRebalance()
	}
	r.mu.Lock()
	if runErr == nil {
		runErr = r.fatal
	}
	if runErr != nil && ctx.Err() != nil && writeCtx.Err() != nil {
		runErr = fmt.Errorf("processor %s: the shutdown grace of %s ran out; %d polled records were not committed and will be re-read: %w",
			r.e.name, r.e.o.shutdownTimeout, r.b.records, runErr)
	}
	r.dropAll()
	r.mu.Unlock()
	r.e.log.Info("processor stopped", "err", runErr)
	return runErr
}

// afterGrace returns a context that ends grace after parent ends (calling
// started when the grace starts), or when stop is called. It keeps
// parent's values. No goroutine outlives stop: the timer is stopped and
// context.AfterFunc unregistered.
func afterGrace(parent context.Context, grace time.Duration, started func()) (ctx context.Context, stop func()) {
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
			started()
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

func (r *Runner) poll(ctx context.Context) kgo.Fetches {
	if r.sess != nil {
		return r.sess.PollRecords(ctx, r.e.o.batchSize)
	}
	return r.cl.PollRecords(ctx, r.e.o.batchSize)
}

func (r *Runner) allowRebalance() {
	if r.sess != nil {
		r.sess.AllowRebalance()
		return
	}
	r.cl.AllowRebalance()
}

func (r *Runner) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		// Poll no longer than until the current batch is due, so a quiet
		// topic still gets its rows written within the flush interval.
		wait := r.e.o.flushInterval
		r.mu.Lock()
		if !r.b.empty() {
			wait = time.Until(r.b.first.Add(r.e.o.flushInterval))
		}
		fatal := r.fatal
		r.mu.Unlock()
		if fatal != nil {
			return fatal
		}
		if wait <= 0 {
			wait = time.Millisecond
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := r.poll(pctx)
		cancel()
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.e.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		r.mu.Lock()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			key := tp{fp.Topic, fp.Partition}
			last := fp.Records[len(fp.Records)-1].Offset
			state, ok := r.states[key]
			if !ok {
				// Assignment callbacks run before fetching starts, so this is
				// only reached for a stateless processor or a race with a
				// revoke; a fresh state is what the stateless case needs.
				state = r.e.p.NewState(fp.Topic, fp.Partition)
				r.states[key] = state
			}
			records := 0
			for _, kr := range fp.Records {
				if kr.Attrs.IsControl() {
					r.b.marker()
					continue
				}
				records++
				r.e.add(r.b, state, kr, true)
			}
			r.e.m.recordsIn.WithLabelValues(r.e.name, fp.Topic).Add(float64(records))
			if ss := r.snaps[key]; ss != nil {
				ss.next, ss.pending = last+1, true
				ss.since += records
			}
			r.e.m.lag.WithLabelValues(r.e.name, fp.Topic, partLabel(fp.Partition)).Set(float64(max(0, fp.HighWatermark-last-1)))
		})
		var err error
		if !r.b.empty() && (r.b.records >= r.e.o.batchSize || time.Since(r.b.first) >= r.e.o.flushInterval) {
			err = r.flush(r.writeCtx)
		}
		if err == nil {
			r.snapshotDone()
			r.maybeSnapshot(time.Now())
		}
		r.stateKeys()
		r.mu.Unlock()
		r.allowRebalance()
		if err != nil {
			return err
		}
	}
	return nil
}

// flush makes the batch durable and commits the offsets of every record
// polled so far (all of them are in the batch: the loop applies everything
// it polls before it can flush). Records whose rows ClickHouse refused go
// to the DLQ with the batch's other produced records: in its transaction,
// or before the commit. Nothing is committed when ctx ends first. Called
// with mu held.
func (r *Runner) flush(ctx context.Context) error {
	b := r.b
	if b.empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("processor %s: flush %d records: %w", r.e.name, b.records, err)
	}
	r.e.m.batchSize.WithLabelValues(r.e.name).Observe(float64(b.records))
	if err := r.e.write(ctx, b); err != nil {
		return fmt.Errorf("processor %s: %w", r.e.name, err)
	}
	r.e.dlqIsolated(b)
	if r.sess != nil {
		if err := r.endTransaction(ctx, b); err != nil {
			return err
		}
	} else {
		if len(b.produce) > 0 {
			// DLQ records before the commit: if we crash in between, the
			// replay produces them again with the same event ids.
			if err := r.cl.ProduceSync(ctx, b.produce...).FirstErr(); err != nil {
				return fmt.Errorf("processor %s: produce %d DLQ records: %w", r.e.name, len(b.produce), err)
			}
			r.countProduced(b)
		}
		if err := r.cl.CommitUncommittedOffsets(ctx); err != nil {
			// The rows are durable; whoever owns the partitions next re-reads
			// from the last commit and the rows collapse. Not fatal, but the
			// states stay ahead of the commit, so none is snapshotted until a
			// later commit succeeds.
			r.e.m.commitFailures.WithLabelValues(r.e.name).Inc()
			r.e.log.Warn("offset commit failed after a durable write; the batch will be replayed", "err", err)
			r.b = newBatch()
			return nil
		}
	}
	r.b = newBatch()
	r.committed()
	return nil
}

func (r *Runner) countProduced(b *batch) {
	for _, rec := range b.produce {
		if rec.Topic != r.e.dlqTopic {
			r.e.m.eventsOut.WithLabelValues(r.e.name, rec.Topic).Inc()
		}
	}
}

// endTransaction produces the batch's events and commits its offsets in one
// Kafka transaction. When the transaction aborts (a rebalance happened
// during the batch), the session rewinds to the committed offsets, so the
// state of every partition still owned is rebuilt to match.
func (r *Runner) endTransaction(ctx context.Context, b *batch) error {
	if err := r.sess.Begin(); err != nil {
		return fmt.Errorf("processor %s: begin transaction: %w", r.e.name, err)
	}
	var (
		pmu     sync.Mutex
		prodErr error
	)
	for _, rec := range b.produce {
		r.sess.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				pmu.Lock()
				prodErr = errors.Join(prodErr, err)
				pmu.Unlock()
			}
		})
	}
	try := kgo.TryCommit
	if err := r.sess.Client().Flush(ctx); err != nil {
		r.abort(ctx)
		return fmt.Errorf("processor %s: flush transaction: %w", r.e.name, err)
	}
	pmu.Lock()
	if prodErr != nil {
		try = kgo.TryAbort
	}
	pmu.Unlock()
	committed, err := r.sess.End(ctx, try)
	if err != nil {
		r.abort(ctx)
		return fmt.Errorf("processor %s: end transaction: %w", r.e.name, err)
	}
	if !committed {
		r.e.log.Warn("transaction aborted; rebuilding state and re-reading from the committed offsets", "produce_err", prodErr)
		keys := make([]tp, 0, len(r.states))
		for k := range r.states {
			keys = append(keys, k)
		}
		r.states = map[tp]any{}
		if err := r.setup(ctx, keys); err != nil {
			return err
		}
		return nil
	}
	r.countProduced(b)
	return nil
}

// abortTimeout bounds the abort of a transaction that could not end,
// typically because the shutdown grace ran out while it was ending.
const abortTimeout = 5 * time.Second

// abort aborts the open transaction after End could not finish, rather
// than leave it to the broker's transaction timeout (read_committed
// consumers of its topics would wait for it until then). Its offsets were
// never committed either way. ctx is usually over by then, so the abort has
// a short budget of its own.
func (r *Runner) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(abortTimeout, r.e.o.shutdownTimeout))
	defer cancel()
	if _, err := r.sess.End(actx, kgo.TryAbort); err != nil {
		r.e.log.Warn("could not abort the transaction; the broker aborts it at its timeout", "err", err)
	}
}

// assigned creates (and rebuilds) the state of newly assigned partitions
// before any of their records are fetched.
func (r *Runner) assigned(ctx context.Context, _ *kgo.Client, parts map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []tp
	for t, ps := range parts {
		for _, p := range ps {
			keys = append(keys, tp{t, p})
		}
	}
	r.e.log.Info("partitions assigned", "partitions", parts)
	if err := r.setup(r.writeCtx, keys); err != nil && r.fatal == nil {
		r.fatal = err
	}
	r.joined.Store(true)
}

// setup creates the state of keys when the processor is stateful: restored
// from its latest snapshot when there is a usable one (WithSnapshots), then
// brought up to the group's committed offset by replaying the log after
// the snapshot, or from the start of the log without one.
func (r *Runner) setup(ctx context.Context, keys []tp) error {
	if len(keys) == 0 {
		return nil
	}
	stateful := map[tp]any{}
	for _, k := range keys {
		s := r.e.p.NewState(k.topic, k.partition)
		r.states[k] = s
		if s != nil {
			stateful[k] = s
		}
	}
	if len(stateful) == 0 {
		return nil
	}
	start := time.Now()
	committed, err := kadm.NewClient(r.cl).FetchOffsets(ctx, r.group)
	if err != nil {
		return fmt.Errorf("processor %s: fetch committed offsets for rebuild: %w", r.e.name, err)
	}
	ends := map[tp]int64{}
	for k := range stateful {
		if o, ok := committed.Lookup(k.topic, k.partition); ok && o.At > 0 {
			ends[k] = o.At
		}
	}
	starts := map[tp]kgo.Offset{}
	snapped := map[tp]time.Time{}
	if r.snapper != nil {
		for k, res := range r.restoreAll(ctx, ends) {
			r.states[k], stateful[k] = res.state, res.state
			snapped[k] = time.UnixMilli(res.h.writtenAt)
			if res.h.offset >= ends[k] {
				delete(ends, k)
			} else {
				starts[k] = kgo.NewOffset().At(res.h.offset)
			}
		}
	}
	counts, err := rebuild(ctx, r.e, stateful, starts, ends)
	n := 0
	for _, c := range counts {
		n += c
	}
	r.e.m.rebuildSeconds.WithLabelValues(r.e.name).Observe(time.Since(start).Seconds())
	r.e.log.Info("state rebuilt", "partitions", len(stateful), "from_snapshots", len(snapped), "records", n, "duration", time.Since(start))
	if r.snapper != nil {
		now := time.Now()
		for k := range stateful {
			next := int64(0)
			if o, ok := committed.Lookup(k.topic, k.partition); ok && o.At > 0 {
				next = o.At
			}
			r.snaps[k] = &snapState{next: next, since: counts[k], last: now, writtenAt: snapped[k]}
		}
	}
	r.stateKeys()
	return err
}

// revoked flushes and commits before the partitions go to another member,
// then drops their state. In a transactional runner the callback must not
// end the transaction (franz-go forbids it); the session aborts the open
// one instead and the new owner re-reads from the last commit.
func (r *Runner) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.e.log.Info("partitions revoked", "partitions", parts)
	if r.sess == nil {
		if err := r.flush(r.writeCtx); err != nil && r.fatal == nil {
			r.fatal = err
		}
	}
	r.drop(parts)
}

// lost drops the state of partitions taken away without a chance to commit.
func (r *Runner) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.e.log.Warn("partitions lost", "partitions", parts)
	r.drop(parts)
}

func (r *Runner) drop(parts map[string][]int32) {
	for t, ps := range parts {
		for _, p := range ps {
			r.dropState(tp{t, p})
		}
	}
}

// dropAll drops every state left when Run returns, so the series of a
// stopped runner do not linger in a registry the process keeps serving.
func (r *Runner) dropAll() {
	for k := range r.states {
		r.dropState(k)
	}
}

func (r *Runner) dropState(k tp) {
	delete(r.states, k)
	delete(r.snaps, k)
	part := partLabel(k.partition)
	r.e.m.lag.DeleteLabelValues(r.e.name, k.topic, part)
	r.e.m.stateKeys.DeleteLabelValues(r.e.name, k.topic, part)
	r.e.m.snapBytes.DeleteLabelValues(r.e.name, k.topic, part)
	r.e.m.snapAge.DeleteLabelValues(r.e.name, k.topic, part)
	r.e.m.snapBehind.DeleteLabelValues(r.e.name, k.topic, part)
}

// stateKeys exports the size of every state that reports it, and how far
// each is from its latest snapshot. Called with mu held.
func (r *Runner) stateKeys() {
	for k, s := range r.states {
		if sz, ok := s.(StateSizer); ok {
			r.e.m.stateKeys.WithLabelValues(r.e.name, k.topic, partLabel(k.partition)).Set(float64(sz.StateKeys()))
		}
	}
	now := time.Now()
	for k, ss := range r.snaps {
		part := partLabel(k.partition)
		at := ss.writtenAt
		if at.IsZero() {
			at = ss.last
		}
		r.e.m.snapAge.WithLabelValues(r.e.name, k.topic, part).Set(now.Sub(at).Seconds())
		r.e.m.snapBehind.WithLabelValues(r.e.name, k.topic, part).Set(float64(ss.since))
	}
}
