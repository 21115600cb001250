package questionview

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/logview"
)

// DefaultMaxBytes is Config.MaxBytes's default: about a hundred thousand definitions of ten
// labels.
const DefaultMaxBytes = 32 << 20

// Config is the view's settings.
type Config struct {
	// MaxBytes bounds the definitions held, by DefinitionBytes; past it the view is
	// incomplete (see the package documentation). At least MinMaxBytes.
	MaxBytes int64
}

// MinMaxBytes is the smallest MaxBytes: one definition of the largest event the gateway
// takes by default (512 KiB) fits.
const MinMaxBytes = 1 << 20

// outcome is what became of a record read, as assay_ingest_question_view_records_total
// counts it.
type outcome int

const (
	outcomeApplied     outcome = iota // a definition: in force
	outcomeIgnored                    // another type of the projects topic
	outcomeUntrusted                  // a definition with no producer or a reserved one: dropped
	outcomeInvalid                    // a definition the contract refuses: dropped
	outcomeUndecodable                // not an event of the contract: dropped
	outcomeOverCap                    // a definition past MaxBytes: dropped, the view incomplete
)

var outcomes = [...]string{"applied", "ignored", "untrusted", "invalid", "undecodable", "over_cap"}

// View is the questions projects define, as read from the projects topic. Create it with
// New, start Run, register Ready as a readiness check, and ask Definitions; it is safe for
// concurrent use.
type View struct {
	r        *logview.Reader
	topic    string
	log      *slog.Logger
	maxBytes int64

	records *prometheus.CounterVec
	defs    prometheus.Gauge
	bytes   prometheus.Gauge
	fullG   prometheus.Gauge

	mu sync.RWMutex
	// byQuestion holds the definition in force of each question, by project.
	byQuestion map[string]map[string]*schemas.QuestionDefined
	held       int64 // DefinitionBytes of what byQuestion holds
	count      int
	full       bool // a definition was dropped for the cap
}

// New makes a view of the projects topic of k's namespace and registers its metrics on reg.
// It validates cfg and the consumer's options (opts are added to them) but connects nothing
// and starts nothing: Run does.
func New(k config.Kafka, cfg Config, reg prometheus.Registerer, log *slog.Logger, opts ...kgo.Opt) (*View, error) {
	if reg == nil || log == nil {
		return nil, errors.New("questionview: a registry and a logger are required")
	}
	if cfg.MaxBytes < MinMaxBytes {
		return nil, fmt.Errorf("questionview: the view's bytes %d must be at least %d", cfg.MaxBytes, MinMaxBytes)
	}
	topic := k.Topic(schemas.FamilyProjects.Topic())
	r, err := logview.New(k, "question view", []string{topic}, log, opts...)
	if err != nil {
		return nil, fmt.Errorf("questionview: %w", err)
	}
	v := &View{
		r: r, topic: topic, log: log, maxBytes: cfg.MaxBytes,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_question_view_records_total",
			Help: "Records of the projects topic read by the gateway's view of questions, by outcome: applied (a QuestionDefined), ignored (other types), untrusted (no producer, or one of Assay's own), invalid (refused by the contract), undecodable, over_cap (dropped: the view holds its -question-view-bytes).",
		}, []string{"outcome"}),
		defs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_question_view_definitions",
			Help: "Questions defined (one per project and question) that the gateway's view holds.",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_question_view_bytes",
			Help: "Estimated bytes of the definitions the gateway's view of questions holds (bounded by -question-view-bytes).",
		}),
		fullG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_question_view_full",
			Help: "1 once a definition was dropped because the view of questions holds its -question-view-bytes: values of questions it does not hold are then not refused as undefined. Else 0.",
		}),
		byQuestion: map[string]map[string]*schemas.QuestionDefined{},
	}
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assay_ingest_question_view_ready",
		Help: "1 once the gateway's view of questions has read the projects topic up to its high watermarks at start (label values are checked on it), else 0.",
	}, func() float64 {
		if r.CaughtUp() {
			return 1
		}
		return 0
	})
	for _, o := range outcomes {
		v.records.WithLabelValues(o)
	}
	cs := []prometheus.Collector{v.records, v.defs, v.bytes, v.fullG, ready}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("questionview: %w", err)
		}
	}
	return v, nil
}

// ErrNotReady is Definitions' error before the view has caught up.
var ErrNotReady = errors.New("the view of questions has not read the projects topic up to where it stood at start")

