package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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
	"github.com/twmb/franz-go/pkg/kerr"
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
	win    *window
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
		win:       newWindow(cfg.DedupWindow, cfg.DedupTTL, func(d int) { m.dedupIDs.Add(float64(d)) }),
		unauthDLQ: perInterval(cfg.UnauthDLQTotal, cfg.UnauthDLQInterval),
		now:       time.Now,
	}
	g.principals = newPrincipals(cfg.Principals, cfg.TokenRate, cfg.TokenBurst, g.win)
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

	// Admission: every byte of the body, decoded, is charged to the in-flight budget as it
	// is read, and given back when the request ends.
	h := &hold{b: g.budget, ctx: r.Context(), wait: g.cfg.InFlightWait}
	defer h.release()
	limit := g.bodyLimit()
	if r.ContentLength > limit {
		// The start of the body, for the DLQ record, charged like any other read (and never
		// more than the limit, which the budget can always grant).
		n := min(int64(g.cfg.MaxDLQOriginalBytes)+1, limit)
		body, _ := io.ReadAll(&chargedReader{r: io.LimitReader(r.Body, n), h: h, limit: n})
		return g.rejectRequest(ctx, w, prod, body, bodyTooLarge(r.ContentLength, limit))
	}
	body, rerr, err := g.readBody(r, h, limit)
	if err != nil {
		return g.overloaded(w)
	}
	if rerr != nil {
		return g.rejectRequest(ctx, w, prod, body, rerr)
	}
	g.m.requestBytes.Observe(float64(len(body)))

	decoded, rerr := DecodeRequest(body, r.Header.Get("Content-Type"), g.cfg.MaxEvents, g.cfg.MaxEventBytes)
	if rerr != nil {
		return g.rejectRequest(ctx, w, prod, body, rerr)
	}
	return g.publish(ctx, w, prod, decoded)
}

// bodyLimit is the largest body served: MaxBodyBytes, or the whole in-flight budget when
// that is smaller (such a body could never be admitted, and waiting for it would only turn
// into 503s the client retries forever).
func (g *Gateway) bodyLimit() int64 { return min(g.cfg.MaxBodyBytes, g.cfg.MaxInFlightBytes) }

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

// readBody reads the body up to limit, decoding gzip (the limit applies to the decoded
// bytes, so a small compressed bomb cannot expand past it) and charging every byte to h. On
// oversize it returns the first bytes, for the DLQ record. err is set (and the answer is
// 503) when the budget had no room within the request's wait, or the client went away
// while it waited.
func (g *Gateway) readBody(r *http.Request, h *hold, limit int64) (body []byte, rerr *RequestError, err error) {
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		// Compressed bytes are bounded too: gzip adds little to incompressible data, so a
		// longer stream is padding (empty blocks) that would keep the request reading forever.
		zr, err := gzip.NewReader(&wireReader{r: r.Body, left: limit + limit/8 + 64<<10})
		if err != nil {
			if errors.Is(err, errBodyTooLarge) {
				return nil, bodyTooLarge(-1, limit), nil
			}
			return nil, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, "gzip body does not decode: " + err.Error()}, nil
		}
		defer zr.Close()
		src = zr
	default:
		return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Encoding %q: want gzip or none", enc)}, nil
	}
	body, rdErr := io.ReadAll(&chargedReader{r: src, h: h, limit: limit})
	switch {
	case rdErr == nil:
		return body, nil, nil
	case errors.Is(rdErr, errBodyTooLarge):
		return body, bodyTooLarge(-1, limit), nil
	case errors.Is(rdErr, errNoRoom), h.ctx.Err() != nil:
		return nil, nil, rdErr
	default:
		return body, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, "reading the body: " + rdErr.Error()}, nil
	}
}

// wireReader fails with errBodyTooLarge once more than left bytes were read.
type wireReader struct {
	r    io.Reader
	left int64
}

func (w *wireReader) Read(p []byte) (int, error) {
	if w.left <= 0 {
		return 0, errBodyTooLarge
	}
	p = p[:min(int64(len(p)), w.left)]
	n, err := w.r.Read(p)
	w.left -= int64(n)
	return n, err
}

func bodyTooLarge(n, max int64) *RequestError {
	msg := fmt.Sprintf("body over the limit of %d bytes; split the batch", max)
	if n > 0 {
		msg = fmt.Sprintf("body is %d bytes, over the limit of %d; split the batch", n, max)
	}
	return &RequestError{http.StatusRequestEntityTooLarge, wire.CodeBodyTooLarge, msg}
}

