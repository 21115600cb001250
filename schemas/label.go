package schemas

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// MeasurementLevel is a question's level of measurement; it decides which
// LabelValue field carries the answer and which distance agreement uses.
type MeasurementLevel string

// The levels (Avro enum io.assay.common.MeasurementLevel).
const (
	LevelNominal    MeasurementLevel = "nominal"     // one unordered category
	LevelOrdinal    MeasurementLevel = "ordinal"     // one category with a rank
	LevelInterval   MeasurementLevel = "interval"    // a number, differences meaningful
	LevelRatio      MeasurementLevel = "ratio"       // a number >= 0 with a true zero
	LevelMultiLabel MeasurementLevel = "multi_label" // a set of categories
	LevelSpans      MeasurementLevel = "spans"       // labeled segments of a text, audio or video
	LevelBoxes      MeasurementLevel = "boxes"       // labeled rectangles on an image
	LevelPreference MeasurementLevel = "preference"  // a choice between responses
)

// Levels lists the measurement levels in Avro symbol order.
func Levels() []MeasurementLevel {
	return []MeasurementLevel{LevelNominal, LevelOrdinal, LevelInterval, LevelRatio, LevelMultiLabel,
		LevelSpans, LevelBoxes, LevelPreference}
}

// Regional reports whether answers at level l are regions (spans or boxes),
// which agreement matches by IoU instead of comparing as values.
func (l MeasurementLevel) Regional() bool { return l == LevelSpans || l == LevelBoxes }

// Valid reports whether l is one of the defined levels.
func (l MeasurementLevel) Valid() bool {
	switch l {
	case LevelNominal, LevelOrdinal, LevelInterval, LevelRatio, LevelMultiLabel,
		LevelSpans, LevelBoxes, LevelPreference:
		return true
	}
	return false
}

// LabelValue is an answer typed by its level of measurement (Avro record
// io.assay.common.LabelValue). Exactly the fields of its level are set:
//
//	nominal      {"level":"nominal","category":"cat"}
//	ordinal      {"level":"ordinal","category":"good","rank":2}
//	interval     {"level":"interval","number":-3.5}
//	ratio        {"level":"ratio","number":12}
//	multi_label  {"level":"multi_label","categories":["cat","dog"]}
//	spans        {"level":"spans","extent":{"unit":"characters","length":120},
//	              "spans":[{"label":"PER","start":0,"end":11}]}
//	boxes        {"level":"boxes","extent":{"unit":"pixels","width":640,"height":480},
//	              "boxes":[{"label":"car","x":10,"y":20,"w":100,"h":50}]}
//	preference   {"level":"preference","preference":{"responses":["r1","r2"],
//	              "choice":"r2","shown_first":"r1","strength":2}}
//
// Spans and boxes restate the extent of the medium they were drawn on (as
// Label Studio's results carry original_width, original_height and
// original_length), so the gateway checks every region against it without
// looking the item up; the processors check it against the item's own extent
// (ItemIngested.Extent). An empty list of spans or boxes is an answer: "no
// regions". Build values with Nominal, Ordinal, Interval, Ratio, MultiLabel,
// Spans, Boxes and Choice.
type LabelValue struct {
	// Level selects which of the other fields is meaningful.
	Level MeasurementLevel `json:"level"`
	// Category is the answer of nominal and ordinal questions.
	Category string `json:"category,omitempty"`
	// Rank is the ordinal position of Category on the scale (0 = lowest);
	// it is what ordinal agreement measures distance on.
	Rank *int32 `json:"rank,omitempty"`
	// Number is the answer of interval and ratio questions.
	Number *float64 `json:"number,omitempty"`
	// Categories is the answer of multi_label questions: a set (no
	// duplicates, order irrelevant); empty means "none apply".
	Categories []string `json:"categories,omitempty"`
	// Spans is the answer of spans questions: half-open [start, end)
	// segments in the extent's unit (characters or milliseconds); empty
	// means "no regions".
	Spans []Span `json:"spans,omitempty"`
	// Boxes is the answer of boxes questions, in the extent's unit (pixels
	// or normalized); empty means "no regions".
	Boxes []Box `json:"boxes,omitempty"`
	// Extent is the medium the spans or boxes were drawn on; required for
	// those levels, not set for the others.
	Extent *Extent `json:"extent,omitempty"`
	// Preference is the answer of preference questions.
	Preference *Preference `json:"preference,omitempty"`
}

