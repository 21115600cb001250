package gateview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// outcome is what became of a record read, as assay_ingest_gate_view_records_total counts it.
type outcome int

const (
	outcomeApplied     outcome = iota // a verdict of the gate, or an override: in the state
	outcomeIgnored                    // another type of the datasets topic
	outcomeUntrusted                  // a verdict whose producer is not the gate: dropped
	outcomeUndecodable                // not an event of the contract: dropped
)

// outcomes are the outcome label values, by outcome.
var outcomes = [...]string{"applied", "ignored", "untrusted", "undecodable"}

// View is the gate's verdicts and overrides as read from the datasets topic. Create it with
// New, start Run, register Ready as a readiness check, and ask Clearance; it is safe for
// concurrent use.
type View struct {
	k     config.Kafka
	opts  []kgo.Opt
	topic string
	log   *slog.Logger

	records *prometheus.CounterVec
	ready   prometheus.Gauge

	mu sync.RWMutex
	st *gate.State

	// caughtUp is set once every partition was read up to its high watermark at start.
	caughtUp atomic.Bool
	// progress says, until caughtUp, how far the view is (for Ready); guarded by mu.
	progress string
}

// New makes a view of the datasets topic of k's namespace and registers its metrics on reg.
// It validates the consumer's options (opts are added to them) but connects nothing and
// starts nothing: Run does.
func New(k config.Kafka, reg prometheus.Registerer, log *slog.Logger, opts ...kgo.Opt) (*View, error) {
	if reg == nil || log == nil {
		return nil, errors.New("gateview: a registry and a logger are required")
	}
	topic := k.Topic(schemas.FamilyDatasets.Topic())
	base := []kgo.Opt{
		// Every partition, now and added later, from the start of the log; no group, no commits.
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// The gate writes its verdicts in transactions: an aborted one never counts.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are fetched too, only to see the position pass them: the last
		// offset below a high watermark is often a commit marker, which would otherwise never
		// show that the partition has been read.
		kgo.KeepControlRecords(),
	}
	opts = append(base, opts...)
	if err := kgo.ValidateOpts(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, opts...)...); err != nil {
		return nil, fmt.Errorf("gateview: %w", err)
	}
	v := &View{
		k:     k,
		opts:  opts,
		topic: topic,
		log:   log,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_gate_view_records_total",
			Help: "Records of the datasets topic read by the gate's view, by outcome: applied (a verdict of the gate, or an override), ignored (other types), untrusted (a verdict not written by the gate), undecodable.",
		}, []string{"outcome"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_gate_view_ready",
			Help: "1 once the gate's view has read the datasets topic up to its high watermarks at start (training runs are decided on it), else 0.",
		}),
		st:       gate.NewState(),
		progress: "not started (Run has not listed the topic's offsets yet)",
	}
	for _, o := range outcomes {
		v.records.WithLabelValues(o)
	}
	if err := reg.Register(v.records); err != nil {
		return nil, fmt.Errorf("gateview: %w", err)
	}
	if err := reg.Register(v.ready); err != nil {
		reg.Unregister(v.records)
		return nil, fmt.Errorf("gateview: %w", err)
	}
	return v, nil
}

// ErrNotReady is Clearance's error before the view has caught up.
var ErrNotReady = errors.New("the gate's view has not read the datasets topic up to where it stood at start")

// Clearance is the gate's standing on ref: the latest verdict and any override. Before the
// view has caught up it returns an error wrapping ErrNotReady and says how far it is.
func (v *View) Clearance(ref gate.VersionRef) (gate.Clearance, error) {
	if !v.caughtUp.Load() {
		return gate.Clearance{}, v.notReady()
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.st.Clearance(ref), nil
}

// Ready is the readiness check: nil once the view has caught up.
func (v *View) Ready(context.Context) error {
	if v.caughtUp.Load() {
		return nil
	}
	return v.notReady()
}

func (v *View) notReady() error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return fmt.Errorf("%w (%s): %s", ErrNotReady, v.topic, v.progress)
}