// Definition returns the definition in force of question in project, or nil, and whether the
// view is complete (see Definitions). The definition is shared: callers must not modify it.
// Before the view has caught up it returns an error wrapping ErrNotReady.
func (v *View) Definition(project, question string) (*schemas.QuestionDefined, bool, error) {
	if !v.r.CaughtUp() {
		return nil, false, v.notReady()
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.byQuestion[question][project], !v.full, nil
}

// Definitions returns the definitions in force of question in the projects in accepts,
// ordered by project, and whether the view is complete: false once a definition was
// dropped for the cap, when a question the view does not hold may be defined all the same.
// The definitions are shared: callers must not modify them. Before the view has caught up
// it returns an error wrapping ErrNotReady.
func (v *View) Definitions(question string, in func(project string) bool) ([]*schemas.QuestionDefined, bool, error) {
	if !v.r.CaughtUp() {
		return nil, false, v.notReady()
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []*schemas.QuestionDefined
	for project, d := range v.byQuestion[question] {
		if in(project) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *schemas.QuestionDefined) int { return cmp.Compare(a.ProjectID, b.ProjectID) })
	return out, !v.full, nil
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

// apply folds one poll's records into the view, under one lock.
func (v *View) apply(recs []*kgo.Record) {
	var counts [len(outcomes)]int
	var defs []*schemas.QuestionDefined
	for _, r := range recs {
		d, o := v.classify(r)
		if o == outcomeApplied {
			defs = append(defs, d)
			continue
		}
		counts[o]++
	}
	if len(defs) > 0 {
		v.mu.Lock()
		for _, d := range defs {
			if v.put(d) {
				counts[outcomeApplied]++
			} else {
				counts[outcomeOverCap]++
				v.log.Error("question view: the view holds its bytes; a definition was dropped and values of its question are no longer refused as undefined (raise -question-view-bytes)",
					"project", d.ProjectID, "question", d.QuestionID, "event_id", d.EventID, "held_bytes", v.held, "max_bytes", v.maxBytes)
			}
		}
		v.defs.Set(float64(v.count))
		v.bytes.Set(float64(v.held))
		if v.full {
			v.fullG.Set(1)
		}
		v.mu.Unlock()
	}
	for o, n := range counts {
		if n > 0 {
			v.records.WithLabelValues(outcomes[o]).Add(float64(n))
		}
	}
}

// put makes d the definition in force of its project's question, or reports that it does
// not fit: then the earlier definition is removed too (a definition replaced must never stay
// in force), and the view is incomplete from then on. Called with mu held.
func (v *View) put(d *schemas.QuestionDefined) bool {
	byProject := v.byQuestion[d.QuestionID]
	if old, ok := byProject[d.ProjectID]; ok {
		v.held -= DefinitionBytes(old)
		v.count--
		delete(byProject, d.ProjectID)
	}
	size := DefinitionBytes(d)
	if v.held+size > v.maxBytes {
		v.full = true
		if len(byProject) == 0 {
			delete(v.byQuestion, d.QuestionID)
		}
		return false
	}
	v.held += size
	if byProject == nil {
		byProject = map[string]*schemas.QuestionDefined{}
		v.byQuestion[d.QuestionID] = byProject
	}
	byProject[d.ProjectID] = d
	v.count++
	return true
}

// classify decodes one data record and says what becomes of it: only trusted, valid
// definitions are applied, as what a check needs of them.
func (v *View) classify(r *kgo.Record) (*schemas.QuestionDefined, outcome) {
	ev, err := schemas.Decode(r.Value)
	if err != nil {
		v.log.Warn("question view: undecodable record dropped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		return nil, outcomeUndecodable
	}
	q, ok := ev.(*schemas.QuestionDefined)
	if !ok {
		return nil, outcomeIgnored
	}
	if p := q.Producer; p == "" || access.Reserved(p) {
		v.log.Warn("question view: definition without a principal's producer dropped", "producer", p, "partition", r.Partition, "offset", r.Offset)
		return nil, outcomeUntrusted
	}
	if err := q.Validate(); err != nil {
		v.log.Warn("question view: invalid definition dropped", "partition", r.Partition, "offset", r.Offset, "err", err)
		return nil, outcomeInvalid
	}
	return &schemas.QuestionDefined{
		Envelope:  schemas.Envelope{EventID: q.EventID, EventType: q.EventType, OccurredAt: q.OccurredAt, Producer: q.Producer},
		ProjectID: q.ProjectID, QuestionID: q.QuestionID, Level: q.Level, Labels: q.Labels,
		StrengthScale: q.StrengthScale, IoUThreshold: q.IoUThreshold,
	}, outcomeApplied
}

// Per-definition overheads of DefinitionBytes: the struct, its map entries and pointers,
// and a string header per label.
const (
	definitionOverhead = 512
	labelOverhead      = 16
)

// DefinitionBytes is the view's estimate of the memory a definition holds: its strings and
// a fixed overhead for the struct, its map entries and each label's header.
func DefinitionBytes(d *schemas.QuestionDefined) int64 {
	n := int64(definitionOverhead + len(d.EventID) + len(d.EventType) + len(d.Producer) + len(d.ProjectID) + len(d.QuestionID) + len(d.Level))
	for _, l := range d.Labels {
		n += labelOverhead + int64(len(l))
	}
	return n
}
