package kpi

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unique"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/runtime"
)

// Defaults of the state limits (see the package documentation, "State").
const (
	// DefaultMaxStateKeys caps the keys of one partition's state. The
	// processors keep 30-90 bytes per key (BenchmarkStateBytes: flow 32,
	// agreement 84, accuracy 92), so a partition at the cap holds at most
	// about 350 MiB; agreement needs about 2.5 keys per label, so the cap
	// is reached near 1.5 million live labels in one partition.
	DefaultMaxStateKeys = 4_000_000
	// DefaultMaxUnitLabels caps the labels counted in one unit (an item's
	// answers to one question). A unit's coincidence cells are quadratic in
	// its distinct values and every one of them is rewritten when the unit
	// grows, so an unbounded unit costs quadratic memory, CPU and rows per
	// label; a hundred raters of one item is far beyond any annotation
	// design Assay serves.
	DefaultMaxUnitLabels = 100
	// DefaultMaxRegionAnnotators caps the annotators whose regions kpi_regions compares in
	// one unit: a label moves 2(k-1) unit-pair matchings for k annotators, each up to about
	// 30 ms for regions built to be slow at schemas.MaxRegions (streams/regions), so 10
	// bounds one record's work near half a second. Region work is double- or
	// triple-annotated; overlap studies rarely use more than ten annotators an item.
	DefaultMaxRegionAnnotators = 10
)

// ErrStateLimit is wrapped by the error of a record refused because the
// state of its partition, or its unit, is full. The runner sends such a
// record to the DLQ with the error as reason (counted in
// assay_processor_dlq_records_total{cause="apply"} and logged), so the cap
// is visible and the record can be counted later by a replay with a larger
// limit; it is never skipped silently.
var ErrStateLimit = errors.New("state limit reached")

// Option configures a KPI processor's limits.
type Option func(*limits)

// WithMaxStateKeys caps the keys (StateKeys) of each partition's state at
// n: a record that would add keys to a state holding n or more is refused
// (ErrStateLimit). The cap can be exceeded by what one record adds, which
// DefaultMaxUnitLabels keeps small. n < 1 removes the cap, for a replay or
// a test that must count everything whatever the memory.
func WithMaxStateKeys(n int) Option { return func(l *limits) { l.maxKeys = n } }

// WithMaxUnitLabels caps the labels counted in one unit (agreement: an
// item's answers to one question at one level; accuracy: an item's labels
// of one question) at n; a further label of the unit is refused
// (ErrStateLimit) until one is retracted. n < 1 removes the cap. The flow
// processor keeps no units and ignores it.
func WithMaxUnitLabels(n int) Option { return func(l *limits) { l.maxUnitLabels = n } }

// WithMaxRegionAnnotators caps the annotators kpi_regions compares in one unit; a label of
// one more annotator is refused (ErrStateLimit, to the DLQ). n < 1 removes the cap.
func WithMaxRegionAnnotators(n int) Option { return func(l *limits) { l.maxRegionAnnotators = n } }

// Config holds a KPI processor's limits as a service configures them
// (streams/processors declares their flags). The zero value is valid: the
// defaults. A zero field takes its default; a negative one is an error.
type Config struct {
	// MaxStateKeys caps the keys of each partition's state
	// (WithMaxStateKeys). Zero: DefaultMaxStateKeys.
	MaxStateKeys int
	// MaxUnitLabels caps the labels counted in one unit
	// (WithMaxUnitLabels). Zero: DefaultMaxUnitLabels.
	MaxUnitLabels int
	// MaxRegionAnnotators caps the annotators kpi_regions compares in one unit
	// (WithMaxRegionAnnotators). Zero: DefaultMaxRegionAnnotators.
	MaxRegionAnnotators int
}

// Options validates c and returns the options that apply it, reporting
// every problem at once.
func (c Config) Options() ([]Option, error) {
	var errs []error
	if c.MaxStateKeys < 0 {
		errs = append(errs, fmt.Errorf("max state keys must not be negative, got %d", c.MaxStateKeys))
	}
	if c.MaxUnitLabels < 0 {
		errs = append(errs, fmt.Errorf("max unit labels must not be negative, got %d", c.MaxUnitLabels))
	}
	if c.MaxRegionAnnotators < 0 {
		errs = append(errs, fmt.Errorf("max region annotators must not be negative, got %d", c.MaxRegionAnnotators))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("kpi config: %w", errors.Join(errs...))
	}
	var opts []Option
	if c.MaxStateKeys > 0 {
		opts = append(opts, WithMaxStateKeys(c.MaxStateKeys))
	}
	if c.MaxUnitLabels > 0 {
		opts = append(opts, WithMaxUnitLabels(c.MaxUnitLabels))
	}
	if c.MaxRegionAnnotators > 0 {
		opts = append(opts, WithMaxRegionAnnotators(c.MaxRegionAnnotators))
	}
	return opts, nil
}

