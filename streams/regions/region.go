package regions

import (
	"cmp"
	"fmt"
	"math"
)

// Span is one labelled stretch of a text, audio or video item: the half-open interval
// [Start, End) in the item's unit (characters or milliseconds). It mirrors schemas.Span;
// callers convert, so that this package stays free of the contract.
type Span struct {
	Label      string
	Start, End int64
}

// Box is one labelled rectangle on an image: top-left corner (X, Y), width W and height H, in
// the item's unit (pixels or normalized). Score is a model's confidence in the box, nil for a
// person's. It mirrors schemas.Box; Score plays no part in agreement or accuracy.
type Box struct {
	Label      string
	X, Y, W, H float64
	Score      *float64
}

// SpanIoU is the intersection over union of two spans: the length of their intersection over
// the length of their union. It is 0 when they do not overlap (touching spans, [0,5) and
// [5,9), do not) and 1 only for equal intervals. A span with End <= Start is empty: its IoU
// with anything is 0, including with an equal empty span (0/0 is taken as 0, since an empty
// region covers nothing another could agree with). The lengths are exact integers; the ratio
// is their float64 quotient, exact to the last bit for lengths below 2^53.
func SpanIoU(a, b Span) float64 {
	if a.End <= a.Start || b.End <= b.Start {
		return 0
	}
	inter := min(a.End, b.End) - max(a.Start, b.Start)
	if inter <= 0 {
		return 0
	}
	// Overlapping intervals: their union is one interval, which avoids adding two lengths
	// (and overflowing) when offsets are large.
	union := max(a.End, b.End) - min(a.Start, b.Start)
	return float64(inter) / float64(union)
}

// BoxIoU is the intersection over union of two boxes: the area of their intersection over the
// area of their union, as COCO computes it (pycocotools maskApi bbIou). It is 0 when they do
// not overlap (boxes sharing only an edge do not). A box whose W or H is not positive, or any
// of whose coordinates is not finite, is empty: its IoU with anything is 0. The result is
// clamped to [0, 1] against rounding.
func BoxIoU(a, b Box) float64 {
	if a.empty() || b.empty() {
		return 0
	}
	return rectOf(a).iou(rectOf(b))
}

// rect is a non-empty box as its edges and area, the form the matching computes IoU on
// (prepared once per box instead of once per pair).
type rect struct{ x0, y0, x1, y1, area float64 }

func rectOf(b Box) rect { return rect{b.X, b.Y, b.X + b.W, b.Y + b.H, b.W * b.H} }

// iou is BoxIoU of two non-empty boxes.
func (a rect) iou(b rect) float64 {
	w := min(a.x1, b.x1) - max(a.x0, b.x0)
	if !(w > 0) {
		return 0
	}
	h := min(a.y1, b.y1) - max(a.y0, b.y0)
	if !(h > 0) {
		return 0
	}
	inter := w * h
	union := a.area + b.area - inter
	if !(union > 0) || math.IsInf(union, 0) {
		return 0
	}
	return min(1, inter/union)
}

