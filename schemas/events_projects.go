package schemas

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The event type of the projects family (topic assay.projects.v1, keyed by
// project_id): facts about a labeling project as a whole, in order per
// project. Item-keyed families cannot carry them: a project has no item, and
// a project id used as the key of an item topic would share the key space
// (and the partition state) of the items.
const TypeGuidelineReleased EventType = "GuidelineReleased"

// GuidelineReleased records a version of a project's annotation guideline,
// the document annotators follow: LabelSubmitted.GuidelineVersion names one
// of these versions, so labels, agreement and rework can be read against the
// text in force, and an audit can prove which text that was (sha256). It is
// released when it occurred (occurred_at).
type GuidelineReleased struct {
	Envelope
	// ProjectID is the project (partition key).
	ProjectID string `json:"project_id"`
	// GuidelineVersion names the version, as labels reference it; unique
	// within the project.
	GuidelineVersion string `json:"guideline_version"`
	// Supersedes is the version this one replaces; empty for the first.
	Supersedes string `json:"supersedes,omitempty"`
	// URI locates the document.
	URI string `json:"uri"`
	// SHA256 is the document's hash, 64 lowercase hex characters.
	SHA256 string `json:"sha256"`
	// Summary says what changed; optional.
	Summary string `json:"summary,omitempty"`
}

// Type implements Event.
func (*GuidelineReleased) Type() EventType { return TypeGuidelineReleased }

// Family implements Event.
func (*GuidelineReleased) Family() Family { return FamilyProjects }

// Key implements Event: project_id.
func (e *GuidelineReleased) Key() string { return e.ProjectID }

// The example releases the guideline its subject's label follows, g-<N+2>.
var _ = describe(func(s Subject) *GuidelineReleased {
	return &GuidelineReleased{Envelope: s.envelope("guideline", 14), ProjectID: exampleProject, GuidelineVersion: "g-" + s.number(2),
		Supersedes: "g-" + s.number(1), URI: "s3://guidelines/" + exampleProject + "/g-" + s.number(2) + ".pdf",
		SHA256: strings.Repeat("cd", 32), Summary: "a truck with its trailer is one vehicle"}
})

// Validate implements Event: sha256 must be 64 lowercase hex characters, and
// a version does not supersede itself.
func (e *GuidelineReleased) Validate() error {
	var c check
	c.envelope(e)
	c.required("project_id", e.ProjectID)
	c.required("guideline_version", e.GuidelineVersion)
	c.predecessor("supersedes", e.Supersedes, "guideline_version", e.GuidelineVersion)
	c.required("uri", e.URI)
	c.sha256("sha256", e.SHA256)
	return c.err
}

// TypeQualityTargetsSet is the projects family's second event type.
const TypeQualityTargetsSet EventType = "QualityTargetsSet"

// AccuracyDenominator says which labels accuracy against gold counts (Avro enum
// io.assay.projects.AccuracyDenominator).
type AccuracyDenominator string

// The denominators.
const (
	// DenominatorAllSubmitted counts every submitted label of a gold item that is not
	// retracted (the accuracy KPI's denominator).
	DenominatorAllSubmitted AccuracyDenominator = "all_submitted"
	// DenominatorFinalAfterReview counts one label per gold item and question: the value
	// that stands after review (a correcting review's value; a rejected label does not
	// stand), i.e. what a dataset version would contain.
	DenominatorFinalAfterReview AccuracyDenominator = "final_after_review"
)

// Valid reports whether d is a defined denominator.
func (d AccuracyDenominator) Valid() bool {
	return d == DenominatorAllSubmitted || d == DenominatorFinalAfterReview
}

// AgreementTarget is the minimum inter-annotator agreement: Krippendorff's alpha at a level
// of measurement.
type AgreementTarget struct {
	// Level is the level of measurement whose alpha is judged; questions answered at
	// another level are not judged by this target.
	Level MeasurementLevel `json:"level"`
	// MinAlpha is the minimum alpha, in [-1, 1] (Krippendorff: 0.8, or 0.667 for tentative
	// conclusions).
	MinAlpha float64 `json:"min_alpha"`
	// MinPairableValues is the evidence below which alpha is "not enough data" (not a
	// pass); at least 2.
	MinPairableValues int64 `json:"min_pairable_values"`
	// OnLowerBound judges the lower bound of alpha's 95% confidence interval instead of
	// the point estimate.
	OnLowerBound bool `json:"on_lower_bound"`
}

// AccuracyTarget is the minimum accuracy against gold, with its denominator spelled out.
type AccuracyTarget struct {
	// MinAccuracy is the minimum share of counted labels equal to the gold value, in [0, 1].
	MinAccuracy float64 `json:"min_accuracy"`
	// Denominator says which labels count.
	Denominator AccuracyDenominator `json:"denominator"`
	// MinGoldLabels is the number of counted labels below which accuracy is "not enough
	// data" (not a pass); at least 1.
	MinGoldLabels int64 `json:"min_gold_labels"`
}

// CoverageTarget judges a dataset version against the CoverageTargetSet of its dataset in
// force when the version was committed (the latest one that occurred at or before the
// commit), so a later coverage target never rewrites an old verdict.
type CoverageTarget struct {
	// MinSliceCoverage is the minimum share of the slice targets the version meets, in [0, 1].
	MinSliceCoverage *float64 `json:"min_slice_coverage,omitempty"`
	// MinEdgeCaseCoverage is the minimum share of the edge-case minimums the version meets,
	// in [0, 1].
	MinEdgeCaseCoverage *float64 `json:"min_edge_case_coverage,omitempty"`
}

// FindingLimit is the most open evaluation findings of one severity a version may be
// implicated in.
type FindingLimit struct {
	// Severity is the findings' severity.
	Severity Severity `json:"severity"`
	// Max is the most open findings allowed; 0 means none.
	Max int64 `json:"max"`
}

// QualityTargetsSet states, as data, the quality a project's dataset versions must reach to
// be certified for training: the gate (streams/gate) judges every DatasetVersionCommitted
// against the targets in force at the version's commit time. Targets are versioned and take
// effect from EffectiveAt; a later event for the same project, dataset and question with a
// later EffectiveAt replaces them from then on, never before. A target left out (nil) is not
// judged. Narrowed to a dataset, the targets replace the project's for that dataset; narrowed
// to a question, the agreement and accuracy targets replace the project's for that question.
type QualityTargetsSet struct {
	Envelope
	// ProjectID is the project (partition key).
	ProjectID string `json:"project_id"`
	// TargetsVersion names this version of the targets, unique within the project; verdicts
	// name the version they used.
	TargetsVersion string `json:"targets_version"`
	// DatasetID narrows the targets to one dataset; empty for the whole project.
	DatasetID string `json:"dataset_id,omitempty"`
	// QuestionID narrows agreement and accuracy to one question; empty for every question.
	QuestionID string `json:"question_id,omitempty"`
	// EffectiveAt is when the targets come into force, epoch milliseconds: they judge the
	// versions committed (occurred_at) at or after it.
	EffectiveAt int64 `json:"effective_at"`
	// Agreement is the minimum Krippendorff's alpha.
	Agreement *AgreementTarget `json:"agreement,omitempty"`
	// Accuracy is the minimum accuracy against gold.
	Accuracy *AccuracyTarget `json:"accuracy,omitempty"`
	// Coverage is the minimum slice and edge-case coverage.
	Coverage *CoverageTarget `json:"coverage,omitempty"`
	// MinLineageCompleteness is the minimum share of the version's members with a complete
	// chain (streams/lineage's strict rule), in [0, 1].
	MinLineageCompleteness *float64 `json:"min_lineage_completeness,omitempty"`
	// MaxReworkRate is the maximum share of the version's member labels rejected or
	// corrected in review, in [0, 1].
	MaxReworkRate *float64 `json:"max_rework_rate,omitempty"`
	// MaxOpenFindings limits, per severity, the open evaluation findings that implicate the
	// version's items.
	MaxOpenFindings []FindingLimit `json:"max_open_findings,omitempty"`
	// AllowGoldInTraining lets gold items be members of a version; by default a version
	// containing a gold item is rejected (gold must stay out of training data).
	AllowGoldInTraining bool `json:"allow_gold_in_training"`
	// MaxLabelDrift is the largest total-variation distance, in [0, 1], between a question's
	// label distribution in the current window and its baseline before an anomaly is raised
	// (monitoring; not a gate target).
	MaxLabelDrift *float64 `json:"max_label_drift,omitempty"`
}

// Type implements Event.
func (*QualityTargetsSet) Type() EventType { return TypeQualityTargetsSet }

// Family implements Event.
func (*QualityTargetsSet) Family() Family { return FamilyProjects }

// Key implements Event: project_id.
func (e *QualityTargetsSet) Key() string { return e.ProjectID }

// The example states every target of version t-<N>, in force from its occurrence, narrowed
// to the subject's dataset and question (so every field is set).
var _ = describe(func(s Subject) *QualityTargetsSet {
	env := s.envelope("targets", 15)
	env.Producer = "owner-1"
	return &QualityTargetsSet{Envelope: env, ProjectID: exampleProject, TargetsVersion: "t-" + s.number(0),
		DatasetID: s.id("ds"), QuestionID: "q-vehicle",
		EffectiveAt:            env.OccurredAt,
		Agreement:              &AgreementTarget{Level: LevelNominal, MinAlpha: 0.667, MinPairableValues: 20},
		Accuracy:               &AccuracyTarget{MinAccuracy: 0.7, Denominator: DenominatorFinalAfterReview, MinGoldLabels: 10},
		Coverage:               &CoverageTarget{MinSliceCoverage: ptr(1.0), MinEdgeCaseCoverage: ptr(0.5)},
		MinLineageCompleteness: ptr(1.0), MaxReworkRate: ptr(0.25),
		MaxOpenFindings: []FindingLimit{{Severity: SeverityCritical, Max: 0}, {Severity: SeverityHigh, Max: 2}},
		MaxLabelDrift:   ptr(0.2)}
})

// Validate implements Event: every threshold is inside its range (alpha in [-1, 1], shares
// and rates in [0, 1], counts at least their minimum), levels, denominators and severities
// are known, a severity is limited once, and at least one target is stated.
func (e *QualityTargetsSet) Validate() error {
	var c check
	c.envelope(e)
	c.required("project_id", e.ProjectID)
	c.required("targets_version", e.TargetsVersion)
	if e.EffectiveAt <= 0 {
		c.fail("effective_at", "required (epoch milliseconds > 0)")
	}
	if a := e.Agreement; a != nil {
		if !a.Level.Valid() {
			c.fail("agreement.level", "unknown level %q", a.Level)
		} else if a.Level.Regional() || a.Level == LevelPreference {
			// The gate measures alpha on values; region and preference agreement are
			// reported (streams/regions, streams/preference) but not yet judged.
			c.fail("agreement.level", "the gate judges alpha at nominal, ordinal, interval, ratio and multi_label; %s agreement is not a gate target", a.Level)
		}
		if math.IsNaN(a.MinAlpha) || a.MinAlpha < -1 || a.MinAlpha > 1 {
			c.fail("agreement.min_alpha", "must be in [-1, 1], got %v", a.MinAlpha)
		}
		if a.MinPairableValues < 2 {
			c.fail("agreement.min_pairable_values", "must be >= 2, got %d", a.MinPairableValues)
		}
	}
	if a := e.Accuracy; a != nil {
		c.unit("accuracy.min_accuracy", a.MinAccuracy)
		if !a.Denominator.Valid() {
			c.fail("accuracy.denominator", "unknown denominator %q (all_submitted or final_after_review)", a.Denominator)
		}
		if a.MinGoldLabels < 1 {
			c.fail("accuracy.min_gold_labels", "must be >= 1, got %d", a.MinGoldLabels)
		}
	}
	if v := e.Coverage; v != nil {
		if v.MinSliceCoverage == nil && v.MinEdgeCaseCoverage == nil {
			c.fail("coverage", "needs min_slice_coverage or min_edge_case_coverage")
		}
		if v.MinSliceCoverage != nil {
			c.unit("coverage.min_slice_coverage", *v.MinSliceCoverage)
		}
		if v.MinEdgeCaseCoverage != nil {
			c.unit("coverage.min_edge_case_coverage", *v.MinEdgeCaseCoverage)
		}
	}
	if v := e.MinLineageCompleteness; v != nil {
		c.unit("min_lineage_completeness", *v)
	}
	if v := e.MaxReworkRate; v != nil {
		c.unit("max_rework_rate", *v)
	}
	seen := map[Severity]bool{}
	for i, l := range e.MaxOpenFindings {
		f := fmt.Sprintf("max_open_findings[%d]", i)
		if !l.Severity.Valid() {
			c.fail(f+".severity", "unknown severity %q", l.Severity)
		}
		if seen[l.Severity] {
			c.fail(f+".severity", "duplicate %q", l.Severity)
		}
		seen[l.Severity] = true
		c.nonNegative(f+".max", l.Max)
	}
	if v := e.MaxLabelDrift; v != nil {
		c.unit("max_label_drift", *v)
	}
	if e.Agreement == nil && e.Accuracy == nil && e.Coverage == nil && e.MinLineageCompleteness == nil &&
		e.MaxReworkRate == nil && len(e.MaxOpenFindings) == 0 && e.MaxLabelDrift == nil && e.AllowGoldInTraining {
		c.fail("targets", "states no target")
	}
	return c.err
}

// TypeQuestionDefined is the projects family's third event type.
const TypeQuestionDefined EventType = "QuestionDefined"

// DefaultIoUThreshold is the IoU at or above which two regions may match when
// a question states none (Label Studio's, CVAT's and COCO's customary 0.5).
const DefaultIoUThreshold = 0.5

// QuestionDefined records a project's question as its owner defines it (Label
// Studio's labeling config, CVAT's task labels): its level of measurement, the
// closed set of labels answers may use, and how its agreement is measured. The
// gateway refuses labels, gold labels and pre-labels for a defined question
// whose level differs or which use a label outside the set; a spans, boxes or
// preference answer needs its question defined. A later definition of the
// same question replaces the earlier one from then on.
type QuestionDefined struct {
	Envelope
	// ProjectID is the project (partition key).
	ProjectID string `json:"project_id"`
	// QuestionID is the question, as labels name it.
	QuestionID string `json:"question_id"`
	// Level is the level of measurement of its answers.
	Level MeasurementLevel `json:"level"`
	// Labels is the closed set of categories (nominal, ordinal, multi_label)
	// or region labels (spans, boxes); empty for numeric and preference
	// questions, and for categorical ones whose set is open.
	Labels []string `json:"labels,omitempty"`
	// StrengthScale is the largest strength of a preference answer (1 ..
	// StrengthScale); nil when answers state none. Its JSON is null rather
	// than absent then, so every definition shows the field.
	StrengthScale *int32 `json:"strength_scale"`
	// IoUThreshold is the IoU, in (0, 1], at or above which two regions may
	// match; nil means DefaultIoUThreshold. Spans and boxes only.
	IoUThreshold *float64 `json:"iou_threshold,omitempty"`
	// Description says what the question asks, for people; optional.
	Description string `json:"description,omitempty"`
}

// Type implements Event.
func (*QuestionDefined) Type() EventType { return TypeQuestionDefined }

// Family implements Event.
func (*QuestionDefined) Family() Family { return FamilyProjects }

// Key implements Event: project_id.
func (e *QuestionDefined) Key() string { return e.ProjectID }

// The example defines a named-entity question: spans with three labels.
var _ = describe(func(s Subject) *QuestionDefined {
	env := s.envelope("question", 19)
	env.Producer = "owner-1"
	return &QuestionDefined{Envelope: env, ProjectID: exampleProject, QuestionID: "q-entities-" + s.number(0),
		Level: LevelSpans, Labels: []string{"PER", "ORG", "LOC"}, IoUThreshold: ptr(0.5),
		Description: "mark every person, organisation and location"}
})

// IoU returns the question's IoU threshold, DefaultIoUThreshold when unset.
func (e *QuestionDefined) IoU() float64 {
	if e.IoUThreshold == nil {
		return DefaultIoUThreshold
	}
	return *e.IoUThreshold
}

// Validate implements Event: the level is known, labels are distinct, a
// strength scale belongs to a preference question and an IoU threshold to a
// regions one.
func (e *QuestionDefined) Validate() error {
	var c check
	c.envelope(e)
	c.required("project_id", e.ProjectID)
	c.required("question_id", e.QuestionID)
	if !e.Level.Valid() {
		c.fail("level", "unknown level %q", e.Level)
	}
	c.tags("labels", e.Labels)
	if len(e.Labels) > 0 && (e.Level == LevelInterval || e.Level == LevelRatio || e.Level == LevelPreference) {
		c.fail("labels", "a %s question has no labels", e.Level)
	}
	if e.StrengthScale != nil {
		if e.Level != LevelPreference {
			c.fail("strength_scale", "only preference questions have a strength scale")
		} else if *e.StrengthScale < 1 || *e.StrengthScale > 100 {
			c.fail("strength_scale", "must be in [1, 100], got %d", *e.StrengthScale)
		}
	}
	if t := e.IoUThreshold; t != nil {
		if !e.Level.Regional() {
			c.fail("iou_threshold", "only spans and boxes questions have an IoU threshold")
		} else if !(*t > 0 && *t <= 1) {
			c.fail("iou_threshold", "must be in (0, 1], got %v", *t)
		}
	}
	return c.err
}

// Admits checks an answer to the question: its level is the question's, its
// labels are in the set (when the set is closed), its strength within the
// scale. Field names are relative to the value ("spans[2].label").
func (e *QuestionDefined) Admits(v LabelValue) error {
	var c check
	if v.Level != e.Level {
		c.fail("level", "question %s is %s, got %s", e.QuestionID, e.Level, v.Level)
		return c.err
	}
	if len(e.Labels) > 0 {
		known := func(l string) bool { return slices.Contains(e.Labels, l) }
		switch v.Level {
		case LevelNominal, LevelOrdinal:
			if !known(v.Category) {
				c.fail("category", "%q is not a label of question %s", v.Category, e.QuestionID)
			}
		case LevelMultiLabel:
			for i, l := range v.Categories {
				if !known(l) {
					c.fail(fmt.Sprintf("categories[%d]", i), "%q is not a label of question %s", l, e.QuestionID)
				}
			}
		case LevelSpans:
			for i, r := range v.Spans {
				if !known(r.Label) {
					c.fail(fmt.Sprintf("spans[%d].label", i), "%q is not a label of question %s", r.Label, e.QuestionID)
				}
			}
		case LevelBoxes:
			for i, r := range v.Boxes {
				if !known(r.Label) {
					c.fail(fmt.Sprintf("boxes[%d].label", i), "%q is not a label of question %s", r.Label, e.QuestionID)
				}
			}
		}
	}
	if p := v.Preference; p != nil && p.Strength != nil {
		switch {
		case e.StrengthScale == nil:
			c.fail("preference.strength", "question %s has no strength scale", e.QuestionID)
		case *p.Strength > *e.StrengthScale:
			c.fail("preference.strength", "must be <= the strength scale %d of question %s, got %d", *e.StrengthScale, e.QuestionID, *p.Strength)
		}
	}
	return c.err
}
