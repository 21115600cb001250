package preference

import (
	"fmt"
	"slices"
)

// MaxResponses is the most responses one preference may compare. The bound keeps the no-bias
// expectation exact in one int64 (see ExpectedUnit) and refuses values no comparison interface
// shows; real preference data compares two responses, sometimes three or four.
const MaxResponses = 20

// Label is one annotator's preference on one item: the callers' form of the contract's
// schemas.Preference (this package imports no project package but streams/agreement, so
// callers convert).
type Label struct {
	// Responses are the ids of the compared responses in the item's canonical order: the same
	// list, in the same order, for every annotator of the item, whatever order each was shown.
	Responses []string `json:"responses"`
	// Choice is the id of the preferred response, one of Responses.
	Choice string `json:"choice"`
	// ShownFirst is the id of the response displayed first to this annotator, one of Responses.
	ShownFirst string `json:"shown_first"`
	// Strength is how much better Choice is, from 1 to the question's Scale; nil when not given.
	Strength *int32 `json:"strength,omitempty"`
}

// Scale is a question's strength scale S: a strength runs from 1 (slightly better) to S (much
// better). NoScale is a question without one, whose labels must carry no strength.
type Scale int32

// NoScale is the Scale of a question that asks for no strength.
const NoScale Scale = 0

// ScaleOf converts the contract's optional scale (nil = no scale) into a Scale; a scale below 1
// is an error naming the field "strength_scale".
func ScaleOf(s *int32) (Scale, error) {
	if s == nil {
		return NoScale, nil
	}
	if *s < 1 {
		return NoScale, &FieldError{Field: "strength_scale", Reason: fmt.Sprintf("must be at least 1, got %d", *s)}
	}
	return Scale(*s), nil
}

// FieldError says which field of a preference value is wrong and why. Field is relative to
// the value ("choice", "responses[2]"); "" is the value as a whole. Callers nest it under their
// own path (the gateway as schemas.FieldError, so the 400 names the field).
type FieldError struct {
	Field  string
	Reason string
}

// Error renders "field: reason", or the reason alone for the value as a whole.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks that l is a well-formed preference for a question with the given scale:
// 2 to MaxResponses responses with distinct non-empty ids, a choice and a first-shown response
// among them, and a strength only where the question has a scale, from 1 to it. A missing
// strength on a scaled question is valid (see the package documentation for how it counts).
// The error is a *FieldError naming the first field that is wrong.
func (l Label) Validate(scale Scale) error {
	switch n := len(l.Responses); {
	case n < 2:
		return fieldErr("responses", "must list at least 2 responses, got %d", n)
	case n > MaxResponses:
		return fieldErr("responses", "must list at most %d responses, got %d", MaxResponses, n)
	}
	for i, r := range l.Responses {
		if r == "" {
			return fieldErr(fmt.Sprintf("responses[%d]", i), "must not be empty")
		}
		if j := slices.Index(l.Responses[:i], r); j >= 0 {
			return fieldErr(fmt.Sprintf("responses[%d]", i), "%q repeats responses[%d]", r, j)
		}
	}
	if err := l.oneOf("choice", l.Choice); err != nil {
		return err
	}
	if err := l.oneOf("shown_first", l.ShownFirst); err != nil {
		return err
	}
	if scale < 0 {
		return fieldErr("strength_scale", "must be at least 1, got %d", scale)
	}
	if l.Strength != nil {
		s := *l.Strength
		if scale == NoScale {
			return fieldErr("strength", "must not be set: the question has no strength scale")
		}
		if s < 1 || s > int32(scale) {
			return fieldErr("strength", "must be from 1 to %d, got %d", scale, s)
		}
	}
	return nil
}

func (l Label) oneOf(field, id string) error {
	if id == "" {
		return fieldErr(field, "required")
	}
	if !slices.Contains(l.Responses, id) {
		return fieldErr(field, "%q is not one of responses", id)
	}
	return nil
}

// ChoiceIndex is the position of Choice in Responses, the item's canonical order: the value
// nominal alpha compares. It is -1 when Choice is not among Responses.
func (l Label) ChoiceIndex() int { return slices.Index(l.Responses, l.Choice) }

// ChoseFirstShown reports whether the annotator chose the response displayed first to them.
func (l Label) ChoseFirstShown() bool { return l.Choice == l.ShownFirst }

// SameResponses reports whether a and b compare the same responses in the same canonical order,
// as every label of one item must.
func SameResponses(a, b Label) bool { return slices.Equal(a.Responses, b.Responses) }
