package gateway

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
)

// What the gateway counts, besides bytes it holds exactly (body pieces, copies, record keys
// and values), for the memory a request makes out of its events. The sizes of Go values are
// exact; the JSON of an answer and the transient work of one event are estimates, measured
// with BenchmarkRequestMemory and rounded up.
const (
	// recordOverhead is a record's memory besides its key and value: the kgo.Record, the
	// request's pending entry (twice: its slice grows by doubling), franz-go's promise of
	// it, and its entries in produce's and the window's slices.
	recordOverhead = int64(unsafe.Sizeof(kgo.Record{}) + 2*unsafe.Sizeof(pending{}) + 64 + 48)
	// seenEntry is an event id's entry in the request's map of ids, besides the id.
	seenEntry = 64
	// resultBytes is one event's entry in a 202 answer: its wire.EventResult, the partition
	// and offset it points to, and its JSON.
	resultBytes = int64(unsafe.Sizeof(wire.EventResult{})) + 32 + 256
	// errorBytes is one rejected event's entry in a 4xx answer besides its texts: its
	// wire.EventError and its JSON.
	errorBytes = int64(unsafe.Sizeof(wire.EventError{})) + 256
	// eventWork is the transient memory of decoding, checking and encoding one event besides
	// eventWorkFactor times its size: the typed struct and its strings, and encoding/json's
	// decoder and the probe for an event the fast decoder leaves to it. It was measured when
	// every event went through encoding/json twice and goavro's native form (about 8 KB for
	// a 450-byte label, BenchmarkRequestMemory); it is kept, as a bound, now that the usual
	// event takes well under 1 KB (BenchmarkEventPath: B/event). It is charged while the
	// event is worked on and given back after.
	eventWork       = 8 << 10
	eventWorkFactor = 4
	// elementWork is what checking one element of an event's lists may hold besides the
	// element, charged with it (decodeEvent): a set's entry where Validate looks for
	// duplicates, the field name of its check. The elements themselves are charged at their
	// Go size: a list of empty objects ("boxes":[{},{},...]) decodes to 56 bytes a Box from
	// 3 bytes of JSON, which the factor above does not cover.
	elementWork = 48
	// slowGrowth is how many times its final size encoding/json allocates for a slice it
	// grows (by about a quarter at a time once large), for the charge of the lists of an
	// event it decodes.
	slowGrowth = 5
	// gzipReaderBytes is a gzip reader's state (flate's window and tables, the bufio.Reader
	// under it), charged while a gzip body is read.
	gzipReaderBytes = 56 << 10
	// headBytes is how much of a body a DLQ record keeps of a body rejected for its size,
	// like one of a request without a valid token.
	headBytes = unauthOriginalBytes
)

// pending is one valid event on its way to Kafka: what the answer and the window need of it,
// and its record (nil for a duplicate answered from the window).
type pending struct {
	index  int
	id     string
	typ    schemas.EventType
	rec    *kgo.Record
	hash   uint64
	dup    bool
	charge int64
}

// capacity is the most one request can hold: a principal's share of the budget, or the
// whole budget when there are no shares.
func (g *Gateway) capacity() int64 {
	if g.shares.size > 0 {
		return g.shares.size
	}
	return g.cfg.MaxInFlightBytes
}

// bodyLimit is the largest body served: MaxBodyBytes, or what one request can hold when that
// is smaller (such a body could never be admitted, and waiting for it would only turn into
// 503s the client retries forever).
func (g *Gateway) bodyLimit() int64 { return min(g.cfg.MaxBodyBytes, g.capacity()) }

func (g *Gateway) newHold(ctx context.Context, principal string) *hold {
	return &hold{b: g.budget, share: g.shares.of(principal), limit: g.capacity(), ctx: ctx, wait: g.cfg.InFlightWait}
}