// MaxRegions is the most spans or boxes one value may hold, streams/regions'
// MaxRegions: the bound keeps one pair of labels' IoU matching (cubic in the
// regions of a connected group) under about 30 ms in the worst case measured
// there (every matching equally good), so no label can stall a partition;
// COCO's evaluation keeps at most 100 detections an image.
const MaxRegions = 250

// MaxResponses is the most responses one preference compares (streams/preference
// keeps its exact figures in int64 up to it).
const MaxResponses = 20

// ExtentUnit is the unit of an extent and of the regions drawn on it.
type ExtentUnit string

// The units: spans are in characters (text) or milliseconds (audio, video);
// boxes in pixels or in normalized units (the image is 1 x 1).
const (
	UnitCharacters   ExtentUnit = "characters"
	UnitMilliseconds ExtentUnit = "milliseconds"
	UnitPixels       ExtentUnit = "pixels"
	UnitNormalized   ExtentUnit = "normalized"
)

// Extent is the size of an item's medium: a length for text, audio and video
// (characters or milliseconds), a width and height for images (pixels; a
// normalized image is 1 x 1 and states neither).
type Extent struct {
	// Unit is the unit of the extent and of the regions drawn on it.
	Unit ExtentUnit `json:"unit"`
	// Length is the length of a text (characters) or recording
	// (milliseconds); set exactly for those units.
	Length *int64 `json:"length,omitempty"`
	// Width is the image's width in pixels; set exactly for pixels.
	Width *float64 `json:"width,omitempty"`
	// Height is the image's height in pixels; set exactly for pixels.
	Height *float64 `json:"height,omitempty"`
}

// ForSpans reports whether spans can be drawn on the extent.
func (e Extent) ForSpans() bool { return e.Unit == UnitCharacters || e.Unit == UnitMilliseconds }

// ForBoxes reports whether boxes can be drawn on the extent.
func (e Extent) ForBoxes() bool { return e.Unit == UnitPixels || e.Unit == UnitNormalized }

// Size returns the extent's bounds: (length, 0) for spans, (width, height)
// for boxes ((1, 1) when normalized).
func (e Extent) Size() (float64, float64) {
	switch {
	case e.Unit == UnitNormalized:
		return 1, 1
	case e.Length != nil:
		return float64(*e.Length), 0
	case e.Width != nil && e.Height != nil:
		return *e.Width, *e.Height
	}
	return 0, 0
}

// Validate checks that the extent states exactly the sizes of its unit.
func (e Extent) Validate() error {
	var c check
	switch e.Unit {
	case UnitCharacters, UnitMilliseconds:
		if e.Length == nil {
			c.fail("length", "required for unit %s", e.Unit)
		} else if *e.Length <= 0 {
			c.fail("length", "must be > 0, got %d", *e.Length)
		}
		if e.Width != nil || e.Height != nil {
			c.fail("width", "must not be set for unit %s", e.Unit)
		}
	case UnitPixels:
		for _, d := range []struct {
			name string
			v    *float64
		}{{"width", e.Width}, {"height", e.Height}} {
			if d.v == nil {
				c.fail(d.name, "required for unit pixels")
			} else if !(*d.v > 0) || math.IsInf(*d.v, 0) {
				c.fail(d.name, "must be a finite number > 0, got %v", *d.v)
			}
		}
		if e.Length != nil {
			c.fail("length", "must not be set for unit pixels")
		}
	case UnitNormalized:
		if e.Length != nil || e.Width != nil || e.Height != nil {
			c.fail("unit", "a normalized image is 1 x 1: length, width and height must not be set")
		}
	default:
		c.fail("unit", "must be one of characters, milliseconds, pixels, normalized; got %q", e.Unit)
	}
	return c.err
}