// base is what the KPI processors share apart from Apply and their state:
// a name, the families they read, the tables they write and their limits.
// Each processor embeds it, which gives it Name, Families, Tables and
// Collectors (runtime.Processor and runtime.Instrumented).
type base struct {
	name     string
	families []schemas.Family
	tables   []runtime.Table
	limits   limits
}

func newBase(name string, tables []runtime.Table, opts []Option, families ...schemas.Family) base {
	return base{name: name, families: families, tables: tables, limits: newLimits(opts)}
}

// Name implements runtime.Processor.
func (b *base) Name() string { return b.name }

// Families implements runtime.Processor.
func (b *base) Families() []schemas.Family { return slices.Clone(b.families) }

// Tables implements runtime.Processor.
func (b *base) Tables() []runtime.Table { return slices.Clone(b.tables) }

// Collectors implements runtime.Instrumented: the state cap.
func (b *base) Collectors() []prometheus.Collector {
	return []prometheus.Collector{newLimitsCollector(b.name, b.limits)}
}

// limits are a processor's caps; zero or less means none.
type limits struct {
	maxKeys, maxUnitLabels, maxRegionAnnotators int
}

func newLimits(opts []Option) limits {
	l := limits{maxKeys: DefaultMaxStateKeys, maxUnitLabels: DefaultMaxUnitLabels, maxRegionAnnotators: DefaultMaxRegionAnnotators}
	for _, o := range opts {
		o(&l)
	}
	return l
}

// full returns an ErrStateLimit error when a state of keys keys may not
// grow; what names the record refused.
func (l limits) full(keys int, what string) error {
	if l.maxKeys > 0 && keys >= l.maxKeys {
		return fmt.Errorf("%w: the partition's state holds %d keys (limit %d); %s not counted", ErrStateLimit, keys, l.maxKeys, what)
	}
	return nil
}

// seen does what the label processors do alike before they count a label
// event whose key (labelEventKey) is ek: a copy of an event already applied
// changes nothing; an event to ignore (a label submitted again while it
// counts, a retraction of a label the partition does not count) changes
// nothing either but is remembered in applied, room permitting, so that a
// copy delivered after the label was retracted, or (re)submitted, is
// ignored too. keys is the state's StateKeys and what names the record in
// a refusal. done reports that the caller has nothing more to do (with err
// when the record is refused for room).
func (l limits) seen(applied map[id128]struct{}, keys int, ek id128, ignore bool, what string) (done bool, err error) {
	if _, dup := applied[ek]; dup {
		return true, nil
	}
	if !ignore {
		return false, nil
	}
	if err := l.full(keys, what); err != nil {
		return true, err
	}
	applied[ek] = struct{}{}
	return true, nil
}

// unitFull returns an ErrStateLimit error when a unit of n labels may not
// take another.
func (l limits) unitFull(n int, what string) error {
	if l.maxUnitLabels > 0 && n >= l.maxUnitLabels {
		return fmt.Errorf("%w: its unit already counts %d labels (limit %d); %s not counted", ErrStateLimit, n, l.maxUnitLabels, what)
	}
	return nil
}

// helpStateKeysLimit documents assay_kpi_state_keys_limit.
const helpStateKeysLimit = "The cap on the keys of one partition's state of the processor (0: none); compare with " +
	"assay_processor_state_keys: at the cap, records that would add keys go to the DLQ."

// limitsCollector exports a processor's cap. The value never changes, so
// Collect reads nothing shared with Apply.
type limitsCollector struct {
	desc *prometheus.Desc
	max  int
}

func newLimitsCollector(processor string, l limits) prometheus.Collector {
	max := l.maxKeys
	if max < 0 {
		max = 0
	}
	return limitsCollector{
		// The processor is a constant label, so the collectors of several
		// KPI processors sharing a registry describe different series.
		desc: prometheus.NewDesc("assay_kpi_state_keys_limit", helpStateKeysLimit, nil, prometheus.Labels{"processor": processor}),
		max:  max,
	}
}

func (c limitsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c limitsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.max))
}

// id128 stands for an identifier, or a tuple of them, that the state must
// tell apart but no row needs as text (label, item and event ids): 16 bytes
// instead of the string header and the text the decoded event allocated.
// It is SHA-256 truncated to 128 bits, so ids chosen by a producer cannot
// be made to collide (a collision would make two labels one).
type id128 [16]byte

// idOf digests parts, each prefixed with its length so that no two tuples
// share an encoding.
func idOf(parts ...string) id128 {
	var stack [256]byte
	b := stack[:0]
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	sum := sha256.Sum256(b)
	var id id128
	copy(id[:], sum[:])
	return id
}

// str is an interned string: project, question, level, annotator, cohort,
// vendor and scope names repeat across millions of labels, so the state
// keeps one copy of each (unique frees it once no state refers to it) and
// compares them as pointers.
type str = unique.Handle[string]

func intern(s string) str { return unique.Make(s) }

// value is an interned agreement.Value.
type value = unique.Handle[agreement.Value]

func internValue(v agreement.Value) value { return unique.Make(v) }