// pending is one valid event on its way to Kafka.
type pending struct {
	index int
	ev    schemas.Event
	rec   *kgo.Record
	hash  uint64
	dup   bool
}

// publish stamps and validates the decoded events and publishes them all or none.
func (g *Gateway) publish(ctx context.Context, w http.ResponseWriter, prod *access.Principal, decoded []Decoded) int {
	now := g.now()
	var (
		bad  []Decoded
		ok   []pending
		seen = make(map[string]int, len(decoded))
	)
	for _, d := range decoded {
		if d.Err == nil {
			d.Err = g.check(d, prod, now, seen)
		}
		if d.Err != nil {
			bad = append(bad, d)
			continue
		}
		p, err := g.encode(d, prod, now)
		if err != nil {
			d.Err = err
			bad = append(bad, d)
			continue
		}
		ok = append(ok, p)
	}
	if len(bad) > 0 {
		return g.rejectEvents(ctx, w, prod, bad, len(decoded))
	}

	var recs []*kgo.Record
	for i := range ok {
		if !ok[i].dup {
			recs = append(recs, ok[i].rec)
		}
	}
	errs := g.produce(ctx, recs)
	// Acknowledged records enter the window even when others failed: the client's retry of
	// the whole request then writes only what is missing.
	var ids []string
	var hashes []uint64
	var failed error
	accepted := wire.Accepted{Events: make([]wire.EventResult, 0, len(ok))}
	j := 0
	for _, p := range ok {
		res := wire.EventResult{Index: p.index, EventID: p.ev.Meta().EventID, EventType: string(p.ev.Type())}
		if p.dup {
			res.Duplicate = true
			accepted.Duplicates++
			g.m.duplicates.WithLabelValues(string(p.ev.Type())).Inc()
		} else {
			err := errs[j]
			j++
			if err != nil {
				failed = err
				continue
			}
			part, off := p.rec.Partition, p.rec.Offset
			res.Topic, res.Partition, res.Offset = p.rec.Topic, &part, &off
			ids = append(ids, res.EventID)
			hashes = append(hashes, p.hash)
			g.m.accepted.WithLabelValues(string(p.ev.Type())).Inc()
		}
		accepted.Events = append(accepted.Events, res)
	}
	g.win.add(prod.ID, ids, hashes, now)
	if failed != nil {
		g.log.Warn("produce failed", "producer", prod.ID, "events", len(ok), "acknowledged", len(ids), "err", failed)
		if errors.Is(failed, kerr.MessageTooLarge) || errors.Is(failed, kerr.RecordListTooLarge) {
			return writeJSON(w, http.StatusRequestEntityTooLarge, wire.Problem{Error: "a record is larger than Kafka accepts: " + failed.Error(), Code: wire.CodeEventTooLarge})
		}
		return g.unavailable(w, wire.CodeUnavailable, fmt.Sprintf("Kafka did not acknowledge %d of %d events: %v; retry the request (acknowledged ones will not be written twice)", len(recs)-len(ids), len(ok), failed))
	}
	accepted.Accepted = len(accepted.Events)
	return writeJSON(w, http.StatusAccepted, accepted)
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
	var v *access.Violation
	if errors.As(authErr, &v) && (v.Rule == access.RuleEventType || v.Rule == access.RuleInternal) {
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

// encode builds the record of a checked event and consults the recent-ids window.
func (g *Gateway) encode(d Decoded, prod *access.Principal, now time.Time) (pending, *wire.EventError) {
	ev := d.Event
	p := pending{index: d.Index, ev: ev, hash: contentHash(d.Raw)}
	id := ev.Meta().EventID
	if h, ok := g.win.lookup(prod.ID, id, now); ok {
		if h != p.hash {
			return p, &wire.EventError{Index: d.Index, Line: d.Line, EventID: id, EventType: string(ev.Type()), Field: "event_id",
				Code: wire.CodeIDConflict, Reason: "this event_id was accepted recently with different content; a correction is a new event with a new id"}
		}
		p.dup = true
		return p, nil
	}
	val, err := schemas.Encode(ev)
	if err != nil {
		return p, &wire.EventError{Index: d.Index, Line: d.Line, EventID: id, EventType: string(ev.Type()), Code: wire.CodeInvalid, Reason: err.Error()}
	}
	p.rec = &kgo.Record{
		Topic:     g.kcfg.Topic(ev.Family().Topic()),
		Key:       []byte(ev.Key()),
		Value:     val,
		Timestamp: now,
	}
	return p, nil
}

// contentHash identifies an event's content for the window: the compacted JSON as sent, so
// the same event re-sent (differently indented) matches and a changed one does not.
func contentHash(raw []byte) uint64 {
	var buf bytes.Buffer
	h := fnv.New64a()
	if json.Compact(&buf, raw) == nil {
		raw = buf.Bytes()
	}
	_, _ = h.Write(raw)
	return h.Sum64()
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

// rejectRequest dead-letters a body rejected as a whole and answers.
func (g *Gateway) rejectRequest(ctx context.Context, w http.ResponseWriter, prod *access.Principal, body []byte, rerr *RequestError) int {
	g.m.rejected.WithLabelValues("unknown", rerr.Code).Inc()
	orig, note := body, ""
	if max := g.cfg.MaxDLQOriginalBytes; len(orig) > max {
		orig, note = orig[:max], fmt.Sprintf(" (original truncated to its first %d bytes)", max)
	}
	rej := g.rejection(prod, orig, rerr.Code+": "+rerr.Message+note, "")
	if err := g.deadLetter(ctx, []*schemas.EventRejected{rej}); err != nil {
		return g.dlqUnavailable(w, err)
	}
	return writeJSON(w, rerr.Status, wire.Problem{Error: rerr.Message, Code: rerr.Code, DeadLettered: true})
}

// rejectEvents dead-letters the rejected events of a request (the valid ones are neither
// published nor dead-lettered: the answer tells the client that nothing was accepted) and
// answers with the most specific status: 413 if any event is too large, else 403 if the
// principal may not write any (access.Violation: the error names the rule), else 422.
//
// A forbidden event is dead-lettered with its bytes, like an invalid one (up to
// MaxDLQOriginalBytes), not as metadata only like a request without a valid token: its
// sender is authenticated, accountable and rate limited as a principal, the record names it,
// and the usual fix (a wider scope for the principal, or a corrected event) needs the event
// to replay.
func (g *Gateway) rejectEvents(ctx context.Context, w http.ResponseWriter, prod *access.Principal, bad []Decoded, total int) int {
	status := http.StatusUnprocessableEntity
	rejs := make([]*schemas.EventRejected, 0, len(bad))
	errs := make([]wire.EventError, 0, len(bad))
	for _, d := range bad {
		e := d.Err
		switch {
		case e.Code == wire.CodeEventTooLarge:
			status = http.StatusRequestEntityTooLarge
		case e.Code == wire.CodeForbidden && status != http.StatusRequestEntityTooLarge:
			status = http.StatusForbidden
		}
		typ := e.EventType
		if typ == "" {
			typ = "unknown"
		}
		g.m.rejected.WithLabelValues(typ, e.Code).Inc()
		orig, note := d.Raw, ""
		if max := g.cfg.MaxDLQOriginalBytes; len(orig) > max {
			orig, note = orig[:max], fmt.Sprintf(" (original truncated to its first %d bytes)", max)
		}
		reason := fmt.Sprintf("%s: event %d of %d", e.Code, e.Index, total)
		if e.Field != "" {
			reason += ": " + e.Field
		}
		if e.Rule != "" {
			reason += ": " + e.Rule
		}
		reason += ": " + e.Reason + note
		rejs = append(rejs, g.rejection(prod, orig, reason, e.Field))
		errs = append(errs, *e)
	}
	if err := g.deadLetter(ctx, rejs); err != nil {
		return g.dlqUnavailable(w, err)
	}
	return writeJSON(w, status, wire.Problem{
		Error:        fmt.Sprintf("%d of %d events rejected; nothing from this request was published", len(bad), total),
		Rejected:     len(bad),
		Errors:       errs,
		DeadLettered: true,
	})
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
		val, err := schemas.Encode(rej)
		if err != nil {
			return fmt.Errorf("encode DLQ record: %w", err)
		}
		recs = append(recs, &kgo.Record{Topic: g.kcfg.Topic(schemas.FamilyDLQ.Topic()), Key: []byte(rej.Key()), Value: val})
	}
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

func (g *Gateway) overloaded(w http.ResponseWriter) int {
	return g.unavailable(w, wire.CodeOverloaded, fmt.Sprintf("too many bytes in flight (limit %d); retry later", g.cfg.MaxInFlightBytes))
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
