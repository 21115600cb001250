package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
)

// Element is one event of a request as sent: its position and its original bytes.
type Element struct {
	// Index is the 0-based position among the request's events.
	Index int
	// Line is the 1-based NDJSON line, 0 for JSON bodies.
	Line int
	// Raw is the event's JSON, verbatim (what a DLQ record keeps). Of an event over the
	// event size limit, only the first bytes a DLQ record keeps.
	Raw []byte
	// Size is the event's length in bytes (len(Raw) unless Raw was cut).
	Size int
	// charged is what the gateway charged for Raw when it is a copy (an event across two
	// pieces of a body), to give back once the event is done with.
	charged int64
}

// RequestError is a problem with the request as a whole: nothing in it is examined further.
type RequestError struct {
	// Status is the HTTP status to answer.
	Status int
	// Code is one of the wire.Code* constants.
	Code string
	// Message is for people.
	Message string
}

// Error renders "code: message".
func (e *RequestError) Error() string { return e.Code + ": " + e.Message }

// Decoded is one element after decoding: Event is set, or Err says why it is not.
type Decoded struct {
	Element
	Event schemas.Event
	Err   *wire.EventError
	// hash identifies the event's content for the recent-ids window (contentHash).
	hash uint64
}

// DecodeRequest splits a body into its events and decodes each into its typed struct. A body
// that cannot be split (unsupported media type, a JSON syntax error in a JSON body, no event,
// too many events) is a *RequestError; an element that does not decode gets its own
// wire.EventError and the others are still decoded, so one answer can name every bad event.
// An event over maxEventBytes is refused for its size alone (its syntax is not examined).
// It only reads: stamping and validation come after (they need the producer and the clock).
// The gateway itself does the same over a body in pieces, one event at a time.
func DecodeRequest(body []byte, contentType string, maxEvents, maxEventBytes int) ([]Decoded, *RequestError) {
	elems, rerr := SplitRequest(body, contentType, maxEvents)
	if rerr != nil {
		return nil, rerr
	}
	out := make([]Decoded, len(elems))
	for i, el := range elems {
		out[i], _, _ = decodeElement(el, maxEventBytes, nil) // no hold: no charge, no refusal
	}
	return out, nil
}

// decodeElement decodes one element, refusing it for its size first. With h set, the memory
// of its lists is charged to h before it is made (decodeEvent): charged, which the caller
// gives back once done with the event; h's refusal is returned as err, and the element is
// not decoded.
func decodeElement(el Element, maxEventBytes int, h *hold) (d Decoded, charged int64, err error) {
	d.Element = el
	if maxEventBytes > 0 && el.Size > maxEventBytes {
		d.Err = &wire.EventError{Code: wire.CodeEventTooLarge, Reason: fmt.Sprintf("event is %d bytes, the limit is %d", el.Size, maxEventBytes)}
	} else if d.Event, d.hash, d.Err, charged, err = decodeEvent(el.Raw, h); err != nil {
		return Decoded{Element: el}, charged, err
	}
	if d.Err != nil {
		d.Err.Index, d.Err.Line = el.Index, el.Line
	}
	return d, charged, nil
}

// SplitRequest cuts a body into elements by its media type: a JSON object (one event), a
// JSON array (a batch), or NDJSON (one object a line; blank lines are skipped). A missing
// Content-Type is read as JSON; any other type, curl's form-encoded default included, is a
// 415 that names the mistake instead of guessing around it. The elements are slices of body.
func SplitRequest(body []byte, contentType string, maxEvents int) ([]Element, *RequestError) {
	sp, rerr := newSplitter(bodyOf(body), contentType, maxEvents, 0, math.MaxInt64)
	if rerr != nil {
		return nil, rerr
	}
	var elems []Element
	for {
		el, err := sp.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err.(*RequestError) // a body in one piece is never copied, so never charged
		}
		elems = append(elems, el)
	}
	if len(elems) == 0 {
		return nil, emptyRequest()
	}
	return elems, nil
}

func emptyRequest() *RequestError {
	return &RequestError{http.StatusBadRequest, wire.CodeEmpty, "no event in the request"}
}

func tooMany(max int) *RequestError {
	return &RequestError{http.StatusRequestEntityTooLarge, wire.CodeTooManyEvents, fmt.Sprintf("more than %d events in one request; split the batch", max)}
}

