package schemas

import (
	"errors"
	"fmt"
)

// Severity grades an evaluation finding (Avro enum
// io.assay.findings.Severity); remediation time is reported per severity.
type Severity string

// The severities, lowest first.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Valid reports whether s is a defined severity.
func (s Severity) Valid() bool {
	switch s {
	case SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical:
		return true
	}
	return false
}

// EvalFindingReported records a model problem found by evaluation and traced
// to data; the evaluation-to-remediation clock starts here.
type EvalFindingReported struct {
	Envelope
	// FindingID identifies the finding (partition key).
	FindingID string `json:"finding_id"`
	// EvalRun identifies the evaluation run.
	EvalRun string `json:"eval_run"`
	// Model names the evaluated model.
	Model string `json:"model"`
	// TrainingRunID is the run that produced the model, when known.
	TrainingRunID string `json:"training_run_id,omitempty"`
	// Slice is the affected slice, when the finding is slice-specific.
	Slice string `json:"slice,omitempty"`
	// ImplicatedItemIDs are items suspected of causing the problem.
	ImplicatedItemIDs []string `json:"implicated_item_ids,omitempty"`
	// Severity grades the finding.
	Severity Severity `json:"severity"`
	// ProjectID is the project the finding belongs to.
	ProjectID string `json:"project_id"`
}

// Type implements Event.
func (*EvalFindingReported) Type() EventType { return TypeEvalFindingReported }

// Family implements Event.
func (*EvalFindingReported) Family() Family { return FamilyFindings }

// Key implements Event: finding_id.
func (e *EvalFindingReported) Key() string { return e.FindingID }

// Validate implements Event.
func (e *EvalFindingReported) Validate() error {
	var c check
	c.envelope(e)
	c.required("finding_id", e.FindingID)
	c.required("eval_run", e.EvalRun)
	c.required("model", e.Model)
	c.tags("implicated_item_ids", e.ImplicatedItemIDs)
	if !e.Severity.Valid() {
		c.fail("severity", "must be one of low, medium, high, critical; got %q", e.Severity)
	}
	c.required("project_id", e.ProjectID)
	return c.err
}

// RemediationStarted records that someone owns fixing a finding.
type RemediationStarted struct {
	Envelope
	// FindingID is the finding (partition key).
	FindingID string `json:"finding_id"`
	// Owner is who is responsible.
	Owner string `json:"owner"`
	// Plan describes the intended fix.
	Plan string `json:"plan"`
}

// Type implements Event.
func (*RemediationStarted) Type() EventType { return TypeRemediationStarted }

// Family implements Event.
func (*RemediationStarted) Family() Family { return FamilyFindings }

// Key implements Event: finding_id.
func (e *RemediationStarted) Key() string { return e.FindingID }

// Validate implements Event.
func (e *RemediationStarted) Validate() error {
	var c check
	c.envelope(e)
	c.required("finding_id", e.FindingID)
	c.required("owner", e.Owner)
	c.required("plan", e.Plan)
	return c.err
}

// RemediationShipped records the dataset version that fixes a finding; the
// evaluation-to-remediation clock stops here.
type RemediationShipped struct {
	Envelope
	// FindingID is the finding (partition key).
	FindingID string `json:"finding_id"`
	// DatasetID is the dataset fixed.
	DatasetID string `json:"dataset_id"`
	// FixingVersion is the dataset version that contains the fix.
	FixingVersion string `json:"fixing_version"`
}

// Type implements Event.
func (*RemediationShipped) Type() EventType { return TypeRemediationShipped }

// Family implements Event.
func (*RemediationShipped) Family() Family { return FamilyFindings }

// Key implements Event: finding_id.
func (e *RemediationShipped) Key() string { return e.FindingID }

// Validate implements Event.
func (e *RemediationShipped) Validate() error {
	var c check
	c.envelope(e)
	c.required("finding_id", e.FindingID)
	c.required("dataset_id", e.DatasetID)
	c.required("fixing_version", e.FixingVersion)
	return c.err
}

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
