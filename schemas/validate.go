package schemas

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Sentinel errors, wrapped with context by the functions that return them,
// so callers can branch with errors.Is (e.g. the DLQ reason, metrics labels).
var (
	// ErrUnknownEventType: a type name that is not part of the contract.
	ErrUnknownEventType = errors.New("schemas: unknown event type")
	// ErrNotSingleObject: bytes without the 0xC3 0x01 single-object marker or
	// too short to hold the 10-byte header.
	ErrNotSingleObject = errors.New("schemas: not Avro single-object encoded")
	// ErrUnknownFingerprint: a well-framed message whose writer schema is not
	// embedded in this build (a newer producer, or a foreign message).
	ErrUnknownFingerprint = errors.New("schemas: unknown schema fingerprint")
	// ErrMalformed: the body does not decode with the writer schema, or
	// decodes to something that contradicts it (trailing bytes, wrong
	// event_type).
	ErrMalformed = errors.New("schemas: malformed event body")
	// ErrInvalid is matched (errors.Is) by every *FieldError, so callers can
	// tell a validation failure from an I/O or codec failure.
	ErrInvalid = errors.New("schemas: invalid event")
)

// FieldError is the error Validate returns: which field is wrong and why.
// Field is the JSON/Avro path, e.g. "value.rank" or "members[3].item_id",
// so the gateway can report it to the client and into the DLQ record.
type FieldError struct {
	// Field is the dotted snake_case path of the offending field.
	Field string
	// Reason says what rule failed, e.g. "required", "must be 64 hex characters".
	Reason string
}

// Error renders "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// fieldErr builds a *FieldError; short because Validate methods use it a lot.
func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// prefixed returns err with its Field nested under prefix (for records
// inside records and array elements).
func prefixed(prefix string, err error) error {
	if err == nil {
		return nil // the common case, without errors.As's allocation
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: prefix + "." + fe.Field, Reason: fe.Reason}
	}
	return err
}

// check collects the first failure of a sequence of rules; validators read
// as a list of rules instead of a ladder of ifs.
type check struct{ err error }

func (c *check) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = fieldErr(field, format, args...)
	}
}

func (c *check) add(err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
}

// required fails when a string is empty or only whitespace.
func (c *check) required(field, v string) {
	if strings.TrimSpace(v) == "" {
		c.fail(field, "required")
	}
}

// nonNegative fails on negative counts and durations.
func (c *check) nonNegative(field string, v int64) {
	if v < 0 {
		c.fail(field, "must be >= 0, got %d", v)
	}
}

// unit fails unless v is a finite number in [0, 1] (shares, confidences).
func (c *check) unit(field string, v float64) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		c.fail(field, "must be in [0, 1], got %v", v)
	}
}

// sha256 fails unless v is a SHA-256 digest in lowercase hex (IsSHA256Hex).
func (c *check) sha256(field, v string) {
	if !IsSHA256Hex(v) {
		c.fail(field, "must be 64 lowercase hex characters")
	}
}

// predecessor fails when prev, the optional name of the version a version
// follows (a dataset's parent, a superseded guideline), is the version
// itself.
func (c *check) predecessor(field, prev, versionField, version string) {
	if prev != "" && prev == version {
		c.fail(field, "equals %s %q", versionField, version)
	}
}

// tags fails on empty or duplicate entries of a tag list: a duplicate would
// be double counted by coverage.
//
// The field of a failure is named only on failure, and short lists (the usual)
// are checked for duplicates without a map, so that a valid list costs no
// allocation.
func (c *check) tags(field string, vs []string) {
	var seen map[string]struct{}
	if len(vs) > 16 {
		seen = make(map[string]struct{}, len(vs))
	}
	for i, v := range vs {
		if strings.TrimSpace(v) == "" {
			c.fail(fmt.Sprintf("%s[%d]", field, i), "must not be empty")
			return
		}
		dup := false
		if seen != nil {
			_, dup = seen[v]
			seen[v] = struct{}{}
		} else {
			dup = slices.Contains(vs[:i], v)
		}
		if dup {
			c.fail(fmt.Sprintf("%s[%d]", field, i), "duplicate %q", v)
			return
		}
	}
}

// envelope checks the fields every event carries. It expects a stamped
// event (see Stamp): ids, times and producer are all required.
func (c *check) envelope(ev Event) {
	m := ev.Meta()
	c.required("event_id", m.EventID)
	if m.EventType != "" && m.EventType != ev.Type() {
		c.fail("event_type", "is %q but the event is %s", m.EventType, ev.Type())
	}
	if m.OccurredAt <= 0 {
		c.fail("occurred_at", "required (epoch milliseconds > 0)")
	}
	if m.RecordedAt <= 0 {
		c.fail("recorded_at", "required (epoch milliseconds > 0)")
	}
	c.required("producer", m.Producer)
}

// IsSHA256Hex reports whether s is a SHA-256 digest in lowercase hex (64
// characters), the form ItemIngested.sha256 uses.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
