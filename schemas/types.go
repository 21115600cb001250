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
	FamilyDLQ      Family = "dlq"
)

// Families lists every family in a fixed order, for topic creation and
// iteration over all topics (e.g. replay).
func Families() []Family {
	return []Family{FamilyItems, FamilyLabels, FamilyReviews, FamilyDatasets, FamilyFindings, FamilyDLQ}
}

// Topic is the family's topic name without any deployment prefix, e.g.
// "assay.labels.v1". Callers prepend the configured prefix
// (ASSAY_TOPIC_PREFIX): prefix + f.Topic().
func (f Family) Topic() string { return "assay." + string(f) + ".v1" }

// KeyField names the payload field used as the Kafka record key of every
// event in the family; Event.Key returns its value.
func (f Family) KeyField() string {
	switch f {
	case FamilyItems, FamilyLabels, FamilyReviews:
		return "item_id"
	case FamilyDatasets:
		return "dataset_id"
	case FamilyFindings:
		return "finding_id"
	case FamilyDLQ:
		return "source"
	}
	return ""
}

// EventTypes lists the event types of the family, in declaration order.
func (f Family) EventTypes() []EventType {
	var out []EventType
	for _, t := range eventTypes {
		if t.Family() == f {
			out = append(out, t)
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
// the envelope's event_type field, e.g. "LabelSubmitted".
type EventType string

// The event types.
const (
	TypeItemIngested            EventType = "ItemIngested"
	TypePreLabelProposed        EventType = "PreLabelProposed"
	TypeRoutingDecided          EventType = "RoutingDecided"
	TypeLabelSubmitted          EventType = "LabelSubmitted"
	TypeLabelRetracted          EventType = "LabelRetracted"
	TypeGoldLabelSet            EventType = "GoldLabelSet"
	TypeReviewCompleted         EventType = "ReviewCompleted"
	TypeCoverageTargetSet       EventType = "CoverageTargetSet"
	TypeDatasetVersionCommitted EventType = "DatasetVersionCommitted"
	TypeTrainingRunRegistered   EventType = "TrainingRunRegistered"
	TypeEvalFindingReported     EventType = "EvalFindingReported"
	TypeRemediationStarted      EventType = "RemediationStarted"
	TypeRemediationShipped      EventType = "RemediationShipped"
	TypeEventRejected           EventType = "EventRejected"
)

// eventTypes is the single table tying a type to its family and Go struct.
var eventTypes = []EventType{
	TypeItemIngested, TypePreLabelProposed, TypeRoutingDecided,
	TypeLabelSubmitted, TypeLabelRetracted, TypeGoldLabelSet,
	TypeReviewCompleted,
	TypeCoverageTargetSet, TypeDatasetVersionCommitted, TypeTrainingRunRegistered,
	TypeEvalFindingReported, TypeRemediationStarted, TypeRemediationShipped,
	TypeEventRejected,
}

// EventTypes lists every event type, grouped by family in Families order.
func EventTypes() []EventType { return append([]EventType(nil), eventTypes...) }

// Family returns the family (and so the topic) the type is published to, or
// "" for an unknown type.
func (t EventType) Family() Family {
	switch t {
	case TypeItemIngested, TypePreLabelProposed, TypeRoutingDecided:
		return FamilyItems
	case TypeLabelSubmitted, TypeLabelRetracted, TypeGoldLabelSet:
		return FamilyLabels
	case TypeReviewCompleted:
		return FamilyReviews
	case TypeCoverageTargetSet, TypeDatasetVersionCommitted, TypeTrainingRunRegistered:
		return FamilyDatasets
	case TypeEvalFindingReported, TypeRemediationStarted, TypeRemediationShipped:
		return FamilyFindings
	case TypeEventRejected:
		return FamilyDLQ
	}
	return ""
}

// Known reports whether t is one of the event types of this contract.
func (t EventType) Known() bool { return t.Family() != "" }

// New returns a zero event of type t, ready for json.Unmarshal or for
// filling in, so callers can decode a payload whose type is named elsewhere
// (an HTTP path, a header). Unknown types return ErrUnknownEventType.
func New(t EventType) (Event, error) {
	switch t {
	case TypeItemIngested:
		return &ItemIngested{}, nil
	case TypePreLabelProposed:
		return &PreLabelProposed{}, nil
	case TypeRoutingDecided:
		return &RoutingDecided{}, nil
	case TypeLabelSubmitted:
		return &LabelSubmitted{}, nil
	case TypeLabelRetracted:
		return &LabelRetracted{}, nil
	case TypeGoldLabelSet:
		return &GoldLabelSet{}, nil
	case TypeReviewCompleted:
		return &ReviewCompleted{}, nil
	case TypeCoverageTargetSet:
		return &CoverageTargetSet{}, nil
	case TypeDatasetVersionCommitted:
		return &DatasetVersionCommitted{}, nil
	case TypeTrainingRunRegistered:
		return &TrainingRunRegistered{}, nil
	case TypeEvalFindingReported:
		return &EvalFindingReported{}, nil
	case TypeRemediationStarted:
		return &RemediationStarted{}, nil
	case TypeRemediationShipped:
		return &RemediationShipped{}, nil
	case TypeEventRejected:
		return &EventRejected{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, string(t))
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
