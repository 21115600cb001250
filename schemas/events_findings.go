package schemas

// The event types of the findings family (topic assay.findings.v1, keyed by
// finding_id).
const (
	TypeEvalFindingReported EventType = "EvalFindingReported"
	TypeRemediationStarted  EventType = "RemediationStarted"
	TypeRemediationShipped  EventType = "RemediationShipped"
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

var _ = describe(func(s Subject) *EvalFindingReported {
	return &EvalFindingReported{Envelope: s.envelope("finding", 10), FindingID: s.id("finding"), EvalRun: "eval-7",
		Model: "detector-2", TrainingRunID: s.id("run"), Slice: "night", ImplicatedItemIDs: []string{s.idAt("item", 0), s.idAt("item", 1)},
		Severity: SeverityHigh, ProjectID: exampleProject}
})

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

var _ = describe(func(s Subject) *RemediationStarted {
	return &RemediationStarted{Envelope: s.envelope("rem-start", 11), FindingID: s.id("finding"), Owner: "data-team", Plan: "relabel night slice"}
})

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

// The example ships the version after the one DatasetVersionCommitted's
// example commits.
var _ = describe(func(s Subject) *RemediationShipped {
	return &RemediationShipped{Envelope: s.envelope("rem-ship", 12), FindingID: s.id("finding"), DatasetID: s.id("ds"), FixingVersion: s.number(2)}
})

// Validate implements Event.
func (e *RemediationShipped) Validate() error {
	var c check
	c.envelope(e)
	c.required("finding_id", e.FindingID)
	c.required("dataset_id", e.DatasetID)
	c.required("fixing_version", e.FixingVersion)
	return c.err
}
