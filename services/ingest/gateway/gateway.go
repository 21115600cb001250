package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Gateway is the POST /v1/events handler and the Kafka producer behind it. Create it with
// New, mount it (it is an http.Handler), register Ready as a readiness check, and Close it
// after the HTTP server has stopped.
type Gateway struct {
	cfg    Config
	kcfg   config.Kafka
	cl     *kgo.Client
	adm    *kadm.Client
	log    *slog.Logger
	m      *metrics
	budget *budget
	shares *shares
	win    *window
	// topics are the namespace's topic of each family.
	topics map[schemas.Family]string
	// principals authenticates callers and limits each principal's requests.
	principals *principals
	// clients holds the per-address limits of requests without a valid token, and
	// unauthDLQ caps their DLQ records over all addresses (nil: none are written).
	clients   *clientTable
	unauthDLQ *rate.Limiter
	closing   atomic.Bool
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// New connects a producer to the cluster of k (acks=all and idempotence are franz-go's
// defaults and are kept: a 202 means the record is on every in-sync replica, and producer
// retries never duplicate or reorder a partition) and registers the metrics on reg.
func New(cfg Config, k config.Kafka, reg prometheus.Registerer, log *slog.Logger, opts ...kgo.Opt) (*Gateway, error) {
	if cfg.Principals == nil || cfg.Principals.Load() == nil || cfg.Principals.Load().Tokens() == 0 {
		return nil, errors.New("gateway: no principal with a token configured")
	}
	if cfg.MaxBodyBytes <= 0 || cfg.MaxEvents <= 0 || cfg.MaxEventBytes <= 0 || cfg.MaxDLQOriginalBytes <= 0 ||
		cfg.MaxInFlightBytes <= 0 || cfg.ProduceTimeout <= 0 || cfg.InFlightWait < 0 {
		return nil, errors.New("gateway: limits and timeouts must be positive")
	}
	share, err := cfg.shareBytes()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if err := cfg.validateLimits(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if cfg.ServiceID == "" {
		cfg.ServiceID = "assay-ingest"
	}
	base := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// A record that cannot be delivered within the produce timeout fails instead of being
		// retried forever in the background: otherwise a request answered 503 could still land
		// much later, and the client's retry would be its second copy.
		kgo.RecordDeliveryTimeout(cfg.ProduceTimeout),
		// Every valid event has a non-empty key; the default partitioner hashes it with
		// murmur2 exactly as the Java client does, so keys land where other tools expect.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// A topic that is missing (or just created and not yet in every broker's metadata)
		// is waited for until the produce timeout, not failed after a few metadata retries;
		// readiness reports missing topics.
		kgo.UnknownTopicRetries(-1),
		// By default franz-go never fails a record whose produce request was sent but not
		// answered (it cannot know whether the broker wrote it), so a request would hang for
		// as long as a broker stays down. A request/response gateway must answer: records
		// in that state fail at the produce timeout and the client gets 503. Its retry, with
		// the same event ids, may then write a second copy of such a record; duplicates by
		// event_id are collapsed downstream (ReplacingMergeTree), as documented.
		kgo.AllowIdempotentProduceCancellation(),
	}
	cl, err := kafka.NewClient(k, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	m := newMetrics(reg)
	g := &Gateway{
		cfg:       cfg,
		kcfg:      k,
		cl:        cl,
		adm:       kadm.NewClient(cl),
		log:       log,
		m:         m,
		budget:    newBudget(cfg.MaxInFlightBytes, func(d int64) { m.inFlightBytes.Add(float64(d)) }),
		shares:    newShares(share),
		topics:    map[schemas.Family]string{},
		win:       newWindow(cfg.DedupWindow, cfg.DedupTTL, func(d int) { m.dedupIDs.Add(float64(d)) }),
		unauthDLQ: perInterval(cfg.UnauthDLQTotal, cfg.UnauthDLQInterval),
		now:       time.Now,
	}
	for _, f := range schemas.Families() {
		g.topics[f] = k.Topic(f.Topic())
	}
	g.principals = newPrincipals(cfg.Principals, cfg.TokenRate, cfg.TokenBurst, g.win, g.shares)
	// An address's entry can be forgotten once its buckets are full again: it is then no
	// different from a new one.
	idle := cfg.UnauthDLQInterval
	if cfg.ClientRate > 0 {
		idle = max(idle, time.Duration(float64(cfg.ClientBurst)/cfg.ClientRate*float64(time.Second)))
	}
	g.clients = newClientTable(cfg.MaxClients, idle,
		func() (*rate.Limiter, *rate.Limiter) {
			return newLimiter(cfg.ClientRate, cfg.ClientBurst), perInterval(cfg.UnauthDLQPerClient, cfg.UnauthDLQInterval)
		},
		func(size int, evicted bool) {
			m.clients.Set(float64(size))
			if evicted {
				m.clientEvictions.Inc()
			}
		})
	return g, nil
}

// Ready is the readiness check: Kafka answers and every ledger topic of the namespace exists
// (a missing topic would turn every request into a 503 after the produce timeout).
func (g *Gateway) Ready(ctx context.Context) error {
	if g.closing.Load() {
		return errors.New("shutting down")
	}
	var names []string
	for _, f := range schemas.Families() {
		names = append(names, g.kcfg.Topic(f.Topic()))
	}
	details, err := g.adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	for _, n := range names {
		if d, ok := details[n]; !ok || d.Err != nil {
			return fmt.Errorf("kafka: topic %s is missing (run `assay admin topics`)", n)
		}
	}
	return nil
}

// Close waits for records still being produced (requests in flight when the HTTP server
// stopped waiting) until ctx ends, then closes the Kafka client. Call it after the server
// has shut down, so no new request starts.
func (g *Gateway) Close(ctx context.Context) error {
	g.closing.Store(true)
	err := g.cl.Flush(ctx)
	g.cl.Close()
	if err != nil {
		return fmt.Errorf("flush producer on close: %w", err)
	}
	return nil
}

// ServeHTTP handles POST /v1/events (see the package documentation for the answers).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := g.serve(w, r)
	g.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// serve answers one request and returns the status it wrote.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) int {
	if g.closing.Load() {
		return g.unavailable(w, wire.CodeShuttingDown, "the gateway is shutting down")
	}
	// Records and DLQ writes use a context that survives the client hanging up: once records
	// are handed to the producer they may land, and the answer (for a retry) must reflect
	// what happened. The produce timeout bounds it instead.
	ctx := context.WithoutCancel(r.Context())
	now := g.now()

	// Authentication needs only the header: nothing of the body is read before it.
	prod, err := g.principals.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		return g.unauthenticated(ctx, w, r, err, now)
	}
	if wait, ok := reserve(g.principals.limiter(prod.ID), now); !ok {
		g.m.rejectedRequests.WithLabelValues(reasonRateLimitedToken).Inc()
		return tooManyRequests(w, wait, fmt.Sprintf("producer %s sends more than %g requests a second (burst %d); send larger batches or slow down", prod.ID, g.cfg.TokenRate, g.cfg.TokenBurst))
	}

	h := g.newHold(r.Context(), prod.ID)
	defer h.release()
	return g.serveBody(ctx, w, r, prod, h)
}

