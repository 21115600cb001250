package gateway

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/gate"
)

// Config holds the gateway's limits and policies. The zero value is not usable; start from
// DefaultConfig (or RegisterFlags) and override.
type Config struct {
	// Principals holds the registry in force (schemas/access): callers authenticate by a
	// token whose hash it has, and each event is authorized for its principal. Required, with
	// at least one token: a gateway without any refuses to start rather than accept anonymous
	// writes into an immutable ledger. Its owner swaps registries on reload; the gateway reads
	// the one in force once per request.
	Principals *access.Store
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

	// MaxInFlightBytes bounds the memory of all requests being processed at once: their
	// bodies, counted after gzip decoding as they are read, and what is made of them (records,
	// DLQ records, answers). It is the gateway's memory budget; a body larger than what one
	// request may hold (MaxInFlightShare of it) gets 413 like one over MaxBodyBytes.
	MaxInFlightBytes int64
	// MaxInFlightShare is the fraction of MaxInFlightBytes one principal may hold at once,
	// in (0, 1]: past it that principal's requests wait, then get 503, while the others
	// still find room. 1 is no share (any principal may hold the whole budget).
	MaxInFlightShare float64
	// InFlightWait is how long, in total, a request waits for in-flight room before it gets
	// 503.
	InFlightWait time.Duration

	// TokenRate limits the requests of each producer (all its tokens together), in requests
	// a second; past it the answer is 429 with Retry-After. 0 is no limit.
	TokenRate float64
	// TokenBurst is how many requests a producer may send at once above TokenRate.
	TokenBurst int
	// ClientRate limits the requests without a valid token from each remote address (IPv6:
	// each /64), in requests a second; past it the answer is 429. 0 is no limit. Requests
	// with a valid token are limited per producer only: behind a proxy, every producer
	// shares one address.
	ClientRate float64
	// ClientBurst is how many such requests an address may send at once above ClientRate.
	ClientBurst int
	// MaxClients bounds the remote addresses remembered for ClientRate and the DLQ caps
	// below (the least recently seen is forgotten first).
	MaxClients int
	// UnauthDLQPerClient is how many requests without a valid token from one address may
	// leave a DLQ record per UnauthDLQInterval (the others are only counted); 0 writes none.
	UnauthDLQPerClient int
	// UnauthDLQTotal is the same cap over all addresses together, so even a flood from many
	// addresses costs a constant amount of storage; 0 writes none.
	UnauthDLQTotal int
	// UnauthDLQInterval is the interval of both caps.
	UnauthDLQInterval time.Duration

	// ProduceTimeout bounds the wait for Kafka's acknowledgement of a request's records;
	// past it the request gets 503 (records not yet sent are failed, not left to land later).
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After sent with every 503.
	RetryAfter time.Duration

	// DedupWindow is how many recently acknowledged event ids are remembered per producer to
	// collapse retries; 0 disables the window (duplicates then collapse only downstream).
	DedupWindow int
	// DedupTTL is how long an acknowledged id is remembered at most.
	DedupTTL time.Duration

	// MaxFutureSkew is how far in the future occurred_at may be (clock skew of collectors).
	MaxFutureSkew time.Duration

	// Gate, when set, gates training runs: a TrainingRunRegistered any of whose dataset
	// versions the gate has not certified (its latest verdict is a rejection, or there is no
	// verdict yet), and no owner overrode the gate for, is refused with 409. nil: training
	// runs are not gated (a deployment without a gate; the ingest main sets it unless
	// -gate-training-runs=false). Like Principals, its owner runs it: the gateway only asks.
	Gate Gate

	// Questions, when set, checks label values against the questions projects define
	// (QuestionDefined): a LabelSubmitted, GoldLabelSet or PreLabelProposed whose question is
	// defined and whose value the definition does not admit (another level, a label outside
	// the closed set, a strength above the scale), or whose value is spans, boxes or a
	// preference and whose question is not defined, is refused as invalid (422). nil: values
	// get the contract's own checks only (the ingest main sets it unless
	// -check-questions=false). Like Gate, its owner runs it: the gateway only asks.
	Questions Questions
}