func (v *View) setProgress(format string, args ...any) {
	v.mu.Lock()
	v.progress = fmt.Sprintf(format, args...)
	v.mu.Unlock()
}

// Run reads the topic until ctx ends, then closes its consumer and returns nil. Kafka being
// unreachable or the topic missing is not an error: Run retries (with backoff, logging each
// failure) and the view stays not ready, which Ready reports. The error is for a client that
// cannot be made (New validated its options). Call it once.
func (v *View) Run(ctx context.Context) error {
	cl, err := kafka.NewClient(v.k, v.opts...)
	if err != nil {
		return fmt.Errorf("gateview: %w", err)
	}
	defer cl.Close()
	start := time.Now()
	targets, err := v.targets(ctx, kadm.NewClient(cl))
	if err != nil {
		return nil // ctx ended
	}
	read, parts := 0, len(targets)
	v.catchUp(targets, parts, read, start)
	for {
		fetches := cl.PollRecords(ctx, 10_000)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				v.log.Warn("gate view: fetch failed; retrying", "topic", t, "partition", p, "err", err)
			}
		})
		var (
			counts [4]int
			apply  []schemas.Event
		)
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := targets[r.Partition]; ok && r.Offset+1 >= end {
				delete(targets, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			read++
			ev, o := v.classify(r)
			counts[o]++
			if o == outcomeApplied {
				apply = append(apply, ev)
			}
		})
		if len(apply) > 0 {
			v.mu.Lock()
			for _, ev := range apply {
				v.st.Apply(ev)
			}
			v.mu.Unlock()
		}
		for o, n := range counts {
			if n > 0 {
				v.records.WithLabelValues(outcomes[o]).Add(float64(n))
			}
		}
		v.catchUp(targets, parts, read, start)
	}
}

// catchUp marks the view ready once no partition is left to read up to its target, and
// otherwise records how far it is.
func (v *View) catchUp(targets map[int32]int64, parts, read int, start time.Time) {
	if v.caughtUp.Load() {
		return
	}
	if len(targets) > 0 {
		v.setProgress("%d of %d partitions with records not yet read up to their high watermarks at start; %d records read", len(targets), parts, read)
		return
	}
	v.setProgress("caught up")
	v.caughtUp.Store(true)
	v.ready.Set(1)
	v.log.Info("gate view caught up: training runs are decided on the gate's verdicts", "topic", v.topic, "records", read,
		"took", time.Since(start).Round(time.Millisecond))
}

// classify decodes one data record and says what becomes of it: only the gate's verdicts and
// overrides are applied.
func (v *View) classify(r *kgo.Record) (schemas.Event, outcome) {
	ev, err := schemas.Decode(r.Value)
	if err != nil {
		v.log.Warn("gate view: undecodable record dropped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		return nil, outcomeUndecodable
	}
	switch ev.Type() {
	case schemas.TypeDatasetVersionCertified, schemas.TypeDatasetVersionRejected:
		if p := ev.Meta().Producer; p != gate.Producer {
			v.log.Debug("gate view: verdict not written by the gate dropped", "producer", p, "partition", r.Partition, "offset", r.Offset)
			return nil, outcomeUntrusted
		}
		return ev, outcomeApplied
	case schemas.TypeGateOverrideGranted:
		return ev, outcomeApplied
	default:
		return nil, outcomeIgnored
	}
}

// targets lists the high watermark of every partition of the topic that has records to read
// (its start offset below its high watermark), retrying until it succeeds or ctx ends.
func (v *View) targets(ctx context.Context, adm *kadm.Client) (map[int32]int64, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 10*time.Second, 0
	for {
		targets, err := v.listTargets(ctx, adm)
		if err == nil {
			return targets, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := b.NextBackOff()
		v.setProgress("cannot list the topic's offsets: %v", err)
		v.log.Warn("gate view: cannot list the datasets topic's offsets; retrying", "topic", v.topic, "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (v *View) listTargets(ctx context.Context, adm *kadm.Client) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, v.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, v.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	if len(ends[v.topic]) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions (run `assay admin topics`)", v.topic)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}