// What the gateway reads of a request without a valid token, and keeps of it.
const (
	// unauthReadBytes is the most of the body read, for its size and hash; the rest is never
	// read (net/http discards at most 256 KiB more of a chunked body before it closes the
	// connection). It is not charged to the in-flight budget, so a flood of such requests
	// cannot take room from producers: it is a constant per connection, and connections are
	// bounded by the server.
	unauthReadBytes = 16 << 10
	// unauthOriginalBytes is the most of the body a DLQ record keeps.
	unauthOriginalBytes = 1 << 10
)

// unauthenticated answers a request without a valid token. It costs a constant: it is rate
// limited per address, at most unauthReadBytes of its body are read, and its DLQ record (if
// the per-address and total caps of the interval allow one) keeps only metadata and the
// first KiB: the remote address, the reason, the size, and a SHA-256 of what was read.
func (g *Gateway) unauthenticated(ctx context.Context, w http.ResponseWriter, r *http.Request, authErr error, now time.Time) int {
	c := g.clients.get(clientKey(r.RemoteAddr), now)
	if wait, ok := reserve(c.req, now); !ok {
		g.m.rejectedRequests.WithLabelValues(reasonRateLimitedClient).Inc()
		closeUnread(w, r)
		return tooManyRequests(w, wait, "too many requests without a valid bearer token from this address")
	}
	reason := reasonUnknownToken
	if errors.Is(authErr, access.ErrNoCredentials) {
		reason = reasonNoCredentials
	}
	g.m.rejectedRequests.WithLabelValues(reason).Inc()
	w.Header().Set("WWW-Authenticate", `Bearer realm="assay-ingest"`)
	prob := wire.Problem{Error: authErr.Error(), Code: wire.CodeUnauthenticated}
	if !g.allowUnauthDLQ(c, now) {
		closeUnread(w, r)
		return writeJSON(w, http.StatusUnauthorized, prob)
	}

	head, rerr := io.ReadAll(io.LimitReader(r.Body, unauthReadBytes+1))
	var size string
	switch {
	case rerr == nil && len(head) <= unauthReadBytes:
		size = fmt.Sprintf("%d bytes", len(head))
	case rerr == nil && r.ContentLength > 0:
		head = head[:unauthReadBytes]
		size = fmt.Sprintf("%d bytes (Content-Length), not read past %d", r.ContentLength, len(head))
	case rerr == nil:
		head = head[:unauthReadBytes]
		size = fmt.Sprintf("more than %d bytes (no Content-Length), not read further", len(head))
	default:
		size = fmt.Sprintf("unreadable after %d bytes (%v)", len(head), rerr)
	}
	if rerr != nil || len(head) == unauthReadBytes {
		closeUnread(w, r)
	}
	sum := sha256.Sum256(head)
	orig := head[:min(len(head), unauthOriginalBytes)]
	msg := fmt.Sprintf("%s: %v; remote %s; body %s; sha256 %x of the %d bytes read; original is the first %d bytes",
		wire.CodeUnauthenticated, authErr, r.RemoteAddr, size, sum, len(head), len(orig))
	if err := g.deadLetter(ctx, []*schemas.EventRejected{g.rejection(nil, orig, msg, "")}); err != nil {
		// Input without credentials is not input the gateway promised to keep: the answer
		// stays 401 (a 503 would invite the retries of a client that cannot succeed).
		g.log.Warn("DLQ write of an unauthenticated request failed", "remote", r.RemoteAddr, "err", err)
		return writeJSON(w, http.StatusUnauthorized, prob)
	}
	g.m.rejected.WithLabelValues("unknown", wire.CodeUnauthenticated).Inc()
	prob.DeadLettered = true
	return writeJSON(w, http.StatusUnauthorized, prob)
}

