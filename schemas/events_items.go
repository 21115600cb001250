package schemas

import (
	"fmt"
	"strings"
)

// The event types of the items family (topic assay.items.v1, keyed by
// item_id).
const (
	TypeItemIngested     EventType = "ItemIngested"
	TypePreLabelProposed EventType = "PreLabelProposed"
	TypeRoutingDecided   EventType = "RoutingDecided"
)

// ItemIngested records that a data item entered the supply chain: the root
// of every lineage chain (source and content hash).
type ItemIngested struct {
	Envelope
	// ItemID identifies the item everywhere downstream (partition key).
	ItemID string `json:"item_id"`
	// Source is where the item came from (collector, bucket, crawl).
	Source string `json:"source"`
	// URI locates the content.
	URI string `json:"uri"`
	// SHA256 is the content hash, 64 lowercase hex characters, so audits can
	// prove the bytes did not change.
	SHA256 string `json:"sha256"`
	// Modality is the kind of content: text, image, audio, video, ...
	Modality string `json:"modality"`
	// SliceTags are the slices the item belongs to, for coverage.
	SliceTags []string `json:"slice_tags,omitempty"`
	// EdgeCaseTags are the edge cases the item exhibits, for edge-case coverage.
	EdgeCaseTags []string `json:"edge_case_tags,omitempty"`
	// DatasetID is the dataset the item is collected for; empty if none yet.
	DatasetID string `json:"dataset_id,omitempty"`
	// ProjectID is the labeling project.
	ProjectID string `json:"project_id"`
	// Extent is the size of the item's medium (a text's length in
	// characters, a recording's in milliseconds, an image's width and height),
	// which spans and boxes are drawn on; nil when not stated (schema v2).
	// Labels restate the extent they were drawn on, and the processors count
	// only labels whose extent is the item's.
	Extent *Extent `json:"extent,omitempty"`
}

// Type implements Event.
func (*ItemIngested) Type() EventType { return TypeItemIngested }

// Family implements Event.
func (*ItemIngested) Family() Family { return FamilyItems }

// Key implements Event: item_id.
func (e *ItemIngested) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *ItemIngested {
	return &ItemIngested{Envelope: s.envelope("item", 0), ItemID: s.id("item"), Source: "s3-bucket-a",
		URI: "s3://bucket-a/img/" + s.number(0) + ".png", SHA256: strings.Repeat("ab", 32), Modality: "image",
		SliceTags: []string{"night", "urban"}, EdgeCaseTags: []string{"occluded"}, DatasetID: s.id("ds"), ProjectID: exampleProject,
		Extent: &Extent{Unit: UnitPixels, Width: ptr(1920.0), Height: ptr(1080.0)}}
})

// Validate implements Event; sha256 must be 64 lowercase hex characters.
func (e *ItemIngested) Validate() error {
	var c check
	c.envelope(e)
	c.required("item_id", e.ItemID)
	c.required("source", e.Source)
	c.required("uri", e.URI)
	c.sha256("sha256", e.SHA256)
	c.required("modality", e.Modality)
	c.tags("slice_tags", e.SliceTags)
	c.tags("edge_case_tags", e.EdgeCaseTags)
	c.required("project_id", e.ProjectID)
	if e.Extent != nil {
		c.add(prefixed("extent", e.Extent.Validate()))
	}
	return c.err
}

// PreLabelProposed records a model's proposed answer for an item/question,
// before any human saw it.
type PreLabelProposed struct {
	Envelope
	// ItemID is the item (partition key).
	ItemID string `json:"item_id"`
	// QuestionID is the question answered.
	QuestionID string `json:"question_id"`
	// Model names the proposing model.
	Model string `json:"model"`
	// ModelVersion pins the model build.
	ModelVersion string `json:"model_version"`
	// Value is the proposed answer.
	Value LabelValue `json:"value"`
	// Confidence is the model's confidence in [0, 1]; routing uses it.
	Confidence float64 `json:"confidence"`
}

