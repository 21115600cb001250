package gateway

import (
	"flag"
	"time"

	"github.com/assay-data/assay/ops/config"
)

// Config holds the gateway's limits and policies. The zero value is not usable; start from
// DefaultConfig (or RegisterFlags) and override.
type Config struct {
	// Tokens authenticates callers. Required: a gateway without tokens refuses to start
	// rather than accept anonymous writes into an immutable ledger.
	Tokens *Tokens
	// ServiceID is the producer stamped on the DLQ records the gateway itself writes.
	ServiceID string

	// MaxBodyBytes bounds one request body (after gzip decoding); larger bodies get 413.
	MaxBodyBytes int64
	// MaxEvents bounds the number of events in one request; more get 413.
	MaxEvents int
	// MaxEventBytes bounds one event's JSON; a larger event makes the request 413. It keeps
	// every encoded record, and every DLQ record carrying it, under Kafka's 1 MB message limit.
	MaxEventBytes int
	// MaxDLQOriginalBytes bounds the original bytes kept in one DLQ record; bodies rejected
	// as a whole (oversize, unauthenticated, malformed) are truncated to it, and the reason says so.
	MaxDLQOriginalBytes int

	// MaxInFlightBytes bounds the bytes of all requests being processed at once (bodies,
	// counted from Content-Length when known). It is the gateway's memory budget.
	MaxInFlightBytes int64
	// InFlightWait is how long a request waits for in-flight room before it gets 503.
	InFlightWait time.Duration

	// ProduceTimeout bounds the wait for Kafka's acknowledgement of a request's records;
	// past it the request gets 503 (records not yet sent are failed, not left to land later).
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After sent with every 503.
	RetryAfter time.Duration

	// DedupWindow is how many recently acknowledged event ids are remembered to collapse
	// retries; 0 disables the window (duplicates then collapse only downstream).
	DedupWindow int
	// DedupTTL is how long an acknowledged id is remembered at most.
	DedupTTL time.Duration

	// MaxFutureSkew is how far in the future occurred_at may be (clock skew of collectors).
	MaxFutureSkew time.Duration
}

// DefaultConfig returns the defaults documented in README.md.
func DefaultConfig() Config {
	return Config{
		ServiceID:           "assay-ingest",
		MaxBodyBytes:        32 << 20,
		MaxEvents:           50_000,
		MaxEventBytes:       512 << 10,
		MaxDLQOriginalBytes: 512 << 10,
		MaxInFlightBytes:    256 << 20,
		InFlightWait:        2 * time.Second,
		ProduceTimeout:      10 * time.Second,
		RetryAfter:          5 * time.Second,
		DedupWindow:         100_000,
		DedupTTL:            10 * time.Minute,
		MaxFutureSkew:       time.Hour,
	}
}

// Flags are the gateway's settings as parsed from the command line; Config builds the
// Config once the flag set is parsed (the tokens are loaded then).
type Flags struct {
	cfg        Config
	tokens     string
	tokensFile string
}

// RegisterFlags registers the gateway's flags on fs, each with an ASSAY_INGEST_* environment
// fallback (flag > environment > default, as everywhere in Assay).
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{cfg: DefaultConfig()}
	c := &f.cfg
	// The token hashes have no flag of their own for the inline form: like passwords, they
	// should not sit in `ps` output. Hashes are not secrets, but a file is easier to rotate.
	f.tokens = config.Env("ASSAY_INGEST_TOKENS", "")
	fs.StringVar(&f.tokensFile, "tokens-file", config.Env("ASSAY_INGEST_TOKENS_FILE", ""), "file of 'producer_id sha256hex [families]' lines (env ASSAY_INGEST_TOKENS_FILE)")
	fs.StringVar(&c.ServiceID, "service-id", config.Env("ASSAY_INGEST_SERVICE_ID", c.ServiceID), "producer id stamped on the gateway's own DLQ records (env ASSAY_INGEST_SERVICE_ID)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", int64(config.EnvInt("ASSAY_INGEST_MAX_BODY_BYTES", int(c.MaxBodyBytes))), "largest request body, decoded (env ASSAY_INGEST_MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxEvents, "max-events", config.EnvInt("ASSAY_INGEST_MAX_EVENTS", c.MaxEvents), "most events in one request (env ASSAY_INGEST_MAX_EVENTS)")
	fs.IntVar(&c.MaxEventBytes, "max-event-bytes", config.EnvInt("ASSAY_INGEST_MAX_EVENT_BYTES", c.MaxEventBytes), "largest event JSON (env ASSAY_INGEST_MAX_EVENT_BYTES)")
	fs.Int64Var(&c.MaxInFlightBytes, "max-inflight-bytes", int64(config.EnvInt("ASSAY_INGEST_MAX_INFLIGHT_BYTES", int(c.MaxInFlightBytes))), "bytes of requests processed at once (env ASSAY_INGEST_MAX_INFLIGHT_BYTES)")
	fs.DurationVar(&c.InFlightWait, "inflight-wait", config.EnvDuration("ASSAY_INGEST_INFLIGHT_WAIT", c.InFlightWait), "wait for in-flight room before answering 503 (env ASSAY_INGEST_INFLIGHT_WAIT)")
	fs.DurationVar(&c.ProduceTimeout, "produce-timeout", config.EnvDuration("ASSAY_INGEST_PRODUCE_TIMEOUT", c.ProduceTimeout), "wait for Kafka's acknowledgement before answering 503 (env ASSAY_INGEST_PRODUCE_TIMEOUT)")
	fs.DurationVar(&c.RetryAfter, "retry-after", config.EnvDuration("ASSAY_INGEST_RETRY_AFTER", c.RetryAfter), "Retry-After sent with 503 (env ASSAY_INGEST_RETRY_AFTER)")
	fs.IntVar(&c.DedupWindow, "dedup-window", config.EnvInt("ASSAY_INGEST_DEDUP_WINDOW", c.DedupWindow), "recently acknowledged event ids remembered to collapse retries, 0 = off (env ASSAY_INGEST_DEDUP_WINDOW)")
	fs.DurationVar(&c.DedupTTL, "dedup-ttl", config.EnvDuration("ASSAY_INGEST_DEDUP_TTL", c.DedupTTL), "how long an acknowledged id is remembered (env ASSAY_INGEST_DEDUP_TTL)")
	fs.DurationVar(&c.MaxFutureSkew, "max-future-skew", config.EnvDuration("ASSAY_INGEST_MAX_FUTURE_SKEW", c.MaxFutureSkew), "how far in the future occurred_at may be (env ASSAY_INGEST_MAX_FUTURE_SKEW)")
	return f
}

// Config returns the parsed configuration, with the tokens loaded from ASSAY_INGEST_TOKENS
// and -tokens-file (both may be given; their entries are merged).
func (f *Flags) Config() (Config, error) {
	c := f.cfg
	toks, err := LoadTokens(f.tokens, f.tokensFile)
	if err != nil {
		return Config{}, err
	}
	c.Tokens = toks
	return c, nil
}