// Span is a labeled segment [Start, End) of a text (characters) or a
// recording (milliseconds).
type Span struct {
	// Label is the span's category (an entity type, a speaker, ...).
	Label string `json:"label"`
	// Start is the first position in the segment.
	Start int64 `json:"start"`
	// End is the first position after the segment; End > Start.
	End int64 `json:"end"`
}

// Box is a labeled axis-aligned rectangle with its top-left corner at (X, Y).
type Box struct {
	// Label is the box's category.
	Label string `json:"label"`
	// X is the left edge.
	X float64 `json:"x"`
	// Y is the top edge.
	Y float64 `json:"y"`
	// W is the width, > 0.
	W float64 `json:"w"`
	// H is the height, > 0.
	H float64 `json:"h"`
	// Score is a model's confidence in the box, in [0, 1]; set on model
	// pre-labels (PreLabelProposed), which the router reads.
	Score *float64 `json:"score,omitempty"`
}

// Preference is a choice between two or more responses (RLHF, DPO
// comparisons).
type Preference struct {
	// Responses are the ids of the responses compared, in the item's own
	// order, the same for every annotator of the item (agreement codes the
	// choice as its index here); at least two, distinct.
	Responses []string `json:"responses"`
	// Choice is the preferred response, one of Responses.
	Choice string `json:"choice"`
	// ShownFirst is the response the annotator saw first, one of Responses
	// (position bias is the share of choices of it).
	ShownFirst string `json:"shown_first"`
	// Strength is how strongly Choice is preferred, 1 (slightly) up to the
	// question's strength scale (QuestionDefined.StrengthScale); nil when the
	// question has no scale.
	Strength *int32 `json:"strength,omitempty"`
}

// Spans builds a spans answer drawn on a text of length characters (or a
// recording of that many milliseconds, with unit).
func Spans(unit ExtentUnit, length int64, spans ...Span) LabelValue {
	if spans == nil {
		spans = []Span{}
	}
	return LabelValue{Level: LevelSpans, Extent: &Extent{Unit: unit, Length: &length}, Spans: spans}
}

// Boxes builds a boxes answer drawn on an image of width x height pixels.
func Boxes(width, height float64, boxes ...Box) LabelValue {
	if boxes == nil {
		boxes = []Box{}
	}
	return LabelValue{Level: LevelBoxes, Extent: &Extent{Unit: UnitPixels, Width: &width, Height: &height}, Boxes: boxes}
}

// Choice builds a preference answer without strength: choice among
// responses, shownFirst having been displayed first.
func Choice(choice, shownFirst string, responses ...string) LabelValue {
	return LabelValue{Level: LevelPreference, Preference: &Preference{Responses: responses, Choice: choice, ShownFirst: shownFirst}}
}

// Nominal builds a nominal answer.
func Nominal(category string) LabelValue {
	return LabelValue{Level: LevelNominal, Category: category}
}

// Ordinal builds an ordinal answer: the category and its rank on the scale.
func Ordinal(category string, rank int32) LabelValue {
	return LabelValue{Level: LevelOrdinal, Category: category, Rank: &rank}
}

// Interval builds an interval-scale answer.
func Interval(x float64) LabelValue { return LabelValue{Level: LevelInterval, Number: &x} }

// Ratio builds a ratio-scale answer (must be >= 0).
func Ratio(x float64) LabelValue { return LabelValue{Level: LevelRatio, Number: &x} }

// MultiLabel builds a set answer; no categories means "none apply".
func MultiLabel(categories ...string) LabelValue {
	return LabelValue{Level: LevelMultiLabel, Categories: categories}
}