// serveBody reads, checks and publishes the body of an authenticated request, every byte it
// holds charged to h: the body as it is read (after gzip decoding), then, as each event
// turns into a record, the record in place of the piece of body it came from.
func (g *Gateway) serveBody(ctx context.Context, w http.ResponseWriter, r *http.Request, prod *access.Principal, h *hold) int {
	limit := g.bodyLimit()
	if r.ContentLength > limit {
		return g.rejectSize(ctx, w, r, prod, h, nil, true, bodyTooLarge(r.ContentLength, limit, g.limitNote(limit)))
	}
	b, rerr, err := g.read(r, h, limit)
	switch {
	case err != nil && isTimeout(err):
		// The client's own sending was too slow: not overload, and not worth a retry soon.
		w.Header().Set("Connection", "close")
		return writeJSON(w, http.StatusRequestTimeout, wire.Problem{Code: wire.CodeRequestTimeout,
			Error: "the request body did not arrive within the server's read timeout; send it faster or in smaller batches"})
	case err != nil:
		return g.overloaded(w, h)
	case rerr != nil && rerr.Code == wire.CodeBodyTooLarge:
		return g.rejectSize(ctx, w, r, prod, h, b, true, rerr)
	case rerr != nil:
		return g.rejectRequest(ctx, w, prod, h, b, rerr)
	}
	g.m.requestBytes.Observe(float64(b.size))
	return g.process(ctx, w, r, prod, h, b)
}

// read reads the body up to limit, decoding gzip (the limit applies to the decoded bytes, so
// a small compressed bomb cannot expand past it), into a body charged to h. A body over the
// limit is a *RequestError with the body read so far (for its DLQ record). err is set when
// the body did not arrive (the server's read timeout: isTimeout), the budget or the
// principal's share had no room within the request's wait, or the client went away.
func (g *Gateway) read(r *http.Request, h *hold, limit int64) (*body, *RequestError, error) {
	var src io.Reader = r.Body
	declared := r.ContentLength
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		declared = -1
		// The reader's state is charged too, and comes out of the limit, so that a body of
		// the limit can always be read once the budget is free.
		limit = max(min(limit, h.limit-gzipReaderBytes), 0)
		if err := h.alloc(gzipReaderBytes); err != nil {
			return nil, nil, err
		}
		defer h.free(gzipReaderBytes)
		// Compressed bytes are bounded too: gzip adds little to incompressible data, so a
		// longer stream is padding (empty blocks) that would keep the request reading forever.
		zr, err := gzip.NewReader(&wireReader{r: r.Body, left: limit + limit/8 + 64<<10})
		switch {
		case errors.Is(err, errBodyTooLarge):
			return nil, bodyTooLarge(-1, limit, g.limitNote(limit)), nil
		case err != nil && (isTimeout(err) || h.ctx.Err() != nil):
			return nil, nil, err
		case err != nil:
			return nil, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, "gzip body does not decode: " + err.Error()}, nil
		}
		defer zr.Close()
		src = zr
	default:
		return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Encoding %q: want gzip or none", enc)}, nil
	}
	b, err := readBody(src, h, limit, declared)
	switch {
	case err == nil:
		return b, nil, nil
	case errors.Is(err, errBodyTooLarge), errors.Is(err, errOverShare):
		return b, bodyTooLarge(-1, limit, g.limitNote(limit)), nil
	case isTimeout(err), errors.Is(err, errNoRoom), h.ctx.Err() != nil:
		return nil, nil, err
	default:
		return b, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, "reading the body: " + err.Error()}, nil
	}
}

// isTimeout reports whether err is a read deadline passing: net/http's ReadTimeout cuts a
// body that has not arrived in time with the connection's deadline error
// (os.ErrDeadlineExceeded, a net.Error whose Timeout is true), which the handler's reads of
// the body (and of a gzip stream over it) return as is.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
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

// limitNote names what sets the body limit when it is not -max-body-bytes.
func (g *Gateway) limitNote(limit int64) string {
	switch {
	case limit == g.cfg.MaxBodyBytes:
		return ""
	case g.shares.size > 0:
		return fmt.Sprintf(" (the most one producer may hold in flight: %g of the %d-byte in-flight budget)", g.cfg.MaxInFlightShare, g.cfg.MaxInFlightBytes)
	default:
		return fmt.Sprintf(" (the whole in-flight budget of %d bytes)", g.cfg.MaxInFlightBytes)
	}
}

func bodyTooLarge(n, max int64, note string) *RequestError {
	msg := fmt.Sprintf("body over the limit of %d bytes%s; split the batch", max, note)
	if n > 0 {
		msg = fmt.Sprintf("body is %d bytes, over the limit of %d%s; split the batch", n, max, note)
	}
	return &RequestError{http.StatusRequestEntityTooLarge, wire.CodeBodyTooLarge, msg}
}

