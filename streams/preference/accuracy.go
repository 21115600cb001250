package preference

import (
	"fmt"

	"github.com/assay-data/assay/streams/agreement"
)

// AccuracyCounts are the additive counts behind accuracy against gold preferences for any set
// of labels on items with a gold preference (the caller groups: annotator, cohort, all).
type AccuracyCounts struct {
	// Correct counts the labels whose choice is the gold preference's choice.
	Correct int64 `json:"correct"`
	// Labels counts the labels scored against a gold preference.
	Labels int64 `json:"labels"`
}

// AccuracyOf scores one label against its item's gold preference: correct when the chosen
// response is gold's. Strength and display order play no part (a gold preference states which
// response is better; how much better is not asked of the annotator to match). Label and gold
// must compare the same responses in the same order; an error names the field otherwise.
func AccuracyOf(l, gold Label) (AccuracyCounts, error) {
	if !SameResponses(l, gold) {
		return AccuracyCounts{}, fieldErr("responses", "%q differs from the gold preference's %q", l.Responses, gold.Responses)
	}
	if err := gold.oneOf("choice", gold.Choice); err != nil {
		return AccuracyCounts{}, fmt.Errorf("gold preference: %w", err)
	}
	if err := l.oneOf("choice", l.Choice); err != nil {
		return AccuracyCounts{}, err
	}
	c := AccuracyCounts{Labels: 1}
	if l.Choice == gold.Choice {
		c.Correct = 1
	}
	return c, nil
}

// Add returns the counts of the union of two disjoint sets of labels.
func (c AccuracyCounts) Add(o AccuracyCounts) AccuracyCounts {
	return AccuracyCounts{c.Correct + o.Correct, c.Labels + o.Labels}
}

// Sub returns c without the labels counted in o (a retracted label, a re-scored item's old
// counts, a partition's old partial).
func (c AccuracyCounts) Sub(o AccuracyCounts) AccuracyCounts {
	return AccuracyCounts{c.Correct - o.Correct, c.Labels - o.Labels}
}

// Accuracy is the share of labels that chose the gold preference's response.
type Accuracy struct {
	Accuracy float64 `json:"accuracy"`
	// Interval is the Wilson score interval around Accuracy.
	Interval agreement.Interval `json:"interval"`
	Correct  int64              `json:"correct"`
	Labels   int64              `json:"labels"`
}

// Accuracy computes the accuracy and its Wilson interval at the given confidence. Without
// labels it is undefined (an error wrapping agreement.ErrUndefined).
func (c AccuracyCounts) Accuracy(confidence float64) (Accuracy, error) {
	iv, err := Wilson(c.Correct, c.Labels, confidence)
	if err != nil {
		return Accuracy{}, fmt.Errorf("preference accuracy: %w", err)
	}
	return Accuracy{Accuracy: float64(c.Correct) / float64(c.Labels), Interval: iv, Correct: c.Correct, Labels: c.Labels}, nil
}