// Body formats a splitter cuts.
const (
	formatJSON = iota
	formatNDJSON
)

// States of a splitter of a JSON body.
const (
	jsonStart      = iota // nothing read yet
	jsonArrayFirst        // after '[': an element or ']'
	jsonArrayNext         // after an element: ',' or ']'
	jsonDone              // after the single object or the array's ']'
)

// splitter cuts a body into its events, in order, without copying them: an event within one
// piece of the body is a slice of it, one across two pieces a copy (charged to the body's
// hold), and an event over maxEventBytes keeps only its first keep bytes. A JSON body is a
// single object or an array, whose structure the splitter follows itself (brackets and
// strings) and whose elements it checks with json.Valid when syntax is set: a syntax error
// anywhere is an error of the whole request, as json.Decoder would have it. NDJSON lines are
// not checked here: a broken line is an error of its own event.
//
// The gateway runs two splitters over a body: the first only checks it (the request-level
// errors, the count of events) and holds nothing, the second (syntax off: the first has
// checked) hands the events out one by one, so that the gateway can drop each piece of the
// body once it is past it.
type splitter struct {
	b             *body
	format        int
	maxEvents     int
	maxEventBytes int64 // 0: no limit
	keep          int64
	syntax        bool // check JSON elements with json.Valid
	extract       bool // hand out Raw (else only positions are followed)

	pos   int64
	line  int
	count int
	state int
}

func newSplitter(b *body, contentType string, maxEvents, maxEventBytes int, keep int64) (*splitter, *RequestError) {
	media := wire.MediaJSON
	if strings.TrimSpace(contentType) != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q does not parse", contentType)}
		}
		media = mt
	}
	sp := &splitter{b: b, maxEvents: maxEvents, maxEventBytes: int64(maxEventBytes), keep: keep, syntax: true, extract: true}
	switch media {
	case wire.MediaJSON:
		sp.format = formatJSON
	case wire.MediaNDJSON, "application/ndjson", "application/jsonl", "application/x-jsonlines":
		sp.format = formatNDJSON
	default:
		return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Type %s: want %s or %s", media, wire.MediaJSON, wire.MediaNDJSON)}
	}
	return sp, nil
}

// next returns the next element, io.EOF after the last, a *RequestError for a body that
// cannot be split, or the hold's error when a copy found no room.
func (sp *splitter) next() (Element, error) {
	if sp.format == formatNDJSON {
		return sp.nextLine()
	}
	return sp.nextJSON()
}

func (sp *splitter) nextLine() (Element, error) {
	b := sp.b
	for sp.pos < b.size {
		// The common case: lines within one piece, blank ones skipped without leaving it.
		for v := b.view(sp.pos); ; {
			i := bytes.IndexByte(v, '\n')
			if i < 0 {
				break
			}
			start := sp.pos
			sp.pos, sp.line = start+int64(i)+1, sp.line+1
			l := bytes.TrimSpace(v[:i]) // also drops the \r of CRLF files
			if len(l) == 0 {
				v = v[i+1:]
				continue
			}
			if sp.maxEvents > 0 && sp.count == sp.maxEvents {
				return Element{}, tooMany(sp.maxEvents)
			}
			from := start + int64(cap(v)-cap(l))
			return sp.element(from, from+int64(len(l)), sp.line)
		}
		if sp.pos == b.size {
			break
		}
		// A line that runs past its piece.
		start, end := sp.pos, b.size
		for p := start; p < b.size; {
			v := b.view(p)
			if i := bytes.IndexByte(v, '\n'); i >= 0 {
				end = p + int64(i)
				break
			}
			p += int64(len(v))
		}
		sp.pos, sp.line = min(end+1, b.size), sp.line+1
		from, to := b.trimSpace(start, end)
		if from == to {
			continue
		}
		if sp.maxEvents > 0 && sp.count == sp.maxEvents {
			return Element{}, tooMany(sp.maxEvents)
		}
		return sp.element(from, to, sp.line)
	}
	return Element{}, io.EOF
}

