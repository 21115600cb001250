package schemas

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// Family is a group of event types that share a Kafka topic and a partition
// key, so every event about one key lands on one partition, in order.
type Family string

// The families, one topic each (DESIGN.md, Events).
const (
	FamilyItems    Family = "items"
	FamilyLabels   Family = "labels"
	FamilyReviews  Family = "reviews"
	FamilyDatasets Family = "datasets"
	FamilyFindings Family = "findings"
	FamilyProjects Family = "projects"
	FamilyDLQ      Family = "dlq"
)

// families is the one table of the families: their order and the payload
// field that keys every event of the family. A family's event types are the
// descriptors (descriptor.go) that name it.
var families = []struct {
	family   Family
	keyField string
}{
	{FamilyItems, "item_id"},
	{FamilyLabels, "item_id"},
	{FamilyReviews, "item_id"},
	{FamilyDatasets, "dataset_id"},
	{FamilyFindings, "finding_id"},
	{FamilyProjects, "project_id"},
	{FamilyDLQ, "source"},
}

// Families lists every family in a fixed order, for topic creation and
// iteration over all topics (e.g. replay).
func Families() []Family {
	out := make([]Family, len(families))
	for i, f := range families {
		out[i] = f.family
	}
	return out
}

// Topic is the family's topic name without any deployment prefix, e.g.
// "assay.labels.v1". Callers prepend the configured prefix
// (ASSAY_TOPIC_PREFIX): prefix + f.Topic().
func (f Family) Topic() string { return "assay." + string(f) + ".v1" }

// KeyField names the payload field used as the Kafka record key of every
// event in the family; Event.Key returns its value. It is "" for an unknown
// family.
func (f Family) KeyField() string {
	for _, x := range families {
		if x.family == f {
			return x.keyField
		}
	}
	return ""
}

// EventTypes lists the event types of the family, in declaration order.
func (f Family) EventTypes() []EventType {
	var out []EventType
	for _, d := range catalog.ordered {
		if d.Family == f {
			out = append(out, d.Type)
		}
	}
	return out
}

// FamilyOfTopic maps a topic name back to its family, after stripping the
// deployment prefix, so consumers can route records by topic.
func FamilyOfTopic(prefix, topic string) (Family, bool) {
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return "", false
	}
	for _, f := range Families() {
		if f.Topic() == rest {
			return f, true
		}
	}
	return "", false
}

// EventType is the name of an event type; it equals the Avro record name and
// the envelope's event_type field, e.g. "LabelSubmitted". Each is declared,
// with its constant, its Go struct and its Descriptor, in the
// events_<family>.go file of its family.
type EventType string

// EventTypes lists every event type, grouped by family in Families order and
// in declaration order within a family.
func EventTypes() []EventType {
	out := make([]EventType, len(catalog.ordered))
	for i, d := range catalog.ordered {
		out[i] = d.Type
	}
	return out
}

// Family returns the family (and so the topic) the type is published to, or
// "" for an unknown type.
func (t EventType) Family() Family {
	if d, ok := catalog.byType[t]; ok {
		return d.Family
	}
	return ""
}

// Known reports whether t is one of the event types of this contract.
func (t EventType) Known() bool { return t.Family() != "" }

// New returns a zero event of type t, ready for json.Unmarshal or for
// filling in, so callers can decode a payload whose type is named elsewhere
// (an HTTP path, a header). Unknown types return ErrUnknownEventType.
func New(t EventType) (Event, error) {
	d, ok := catalog.byType[t]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, string(t))
	}
	return d.New(), nil
}

// Event is implemented by the pointer types of every event struct
// (*LabelSubmitted, ...). It is what the codec, the gateway and the
// processors pass around.
type Event interface {
	// Meta gives access to the envelope shared by every event, for reading
	// and for stamping (see Stamp).
	Meta() *Envelope
	// Type names the event type; Encode writes it into event_type.
	Type() EventType
	// Key is the Kafka record key: the value of Family().KeyField().
	Key() string
	// Family is the family, and through it the topic, of the event.
	Family() Family
	// Validate checks the schema-level and semantic rules of the event,
	// envelope included, and returns a *FieldError naming the first
	// offending field, or nil.
	Validate() error
}

// Trace links an event to the flow it belongs to, for following one item or
// request across services.
type Trace struct {
	// CorrelationID groups all events of one business flow (e.g. a request).
	CorrelationID string `json:"correlation_id,omitempty"`
	// CausationID is the event_id of the event that caused this one.
	CausationID string `json:"causation_id,omitempty"`
}

// Envelope holds the fields every event carries; it is embedded (untagged)
// in every event struct, so in JSON and Avro its fields sit at the top level
// next to the payload.
type Envelope struct {
	// EventID is the idempotency key: client-supplied or generated by Stamp.
	EventID string `json:"event_id"`
	// EventType equals the event's Type(); Encode fills it when empty and
	// rejects a mismatch.
	EventType EventType `json:"event_type,omitempty"`
	// OccurredAt is when the fact happened, epoch milliseconds.
	OccurredAt int64 `json:"occurred_at"`
	// RecordedAt is when Assay accepted the event, epoch milliseconds.
	RecordedAt int64 `json:"recorded_at,omitempty"`
	// Producer is the authenticated id of the collector or service.
	Producer string `json:"producer,omitempty"`
	// Trace carries correlation and causation ids.
	Trace Trace `json:"trace"`
}

// Meta returns the envelope itself; through embedding it implements
// Event.Meta for every event struct.
func (e *Envelope) Meta() *Envelope { return e }

// Millis converts a time to the epoch milliseconds used by occurred_at and
// recorded_at.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Stamp fills the envelope fields that the accepting side owns, so the
// gateway and services that emit events do it the same way: event_type is
// set from ev.Type(); event_id is generated (UUIDv7-shaped, time ordered)
// when empty; recorded_at is set to now; occurred_at defaults to now when
// zero; producer is overwritten when non-empty (it is the authenticated
// identity, never the client's claim).
func Stamp(ev Event, producer string, now time.Time) {
	m := ev.Meta()
	m.EventType = ev.Type()
	if m.EventID == "" {
		m.EventID = NewEventID(now)
	}
	m.RecordedAt = Millis(now)
	if m.OccurredAt == 0 {
		m.OccurredAt = m.RecordedAt
	}
	if producer != "" {
		m.Producer = producer
	}
}

// NewEventID returns a random UUIDv7 string (48-bit millisecond timestamp
// first), so generated event ids sort by creation time.
func NewEventID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(now.UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
