package schemas

import (
	"errors"
	"fmt"
)

// The event type of the dead-letter family (topic assay.dlq.v1, keyed by
// source). Only Assay's own components write it.
const TypeEventRejected EventType = "EventRejected"

// EventRejected keeps input that failed decoding or validation, verbatim,
// with the reason, so nothing sent to Assay is lost and it can be replayed
// after a fix.
type EventRejected struct {
	Envelope
	// Source is where the bytes were rejected: ingest endpoint, processor,
	// or collector id (partition key).
	Source string `json:"source"`
	// Original is the rejected input, verbatim (base64 in JSON).
	Original []byte `json:"original"`
	// Reason is the error text.
	Reason string `json:"reason"`
	// Field is the offending field when known (FieldError.Field).
	Field string `json:"field,omitempty"`
	// OriginalProducer is the producer of the rejected input, when known
	// (the envelope's Producer is the service that rejected it).
	OriginalProducer string `json:"original_producer,omitempty"`
	// OriginalTopic is the topic the input was read from, if any.
	OriginalTopic string `json:"original_topic,omitempty"`
	// OriginalPartition is the partition the input was read from, if any.
	OriginalPartition *int32 `json:"original_partition,omitempty"`
	// OriginalOffset is the offset the input was read from, if any.
	OriginalOffset *int64 `json:"original_offset,omitempty"`
}

// Type implements Event.
func (*EventRejected) Type() EventType { return TypeEventRejected }

// Family implements Event.
func (*EventRejected) Family() Family { return FamilyDLQ }

// Key implements Event: source.
func (e *EventRejected) Key() string { return e.Source }

var _ = describe(func(s Subject) *EventRejected {
	return &EventRejected{Envelope: s.envelope("rejected", 13), Source: "ingest", Original: []byte(`{"event_type":"Nope"}`),
		Reason: "unknown event type", Field: "event_type", OriginalProducer: "collector-a", OriginalTopic: "assay.items.v1",
		OriginalPartition: ptr(int32(2)), OriginalOffset: ptr(int64(41))}
})

// Validate implements Event. Original may be empty (an empty body is a
// rejectable input too), but the reason may not.
func (e *EventRejected) Validate() error {
	var c check
	c.envelope(e)
	c.required("source", e.Source)
	c.required("reason", e.Reason)
	if e.OriginalPartition != nil && *e.OriginalPartition < 0 {
		c.fail("original_partition", "must be >= 0, got %d", *e.OriginalPartition)
	}
	if e.OriginalOffset != nil {
		c.nonNegative("original_offset", *e.OriginalOffset)
	}
	if (e.OriginalPartition != nil || e.OriginalOffset != nil) && e.OriginalTopic == "" {
		c.fail("original_topic", "required when original_partition or original_offset is set")
	}
	return c.err
}

// Rejection builds the DLQ event for input that failed, filling Field when
// err is a *FieldError, so every rejecting component reports alike. The
// caller still Stamps it.
func Rejection(source string, original []byte, producer string, err error) *EventRejected {
	r := &EventRejected{Source: source, Original: original, OriginalProducer: producer, Reason: fmt.Sprint(err)}
	var fe *FieldError
	if errors.As(err, &fe) {
		r.Field = fe.Field
	}
	return r
}
