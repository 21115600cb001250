package preference

import (
	"fmt"
	"strconv"

	"github.com/assay-data/assay/streams/agreement"
)

// NominalValue codes l for nominal alpha on the choice: the index of the chosen response in
// Responses (the item's canonical order) as an agreement category, "0" for the first. l must
// be valid (Validate); a choice outside Responses is an error naming "choice".
func NominalValue(l Label) (agreement.Value, error) {
	i := l.ChoiceIndex()
	if i < 0 {
		return "", fieldErr("choice", "%q is not one of responses", l.Choice)
	}
	return agreement.Category(strconv.Itoa(i)), nil
}

// OrdinalValue codes l for ordinal alpha on one scale of 2S ranks from "the first response much
// better" (0) to "the second much better" (2S−1): choice 0 with strength s is rank S−s, choice
// 1 with strength s is rank S−1+s, as an agreement.Rank (so agreement's Alpha(Ordinal) orders
// it numerically). ok is false, and the label not pairable for the ordinal figure, when the
// question has no scale, the item compares other than exactly two responses, or the label has
// no strength; it still counts in the nominal figure. l must be valid for scale (Validate).
func OrdinalValue(l Label, scale Scale) (v agreement.Value, ok bool, err error) {
	if scale == NoScale || len(l.Responses) != 2 || l.Strength == nil {
		return "", false, nil
	}
	s := int64(*l.Strength)
	if s < 1 || s > int64(scale) {
		return "", false, fieldErr("strength", "must be from 1 to %d, got %d", scale, s)
	}
	switch l.ChoiceIndex() {
	case 0:
		return agreement.Rank(int(int64(scale) - s)), true, nil
	case 1:
		return agreement.Rank(int(int64(scale) - 1 + s)), true, nil
	}
	return "", false, fieldErr("choice", "%q is not one of responses", l.Choice)
}

// NominalValues codes one unit's labels (one item and question, one label per annotator) for
// nominal alpha: the values to give agreement's Coincidences.AddUnit, or Reliability.Add one by
// one. Every label must compare the same responses in the same order (an error naming
// "responses" otherwise), since the index is meaningful only within one canonical order.
func NominalValues(labels []Label) ([]agreement.Value, error) {
	out := make([]agreement.Value, 0, len(labels))
	for i, l := range labels {
		if err := sameAsFirst(labels, i); err != nil {
			return nil, err
		}
		v, err := NominalValue(l)
		if err != nil {
			return nil, fmt.Errorf("label %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// OrdinalValues codes one unit's labels for ordinal alpha, leaving out the labels OrdinalValue
// finds not pairable: a unit of labels without strength, or of more than two responses, gives
// no values and so adds nothing to the coincidences. The labels must compare the same
// responses, as for NominalValues.
func OrdinalValues(labels []Label, scale Scale) ([]agreement.Value, error) {
	var out []agreement.Value
	for i, l := range labels {
		if err := sameAsFirst(labels, i); err != nil {
			return nil, err
		}
		v, ok, err := OrdinalValue(l, scale)
		if err != nil {
			return nil, fmt.Errorf("label %d: %w", i, err)
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func sameAsFirst(labels []Label, i int) error {
	if i > 0 && !SameResponses(labels[0], labels[i]) {
		return fmt.Errorf("label %d: %w", i, fieldErr("responses", "%q differs from label 0's %q: every label of an item compares the same responses in the same order", labels[i].Responses, labels[0].Responses))
	}
	return nil
}