// Questions is what the gateway asks of the questions' definitions
// (services/ingest/questionview's View).
type Questions interface {
	// Definition returns the definition in force of question in project, or nil (the
	// gateway must not modify it), and whether the definitions are complete: false when
	// one the gateway is not given may exist (the view is past its cap), so that no
	// definition found does not mean the question is undefined. An error means the
	// definitions are not known yet: the request gets 503 and is retried, never a 422
	// decided on a partial view.
	Definition(project, question string) (*schemas.QuestionDefined, bool, error)
	// Definitions is Definition for a question in every project in accepts, ordered by
	// project.
	Definitions(question string, in func(project string) bool) ([]*schemas.QuestionDefined, bool, error)
}

// Gate is what the gateway asks of the quality gate (services/ingest/gateview's View).
type Gate interface {
	// Clearance is the gate's standing on a dataset version. An error means the gate's
	// decisions are not known yet (its view has not caught up): the request gets 503 and is
	// retried, never a 409 decided on a partial view.
	Clearance(gate.VersionRef) (gate.Clearance, error)
}

// validateLimits checks the rate limits and caps (New checks the rest).
func (c Config) validateLimits() error {
	switch {
	case c.TokenRate < 0 || c.ClientRate < 0:
		return errors.New("request rates must not be negative (0 is no limit)")
	case c.TokenRate > 0 && c.TokenBurst < 1:
		return errors.New("the token burst must be at least 1 when the token rate is set")
	case c.ClientRate > 0 && c.ClientBurst < 1:
		return errors.New("the client burst must be at least 1 when the client rate is set")
	case c.MaxClients < 1:
		return errors.New("max clients must be at least 1")
	case c.UnauthDLQPerClient < 0 || c.UnauthDLQTotal < 0:
		return errors.New("unauthenticated DLQ caps must not be negative (0 writes none)")
	case (c.UnauthDLQPerClient > 0 || c.UnauthDLQTotal > 0) && c.UnauthDLQInterval <= 0:
		return errors.New("the unauthenticated DLQ interval must be positive")
	case c.UnauthDLQPerClient > 0 && c.UnauthDLQInterval/time.Duration(c.UnauthDLQPerClient) <= 0,
		c.UnauthDLQTotal > 0 && c.UnauthDLQInterval/time.Duration(c.UnauthDLQTotal) <= 0:
		return errors.New("the unauthenticated DLQ interval is too short for its caps")
	case c.DedupWindow < 0:
		return errors.New("the dedup window must not be negative (0 is off)")
	}
	_, err := c.shareBytes()
	return err
}

// shareBytes is the bytes of the budget one principal may hold, 0 when there are no shares
// (MaxInFlightShare 1).
func (c Config) shareBytes() (int64, error) {
	if !(c.MaxInFlightShare > 0 && c.MaxInFlightShare <= 1) { // also refuses NaN
		return 0, fmt.Errorf("the in-flight share %v must be in (0, 1]", c.MaxInFlightShare)
	}
	if c.MaxInFlightShare == 1 {
		return 0, nil
	}
	n := int64(c.MaxInFlightShare * float64(c.MaxInFlightBytes))
	if n < 1 {
		return 0, fmt.Errorf("the in-flight share %v of %d bytes is less than a byte", c.MaxInFlightShare, c.MaxInFlightBytes)
	}
	return n, nil
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
		// Half: a runaway producer (or a leaked token sending gzip bombs) leaves the other
		// half to everyone else, and one producer alone still has four maximal bodies' worth.
		MaxInFlightShare: 0.5,
		InFlightWait:     2 * time.Second,
		// Request rates, not event rates: a batch is one request. The benchmark's full-speed
		// phase sends about 75 requests a second from one producer on a 2-core machine and
		// the demo and the fault suite 5; these limits are there against a runaway loop, so
		// they leave an order of magnitude of room.
		TokenRate:  1000,
		TokenBurst: 2000,
		// A legitimate client never needs many requests without a valid token (the client
		// does not retry a 401), so the per-address limit can be tight.
		ClientRate:  10,
		ClientBurst: 20,
		MaxClients:  10_000,
		// At most 100 records an hour of about 1.5 KiB each: 3.6 MB a day whatever the
		// flood, while a misconfigured collector still leaves its first ten attempts (and
		// then one every six minutes) for an operator to find.
		UnauthDLQPerClient: 10,
		UnauthDLQTotal:     100,
		UnauthDLQInterval:  time.Hour,
		ProduceTimeout:     10 * time.Second,
		RetryAfter:         5 * time.Second,
		DedupWindow:        100_000,
		DedupTTL:           10 * time.Minute,
		MaxFutureSkew:      time.Hour,
	}
}

