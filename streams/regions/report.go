package regions

import (
	"errors"
	"maps"
	"slices"

	"github.com/assay-data/assay/streams/agreement"
)

// CompareUnitSpans is one unit's contribution to region agreement: every pair of annotators
// who labeled it (values maps each annotator to their spans; an empty list is a label with no
// regions), each pair compared with CompareSpans, the annotators taken in sorted order so the
// first of a pair is the one that sorts first. A unit with one annotator contributes nothing.
func CompareUnitSpans(values map[string][]Span, t float64) (Agreement, error) {
	return compareUnit(values, t, CompareSpans)
}

// CompareUnitBoxes is CompareUnitSpans for boxes.
func CompareUnitBoxes(values map[string][]Box, t float64) (Agreement, error) {
	return compareUnit(values, t, CompareBoxes)
}

func compareUnit[R any](values map[string][]R, t float64, cmp func(a, b []R, t float64) (Agreement, error)) (Agreement, error) {
	if err := CheckThreshold(t); err != nil {
		return Agreement{}, err
	}
	names := slices.Sorted(maps.Keys(values))
	var out Agreement
	for x, first := range names {
		for _, second := range names[x+1:] {
			c, err := cmp(values[first], values[second], t)
			if err != nil {
				return Agreement{}, err
			}
			out.Merge(c)
		}
	}
	return out, nil
}

// Report is region agreement as the CLI prints it (assay agreement --level spans|boxes
// --json) and the API serves it: figures that are undefined are nil, with the reason beside
// them, as in agreement.Report.
type Report struct {
	// UnitPairs counts every unit and pair of annotators who both labeled it; Matched,
	// Regions (both sides together) are the evidence behind the F1.
	UnitPairs int64 `json:"unit_pairs"`
	Matched   int64 `json:"matched"`
	Regions   int64 `json:"regions"`

	PairwiseF1          *float64 `json:"pairwise_f1"`
	PairwiseF1Undefined string   `json:"pairwise_f1_undefined,omitempty"`
	MeanIoU             *float64 `json:"mean_iou"`
	MeanIoUUndefined    string   `json:"mean_iou_undefined,omitempty"`
	// PerLabelF1 has every label some region carries (its F1 is always defined).
	PerLabelF1 map[string]float64 `json:"per_label_f1"`

	// LabelAlpha is Krippendorff's alpha (nominal) over the any-label matching's pairs;
	// LabelAlphaPairs is how many matched pairs it rests on.
	LabelAlpha          *float64 `json:"label_alpha"`
	LabelAlphaUndefined string   `json:"label_alpha_undefined,omitempty"`
	LabelAlphaPairs     int64    `json:"label_alpha_pairs"`
}

// Report reads every figure of the tally.
func (a Agreement) Report() Report {
	r := Report{
		UnitPairs: a.Units, Matched: a.Matched, Regions: a.RegionsA + a.RegionsB,
		PerLabelF1: map[string]float64{},
	}
	r.PairwiseF1, r.PairwiseF1Undefined = figure(a.F1())
	r.MeanIoU, r.MeanIoUUndefined = figure(a.MeanIoU())
	for l, c := range a.Labels {
		if f, err := c.F1(); err == nil {
			r.PerLabelF1[l] = f
		}
	}
	res, err := a.Alpha()
	r.LabelAlpha, r.LabelAlphaUndefined = figure(res.Alpha, err)
	r.LabelAlphaPairs = res.PairableUnits
	return r
}

// AccuracyReport is accuracy against gold regions as the CLI prints it and the API serves it.
type AccuracyReport struct {
	// Values counts the values scored; TruePositives, Predicted and Gold are the counts behind
	// the figures.
	Values        int64 `json:"values"`
	TruePositives int64 `json:"true_positives"`
	Predicted     int64 `json:"predicted"`
	Gold          int64 `json:"gold"`

	Precision          *float64 `json:"precision"`
	PrecisionUndefined string   `json:"precision_undefined,omitempty"`
	Recall             *float64 `json:"recall"`
	RecallUndefined    string   `json:"recall_undefined,omitempty"`
	F1                 *float64 `json:"f1"`
	F1Undefined        string   `json:"f1_undefined,omitempty"`
	MeanIoU            *float64 `json:"mean_iou"`
	MeanIoUUndefined   string   `json:"mean_iou_undefined,omitempty"`
	// PerLabelF1 has every label the annotator or the gold used.
	PerLabelF1 map[string]float64 `json:"per_label_f1"`
}

// AccuracyReport reads the accuracy figures of a tally built with ScoreSpans or ScoreBoxes
// (A is the annotator, B the gold).
func (f Figures) AccuracyReport() AccuracyReport {
	r := AccuracyReport{
		Values: f.Units, TruePositives: f.Matched, Predicted: f.RegionsA, Gold: f.RegionsB,
		PerLabelF1: map[string]float64{},
	}
	r.Precision, r.PrecisionUndefined = figure(f.Precision())
	r.Recall, r.RecallUndefined = figure(f.Recall())
	r.F1, r.F1Undefined = figure(f.F1())
	r.MeanIoU, r.MeanIoUUndefined = figure(f.MeanIoU())
	for l, c := range f.Labels {
		if x, err := c.F1(); err == nil {
			r.PerLabelF1[l] = x
		}
	}
	return r
}

// figure turns a figure and its error into the report's pair: the value, or nil and why.
func figure(x float64, err error) (*float64, string) {
	if err != nil {
		if errors.Is(err, agreement.ErrUndefined) {
			return nil, err.Error()
		}
		return nil, "error: " + err.Error()
	}
	return &x, ""
}
