package gateway

import (
	"flag"
	"time"
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
	tokensFile string
}

// EnvTokens is the environment variable of the inline token entries. It has no flag: like
// passwords, entries should not sit in ps output (hashes are not secrets, but a file is easier
// to rotate). Main reads it and passes it to Flags.Config.
const EnvTokens = "ASSAY_INGEST_TOKENS"

// RegisterFlags registers the gateway's flags on fs with DefaultConfig's values as defaults.
// Main parses them with config.ParseFlags, which derives their environment variables
// (ASSAY_INGEST_MAX_EVENTS for -max-events, ...).
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{cfg: DefaultConfig()}
	c := &f.cfg
	fs.StringVar(&f.tokensFile, "tokens-file", "", "file of 'producer_id sha256hex [families]' lines")
	fs.StringVar(&c.ServiceID, "service-id", c.ServiceID, "producer id stamped on the gateway's own DLQ records")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body, decoded")
	fs.IntVar(&c.MaxEvents, "max-events", c.MaxEvents, "most events in one request")
	fs.IntVar(&c.MaxEventBytes, "max-event-bytes", c.MaxEventBytes, "largest event JSON")
	fs.Int64Var(&c.MaxInFlightBytes, "max-inflight-bytes", c.MaxInFlightBytes, "bytes of requests processed at once")
	fs.DurationVar(&c.InFlightWait, "inflight-wait", c.InFlightWait, "wait for in-flight room before answering 503")
	fs.DurationVar(&c.ProduceTimeout, "produce-timeout", c.ProduceTimeout, "wait for Kafka's acknowledgement before answering 503")
	fs.DurationVar(&c.RetryAfter, "retry-after", c.RetryAfter, "Retry-After sent with 503")
	fs.IntVar(&c.DedupWindow, "dedup-window", c.DedupWindow, "recently acknowledged event ids remembered to collapse retries, 0 = off")
	fs.DurationVar(&c.DedupTTL, "dedup-ttl", c.DedupTTL, "how long an acknowledged id is remembered")
	fs.DurationVar(&c.MaxFutureSkew, "max-future-skew", c.MaxFutureSkew, "how far in the future occurred_at may be")
	return f
}

// Config returns the parsed configuration, with the tokens loaded from inline (the EnvTokens
// form) and -tokens-file (both may be given; their entries are merged).
func (f *Flags) Config(inline string) (Config, error) {
	c := f.cfg
	toks, err := LoadTokens(inline, f.tokensFile)
	if err != nil {
		return Config{}, err
	}
	c.Tokens = toks
	return c, nil
}