// Validate checks that the value is well formed for its level; field names
// in the returned *FieldError are relative ("rank"), callers prefix them.
func (v LabelValue) Validate() error {
	var c check
	if !v.Level.Valid() {
		c.fail("level", "must be one of nominal, ordinal, interval, ratio, multi_label, spans, boxes, preference; got %q", v.Level)
		return c.err
	}
	if err := v.validateStructured(); err != nil || v.Level == LevelSpans || v.Level == LevelBoxes || v.Level == LevelPreference {
		return err
	}
	hasCat, hasRank, hasNum, hasCats := v.Category != "", v.Rank != nil, v.Number != nil, len(v.Categories) > 0
	// only fails on any field set outside the level's allowed ones.
	only := func(cat, rank, num, cats bool) {
		switch {
		case hasCat && !cat:
			c.fail("category", "must not be set for level %s", v.Level)
		case hasRank && !rank:
			c.fail("rank", "must not be set for level %s", v.Level)
		case hasNum && !num:
			c.fail("number", "must not be set for level %s", v.Level)
		case hasCats && !cats:
			c.fail("categories", "must not be set for level %s", v.Level)
		}
	}
	switch v.Level {
	case LevelNominal:
		c.required("category", v.Category)
		only(true, false, false, false)
	case LevelOrdinal:
		c.required("category", v.Category)
		if !hasRank {
			c.fail("rank", "required for level ordinal")
		} else if *v.Rank < 0 {
			c.fail("rank", "must be >= 0, got %d", *v.Rank)
		}
		only(true, true, false, false)
	case LevelInterval, LevelRatio:
		if !hasNum {
			c.fail("number", "required for level %s", v.Level)
		} else if math.IsNaN(*v.Number) || math.IsInf(*v.Number, 0) {
			c.fail("number", "must be finite")
		} else if v.Level == LevelRatio && *v.Number < 0 {
			c.fail("number", "must be >= 0 for level ratio, got %v", *v.Number)
		}
		only(false, false, true, false)
	case LevelMultiLabel:
		c.tags("categories", v.Categories)
		only(false, false, false, true)
	}
	return c.err
}