// Type implements Event.
func (*PreLabelProposed) Type() EventType { return TypePreLabelProposed }

// Family implements Event.
func (*PreLabelProposed) Family() Family { return FamilyItems }

// Key implements Event: item_id.
func (e *PreLabelProposed) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *PreLabelProposed {
	return &PreLabelProposed{Envelope: s.envelope("prelabel", 1), ItemID: s.id("item"), QuestionID: "q-vehicle",
		Model: "detector", ModelVersion: "1.4.0", Value: Nominal("car"), Confidence: s.unit(0.91)}
})

// Validate implements Event.
func (e *PreLabelProposed) Validate() error {
	var c check
	c.envelope(e)
	c.required("item_id", e.ItemID)
	c.required("question_id", e.QuestionID)
	c.required("model", e.Model)
	c.required("model_version", e.ModelVersion)
	c.add(prefixed("value", e.Value.Validate()))
	c.unit("confidence", e.Confidence)
	return c.err
}

// Route is where the router sends an item/question (Avro enum
// io.assay.items.Route).
type Route string

// The routes, cheapest first.
const (
	RouteAutoAccept   Route = "auto_accept"   // the pre-label is accepted as is
	RouteHumanLabel   Route = "human_label"   // an annotator labels from scratch
	RouteHumanReview  Route = "human_review"  // a reviewer checks the pre-label
	RouteExpertReview Route = "expert_review" // an expert decides
)

// Valid reports whether r is a defined route.
func (r Route) Valid() bool {
	switch r {
	case RouteAutoAccept, RouteHumanLabel, RouteHumanReview, RouteExpertReview:
		return true
	}
	return false
}

// RoutingInput is one numeric input a routing rule evaluated (a list of
// these instead of a map keeps the encoding deterministic).
type RoutingInput struct {
	// Name of the input, e.g. "confidence".
	Name string `json:"name"`
	// Value of the input.
	Value float64 `json:"value"`
}

// RoutingDecided records the router's choice for an item/question and why,
// so routing quality can be audited against review outcomes.
type RoutingDecided struct {
	Envelope
	// ItemID is the item (partition key).
	ItemID string `json:"item_id"`
	// QuestionID is the question routed.
	QuestionID string `json:"question_id"`
	// Route is the decision.
	Route Route `json:"route"`
	// Rule is the id of the rule that fired.
	Rule string `json:"rule"`
	// Inputs are the values the rule looked at.
	Inputs []RoutingInput `json:"inputs,omitempty"`
	// Reason is a human-readable explanation; optional.
	Reason string `json:"reason,omitempty"`
}

// Type implements Event.
func (*RoutingDecided) Type() EventType { return TypeRoutingDecided }

// Family implements Event.
func (*RoutingDecided) Family() Family { return FamilyItems }

// Key implements Event: item_id.
func (e *RoutingDecided) Key() string { return e.ItemID }

var _ = describe(func(s Subject) *RoutingDecided {
	return &RoutingDecided{Envelope: s.envelope("routing", 2), ItemID: s.id("item"), QuestionID: "q-vehicle",
		Route: RouteHumanReview, Rule: "confidence-below-threshold",
		Inputs: []RoutingInput{{Name: "confidence", Value: 0.91}, {Name: "threshold", Value: 0.95}}, Reason: "below 0.95"}
})

// Validate implements Event.
func (e *RoutingDecided) Validate() error {
	var c check
	c.envelope(e)
	c.required("item_id", e.ItemID)
	c.required("question_id", e.QuestionID)
	if !e.Route.Valid() {
		c.fail("route", "must be one of auto_accept, human_label, human_review, expert_review; got %q", e.Route)
	}
	c.required("rule", e.Rule)
	for i, in := range e.Inputs {
		c.required(fmt.Sprintf("inputs[%d].name", i), in.Name)
	}
	return c.err
}
