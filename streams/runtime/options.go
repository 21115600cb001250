package runtime

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/streams/infra/config"
)

// Option configures a Runner or a Replay.
type Option func(*options)

type options struct {
	batchSize       int
	flushInterval   time.Duration
	group           string
	log             *slog.Logger
	reg             prometheus.Registerer
	retryMax        time.Duration
	isolateAfter    int
	writeConc       int
	overlap         bool
	shutdownTimeout time.Duration
	rebuildIdle     time.Duration
	kgoOpts         []kgo.Opt
	producer        string
	auth            Authorizer
	snap            snapshotOptions
	// errs are the options New refuses (reported all at once).
	errs []error
}

func defaultOptions() *options {
	return &options{
		batchSize:       5000,
		flushInterval:   time.Second,
		log:             slog.New(slog.DiscardHandler),
		retryMax:        2 * time.Second,
		isolateAfter:    3,
		writeConc:       DefaultWriteConcurrency,
		overlap:         true,
		shutdownTimeout: 30 * time.Second,
		rebuildIdle:     30 * time.Second,
		snap: snapshotOptions{
			records:  DefaultSnapshotRecords,
			interval: DefaultSnapshotInterval,
			timeout:  DefaultSnapshotTimeout,
		},
	}
}

// WithBatchSize flushes a batch once it holds n records (default 5000).
func WithBatchSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batchSize = n
		}
	}
}

// WithFlushInterval flushes a non-empty batch at the latest d after its
// first record (default 1s): the bound on how stale ClickHouse can be.
func WithFlushInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.flushInterval = d
		}
	}
}

// WithGroup sets the consumer group (default: DefaultGroup).
func WithGroup(name string) Option { return func(o *options) { o.group = name } }

// DefaultGroup is the consumer group of a processor in the namespace of k: the topic prefix
// followed by "assay.processor.<name>", so namespaced deployments get their own group. The
// API reads the processors' lag from these groups' committed offsets.
func DefaultGroup(k config.Kafka, processor string) string {
	return k.TopicPrefix + "assay.processor." + processor
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithRegisterer registers the assay_processor_* metrics on reg (default:
// not exported). Several runners may share one registerer.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithRetryMaxInterval caps the backoff between ClickHouse write attempts
// (default 2s), i.e. how late after ClickHouse's return writing resumes.
func WithRetryMaxInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.retryMax = d
		}
	}
}

// WithIsolateAfter sets n (default 3, at least 1) in the rule that no
// record stalls a partition (see the package doc): a batch of several
// records whose insert fails n times in a row with the same transient
// server error that a smaller insert may avoid (memory, time) is split,
// and one record whose rows ClickHouse refuses n times is sent to the DLQ.
func WithIsolateAfter(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.isolateAfter = n
		}
	}
}

// DefaultWriteConcurrency is the number of inserts a flush keeps in flight
// unless WithWriteConcurrency says otherwise.
const DefaultWriteConcurrency = 4

// WithWriteConcurrency writes at most n of a batch's tables at a time
// (default DefaultWriteConcurrency; 1 writes them one after the other, in
// name order). Each table is written on its own whatever n is (see the
// package doc), so n changes the time a flush takes, never what it writes.
// The ClickHouse client needs a connection per insert in flight: the
// connections of every runner sharing one (its MaxOpenConns) should allow
// for it, or inserts wait for a free one. n must be at least 1.
func WithWriteConcurrency(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.errs = append(o.errs, fmt.Errorf("write concurrency %d: must be at least 1", n))
			return
		}
		o.writeConc = n
	}
}

// WithOverlappedWrites says whether Replay writes a full batch in the
// background while it reads and applies the next one (default true): the
// processor's CPU and ClickHouse's inserts overlap, for up to twice the
// memory of a batch. Batches are still written one at a time, in log
// order. The group Runner always writes a batch before it polls again (its
// offsets are committed only after the batch is durable), so the option
// changes only Replay.
func WithOverlappedWrites(on bool) Option { return func(o *options) { o.overlap = on } }

// WithShutdownTimeout bounds the whole shutdown (default 30s), measured
// from the cancellation of the run context: the flush or rebuild in
// progress, the final flush, the commit. What is not durable by then is
// not committed and is re-read by the next owner of the partitions.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.shutdownTimeout = d
		}
	}
}

// WithKafkaOptions appends franz-go options to the consuming client, e.g.
// shorter session timeouts in tests.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

// WithProducerID sets the envelope producer of DLQ records (default
// "assay-processor/<name>").
func WithProducerID(id string) Option { return func(o *options) { o.producer = id } }
