package gateview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/logview"
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
	r     *logview.Reader
	topic string
	log   *slog.Logger

	records *prometheus.CounterVec

	mu sync.RWMutex
	st *gate.State
}

// New makes a view of the datasets topic of k's namespace and registers its metrics on reg.
// It validates the consumer's options (opts are added to them) but connects nothing and
// starts nothing: Run does.
func New(k config.Kafka, reg prometheus.Registerer, log *slog.Logger, opts ...kgo.Opt) (*View, error) {
	if reg == nil || log == nil {
		return nil, errors.New("gateview: a registry and a logger are required")
	}
	topic := k.Topic(schemas.FamilyDatasets.Topic())
	// read_committed (the reader's): the gate writes its verdicts in transactions, and an
	// aborted verdict must never count.
	r, err := logview.New(k, "gate view", []string{topic}, log, opts...)
	if err != nil {
		return nil, fmt.Errorf("gateview: %w", err)
	}
	v := &View{
		r:     r,
		topic: topic,
		log:   log,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_gate_view_records_total",
			Help: "Records of the datasets topic read by the gate's view, by outcome: applied (a verdict of the gate, or an override), ignored (other types), untrusted (a verdict not written by the gate), undecodable.",
		}, []string{"outcome"}),
		st: gate.NewState(),
	}
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assay_ingest_gate_view_ready",
		Help: "1 once the gate's view has read the datasets topic up to its high watermarks at start (training runs are decided on it), else 0.",
	}, func() float64 {
		if r.CaughtUp() {
			return 1
		}
		return 0
	})
	for _, o := range outcomes {
		v.records.WithLabelValues(o)
	}
	if err := reg.Register(v.records); err != nil {
		return nil, fmt.Errorf("gateview: %w", err)
	}
	if err := reg.Register(ready); err != nil {
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
	if !v.r.CaughtUp() {
		return gate.Clearance{}, v.notReady()
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.st.Clearance(ref), nil
}

// Ready is the readiness check: nil once the view has caught up.
func (v *View) Ready(context.Context) error {
	if v.r.CaughtUp() {
		return nil
	}
	return v.notReady()
}

func (v *View) notReady() error {
	return fmt.Errorf("%w (%s): %s", ErrNotReady, v.topic, v.r.Progress())
}

// Run reads the topic until ctx ends, then closes its consumer and returns nil. Kafka being
// unreachable or the topic missing is not an error: Run retries (with backoff, logging each
// failure) and the view stays not ready, which Ready reports. The error is for a client that
// cannot be made (New validated its options). Call it once.
func (v *View) Run(ctx context.Context) error {
	return v.r.Run(ctx, v.apply)
}

// apply folds one poll's records into the state, under one lock.
func (v *View) apply(recs []*kgo.Record) {
	var (
		counts [len(outcomes)]int
		apply  []schemas.Event
	)
	for _, r := range recs {
		ev, o := v.classify(r)
		counts[o]++
		if o == outcomeApplied {
			apply = append(apply, ev)
		}
	}
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