// Flags are the gateway's settings as parsed from the command line; Config returns them once
// the flag set is parsed. The principals are the main's: it loads and reloads their file.
type Flags struct {
	cfg Config
}

// RegisterFlags registers the gateway's flags on fs with DefaultConfig's values as defaults.
// Main parses them with config.ParseFlags, which derives their environment variables
// (ASSAY_INGEST_MAX_EVENTS for -max-events, ...).
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{cfg: DefaultConfig()}
	c := &f.cfg
	fs.StringVar(&c.ServiceID, "service-id", c.ServiceID, "producer id stamped on the gateway's own DLQ records")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body, decoded")
	fs.IntVar(&c.MaxEvents, "max-events", c.MaxEvents, "most events in one request")
	fs.IntVar(&c.MaxEventBytes, "max-event-bytes", c.MaxEventBytes, "largest event JSON")
	fs.Int64Var(&c.MaxInFlightBytes, "max-inflight-bytes", c.MaxInFlightBytes, "memory of the requests processed at once (bodies, decoded, and what is made of them); the gateway's memory budget")
	fs.Float64Var(&c.MaxInFlightShare, "max-inflight-share", c.MaxInFlightShare, "fraction of -max-inflight-bytes one producer may hold at once, in (0, 1] (1: no share)")
	fs.DurationVar(&c.InFlightWait, "inflight-wait", c.InFlightWait, "wait for in-flight room before answering 503")
	fs.Float64Var(&c.TokenRate, "token-rate", c.TokenRate, "requests a second per producer, then 429 (0 = no limit)")
	fs.IntVar(&c.TokenBurst, "token-burst", c.TokenBurst, "requests a producer may send at once above -token-rate")
	fs.Float64Var(&c.ClientRate, "client-rate", c.ClientRate, "requests a second without a valid token per remote address (IPv6: /64), then 429 (0 = no limit)")
	fs.IntVar(&c.ClientBurst, "client-burst", c.ClientBurst, "requests without a valid token an address may send at once above -client-rate")
	fs.IntVar(&c.MaxClients, "max-clients", c.MaxClients, "remote addresses remembered for -client-rate and the unauthenticated DLQ caps")
	fs.IntVar(&c.UnauthDLQPerClient, "unauth-dlq-per-client", c.UnauthDLQPerClient, "DLQ records of requests without a valid token per address per -unauth-dlq-interval (the rest are counted only)")
	fs.IntVar(&c.UnauthDLQTotal, "unauth-dlq-total", c.UnauthDLQTotal, "DLQ records of requests without a valid token over all addresses per -unauth-dlq-interval")
	fs.DurationVar(&c.UnauthDLQInterval, "unauth-dlq-interval", c.UnauthDLQInterval, "interval of the unauthenticated DLQ caps")
	fs.DurationVar(&c.ProduceTimeout, "produce-timeout", c.ProduceTimeout, "wait for Kafka's acknowledgement before answering 503")
	fs.DurationVar(&c.RetryAfter, "retry-after", c.RetryAfter, "Retry-After sent with 503")
	fs.IntVar(&c.DedupWindow, "dedup-window", c.DedupWindow, "recently acknowledged event ids remembered per producer to collapse retries, 0 = off")
	fs.DurationVar(&c.DedupTTL, "dedup-ttl", c.DedupTTL, "how long an acknowledged id is remembered")
	fs.DurationVar(&c.MaxFutureSkew, "max-future-skew", c.MaxFutureSkew, "how far in the future occurred_at may be")
	return f
}

// Config returns the parsed configuration, without Principals, Gate and Questions (the
// caller sets them).
func (f *Flags) Config() Config { return f.cfg }