// allowUnauthDLQ takes one DLQ record from the address's cap and the total cap, or from
// neither.
func (g *Gateway) allowUnauthDLQ(c *clientEntry, now time.Time) bool {
	if c.dlq == nil || g.unauthDLQ == nil {
		g.m.unauthDLQSkipped.WithLabelValues("client").Inc()
		return false
	}
	rc := c.dlq.ReserveN(now, 1)
	if !rc.OK() || rc.DelayFrom(now) > 0 {
		rc.CancelAt(now)
		g.m.unauthDLQSkipped.WithLabelValues("client").Inc()
		return false
	}
	rt := g.unauthDLQ.ReserveN(now, 1)
	if !rt.OK() || rt.DelayFrom(now) > 0 {
		rt.CancelAt(now)
		rc.CancelAt(now)
		g.m.unauthDLQSkipped.WithLabelValues("total").Inc()
		return false
	}
	return true
}

// closeUnread makes the server close the connection after the answer instead of reading a
// body the gateway does not want.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// check applies the rules that need the principal, the request and the clock, stamps and
// validates the event with the contract's own Validate, and authorizes it (access.Authorize):
// a type the principal's role does not write is refused before the event is validated, the
// scope rules (project, vendor, cohort, model) after, since they read its fields.
func (g *Gateway) check(d Decoded, prod *access.Principal, now time.Time, seen map[string]int) *wire.EventError {
	ev := d.Event
	m := ev.Meta()
	fail := func(field, code, format string, args ...any) *wire.EventError {
		return &wire.EventError{Index: d.Index, Line: d.Line, EventID: m.EventID, EventType: string(ev.Type()),
			Field: field, Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	forbidden := func(err error) *wire.EventError {
		var v *access.Violation
		if !errors.As(err, &v) {
			return fail("", wire.CodeForbidden, "%v", err)
		}
		g.m.forbidden.WithLabelValues(v.Rule).Inc()
		e := fail(v.Field, wire.CodeForbidden, "%s", v.Reason)
		e.Rule = v.Rule
		return e
	}
	authErr := access.Authorize(prod, ev)
	if authErr != nil && earlyViolation(authErr) {
		return forbidden(authErr)
	}
	if m.EventID != "" {
		if len(m.EventID) > 128 || strings.IndexFunc(m.EventID, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return fail("event_id", wire.CodeInvalid, "must be at most 128 characters without spaces or control characters")
		}
		if first, dup := seen[m.EventID]; dup {
			return fail("event_id", wire.CodeDuplicateID, "same event_id as event %d of this request", first)
		}
		seen[m.EventID] = d.Index
	}
	// Timestamps: epoch milliseconds. A value before 2000 is almost surely seconds; one far
	// in the future is a broken clock or unit, and would distort every time-based KPI.
	if m.OccurredAt != 0 && m.OccurredAt < 946_684_800_000 {
		return fail("occurred_at", wire.CodeInvalid, "%d is before 2000-01-01 in epoch milliseconds (seconds sent instead of milliseconds?)", m.OccurredAt)
	}
	if limit := now.Add(g.cfg.MaxFutureSkew).UnixMilli(); m.OccurredAt > limit {
		return fail("occurred_at", wire.CodeInvalid, "%s is more than %s in the future", time.UnixMilli(m.OccurredAt).UTC().Format(time.RFC3339), g.cfg.MaxFutureSkew)
	}
	schemas.Stamp(ev, prod.ID, now)
	if err := ev.Validate(); err != nil {
		var fe *schemas.FieldError
		if errors.As(err, &fe) {
			return fail(fe.Field, wire.CodeInvalid, "%s", fe.Reason)
		}
		return fail("", wire.CodeInvalid, "%v", err)
	}
	if authErr != nil {
		return forbidden(authErr)
	}
	return nil
}

// earlyViolation reports whether err breaks a rule checked before the event is validated:
// its type is one the principal's role does not write, or an internal one.
func earlyViolation(err error) bool {
	var v *access.Violation
	return errors.As(err, &v) && (v.Rule == access.RuleEventType || v.Rule == access.RuleInternal)
}

// encode builds the record of a checked event, consults the recent-ids window and, for a
// training run, the gate (a *gateError when the gate cannot be asked), for a label, gold
// label or pre-label, the definitions of its question (a *questionsError when they cannot
// be asked). The
// record's value is encoded into the request's scratch buffer and copied out at its exact
// size, so a record holds no more than its bytes; the scratch buffer's growth is charged to h.
func (g *Gateway) encode(d Decoded, prod *access.Principal, now time.Time, h *hold, scratch *[]byte) (pending, *wire.EventError, error) {
	ev := d.Event
	id := ev.Meta().EventID
	p := pending{index: d.Index, id: id, typ: ev.Type(), hash: d.hash}
	if hash, ok := g.win.lookup(prod.ID, id, now); ok {
		if hash != p.hash {
			return p, &wire.EventError{Index: d.Index, Line: d.Line, EventID: id, EventType: string(ev.Type()), Field: "event_id",
				Code: wire.CodeIDConflict, Reason: "this event_id was accepted recently with different content; a correction is a new event with a new id"}, nil
		}
		p.dup = true
		return p, nil, nil
	}
	// The gate is asked after the window: a retry of a run accepted earlier is answered as
	// the duplicate it is, whatever the gate has decided since.
	if e, err := g.gated(d); e != nil || err != nil {
		return p, e, err
	}
	// The questions' definitions too: a retry of a label accepted before its question was
	// redefined is the duplicate it is.
	if e, err := g.admitted(d, prod); e != nil || err != nil {
		return p, e, err
	}
	before := cap(*scratch)
	val, err := schemas.Append((*scratch)[:0], ev)
	if grown := int64(cap(val) - before); grown > 0 {
		*scratch = val
		if err := h.alloc(grown); err != nil {
			return p, nil, err
		}
	}
	if err != nil {
		return p, &wire.EventError{Index: d.Index, Line: d.Line, EventID: id, EventType: string(ev.Type()), Code: wire.CodeInvalid, Reason: err.Error()}, nil
	}
	// The key and the value share one allocation of their exact size.
	key := ev.Key()
	kv := make([]byte, len(key)+len(val))
	copy(kv, key)
	copy(kv[len(key):], val)
	p.rec = &kgo.Record{
		Topic:     g.topics[ev.Family()],
		Key:       kv[:len(key):len(key)],
		Value:     kv[len(key):],
		Timestamp: now,
	}
	return p, nil, nil
}

// produce hands every record to the producer and waits for all acknowledgements, returning
// one error (or nil) per record, in order.
func (g *Gateway) produce(ctx context.Context, recs []*kgo.Record) []error {
	errs := make([]error, len(recs))
	if len(recs) == 0 {
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()
	var (
		mu      sync.Mutex
		pending = len(recs)
		done    = make(chan struct{})
		gaveUp  bool
		called  = make([]bool, len(recs))
	)
	for i, rec := range recs {
		g.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if gaveUp {
				return
			}
			errs[i], called[i] = err, true
			if pending--; pending == 0 {
				close(done)
			}
		})
	}
	// The record contexts end at the produce timeout and franz-go then fails them; the extra
	// margin only guards the answer against a record that is never called back.
	select {
	case <-done:
	case <-time.After(g.cfg.ProduceTimeout + 5*time.Second):
		mu.Lock()
		gaveUp = true
		for i := range recs {
			if !called[i] {
				errs[i] = errors.New("no acknowledgement from Kafka within the produce timeout")
			}
		}
		mu.Unlock()
	}
	outcome := "ok"
	for _, err := range errs {
		if err != nil {
			outcome = "error"
			break
		}
	}
	g.m.produceDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return errs
}

// rejection builds one DLQ record. Its key (source) is "ingest:<producer>", so one
// collector's rejects stay in order on one partition and are easy to find.
func (g *Gateway) rejection(prod *access.Principal, orig []byte, reason, field string) *schemas.EventRejected {
	source, producer := "ingest:unauthenticated", ""
	if prod != nil {
		source, producer = "ingest:"+prod.ID, prod.ID
	}
	rej := schemas.Rejection(source, orig, producer, errors.New(reason))
	rej.Field = field
	if rej.Original == nil {
		rej.Original = []byte{}
	}
	schemas.Stamp(rej, g.cfg.ServiceID, g.now())
	return rej
}

// deadLetter writes DLQ records and waits for their acknowledgement: a rejection is answered
// only once it is durable, so nothing sent is lost even when the answer is an error.
func (g *Gateway) deadLetter(ctx context.Context, rejs []*schemas.EventRejected) error {
	recs := make([]*kgo.Record, 0, len(rejs))
	for _, rej := range rejs {
		rec, err := g.dlqRecord(rej)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	return g.produceDLQ(ctx, recs)
}

// dlqRecord encodes one DLQ record.
func (g *Gateway) dlqRecord(rej *schemas.EventRejected) (*kgo.Record, error) {
	val, err := schemas.Encode(rej)
	if err != nil {
		return nil, fmt.Errorf("encode DLQ record: %w", err)
	}
	return &kgo.Record{Topic: g.topics[schemas.FamilyDLQ], Key: []byte(rej.Key()), Value: val}, nil
}

// produceDLQ writes encoded DLQ records and waits for their acknowledgement.
func (g *Gateway) produceDLQ(ctx context.Context, recs []*kgo.Record) error {
	var first error
	for _, err := range g.produce(ctx, recs) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
			if first == nil {
				first = err
			}
		}
		g.m.dlq.WithLabelValues(outcome).Inc()
	}
	if first != nil {
		return fmt.Errorf("write DLQ records: %w", first)
	}
	return nil
}

func (g *Gateway) dlqUnavailable(w http.ResponseWriter, err error) int {
	g.log.Warn("DLQ write failed; answering 503 so the client retries", "err", err)
	return g.unavailable(w, wire.CodeUnavailable, "the request was rejected but its DLQ record could not be written: "+err.Error())
}

// tooManyRequests answers 429 with the Retry-After of the limiter that refused (wait,
// rounded up to whole seconds).
func tooManyRequests(w http.ResponseWriter, wait time.Duration, msg string) int {
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
	return writeJSON(w, http.StatusTooManyRequests, wire.Problem{Error: msg, Code: wire.CodeRateLimited})
}

func (g *Gateway) unavailable(w http.ResponseWriter, code, msg string) int {
	secs := int(g.cfg.RetryAfter.Round(time.Second) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return writeJSON(w, http.StatusServiceUnavailable, wire.Problem{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return status
}