func (sp *splitter) nextJSON() (Element, error) {
	b := sp.b
	switch sp.state {
	case jsonStart:
		from, to := b.trimSpace(0, b.size)
		if from == to {
			sp.state = jsonDone
			return Element{}, io.EOF
		}
		if b.at(from) != '[' {
			// One event. Its syntax is checked here so that a broken single object is a
			// 400 like a broken array, not a per-event error.
			sp.state, sp.pos = jsonDone, b.size
			return sp.element(from, to, 0)
		}
		sp.state, sp.pos = jsonArrayFirst, from+1
		return sp.nextJSON()
	case jsonArrayFirst, jsonArrayNext:
		p := b.skipJSONSpace(sp.pos)
		if p == b.size {
			return Element{}, malformedAt(p, "unexpected end of JSON input")
		}
		switch c := b.at(p); {
		case c == ']':
			sp.state, sp.pos = jsonDone, p+1
			if from, to := b.trimSpace(sp.pos, b.size); from != to {
				return Element{}, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, fmt.Sprintf("unexpected data after the JSON array at byte %d", from)}
			}
			return Element{}, io.EOF
		case sp.state == jsonArrayNext && c != ',':
			return Element{}, malformedAt(p, "invalid character %q after array element", c)
		case sp.state == jsonArrayNext:
			if p = b.skipJSONSpace(p + 1); p == b.size {
				return Element{}, malformedAt(p, "unexpected end of JSON input")
			}
		}
		if c := b.at(p); c == ',' || c == ']' || c == '}' || c == ':' {
			return Element{}, malformedAt(p, "invalid character %q looking for beginning of value", c)
		}
		end, complete := b.valueEnd(p)
		if !complete {
			return Element{}, malformedAt(end, "unexpected end of JSON input")
		}
		if sp.maxEvents > 0 && sp.count == sp.maxEvents {
			return Element{}, tooMany(sp.maxEvents)
		}
		sp.state, sp.pos = jsonArrayNext, end
		return sp.element(p, end, 0)
	}
	return Element{}, io.EOF
}

// element hands out the event at [from, to), checking a JSON element's syntax.
func (sp *splitter) element(from, to int64, line int) (Element, error) {
	el := Element{Index: sp.count, Line: line, Size: int(to - from)}
	sp.count++
	over := sp.maxEventBytes > 0 && to-from > sp.maxEventBytes
	check := sp.syntax && sp.format == formatJSON && !over
	if !sp.extract && !check {
		return el, nil
	}
	n := to - from
	if over {
		n = min(n, sp.keep)
	}
	raw, charged, err := sp.b.bytes(from, from+n)
	if err != nil {
		return Element{}, err
	}
	el.charged = charged
	if check && !json.Valid(raw) {
		sp.free(el)
		return Element{}, syntaxError(raw, from)
	}
	if !sp.extract {
		sp.free(el)
		el.charged = 0
		return el, nil
	}
	el.Raw = raw
	return el, nil
}

// free gives back the charge of an element's copy.
func (sp *splitter) free(el Element) {
	if el.charged > 0 {
		sp.b.h.free(el.charged)
	}
}

// malformedAt is a JSON syntax error of the request at byte off of its body.
func malformedAt(off int64, format string, args ...any) *RequestError {
	return &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, fmt.Sprintf("invalid JSON at byte %d: ", off) + fmt.Sprintf(format, args...)}
}

// syntaxError describes the syntax error of raw, an element at byte base of the body.
func syntaxError(raw []byte, base int64) *RequestError {
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformedAt(base+se.Offset, "%v", se)
	}
	if err == nil {
		err = errors.New("not a JSON value")
	}
	return malformedAt(base, "%v", err)
}

// DecodeEvent decodes one event's JSON into the struct of its event_type, strictly: unknown
// fields, wrong JSON types and trailing data are errors. The wire.EventError it returns has no
// Index; DecodeRequest fills it in.
func DecodeEvent(raw []byte) (schemas.Event, *wire.EventError) {
	ev, _, err, _, _ := decodeEvent(raw, nil)
	return ev, err
}

// knownTypes finds an event type by its name without allocating.
var knownTypes = func() map[string]schemas.EventType {
	m := map[string]schemas.EventType{}
	for _, t := range schemas.EventTypes() {
		m[string(t)] = t
	}
	return m
}()

