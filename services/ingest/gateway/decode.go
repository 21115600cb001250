package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	// Raw is the event's JSON, verbatim (what a DLQ record keeps).
	Raw []byte
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
}

// DecodeRequest splits a body into its events and decodes each into its typed struct. A body
// that cannot be split (unsupported media type, a JSON syntax error in a JSON body, no event,
// too many events) is a *RequestError; an element that does not decode gets its own
// wire.EventError and the others are still decoded, so one answer can name every bad event.
// It only reads: stamping and validation come after (they need the producer and the clock).
func DecodeRequest(body []byte, contentType string, maxEvents, maxEventBytes int) ([]Decoded, *RequestError) {
	elems, rerr := SplitRequest(body, contentType, maxEvents)
	if rerr != nil {
		return nil, rerr
	}
	out := make([]Decoded, len(elems))
	for i, el := range elems {
		out[i].Element = el
		if maxEventBytes > 0 && len(el.Raw) > maxEventBytes {
			out[i].Err = &wire.EventError{Code: wire.CodeEventTooLarge, Reason: fmt.Sprintf("event is %d bytes, the limit is %d", len(el.Raw), maxEventBytes)}
		} else {
			out[i].Event, out[i].Err = DecodeEvent(el.Raw)
		}
		if out[i].Err != nil {
			out[i].Err.Index, out[i].Err.Line = el.Index, el.Line
		}
	}
	return out, nil
}

// SplitRequest cuts a body into elements by its media type: a JSON object (one event), a
// JSON array (a batch), or NDJSON (one object a line; blank lines are skipped). A missing
// Content-Type is read as JSON; any other type, curl's form-encoded default included, is a
// 415 that names the mistake instead of guessing around it.
func SplitRequest(body []byte, contentType string, maxEvents int) ([]Element, *RequestError) {
	media := wire.MediaJSON
	if strings.TrimSpace(contentType) != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q does not parse", contentType)}
		}
		media = mt
	}
	var (
		elems []Element
		rerr  *RequestError
	)
	switch media {
	case wire.MediaJSON:
		elems, rerr = splitJSON(body, maxEvents)
	case wire.MediaNDJSON, "application/ndjson", "application/jsonl", "application/x-jsonlines":
		elems, rerr = splitNDJSON(body, maxEvents)
	default:
		return nil, &RequestError{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMedia, fmt.Sprintf("Content-Type %s: want %s or %s", media, wire.MediaJSON, wire.MediaNDJSON)}
	}
	if rerr != nil {
		return nil, rerr
	}
	if len(elems) == 0 {
		return nil, &RequestError{http.StatusBadRequest, wire.CodeEmpty, "no event in the request"}
	}
	return elems, nil
}

func tooMany(max int) *RequestError {
	return &RequestError{http.StatusRequestEntityTooLarge, wire.CodeTooManyEvents, fmt.Sprintf("more than %d events in one request; split the batch", max)}
}

func splitJSON(body []byte, maxEvents int) ([]Element, *RequestError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] != '[' {
		// One event. Its syntax is checked here so that a broken single object is a 400 like
		// a broken array, not a per-event error.
		if !json.Valid(trimmed) {
			return nil, malformed(trimmed)
		}
		return []Element{{Index: 0, Raw: trimmed}}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // '['
		return nil, malformed(trimmed)
	}
	var elems []Element
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(trimmed)
		}
		if maxEvents > 0 && len(elems) == maxEvents {
			return nil, tooMany(maxEvents)
		}
		elems = append(elems, Element{Index: len(elems), Raw: raw})
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, malformed(trimmed)
	}
	if rest := bytes.TrimSpace(trimmed[dec.InputOffset():]); len(rest) != 0 {
		return nil, &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, fmt.Sprintf("unexpected data after the JSON array at byte %d", dec.InputOffset())}
	}
	return elems, nil
}

// malformed describes a JSON syntax error with its byte offset, found by the standard
// validator (json.Decoder's errors from Token lose the offset).
func malformed(b []byte) *RequestError {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)}
	}
	if err == nil {
		err = errors.New("not a JSON object or array")
	}
	return &RequestError{http.StatusBadRequest, wire.CodeMalformedJSON, fmt.Sprintf("invalid JSON: %v", err)}
}

func splitNDJSON(body []byte, maxEvents int) ([]Element, *RequestError) {
	var elems []Element
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		l = bytes.TrimSpace(l) // also drops the \r of CRLF files
		if len(l) == 0 {
			continue
		}
		if maxEvents > 0 && len(elems) == maxEvents {
			return nil, tooMany(maxEvents)
		}
		elems = append(elems, Element{Index: len(elems), Line: line, Raw: l})
	}
	return elems, nil
}

// DecodeEvent decodes one event's JSON into the struct of its event_type, strictly: unknown
// fields, wrong JSON types and trailing data are errors. The wire.EventError it returns has no
// Index; DecodeRequest fills it in.
func DecodeEvent(raw []byte) (schemas.Event, *wire.EventError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return nil, &wire.EventError{Code: wire.CodeMalformedJSON, Reason: describeSyntax(raw)}
		}
		return nil, &wire.EventError{Code: wire.CodeNotObject, Reason: "an event must be a JSON object"}
	}
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
