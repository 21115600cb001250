package gate

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/streams/infra/config"
)

// Option configures a Runner. New validates the options together and returns an error
// naming the first that is invalid.
type Option func(*options)

type options struct {
	tick            time.Duration
	settle          time.Duration
	recheck         time.Duration
	measureTimeout  time.Duration
	shutdownTimeout time.Duration
	txnID           string
	log             *slog.Logger
	reg             prometheus.Registerer
	kgoOpts         []kgo.Opt
}

// The defaults of the Runner's options.
const (
	DefaultTick            = 10 * time.Second
	DefaultMeasureTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

func defaultOptions(k config.Kafka) *options {
	return &options{
		tick:            DefaultTick,
		settle:          DefaultSettle,
		recheck:         DefaultRecheck,
		measureTimeout:  DefaultMeasureTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		txnID:           DefaultTransactionalID(k),
		log:             slog.New(slog.DiscardHandler),
	}
}

// DefaultTransactionalID is the gate's transactional id in the namespace of k: the topic
// prefix followed by "assay.gate". Every instance of the gate of one deployment must use the
// same id, so that a second instance fences the first (see the package documentation).
func DefaultTransactionalID(k config.Kafka) string { return k.TopicPrefix + "assay.gate" }

// WithTick sets how often the runner measures the due versions and emits their verdicts
// (default DefaultTick): the bound on how late after its commit a version gets a verdict,
// once its members are in the ledger.
func WithTick(d time.Duration) Option { return func(o *options) { o.tick = d } }

// WithSettle sets how long after its commit a version whose members are not in the ledger is
// re-measured before it is rejected as not in the ledger (default DefaultSettle; see
// SettleTimeout).
func WithSettle(d time.Duration) Option { return func(o *options) { o.settle = d } }

// WithRecheck sets how often a version with a verdict is measured again, to supersede it
// when a figure changed (default DefaultRecheck; at least the tick).
func WithRecheck(d time.Duration) Option { return func(o *options) { o.recheck = d } }

// WithMeasureTimeout bounds one call of the Measurer (default DefaultMeasureTimeout), so a
// hung ClickHouse delays a tick instead of stopping the gate.
func WithMeasureTimeout(d time.Duration) Option { return func(o *options) { o.measureTimeout = d } }

// WithShutdownTimeout bounds the end of a transaction in progress when Run's context is
// cancelled (default DefaultShutdownTimeout); a transaction that has not ended by then is
// aborted, and its verdicts are decided again by the next instance.
func WithShutdownTimeout(d time.Duration) Option { return func(o *options) { o.shutdownTimeout = d } }

// WithTransactionalID sets the Kafka transactional id (default DefaultTransactionalID).
func WithTransactionalID(id string) Option { return func(o *options) { o.txnID = id } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the assay_gate_* metrics on reg (default: not exported).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithKafkaOptions appends franz-go options to the runner's client, e.g. shorter timeouts
// in tests.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}