// process checks the body, then decodes, checks and encodes its events one at a time and
// publishes them all or none. A first pass over the body finds what rejects it as a whole
// (media type, JSON syntax, no event, too many events) and holds nothing; the second turns
// each event into its record (or, once an event is rejected, its DLQ record) and drops each
// piece of the body it has passed, so the request holds about one body's worth at any time.
func (g *Gateway) process(ctx context.Context, w http.ResponseWriter, r *http.Request, prod *access.Principal, h *hold, b *body) int {
	ct := r.Header.Get("Content-Type")
	keep := int64(g.cfg.MaxDLQOriginalBytes)
	first, rerr := newSplitter(b, ct, g.cfg.MaxEvents, g.cfg.MaxEventBytes, keep)
	if rerr != nil {
		return g.rejectRequest(ctx, w, prod, h, b, rerr)
	}
	first.extract = false
	total := 0
	for {
		_, err := first.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var re *RequestError
			switch {
			case errors.As(err, &re) && re.Code == wire.CodeTooManyEvents:
				return g.rejectSize(ctx, w, r, prod, h, b, false, re)
			case re != nil:
				return g.rejectRequest(ctx, w, prod, h, b, re)
			default:
				return g.notCharged(ctx, w, r, prod, h, b, err)
			}
		}
		total++
	}
	if total == 0 {
		return g.rejectRequest(ctx, w, prod, h, b, emptyRequest())
	}

	sp, _ := newSplitter(b, ct, g.cfg.MaxEvents, g.cfg.MaxEventBytes, keep)
	sp.syntax = false // the first pass checked it
	now := g.now()
	var (
		ok      []pending
		rej     rejected
		seen    = make(map[string]int)
		scratch []byte
	)
	defer func() { h.free(int64(cap(scratch))) }()
	for {
		el, err := sp.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return g.notCharged(ctx, w, r, prod, h, b, err)
		}
		p, e, err := g.event(el, prod, now, seen, h, &scratch, len(rej.errs) == 0)
		if err == nil && e != nil {
			if len(rej.errs) == 0 {
				// Nothing of the request will be published: its records are dropped.
				for _, q := range ok {
					h.free(q.charge)
				}
				ok = nil
			}
			err = g.reject(&rej, prod, h, el, e, total)
		}
		sp.free(el)
		if err != nil {
			if ge := (*gateError)(nil); errors.As(err, &ge) {
				return g.gateUnavailable(w, ge)
			}
			if qe := (*questionsError)(nil); errors.As(err, &qe) {
				return g.questionsUnavailable(w, qe)
			}
			return g.notCharged(ctx, w, r, prod, h, b, err)
		}
		if e == nil && len(rej.errs) == 0 {
			ok = append(ok, p)
		}
		b.release(sp.pos)
	}
	if len(rej.errs) > 0 {
		return g.rejectEvents(ctx, w, h, &rej, total)
	}
	return g.publish(ctx, w, r, prod, h, b, ok, now)
}

// event decodes, checks and encodes one element. The pending event is charged to h when
// keep is set (else the caller drops it: the request will not be published); e is why the
// event is rejected; err is the hold's, a *gateError or a *questionsError.
func (g *Gateway) event(el Element, prod *access.Principal, now time.Time, seen map[string]int, h *hold, scratch *[]byte, keep bool) (p pending, e *wire.EventError, err error) {
	if el.Size > g.cfg.MaxEventBytes {
		d, _, _ := decodeElement(el, g.cfg.MaxEventBytes, nil) // refused for its size, not decoded
		return p, d.Err, nil
	}
	work := eventWork + eventWorkFactor*int64(el.Size)
	if err := h.alloc(work); err != nil {
		return p, nil, err
	}
	defer h.free(work)
	// The event's lists are charged as they are decoded, and given back with work.
	d, lists, err := decodeElement(el, g.cfg.MaxEventBytes, h)
	defer h.free(lists)
	if err != nil {
		return p, nil, err
	}
	if d.Err == nil {
		n := len(seen)
		d.Err = g.check(d, prod, now, seen)
		if len(seen) > n {
			if err := h.alloc(seenEntry + int64(len(d.Event.Meta().EventID))); err != nil {
				return p, nil, err
			}
		}
	}
	if d.Err != nil {
		return p, d.Err, nil
	}
	p, e, err = g.encode(d, prod, now, h, scratch)
	if err != nil || e != nil || !keep {
		return p, e, err
	}
	p.charge = recordOverhead
	if p.rec != nil {
		p.charge += int64(cap(p.rec.Key) + cap(p.rec.Value))
	}
	if err := h.alloc(p.charge); err != nil {
		return p, nil, err
	}
	return p, nil, nil
}

