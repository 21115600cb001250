package regions

import (
	"fmt"
	"maps"
	"slices"

	"github.com/assay-data/assay/streams/agreement"
)

// Reasons a figure is undefined; each wraps agreement.ErrUndefined, so callers test one error
// for every figure of Assay.
var (
	// ErrNoRegions: neither side has a region, so F1 (or precision, or recall) divides by zero.
	ErrNoRegions = fmt.Errorf("%w: no regions to compare", agreement.ErrUndefined)
	// ErrNoMatches: no pair was matched, so there is no IoU to average.
	ErrNoMatches = fmt.Errorf("%w: no matched pairs", agreement.ErrUndefined)
)

// Counts is the additive tally behind F1, mean IoU, precision and recall, for all labels or
// for one. For agreement, A and B are the two annotators of a pair; for accuracy, A is the
// annotator (the prediction) and B the gold.
type Counts struct {
	// Matched is the number of matched pairs (true positives against gold).
	Matched int64 `json:"matched"`
	// RegionsA and RegionsB are the regions of the first and of the second list (predicted
	// and gold against gold).
	RegionsA int64 `json:"regions_a"`
	RegionsB int64 `json:"regions_b"`
	// IoUMicro is the sum of the matched pairs' IoU in millionths (Micro).
	IoUMicro int64 `json:"iou_micro"`
}

// F1 is 2·Matched / (RegionsA + RegionsB): pairwise F1 (Hripcsak and Rothschild's positive
// specific agreement) between annotators, or F1 against gold. Undefined without regions.
func (c Counts) F1() (float64, error) {
	if c.RegionsA+c.RegionsB == 0 {
		return 0, ErrNoRegions
	}
	return 2 * float64(c.Matched) / float64(c.RegionsA+c.RegionsB), nil
}

// MeanIoU is the mean IoU of the matched pairs: IoUMicro / Matched / 10^6.
func (c Counts) MeanIoU() (float64, error) {
	if c.Matched == 0 {
		return 0, ErrNoMatches
	}
	return float64(c.IoUMicro) / float64(c.Matched) / IoUScale, nil
}

// Precision is Matched / RegionsA: the share of the annotator's regions that match gold.
func (c Counts) Precision() (float64, error) {
	if c.RegionsA == 0 {
		return 0, fmt.Errorf("precision: %w", ErrNoRegions)
	}
	return float64(c.Matched) / float64(c.RegionsA), nil
}

// Recall is Matched / RegionsB: the share of the gold regions the annotator matched.
func (c Counts) Recall() (float64, error) {
	if c.RegionsB == 0 {
		return 0, fmt.Errorf("recall: %w", ErrNoRegions)
	}
	return float64(c.Matched) / float64(c.RegionsB), nil
}

func (c *Counts) add(o Counts, sign int64) {
	c.Matched += sign * o.Matched
	c.RegionsA += sign * o.RegionsA
	c.RegionsB += sign * o.RegionsB
	c.IoUMicro += sign * o.IoUMicro
}

// covers reports whether c holds at least o in every field, i.e. o can be taken out of c.
func (c Counts) covers(o Counts) bool {
	return c.Matched >= o.Matched && c.RegionsA >= o.RegionsA && c.RegionsB >= o.RegionsB && c.IoUMicro >= o.IoUMicro
}

// Figures is the additive tally of a same-label matching over a set of unit pairs: for
// agreement, every unit and every pair of annotators who both labeled it; for accuracy, every
// value scored against its unit's gold. A stream processor adds one unit pair's contribution
// (CompareSpans, ScoreSpans, ...) with Merge and takes it out again with Subtract when a label
// is retracted or a window slides; every field is an integer, so the result is exact and does
// not depend on the order. The zero value is an empty tally.
type Figures struct {
	// Units counts the unit pairs (agreement) or scored values (accuracy) added, including
	// those where both lists were empty: they are valid labels that contribute nothing else.
	Units int64 `json:"units"`
	Counts
	// Labels is the same tally per label. A label appears once some region carries it.
	Labels map[string]Counts `json:"labels,omitempty"`
}