// empty reports whether a box covers nothing: a non-positive size or a coordinate that is
// not a finite number.
func (b Box) empty() bool {
	for _, v := range [...]float64{b.X, b.Y, b.W, b.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	return !(b.W > 0 && b.H > 0)
}

// region is what the matching needs of a Span or a Box: its IoU with another of its kind, its
// label, its projection [lo, hi] on the sweep axis (offsets for spans, x for boxes), whether
// it covers nothing, and a canonical order.
type region[R any] interface {
	Span | Box
	iou(R) float64
	label() string
	axis() (lo, hi float64)
	empty() bool
	compare(R) int
}

func (s Span) iou(o Span) float64 { return SpanIoU(s, o) }
func (s Span) label() string      { return s.Label }
func (s Span) empty() bool        { return s.End <= s.Start }

// axis converts the offsets to float64. The conversion is monotone, so two spans that overlap
// have projections that at least touch; the sweep treats touching as a candidate, and the
// exact integer IoU decides.
func (s Span) axis() (float64, float64) { return float64(s.Start), float64(s.End) }

func (s Span) compare(o Span) int {
	return cmp.Or(cmp.Compare(s.Start, o.Start), cmp.Compare(s.End, o.End), cmp.Compare(s.Label, o.Label))
}

func (b Box) iou(o Box) float64        { return BoxIoU(b, o) }
func (b Box) label() string            { return b.Label }
func (b Box) axis() (float64, float64) { return b.X, b.X + b.W }
func (b Box) compare(o Box) int {
	return cmp.Or(cmp.Compare(b.X, o.X), cmp.Compare(b.Y, o.Y), cmp.Compare(b.W, o.W), cmp.Compare(b.H, o.H), cmp.Compare(b.Label, o.Label))
}

// ValidateSpans checks what every span list must satisfy before it is compared: at most
// MaxRegions spans, each with a label and 0 <= Start < End. The error names the first bad
// span by its index and field, as the gateway's 400 and the CLI report it. Bounds against the
// item's length are the caller's (the item states it).
func ValidateSpans(spans []Span) error {
	if len(spans) > MaxRegions {
		return fmt.Errorf("%d spans, more than the %d a value may hold", len(spans), MaxRegions)
	}
	for i, s := range spans {
		switch {
		case s.Label == "":
			return &FieldError{Index: i, Field: "label", Reason: "is empty"}
		case s.Start < 0:
			return &FieldError{Index: i, Field: "start", Reason: fmt.Sprintf("is %d, negative", s.Start)}
		case s.End <= s.Start:
			return &FieldError{Index: i, Field: "end", Reason: fmt.Sprintf("is %d, not after start %d", s.End, s.Start)}
		}
	}
	return nil
}

// ValidateBoxes checks what every box list must satisfy before it is compared: at most
// MaxRegions boxes, each with a label, finite X, Y >= 0 and finite W, H > 0 (and a finite
// Score, if any). The error names the first bad box by its index and field. Bounds against the
// image's size are the caller's (the item states it).
func ValidateBoxes(boxes []Box) error {
	if len(boxes) > MaxRegions {
		return fmt.Errorf("%d boxes, more than the %d a value may hold", len(boxes), MaxRegions)
	}
	for i, b := range boxes {
		if b.Label == "" {
			return &FieldError{Index: i, Field: "label", Reason: "is empty"}
		}
		for _, f := range [...]struct {
			name     string
			v        float64
			positive bool
		}{{"x", b.X, false}, {"y", b.Y, false}, {"w", b.W, true}, {"h", b.H, true}} {
			switch {
			case math.IsNaN(f.v) || math.IsInf(f.v, 0):
				return &FieldError{Index: i, Field: f.name, Reason: "is not a finite number"}
			case f.positive && f.v <= 0:
				return &FieldError{Index: i, Field: f.name, Reason: fmt.Sprintf("is %g, not positive", f.v)}
			case !f.positive && f.v < 0:
				return &FieldError{Index: i, Field: f.name, Reason: fmt.Sprintf("is %g, negative", f.v)}
			}
		}
		if b.Score != nil && (math.IsNaN(*b.Score) || math.IsInf(*b.Score, 0)) {
			return &FieldError{Index: i, Field: "score", Reason: "is not a finite number"}
		}
	}
	return nil
}

// FieldError says which region of a list is bad and why: the region's index (from 0) and the
// JSON field name, so a 400 or a CLI message can point at it.
type FieldError struct {
	Index  int
	Field  string // "label", "start", "end", "x", "y", "w", "h", "score", or "" for the whole region
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("region %d: %s", e.Index, e.Reason)
	}
	return fmt.Sprintf("region %d: %s %s", e.Index, e.Field, e.Reason)
}