// decodeEvent is DecodeEvent, parsing the event once when it can, and hashing its content
// (contentHash) for the recent-ids window. firstEventType finds its event_type, reading only
// up to it; the fast decoder (decodeFast) reads the event into the struct of that type and
// hashes it in the same pass. An event it gives up on is decoded the reference way
// (decodeSlow, encoding/json): its answer, errors and their wording included, is the only
// one given.
//
// With h set, the memory of the event's lists is charged to h before it is made: by the fast
// decoder, list by list at their exact size; before encoding/json, which the gateway cannot
// follow, every element of every list (listElements) at the largest element's size,
// slowGrowth times over for the slices it grows on the way. charged is what was charged in
// all, for the caller to give back; holdErr is h's refusal.
func decodeEvent(raw []byte, h *hold) (ev schemas.Event, hash uint64, e *wire.EventError, charged int64, holdErr error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return nil, 0, &wire.EventError{Code: wire.CodeMalformedJSON, Reason: describeSyntax(raw)}, 0, nil
		}
		return nil, 0, &wire.EventError{Code: wire.CodeNotObject, Reason: "an event must be a JSON object"}, 0, nil
	}
	if typ, ok := firstEventType(raw); ok {
		if t, ok := knownTypes[string(typ)]; ok {
			ev, err := schemas.New(t)
			if err == nil {
				hash, ok, n, err := decodeFast(raw, t, ev, h)
				charged += n
				if err != nil {
					return nil, 0, nil, charged, err
				}
				if ok {
					return ev, hash, nil, charged, nil
				}
			}
		}
	}
	if h != nil {
		if n := int64(listElements(raw)) * (slowGrowth*maxElementBytes + elementWork); n > 0 {
			if err := h.alloc(n); err != nil {
				return nil, 0, nil, charged, err
			}
			charged += n
		}
	}
	ev, e = decodeSlow(raw)
	if e != nil {
		return nil, 0, e, charged, nil
	}
	return ev, contentHash(raw), nil, charged, nil
}

// decodeSlow is DecodeEvent the reference way: a first decode finds event_type, a second
// decodes the event into the struct of its type. It answers every event the fast path is
// not sure of, with the errors of the contract.
func decodeSlow(raw []byte) (schemas.Event, *wire.EventError) {
	var probe struct {
		EventType json.RawMessage `json:"event_type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, &wire.EventError{Code: wire.CodeMalformedJSON, Reason: describeSyntax(raw)}
	}
	if len(probe.EventType) == 0 || string(probe.EventType) == "null" {
		return nil, &wire.EventError{Field: "event_type", Code: wire.CodeMissingType, Reason: "required"}
	}
	var name string
	if err := json.Unmarshal(probe.EventType, &name); err != nil {
		return nil, &wire.EventError{Field: "event_type", Code: wire.CodeWrongType, Reason: "must be a string"}
	}
	t := schemas.EventType(name)
	// The DLQ type is known to the contract but is no event a caller may send; it is
	// answered as forbidden later, after the producer's rights are known.
	ev, err := schemas.New(t)
	if err != nil {
		return nil, &wire.EventError{Field: "event_type", Code: wire.CodeUnknownType, Reason: fmt.Sprintf("unknown event type %q", truncate(name, 64))}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		e := jsonError(err, raw)
		e.EventType = string(t)
		e.EventID = ev.Meta().EventID
		return nil, e
	}
	if rest := bytes.TrimSpace(raw[dec.InputOffset():]); len(rest) != 0 {
		return nil, &wire.EventError{EventType: string(t), Code: wire.CodeMalformedJSON, Reason: fmt.Sprintf("unexpected data after the object at byte %d", dec.InputOffset())}
	}
	return ev, nil
}

// jsonError turns encoding/json's errors into field-level answers.
func jsonError(err error, raw []byte) *wire.EventError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(event)"
		}
		return &wire.EventError{Field: field, Code: wire.CodeWrongType, Reason: fmt.Sprintf("must be %s, got %s", jsonKind(te.Type), te.Value)}
	case errors.As(err, &se):
		return &wire.EventError{Code: wire.CodeMalformedJSON, Reason: describeSyntax(raw)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &wire.EventError{Field: strings.Trim(name, `"`), Code: wire.CodeUnknownField, Reason: "unknown field for this event type"}
	}
	return &wire.EventError{Code: wire.CodeInvalid, Reason: err.Error()}
}

// jsonKind names the JSON type a Go type is decoded from, for error messages a client
// writing JSON understands.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (in range for " + t.Kind().String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

func describeSyntax(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if err != nil {
		return "invalid JSON: " + err.Error()
	}
	return "invalid JSON"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
