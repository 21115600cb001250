package wire

// Path is the endpoint events are POSTed to.
const Path = "/v1/events"

// Media types of the two accepted body formats.
const (
	// MediaJSON is one event (an object) or a batch (an array).
	MediaJSON = "application/json"
	// MediaNDJSON is a batch, one event object a line; best for large batches.
	MediaNDJSON = "application/x-ndjson"
)

// Rejection codes: the machine-readable Code of EventError and Problem, the reason label of
// assay_ingest_events_rejected_total, and the start of a DLQ record's reason. A fixed set, so
// no client-chosen text ever becomes a metric label.
const (
	CodeMalformedJSON        = "malformed_json"         // not JSON (or a JSON array broken anywhere)
	CodeUnsupportedMedia     = "unsupported_media_type" // Content-Type is neither JSON nor NDJSON
	CodeEmpty                = "empty"                  // no event in the body
	CodeTooManyEvents        = "too_many_events"        // more events than the gateway's limit
	CodeBodyTooLarge         = "body_too_large"         // a body over the gateway's limit
	CodeUnauthenticated      = "unauthenticated"        // no or unknown bearer token
	CodeNotObject            = "not_object"             // a batch element that is not a JSON object
	CodeMissingType          = "missing_event_type"     // no event_type
	CodeUnknownType          = "unknown_event_type"     // an event_type the contract does not know
	CodeUnknownField         = "unknown_field"          // a field the event type does not have
	CodeWrongType            = "wrong_type"             // a field of the wrong JSON type
	CodeInvalid              = "invalid"                // a schema or semantic rule failed
	CodeEventTooLarge        = "event_too_large"        // one event over the gateway's limit
	CodeDuplicateID          = "duplicate_id"           // an event_id seen earlier in the same request
	CodeIDConflict           = "id_conflict"            // an event_id recently accepted with other content
	CodeForbidden            = "forbidden"              // the principal may not write this event (EventError.Rule names the rule)
	CodeNotCertified         = "not_certified"          // a training run on a dataset version the gate has not certified, not overridden (409)
	CodeRateLimited          = "rate_limited"           // over a per-producer or per-address request rate (429)
	CodeOverloaded           = "overloaded"             // no in-flight room within the wait (503)
	CodeRequestTimeout       = "request_timeout"        // the body did not arrive within the server's read timeout (408)
	CodeUnavailable          = "kafka_unavailable"      // Kafka did not acknowledge in time (503)
	CodeShuttingDown         = "shutting_down"          // the gateway is stopping (503)
	CodeGateUnavailable      = "gate_unavailable"       // the gate's decisions are not known yet: its view has not caught up (503)
	CodeQuestionsUnavailable = "questions_unavailable"  // the questions' definitions are not known yet: their view has not caught up (503)
)

// Accepted is the body of a 202 answer: every event of the request is on the ledger (or was
// already, for duplicates).
type Accepted struct {
	// Accepted counts the events of the request, duplicates included.
	Accepted int `json:"accepted"`
	// Duplicates counts events answered from the gateway's recent-ids window: they were
	// acknowledged earlier (a retry) and were not written again.
	Duplicates int `json:"duplicates"`
	// Events has one entry per event, in request order.
	Events []EventResult `json:"events"`
}

// EventResult says where one accepted event is.
type EventResult struct {
	// Index is the event's 0-based position in the request.
	Index int `json:"index"`
	// EventID is the event's id: the client's, or the one the gateway generated.
	EventID string `json:"event_id"`
	// EventType is the event's type.
	EventType string `json:"event_type"`
	// Topic, Partition and Offset locate the record; absent for duplicates.
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	Offset    *int64 `json:"offset,omitempty"`
	// Duplicate is true when the event was acknowledged before and not written again.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Problem is the body of every 4xx and 5xx answer.
type Problem struct {
	// Error says what happened, for people.
	Error string `json:"error"`
	// Code is the request-level rejection code, when the request failed as a whole.
	Code string `json:"code,omitempty"`
	// Rejected counts the rejected events, when events were examined one by one.
	Rejected int `json:"rejected,omitempty"`
	// Errors names each rejected event (the other events of the request were not published).
	Errors []EventError `json:"errors,omitempty"`
	// DeadLettered is true when the rejected input was written to the DLQ topic.
	DeadLettered bool `json:"dead_lettered,omitempty"`
}

// EventError names one rejected event of a request.
type EventError struct {
	// Index is the event's 0-based position in the request.
	Index int `json:"index"`
	// Line is the NDJSON line (1-based), omitted for JSON bodies.
	Line int `json:"line,omitempty"`
	// EventID is the event's id when it could be read.
	EventID string `json:"event_id,omitempty"`
	// EventType is the event's type when it is a known one.
	EventType string `json:"event_type,omitempty"`
	// Field is the offending field's path (snake_case, as in the JSON), when there is one.
	Field string `json:"field,omitempty"`
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Rule is, for Code forbidden, the access rule the event breaks (schemas/access: e.g.
	// role.event_type, scope.project, labeler.own_vendor).
	Rule string `json:"rule,omitempty"`
	// Reason says what is wrong, for people.
	Reason string `json:"reason"`
}
