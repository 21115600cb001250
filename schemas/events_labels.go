package schemas

import (
	"fmt"
	"time"
)

// The event types of the labels family (topic assay.labels.v1, keyed by
// item_id).
const (
	TypeLabelSubmitted EventType = "LabelSubmitted"
	TypeLabelRetracted EventType = "LabelRetracted"
	TypeGoldLabelSet   EventType = "GoldLabelSet"
)

// PreLabelRef names the model pre-label an annotator was shown, so agreement
// and accuracy can be split by whether the annotator was anchored.
type PreLabelRef struct {
	// Model names the model whose proposal was shown.
	Model string `json:"model"`
	// ModelVersion pins the model build.
	ModelVersion string `json:"model_version"`
}

// LabelSubmitted records one annotator's answer to one question about one
// item: the unit of agreement and accuracy. Schema v2 added PreLabel.
type LabelSubmitted struct {
	Envelope
	// LabelID identifies the label (reviews and dataset members refer to it).
	LabelID string `json:"label_id"`
	// ItemID is the item labeled (partition key).
	ItemID string `json:"item_id"`
	// ProjectID is the labeling project.
	ProjectID string `json:"project_id"`
	// TaskID is the annotation task the label was produced in.
	TaskID string `json:"task_id"`
	// QuestionID is the question answered.
	QuestionID string `json:"question_id"`
	// AnnotatorID identifies the annotator (required for lineage).
	AnnotatorID string `json:"annotator_id"`
	// Cohort is the annotator's cohort; optional.
	Cohort string `json:"cohort,omitempty"`
	// Vendor is the labeling vendor; empty for in-house work.
	Vendor string `json:"vendor,omitempty"`
	// GuidelineVersion is the guideline the annotator followed.
	GuidelineVersion string `json:"guideline_version"`
	// Value is the answer.
	Value LabelValue `json:"value"`
	// TimeSpentMS is the annotator's working time on the label.
	TimeSpentMS int64 `json:"time_spent_ms"`
	// PreLabel is the pre-label shown to the annotator, nil when none was
	// (schema v2; v1 events decode with nil).
	PreLabel *PreLabelRef `json:"pre_label,omitempty"`
}

// Type implements Event.
func (*LabelSubmitted) Type() EventType { return TypeLabelSubmitted }

// Family implements Event.
func (*LabelSubmitted) Family() Family { return FamilyLabels }

// Key implements Event: item_id.
func (e *LabelSubmitted) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *LabelSubmitted {
	return &LabelSubmitted{Envelope: s.envelope("label", 3), LabelID: s.id("label"), ItemID: s.id("item"),
		ProjectID: exampleProject, TaskID: s.id("task"), QuestionID: "q-vehicle", AnnotatorID: fmt.Sprintf("ann-%d", s.intn(5, 1)),
		Cohort: "cohort-a", Vendor: "vendor-x", GuidelineVersion: "g-" + s.number(2), Value: Nominal("car"),
		TimeSpentMS: int64(s.intn(60000, 4200)), PreLabel: &PreLabelRef{Model: "detector", ModelVersion: "1.4.0"}}
})

// TimeSpent returns TimeSpentMS as a duration.
func (e *LabelSubmitted) TimeSpent() time.Duration {
	return time.Duration(e.TimeSpentMS) * time.Millisecond
}

// Validate implements Event.
func (e *LabelSubmitted) Validate() error {
	var c check
	c.envelope(e)
	c.required("label_id", e.LabelID)
	c.required("item_id", e.ItemID)
	c.required("project_id", e.ProjectID)
	c.required("task_id", e.TaskID)
	c.required("question_id", e.QuestionID)
	c.required("annotator_id", e.AnnotatorID)
	c.required("guideline_version", e.GuidelineVersion)
	c.add(prefixed("value", e.Value.Validate()))
	c.nonNegative("time_spent_ms", e.TimeSpentMS)
	if e.PreLabel != nil {
		c.required("pre_label.model", e.PreLabel.Model)
		c.required("pre_label.model_version", e.PreLabel.ModelVersion)
	}
	return c.err
}

// LabelRetracted withdraws a label: it stops counting for agreement,
// accuracy and datasets from then on (the log keeps it).
type LabelRetracted struct {
	Envelope
	// LabelID is the label withdrawn.
	LabelID string `json:"label_id"`
	// ItemID is the label's item (partition key).
	ItemID string `json:"item_id"`
	// Reason says why.
	Reason string `json:"reason"`
}

// Type implements Event.
func (*LabelRetracted) Type() EventType { return TypeLabelRetracted }

// Family implements Event.
func (*LabelRetracted) Family() Family { return FamilyLabels }

// Key implements Event: item_id.
func (e *LabelRetracted) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *LabelRetracted {
	return &LabelRetracted{Envelope: s.envelope("retract", 4), LabelID: s.id("label"), ItemID: s.id("item"), Reason: "misclick"}
})

// Validate implements Event.
func (e *LabelRetracted) Validate() error {
	var c check
	c.envelope(e)
	c.required("label_id", e.LabelID)
	c.required("item_id", e.ItemID)
	c.required("reason", e.Reason)
	return c.err
}

// GoldLabelSet sets the reference answer for an item/question; accuracy is
// measured against the latest one.
type GoldLabelSet struct {
	Envelope
	// ItemID is the item (partition key).
	ItemID string `json:"item_id"`
	// QuestionID is the question.
	QuestionID string `json:"question_id"`
	// Value is the reference answer.
	Value LabelValue `json:"value"`
	// SetBy identifies who set it.
	SetBy string `json:"set_by"`
}

// Type implements Event.
func (*GoldLabelSet) Type() EventType { return TypeGoldLabelSet }

// Family implements Event.
func (*GoldLabelSet) Family() Family { return FamilyLabels }

// Key implements Event: item_id.
func (e *GoldLabelSet) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *GoldLabelSet {
	return &GoldLabelSet{Envelope: s.envelope("gold", 5), ItemID: s.id("item"), QuestionID: "q-vehicle",
		Value: Ordinal("severe", 3), SetBy: "expert-1"}
})

// Validate implements Event.
func (e *GoldLabelSet) Validate() error {
	var c check
	c.envelope(e)
	c.required("item_id", e.ItemID)
	c.required("question_id", e.QuestionID)
	c.add(prefixed("value", e.Value.Validate()))
	c.required("set_by", e.SetBy)
	return c.err
}