// rejected is what a request keeps of its rejected events: their DLQ records, their errors
// for the answer, and the answer's status.
type rejected struct {
	recs   []*kgo.Record
	errs   []wire.EventError
	status int
}

// reject makes the DLQ record of a rejected event, with its original bytes (up to
// MaxDLQOriginalBytes), charged to h. The status of the answer is the most specific: 413 if
// any event is too large, else 403 if the principal may not write any (access.Violation: the
// error names the rule), else 422 if any is invalid, else 409: every rejected event is a
// training run the gate refused (the request is otherwise sound, and would pass once the
// versions are certified or overridden).
//
// A forbidden event is dead-lettered with its bytes, like an invalid one, not as metadata
// only like a request without a valid token: its sender is authenticated, accountable and
// rate limited as a principal, the record names it, and the usual fix (a wider scope for the
// principal, or a corrected event) needs the event to replay.
func (g *Gateway) reject(rej *rejected, prod *access.Principal, h *hold, el Element, e *wire.EventError, total int) error {
	switch {
	case e.Code == wire.CodeEventTooLarge:
		rej.status = http.StatusRequestEntityTooLarge
	case e.Code == wire.CodeForbidden && rej.status != http.StatusRequestEntityTooLarge:
		rej.status = http.StatusForbidden
	case e.Code == wire.CodeNotCertified:
		if rej.status == 0 {
			rej.status = http.StatusConflict
		}
	case rej.status == 0 || rej.status == http.StatusConflict:
		rej.status = http.StatusUnprocessableEntity
	}
	orig, note := el.Raw, ""
	if max := g.cfg.MaxDLQOriginalBytes; len(orig) > max || el.Size > len(orig) {
		orig = orig[:min(len(orig), max)]
		note = fmt.Sprintf(" (original truncated to its first %d bytes)", len(orig))
	}
	reason := fmt.Sprintf("%s: event %d of %d", e.Code, e.Index, total)
	if e.Field != "" {
		reason += ": " + e.Field
	}
	if e.Rule != "" {
		reason += ": " + e.Rule
	}
	reason += ": " + e.Reason + note
	rec, err := g.chargedDLQRecord(h, g.rejection(prod, orig, reason, e.Field))
	if err != nil {
		return err
	}
	if err := h.alloc(errorBytes + int64(len(e.Reason)+len(e.Field)+len(e.Rule)+len(e.EventID)+len(e.EventType))); err != nil {
		return err
	}
	rej.recs = append(rej.recs, rec)
	rej.errs = append(rej.errs, *e)
	return nil
}

// chargedDLQRecord encodes a DLQ record and charges it to h.
func (g *Gateway) chargedDLQRecord(h *hold, rej *schemas.EventRejected) (*kgo.Record, error) {
	rec, err := g.dlqRecord(rej)
	if err != nil {
		return nil, err
	}
	if err := h.alloc(recordOverhead + int64(cap(rec.Key)+cap(rec.Value))); err != nil {
		return nil, err
	}
	return rec, nil
}

// rejectEvents writes the DLQ records of a request's rejected events (the valid ones are
// neither published nor dead-lettered: the answer tells the client that nothing was
// accepted) and answers.
func (g *Gateway) rejectEvents(ctx context.Context, w http.ResponseWriter, h *hold, rej *rejected, total int) int {
	h.trim()
	if err := g.produceDLQ(ctx, rej.recs); err != nil {
		return g.dlqUnavailable(w, err)
	}
	for _, e := range rej.errs {
		typ := e.EventType
		if typ == "" {
			typ = "unknown"
		}
		g.m.rejected.WithLabelValues(typ, e.Code).Inc()
	}
	return writeJSON(w, rej.status, wire.Problem{
		Error:        fmt.Sprintf("%d of %d events rejected; nothing from this request was published", len(rej.errs), total),
		Rejected:     len(rej.errs),
		Errors:       rej.errs,
		DeadLettered: true,
	})
}

