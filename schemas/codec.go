package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
)

// HeaderLen is the size of the single-object header: 2 marker bytes and the
// 8-byte fingerprint.
const HeaderLen = 10

// Marker bytes of Avro single-object encoding (format version 1).
const (
	marker0 = 0xC3
	marker1 = 0x01
)

// Encode returns ev in Avro single-object encoding with its current schema:
// 0xC3 0x01, the schema fingerprint (8 bytes, little-endian), the Avro
// binary body. It validates first (ev.Validate), so nothing this package
// encodes can fail the consumers' checks; event_type is written from
// ev.Type() when empty.
func Encode(ev Event) ([]byte, error) { return Append(nil, ev) }

// Append is Encode appending to dst, for callers that reuse buffers.
func Append(dst []byte, ev Event) ([]byte, error) {
	sv, err := encodable(ev)
	if err != nil {
		return dst, err
	}
	n := len(dst)
	out := append(dst, marker0, marker1)
	out = binary.LittleEndian.AppendUint64(out, sv.Fingerprint)
	if out, err = sv.appendBody(out, ev); err != nil {
		return dst[:n], err
	}
	return out, nil
}

// appendBody appends the Avro binary body of ev with sv, the current schema of its type:
// with the typed encoder (appendEvent), or, for a value it leaves to goavro, with goavro
// from the native form, whose error is then the one returned.
func (sv *schemaVersion) appendBody(dst []byte, ev Event) ([]byte, error) {
	p := registry.plans[sv.Type]
	n := len(dst)
	out, err := appendEvent(dst, p, reflect.ValueOf(ev).Elem(), sv.Type)
	if err == nil {
		return out, nil
	}
	out, err = sv.codec.BinaryFromNative(dst[:n], nativeEvent(p, ev))
	if err != nil {
		return dst[:n], fmt.Errorf("encode %s: %w", sv.Type, err)
	}
	return out, nil
}

// appendSingle appends native in single-object encoding with sv: the
// header carries sv's spec fingerprint (never goavro's Rabin, see
// canonical.go), the body is goavro's binary encoding. On error dst is
// returned as it was. It is the reference the typed encoder is held to.
func (sv *schemaVersion) appendSingle(dst []byte, native any) ([]byte, error) {
	n := len(dst)
	out := append(dst, marker0, marker1)
	out = binary.LittleEndian.AppendUint64(out, sv.Fingerprint)
	out, err := sv.codec.BinaryFromNative(out, native)
	if err != nil {
		return dst[:n], fmt.Errorf("encode %s: %w", sv.Type, err)
	}
	return out, nil
}

// EncodeBody returns only the Avro binary body of ev (current schema, no
// header), for other framings such as Confluent's (magic 0 + registry id):
// pair it with CurrentSchema(ev.Type()) to register the schema.
func EncodeBody(ev Event) ([]byte, error) {
	sv, err := encodable(ev)
	if err != nil {
		return nil, err
	}
	return sv.appendBody(nil, ev)
}

// encodable finds the current schema of ev's type and validates ev.
func encodable(ev Event) (*schemaVersion, error) {
	if ev == nil || reflect.ValueOf(ev).IsNil() {
		return nil, errors.New("encode: nil event")
	}
	t := ev.Type()
	sv, ok := registry.current[t]
	if !ok {
		return nil, fmt.Errorf("encode: %w: %q", ErrUnknownEventType, string(t))
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return sv, nil
}

// nativeEvent is ev in goavro's native form, for its current schema's plan p: the reference
// encoding's input.
func nativeEvent(p *plan, ev Event) map[string]any {
	m := toNative(p, reflect.ValueOf(ev).Elem()).(map[string]any)
	m["event_type"] = string(ev.Type())
	return m
}

// Header splits a single-object encoded message into the writer schema's
// fingerprint and the body, checking only the framing.
func Header(b []byte) (fp uint64, body []byte, err error) {
	if len(b) < HeaderLen {
		return 0, nil, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrNotSingleObject, len(b), HeaderLen)
	}
	if b[0] != marker0 || b[1] != marker1 {
		return 0, nil, fmt.Errorf("%w: starts with %#02x %#02x, want 0xc3 0x01", ErrNotSingleObject, b[0], b[1])
	}
	return binary.LittleEndian.Uint64(b[2:HeaderLen]), b[HeaderLen:], nil
}

// TypeOf tells the event type and schema version of a message from its
// header alone, without decoding the body: cheap enough for routing and
// per-type metrics.
func TypeOf(b []byte) (EventType, int, error) {
	fp, _, err := Header(b)
	if err != nil {
		return "", 0, err
	}
	sv, ok := registry.byFP[fp]
	if !ok {
		return "", 0, fmt.Errorf("%w: %016x", ErrUnknownFingerprint, fp)
	}
	return sv.Type, sv.Version, nil
}

// Decode reads a single-object encoded event written with any embedded
// schema version and returns it as the current Go struct (fields the writer
// did not have take the schema defaults). Errors wrap ErrNotSingleObject,
// ErrUnknownFingerprint or ErrMalformed; Decode never panics on bad input.
// It does not run Validate: old events stay readable even if rules tighten.
func Decode(b []byte) (Event, error) {
	fp, body, err := Header(b)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return DecodeBody(fp, body)
}

// DecodeBody decodes an Avro binary body written with the schema whose
// fingerprint is fp, for framings that carry the schema id elsewhere.
func DecodeBody(fp uint64, body []byte) (ev Event, err error) {
	sv, ok := registry.byFP[fp]
	if !ok {
		return nil, fmt.Errorf("decode: %w: %016x", ErrUnknownFingerprint, fp)
	}
	defer func() {
		// Last line of defence for the never-panic promise: input the typed
		// decoder's checks did not foresee becomes an error, not a crash.
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("decode %s v%d: %w: panic: %v", sv.Type, sv.Version, ErrMalformed, r)
		}
	}()
	if ev, err = decodeTyped(sv, body); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w: %v", sv.Type, sv.Version, ErrMalformed, err)
	}
	return ev, nil
}

// DecodeAs decodes b and requires it to be of event type *T, for consumers
// that read one type:
//
//	ls, err := schemas.DecodeAs[schemas.LabelSubmitted](b)
func DecodeAs[T any, P interface {
	*T
	Event
}](b []byte) (P, error) {
	ev, err := Decode(b)
	if err != nil {
		return nil, err
	}
	p, ok := ev.(P)
	if !ok {
		var want P = new(T)
		return nil, fmt.Errorf("decode: %w: got %s, want %s", ErrWrongType, ev.Type(), want.Type())
	}
	return p, nil
}

// ErrWrongType: DecodeAs found a valid event of another type.
var ErrWrongType = errors.New("schemas: unexpected event type")