// validateStructured checks the fields of the levels added in schema
// versions LabelSubmitted v3, GoldLabelSet v2, PreLabelProposed v2 and
// ReviewCompleted v2 (spans, boxes, preference): set exactly for their level,
// every region inside the extent.
func (v LabelValue) validateStructured() error {
	var c check
	spans, boxes, pref := v.Level == LevelSpans, v.Level == LevelBoxes, v.Level == LevelPreference
	switch {
	case len(v.Spans) > 0 && !spans:
		c.fail("spans", "must not be set for level %s", v.Level)
	case len(v.Boxes) > 0 && !boxes:
		c.fail("boxes", "must not be set for level %s", v.Level)
	case v.Extent != nil && !spans && !boxes:
		c.fail("extent", "must not be set for level %s", v.Level)
	case v.Preference != nil && !pref:
		c.fail("preference", "must not be set for level %s", v.Level)
	case (spans || boxes || pref) && (v.Category != "" || v.Rank != nil || v.Number != nil || len(v.Categories) > 0):
		c.fail("category", "category, rank, number and categories must not be set for level %s", v.Level)
	}
	if c.err != nil || !(spans || boxes || pref) {
		return c.err
	}
	if pref {
		if v.Preference == nil {
			c.fail("preference", "required for level preference")
			return c.err
		}
		c.add(prefixed("preference", v.Preference.Validate()))
		return c.err
	}
	if v.Extent == nil {
		c.fail("extent", "required for level %s: the medium the regions were drawn on", v.Level)
		return c.err
	}
	if err := v.Extent.Validate(); err != nil {
		return prefixed("extent", err)
	}
	w, h := v.Extent.Size()
	if spans {
		if !v.Extent.ForSpans() {
			c.fail("extent.unit", "spans are in characters or milliseconds, got %s", v.Extent.Unit)
		}
		if len(v.Spans) > MaxRegions {
			c.fail("spans", "%d spans, more than the limit of %d a value", len(v.Spans), MaxRegions)
		}
		for i, s := range v.Spans {
			f := fmt.Sprintf("spans[%d]", i)
			switch {
			case c.err != nil:
			case s.Label == "":
				c.fail(f+".label", "required")
			case s.Start < 0:
				c.fail(f+".start", "must be >= 0, got %d", s.Start)
			case s.End <= s.Start:
				c.fail(f+".end", "must be > start (%d), got %d: spans are half-open [start, end)", s.Start, s.End)
			case float64(s.End) > w:
				c.fail(f+".end", "%d is past the extent's length %d", s.End, int64(w))
			}
		}
		return c.err
	}
	if !v.Extent.ForBoxes() {
		c.fail("extent.unit", "boxes are in pixels or normalized units, got %s", v.Extent.Unit)
	}
	if len(v.Boxes) > MaxRegions {
		c.fail("boxes", "%d boxes, more than the limit of %d a value", len(v.Boxes), MaxRegions)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	for i, b := range v.Boxes {
		f := fmt.Sprintf("boxes[%d]", i)
		switch {
		case c.err != nil:
		case b.Label == "":
			c.fail(f+".label", "required")
		case !finite(b.X) || !finite(b.Y) || !finite(b.W) || !finite(b.H):
			c.fail(f, "x, y, w and h must be finite numbers")
		case !(b.W > 0):
			c.fail(f+".w", "must be > 0, got %v", b.W)
		case !(b.H > 0):
			c.fail(f+".h", "must be > 0, got %v", b.H)
		case b.X < 0 || b.Y < 0:
			c.fail(f, "(%v, %v) is outside the image: x and y must be >= 0", b.X, b.Y)
		case b.X+b.W > w:
			c.fail(f+".w", "x + w = %v is past the image's width %v", b.X+b.W, w)
		case b.Y+b.H > h:
			c.fail(f+".h", "y + h = %v is past the image's height %v", b.Y+b.H, h)
		case b.Score != nil && !(*b.Score >= 0 && *b.Score <= 1):
			c.fail(f+".score", "must be in [0, 1], got %v", *b.Score)
		}
	}
	return c.err
}

// Validate checks the responses are at least two and distinct and that the
// choice and the first shown are among them.
func (p Preference) Validate() error {
	var c check
	if len(p.Responses) < 2 || len(p.Responses) > MaxResponses {
		c.fail("responses", "a preference compares 2 to %d responses, got %d", MaxResponses, len(p.Responses))
	}
	c.tags("responses", p.Responses)
	c.required("choice", p.Choice)
	c.required("shown_first", p.ShownFirst)
	if c.err == nil && !slices.Contains(p.Responses, p.Choice) {
		c.fail("choice", "%q is not one of the responses", p.Choice)
	}
	if c.err == nil && !slices.Contains(p.Responses, p.ShownFirst) {
		c.fail("shown_first", "%q is not one of the responses", p.ShownFirst)
	}
	if p.Strength != nil && *p.Strength < 1 {
		c.fail("strength", "must be >= 1, got %d", *p.Strength)
	}
	return c.err
}

// Labels returns the labels the value uses: its category, categories, or
// its regions' labels (repeats included). Preferences have none.
func (v LabelValue) Labels() []string {
	switch v.Level {
	case LevelNominal, LevelOrdinal:
		return []string{v.Category}
	case LevelMultiLabel:
		return v.Categories
	case LevelSpans:
		out := make([]string, len(v.Spans))
		for i, s := range v.Spans {
			out[i] = s.Label
		}
		return out
	case LevelBoxes:
		out := make([]string, len(v.Boxes))
		for i, b := range v.Boxes {
			out[i] = b.Label
		}
		return out
	}
	return nil
}

// String renders the value compactly for logs and test failures.
func (v LabelValue) String() string {
	switch v.Level {
	case LevelOrdinal:
		if v.Rank != nil {
			return fmt.Sprintf("ordinal:%s#%d", v.Category, *v.Rank)
		}
	case LevelInterval, LevelRatio:
		if v.Number != nil {
			return fmt.Sprintf("%s:%v", v.Level, *v.Number)
		}
	case LevelMultiLabel:
		return "multi_label:{" + strings.Join(v.Categories, ",") + "}"
	case LevelSpans:
		return fmt.Sprintf("spans:%d", len(v.Spans))
	case LevelBoxes:
		return fmt.Sprintf("boxes:%d", len(v.Boxes))
	case LevelPreference:
		if v.Preference != nil {
			return "preference:" + v.Preference.Choice
		}
	}
	return string(v.Level) + ":" + v.Category
}