// publish produces the records of a request whose events are all valid and answers.
func (g *Gateway) publish(ctx context.Context, w http.ResponseWriter, r *http.Request, prod *access.Principal, h *hold, b *body, ok []pending, now time.Time) int {
	var answer int64
	for _, p := range ok {
		answer += resultBytes + int64(len(p.id))
	}
	if err := h.alloc(answer); err != nil {
		return g.notCharged(ctx, w, r, prod, h, b, err)
	}
	b.releaseAll()
	h.trim() // what the request holds while Kafka acknowledges: its records

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
	// The counters are added to once per type and request, not once per event.
	var acceptedOf, duplicatesOf map[schemas.EventType]int
	j := 0
	for _, p := range ok {
		res := wire.EventResult{Index: p.index, EventID: p.id, EventType: string(p.typ)}
		if p.dup {
			res.Duplicate = true
			accepted.Duplicates++
			count(&duplicatesOf, p.typ)
		} else {
			err := errs[j]
			j++
			if err != nil {
				failed = err
				continue
			}
			// The answer points at the acknowledged record's partition and offset: the
			// record is held until the answer is written.
			res.Topic, res.Partition, res.Offset = p.rec.Topic, &p.rec.Partition, &p.rec.Offset
			ids = append(ids, res.EventID)
			hashes = append(hashes, p.hash)
			count(&acceptedOf, p.typ)
		}
		accepted.Events = append(accepted.Events, res)
	}
	for typ, n := range acceptedOf {
		g.m.accepted.WithLabelValues(string(typ)).Add(float64(n))
	}
	for typ, n := range duplicatesOf {
		g.m.duplicates.WithLabelValues(string(typ)).Add(float64(n))
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

// count adds one event of type typ to *counts, made on first use.
func count(counts *map[schemas.EventType]int, typ schemas.EventType) {
	if *counts == nil {
		*counts = make(map[schemas.EventType]int, 4)
	}
	(*counts)[typ]++
}

// notCharged answers a request whose memory could not be charged: 503 when the budget or
// the principal's share had no room within the wait (a retry may find some), 413 when the
// request needs more than a principal may ever hold (a retry never would).
func (g *Gateway) notCharged(ctx context.Context, w http.ResponseWriter, r *http.Request, prod *access.Principal, h *hold, b *body, err error) int {
	if !errors.Is(err, errOverShare) {
		return g.overloaded(w, h)
	}
	return g.rejectSize(ctx, w, r, prod, h, b, false, &RequestError{http.StatusRequestEntityTooLarge, wire.CodeBodyTooLarge,
		fmt.Sprintf("the request's events need more than the %d bytes of in-flight memory one request may hold; split the batch", g.capacity())})
}

// rejectRequest dead-letters a body rejected as a whole with its first MaxDLQOriginalBytes,
// and answers. b is nil when the body was not read. The copy of those bytes and their record
// are charged to h; when the budget has no room for them, the record keeps metadata only,
// like one of a body rejected for its size (a 503 would only bring the same body back).
func (g *Gateway) rejectRequest(ctx context.Context, w http.ResponseWriter, prod *access.Principal, h *hold, b *body, rerr *RequestError) int {
	if b == nil || b.size == 0 {
		rec, err := g.dlqRecord(g.rejection(prod, nil, rerr.Code+": "+rerr.Message, ""))
		return g.answerRequest(ctx, w, h, rec, err, rerr)
	}
	n := min(b.size, int64(g.cfg.MaxDLQOriginalBytes))
	orig, _, err := b.bytes(0, n)
	if err != nil {
		rec, err := g.metadataRecord(nil, prod, b, false, rerr, "no in-flight room for more of it")
		return g.answerRequest(ctx, w, h, rec, err, rerr)
	}
	note := ""
	if n < b.size {
		note = fmt.Sprintf(" (original truncated to its first %d bytes)", n)
	}
	b.release(b.size) // its charge pays for the record; the first piece (orig may be a slice of it) stays
	rec, err := g.chargedDLQRecord(h, g.rejection(prod, orig, rerr.Code+": "+rerr.Message+note, ""))
	if errors.Is(err, errNoRoom) || errors.Is(err, errOverShare) {
		rec, err = g.metadataRecord(nil, prod, b, false, rerr, "no in-flight room for more of it")
	}
	return g.answerRequest(ctx, w, h, rec, err, rerr)
}

// rejectSize dead-letters a body rejected as a whole for its size (413: over the body limit,
// more events than the limit, more memory than a request may hold), and answers. Like a
// request without a valid token, and unlike other rejections, its DLQ record keeps metadata
// only (see metadataRecord): a body is rejected for its size without being examined, so a
// large one would otherwise cost its first MaxDLQOriginalBytes of storage each time it is
// sent. unread says that the body was not read to its end (the connection is then closed
// rather than the rest read); b is nil when none of it was read.
func (g *Gateway) rejectSize(ctx context.Context, w http.ResponseWriter, r *http.Request, prod *access.Principal, h *hold, b *body, unread bool, rerr *RequestError) int {
	if unread {
		w.Header().Set("Connection", "close")
	}
	if b != nil {
		b.release(b.size)
	}
	rec, err := g.metadataRecord(r, prod, b, unread, rerr, "")
	return g.answerRequest(ctx, w, h, rec, err, rerr)
}

// metadataRecord is the DLQ record of a body rejected as a whole that keeps metadata only:
// the reason, the body's size, the SHA-256 of the bytes read and the first KiB (under 2 KiB
// in all). It is a constant of the request, like the record of a request without a valid
// token, and is not charged to the budget. With b nil, the first KiB is read from r's body
// now, the body having not been read; unread says that b is not the whole body.
func (g *Gateway) metadataRecord(r *http.Request, prod *access.Principal, b *body, unread bool, rerr *RequestError, why string) (*kgo.Record, error) {
	var (
		head []byte
		sum  []byte
		size string
	)
	switch {
	case b != nil:
		head, _, _ = b.bytes(0, min(b.size, headBytes)) // within the first piece: a slice
		sum = b.sha256()
		size = fmt.Sprintf("%d bytes", b.size)
		if unread {
			size = fmt.Sprintf("more than %d bytes, not read further", b.size)
		}
	default:
		var buf [headBytes]byte
		n, _ := io.ReadFull(r.Body, buf[:])
		head = buf[:n]
		s := sha256.Sum256(head)
		sum = s[:]
		size = fmt.Sprintf("%d bytes (Content-Length), not read past %d", r.ContentLength, n)
	}
	if why != "" {
		why = " (" + why + ")"
	}
	msg := fmt.Sprintf("%s: %s; body %s; sha256 %x of the bytes read; original is the first %d bytes%s",
		rerr.Code, rerr.Message, size, sum, len(head), why)
	return g.dlqRecord(g.rejection(prod, head, msg, ""))
}

// answerRequest writes the DLQ record of a request rejected as a whole (or answers 503 when
// it could not be made: err) and answers.
func (g *Gateway) answerRequest(ctx context.Context, w http.ResponseWriter, h *hold, rec *kgo.Record, err error, rerr *RequestError) int {
	if err != nil {
		return g.dlqUnavailable(w, err)
	}
	h.trim() // what the request holds while Kafka acknowledges: its record
	if err := g.produceDLQ(ctx, []*kgo.Record{rec}); err != nil {
		return g.dlqUnavailable(w, err)
	}
	g.m.rejected.WithLabelValues("unknown", rerr.Code).Inc()
	return writeJSON(w, rerr.Status, wire.Problem{Error: rerr.Message, Code: rerr.Code, DeadLettered: true})
}

// overloaded answers 503: the budget, or the principal's share of it, had no room within
// the request's wait.
func (g *Gateway) overloaded(w http.ResponseWriter, h *hold) int {
	if h.refusedBy != "" { // else the client went away while it waited: nobody reads this
		g.m.inFlightRefused.WithLabelValues(h.refusedBy).Inc()
	}
	if h.refusedBy == "share" {
		return g.unavailable(w, wire.CodeOverloaded, fmt.Sprintf("this producer holds its share of the in-flight memory (%d bytes, %g of the budget) with other requests; retry later", g.shares.size, g.cfg.MaxInFlightShare))
	}
	return g.unavailable(w, wire.CodeOverloaded, fmt.Sprintf("too many bytes in flight (limit %d); retry later", g.cfg.MaxInFlightBytes))
}
