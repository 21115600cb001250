package schemas

// The event type of the reviews family (topic assay.reviews.v1, keyed by
// item_id).
const TypeReviewCompleted EventType = "ReviewCompleted"

// Verdict is a reviewer's judgment of a label (Avro enum
// io.assay.reviews.Verdict).
type Verdict string

// The verdicts; reject and correct count as rework.
const (
	VerdictAccept  Verdict = "accept"
	VerdictReject  Verdict = "reject"
	VerdictCorrect Verdict = "correct"
)

// Valid reports whether v is a defined verdict.
func (v Verdict) Valid() bool {
	switch v {
	case VerdictAccept, VerdictReject, VerdictCorrect:
		return true
	}
	return false
}

// ReviewCompleted records a reviewer's verdict on a label.
type ReviewCompleted struct {
	Envelope
	// ReviewID identifies the review.
	ReviewID string `json:"review_id"`
	// LabelID is the label reviewed.
	LabelID string `json:"label_id"`
	// ItemID is the label's item (partition key).
	ItemID string `json:"item_id"`
	// ReviewerID identifies the reviewer.
	ReviewerID string `json:"reviewer_id"`
	// Verdict is the judgment.
	Verdict Verdict `json:"verdict"`
	// CorrectedValue is the reviewer's answer; set exactly when Verdict is
	// correct.
	CorrectedValue *LabelValue `json:"corrected_value,omitempty"`
	// Reason explains the verdict; optional.
	Reason string `json:"reason,omitempty"`
}

// Type implements Event.
func (*ReviewCompleted) Type() EventType { return TypeReviewCompleted }

// Family implements Event.
func (*ReviewCompleted) Family() Family { return FamilyReviews }

// Key implements Event: item_id.
func (e *ReviewCompleted) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *ReviewCompleted {
	return &ReviewCompleted{Envelope: s.envelope("review", 6), ReviewID: s.id("review"), LabelID: s.id("label"),
		ItemID: s.id("item"), ReviewerID: "rev-1", Verdict: VerdictCorrect, CorrectedValue: ptr(MultiLabel("car", "truck")),
		Reason: "two vehicles"}
})

// Validate implements Event; corrected_value is required for verdict
// correct and forbidden otherwise.
func (e *ReviewCompleted) Validate() error {
	var c check
	c.envelope(e)
	c.required("review_id", e.ReviewID)
	c.required("label_id", e.LabelID)
	c.required("item_id", e.ItemID)
	c.required("reviewer_id", e.ReviewerID)
	if !e.Verdict.Valid() {
		c.fail("verdict", "must be one of accept, reject, correct; got %q", e.Verdict)
	}
	switch {
	case e.Verdict == VerdictCorrect && e.CorrectedValue == nil:
		c.fail("corrected_value", "required for verdict correct")
	case e.Verdict != VerdictCorrect && e.CorrectedValue != nil:
		c.fail("corrected_value", "only allowed for verdict correct")
	case e.CorrectedValue != nil:
		c.add(prefixed("corrected_value", e.CorrectedValue.Validate()))
	}
	return c.err
}