// Merge adds o into f.
func (f *Figures) Merge(o Figures) {
	f.Units += o.Units
	f.Counts.add(o.Counts, 1)
	for l, c := range o.Labels {
		if f.Labels == nil {
			f.Labels = map[string]Counts{}
		}
		n := f.Labels[l]
		n.add(c, 1)
		f.setLabel(l, n)
	}
}

// Subtract takes o, merged into f earlier, out of f. It fails without changing f if o holds
// more than f anywhere, which would mean o was never part of f.
func (f *Figures) Subtract(o Figures) error {
	if err := f.checkCovers(o); err != nil {
		return err
	}
	f.Units -= o.Units
	f.Counts.add(o.Counts, -1)
	for l, c := range o.Labels {
		n := f.Labels[l]
		n.add(c, -1)
		f.setLabel(l, n)
	}
	return nil
}

func (f *Figures) checkCovers(o Figures) error {
	if f.Units < o.Units || !f.Counts.covers(o.Counts) {
		return fmt.Errorf("subtract region figures: %+v (%d units) holds less than %+v (%d units)", f.Counts, f.Units, o.Counts, o.Units)
	}
	for l, c := range o.Labels {
		if !f.Labels[l].covers(c) {
			return fmt.Errorf("subtract region figures: label %q has %+v, less than %+v", l, f.Labels[l], c)
		}
	}
	return nil
}

// setLabel stores a label's tally, dropping it when it is back to zero so that equal data
// always gives equal maps (Equal, and exact undo of Merge by Subtract).
func (f *Figures) setLabel(l string, c Counts) {
	if c == (Counts{}) {
		delete(f.Labels, l)
		if len(f.Labels) == 0 {
			f.Labels = nil
		}
		return
	}
	f.Labels[l] = c
}

// Clone returns an independent copy.
func (f Figures) Clone() Figures {
	f.Labels = maps.Clone(f.Labels)
	return f
}

// Equal reports whether two tallies hold exactly the same counts.
func (f Figures) Equal(o Figures) bool {
	return f.Units == o.Units && f.Counts == o.Counts && maps.Equal(f.Labels, o.Labels)
}

// LabelNames returns the labels of the tally, sorted.
func (f Figures) LabelNames() []string { return slices.Sorted(maps.Keys(f.Labels)) }

// Agreement is the additive tally of region agreement: the same-label matching's Figures
// (pairwise F1, mean IoU, per-label F1) and the any-label matching's coincidences (label
// alpha). Like Figures it is merged and subtracted exactly; the zero value is empty.
type Agreement struct {
	Figures
	// LabelAlpha holds the any-label matching: each matched pair is a unit with two values,
	// its two labels, in Krippendorff's coincidence matrix. Nil means empty.
	LabelAlpha *agreement.Coincidences `json:"label_alpha"`
}

// Merge adds o into a.
func (a *Agreement) Merge(o Agreement) {
	a.Figures.Merge(o.Figures)
	if o.LabelAlpha != nil {
		if a.LabelAlpha == nil {
			a.LabelAlpha = agreement.NewCoincidences()
		}
		a.LabelAlpha.Merge(o.LabelAlpha)
	}
}

// Subtract takes o, merged into a earlier, out of a; it fails without changing a if o was
// never part of a.
func (a *Agreement) Subtract(o Agreement) error {
	if err := a.Figures.checkCovers(o.Figures); err != nil {
		return err
	}
	if o.LabelAlpha != nil {
		if a.LabelAlpha == nil {
			a.LabelAlpha = agreement.NewCoincidences()
		}
		if err := a.LabelAlpha.Subtract(o.LabelAlpha); err != nil {
			return fmt.Errorf("subtract region agreement: %w", err)
		}
	}
	return a.Figures.Subtract(o.Figures)
}

// Clone returns an independent copy.
func (a Agreement) Clone() Agreement {
	a.Figures = a.Figures.Clone()
	if a.LabelAlpha != nil {
		a.LabelAlpha = a.LabelAlpha.Clone()
	}
	return a
}

// Equal reports whether two tallies hold exactly the same counts.
func (a Agreement) Equal(o Agreement) bool {
	x, y := a.LabelAlpha, o.LabelAlpha
	if x == nil {
		x = agreement.NewCoincidences()
	}
	if y == nil {
		y = agreement.NewCoincidences()
	}
	return a.Figures.Equal(o.Figures) && x.Equal(y)
}

// Alpha is label alpha: Krippendorff's alpha, nominal, over the any-label matching's pairs.
// It is undefined (agreement.ErrUndefined) without matched pairs or when every matched pair
// carries one and the same label.
func (a Agreement) Alpha() (agreement.AlphaResult, error) {
	co := a.LabelAlpha
	if co == nil {
		co = agreement.NewCoincidences()
	}
	return co.Alpha(agreement.Nominal)
}

// CompareSpans is one unit pair's contribution to region agreement: two annotators' spans on
// one unit, matched at threshold t by the same-label rule (Figures) and by the any-label rule
// (LabelAlpha). Either list may be empty. It is a deterministic function of the two lists, so
// a processor can recompute a contribution to subtract it.
func CompareSpans(a, b []Span, t float64) (Agreement, error) {
	if err := checkMatch(len(a), len(b), t, SameLabel); err != nil {
		return Agreement{}, err
	}
	return compare(a, b, prepareSpans(a, b), t), nil
}

// CompareBoxes is CompareSpans for boxes.
func CompareBoxes(a, b []Box, t float64) (Agreement, error) {
	if err := checkMatch(len(a), len(b), t, SameLabel); err != nil {
		return Agreement{}, err
	}
	return compare(a, b, prepareBoxes(a, b), t), nil
}

// ScoreSpans is one value's contribution to accuracy against gold: the annotator's spans
// (RegionsA, predicted) against the gold spans (RegionsB), matched at threshold t by the
// same-label rule; Matched counts the true positives.
func ScoreSpans(predicted, gold []Span, t float64) (Figures, error) {
	if err := checkMatch(len(predicted), len(gold), t, SameLabel); err != nil {
		return Figures{}, err
	}
	return tally(predicted, gold, prepareSpans(predicted, gold), t), nil
}

// ScoreBoxes is ScoreSpans for boxes.
func ScoreBoxes(predicted, gold []Box, t float64) (Figures, error) {
	if err := checkMatch(len(predicted), len(gold), t, SameLabel); err != nil {
		return Figures{}, err
	}
	return tally(predicted, gold, prepareBoxes(predicted, gold), t), nil
}

func compare[R region[R]](a, b []R, l *lists, t float64) Agreement {
	out := Agreement{Figures: tally(a, b, l, t)}
	pairs := l.match(t, AnyLabel)
	if len(pairs) > 0 {
		out.LabelAlpha = agreement.NewCoincidences()
		for _, p := range pairs {
			out.LabelAlpha.AddUnit([]agreement.Value{agreement.Category(a[p.A].label()), agreement.Category(b[p.B].label())})
		}
	}
	return out
}

// tally matches a and b by the same-label rule and counts the result.
func tally[R region[R]](a, b []R, l *lists, t float64) Figures {
	pairs := l.match(t, SameLabel)
	f := Figures{Units: 1, Counts: Counts{RegionsA: int64(len(a)), RegionsB: int64(len(b))}}
	bump := func(l string, c Counts) {
		if f.Labels == nil {
			f.Labels = map[string]Counts{}
		}
		n := f.Labels[l]
		n.add(c, 1)
		f.Labels[l] = n
	}
	for _, r := range a {
		bump(r.label(), Counts{RegionsA: 1})
	}
	for _, r := range b {
		bump(r.label(), Counts{RegionsB: 1})
	}
	for _, p := range pairs {
		m := Micro(p.IoU)
		f.Matched++
		f.IoUMicro += m
		bump(a[p.A].label(), Counts{Matched: 1, IoUMicro: m})
	}
	return f
}
