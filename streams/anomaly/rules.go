package anomaly

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/assay-data/assay/streams/agreement"
)

// Measure is one scope's agreement in one window: the figure, its standard error and the
// evidence behind it.
type Measure struct {
	// Value is the agreement (alpha, or the share of agreeing pairs).
	Value float64
	// SE is the standard error of Value or, when Fisher, of Fisher's z of Value.
	SE float64
	// Fisher says that the difference is tested on Fisher's z scale of alpha (FisherZ): the
	// scale of alpha's interval (agreement.AlphaInterval), on which its sampling
	// distribution, skewed near 1 on its own scale, is nearly normal.
	Fisher bool
	// Evidence is the pairable values (cohort, vendor) or compared labels (annotator), and
	// Units the pairable units (for Fisher's k, values per unit).
	Evidence, Units int64
	// Defined is false when the window has no usable figure (alpha undefined, or no
	// standard error).
	Defined bool
}

// FisherZ is Fisher's z transform of an intraclass correlation from K values per unit, the
// scale of alpha's interval: z = ½·ln((1 + (K−1)·α)/(1 − α)), for −1/(K−1) < α < 1.
type FisherZ struct{ K float64 }

// Z transforms alpha; false outside the transform's range.
func (f FisherZ) Z(a float64) (float64, bool) {
	lo := 1 + (f.K-1)*a
	if lo <= 0 || a >= 1 || f.K <= 1 {
		return 0, false
	}
	return 0.5 * math.Log(lo/(1-a)), true
}

// Alpha inverts Z: α = (e^{2z} − 1)/(e^{2z} + K − 1).
func (f FisherZ) Alpha(z float64) float64 {
	e := math.Exp(2 * z)
	if math.IsInf(e, 1) {
		return 1
	}
	return (e - 1) / (e + f.K - 1)
}

// DropRule is the agreement-drop rule: a scope's agreement in the current window against its
// own in the preceding window.
type DropRule struct {
	// MinEvidence is the evidence each window needs.
	MinEvidence int64
	// Z is the one-sided normal quantile of the false-alarm rate (2.326 for 1%).
	Z float64
	// MinDrop is the smallest drop that fires, however significant.
	MinDrop float64
}

// The reasons a rule did not fire.
const (
	ReasonNotEnoughData = "not_enough_data"
	ReasonUndefined     = "undefined"
	ReasonWithinNoise   = "within_noise"
	ReasonBelowMinimum  = "below_minimum"
)

// DropVerdict is what DropRule.Judge decided.
type DropVerdict struct {
	Fired bool
	// Drop is previous minus current.
	Drop float64
	// Scale names the scale of the significance test ("Fisher's z" for alpha, "" for the
	// figure's own), and ScaleDrop is the drop on it.
	Scale     string
	ScaleDrop float64
	// Margin is Z times the standard error of the difference (on the test's scale): the
	// difference noise reaches with probability at most the false-alarm rate.
	Margin float64
	// Threshold is the highest current value that would fire: the lower of previous minus
	// MinDrop and the value Margin below previous on the test's scale.
	Threshold float64
	// Reason says why the rule did not fire (one of the Reason constants); empty when it
	// fired.
	Reason string
}

// dropSlack absorbs float rounding in "drop >= MinDrop" (0.85 - 0.75 is 0.0999...).
const dropSlack = 1e-9

// Judge fires when both windows have at least MinEvidence and a defined figure, and the
// current value is below the previous one by more than Margin = Z·sqrt(SE_prev² + SE_cur²)
// on the test's scale and by at least MinDrop on the value's own. Under no change the
// difference of two independent estimates is about normal with that standard error, so
// noise alone fires at most the one-sided false-alarm rate of Z. Alpha is compared on
// Fisher's z scale with one K for both windows (their pooled values per unit), so that a
// change in the number of annotators per unit does not read as a change of agreement.
func (r DropRule) Judge(prev, cur Measure) DropVerdict {
	v := DropVerdict{Drop: prev.Value - cur.Value}
	if prev.Evidence < r.MinEvidence || cur.Evidence < r.MinEvidence {
		v.Reason = ReasonNotEnoughData
		return v
	}
	if !prev.Defined || !cur.Defined || !finiteAll(prev.Value, cur.Value, prev.SE, cur.SE) {
		v.Reason = ReasonUndefined
		return v
	}
	sp, sc, back := prev.Value, cur.Value, func(x float64) float64 { return x }
	if prev.Fisher || cur.Fisher {
		if !prev.Fisher || !cur.Fisher || prev.Units+cur.Units == 0 {
			v.Reason = ReasonUndefined
			return v
		}
		f := FisherZ{K: float64(prev.Evidence+cur.Evidence) / float64(prev.Units+cur.Units)}
		var okp, okc bool
		sp, okp = f.Z(prev.Value)
		sc, okc = f.Z(cur.Value)
		if !okp || !okc {
			v.Reason = ReasonUndefined
			return v
		}
		back, v.Scale = f.Alpha, "Fisher's z"
	}
	v.ScaleDrop = sp - sc
	v.Margin = r.Z * math.Hypot(prev.SE, cur.SE)
	v.Threshold = math.Min(prev.Value-r.MinDrop, back(sp-v.Margin))
	switch {
	case !(v.ScaleDrop > v.Margin):
		v.Reason = ReasonWithinNoise
	case v.Drop < r.MinDrop-dropSlack:
		v.Reason = ReasonBelowMinimum
	default:
		v.Fired = true
	}
	return v
}

func finiteAll(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// UnitLabels are the labels of one unit (an item's question at one level) that count: one
// annotator and canonical value per label, in matching order.
type UnitLabels struct {
	ProjectID, QuestionID, Level, ItemID string
	Annotators                           []string
	Values                               []agreement.Value
}

// AnnotatorAgreement is one annotator's agreement with the other annotators of the same
// units: every pair of one of its labels with another annotator's label of the same unit is
// compared, and agrees when the canonical values are equal (the definition of the API's
// annotator table, kpi_annotator_agreement).
type AnnotatorAgreement struct {
	ProjectID, QuestionID, Level, AnnotatorID string
	// Pairs and Agreeing count the compared and the equal pairs.
	Pairs, Agreeing int64
	// Labels counts the annotator's labels that were compared (in a unit with another
	// annotator's label): the evidence.
	Labels int64
	// SumSquaredPairs is the sum over those labels of the square of their pairs, for the
	// effective sample size of the standard error.
	SumSquaredPairs int64
}

// Measure returns the annotator's agreement p = Agreeing/Pairs with the binomial standard
// error sqrt(p(1-p)/n), n = Pairs²/SumSquaredPairs. Each label's share of agreeing pairs
// s lies in [0, 1], so Var(s) <= E[s](1-E[s]); labels of different units are independent,
// and p is their mean weighted by pairs, whose variance is at most p(1-p)·Σw²/(Σw)²: the
// binomial error over the effective number of labels is an upper bound, never an
// understatement.
func (a AnnotatorAgreement) Measure() Measure {
	if a.Pairs == 0 || a.SumSquaredPairs == 0 {
		return Measure{Evidence: a.Labels}
	}
	p := float64(a.Agreeing) / float64(a.Pairs)
	n := float64(a.Pairs) * float64(a.Pairs) / float64(a.SumSquaredPairs)
	return Measure{Value: p, SE: math.Sqrt(p * (1 - p) / n), Evidence: a.Labels, Defined: true}
}

// AnnotatorAgreements compares every label of units with the other annotators' labels of
// its unit and sums the comparisons per (project, question, level, annotator), in that
// order. Two labels of one annotator in a unit are not compared with each other.
func AnnotatorAgreements(units []UnitLabels) []AnnotatorAgreement {
	type key struct{ project, question, level, annotator string }
	by := map[key]*AnnotatorAgreement{}
	for _, u := range units {
		for i, a := range u.Annotators {
			var pairs, agreeing int64
			for j, b := range u.Annotators {
				if b == a {
					continue
				}
				pairs++
				if u.Values[j] == u.Values[i] {
					agreeing++
				}
			}
			if pairs == 0 {
				continue
			}
			k := key{u.ProjectID, u.QuestionID, u.Level, a}
			f := by[k]
			if f == nil {
				f = &AnnotatorAgreement{ProjectID: k.project, QuestionID: k.question, Level: k.level, AnnotatorID: a}
				by[k] = f
			}
			f.Pairs += pairs
			f.Agreeing += agreeing
			f.Labels++
			f.SumSquaredPairs += pairs * pairs
		}
	}
	keys := slices.SortedFunc(maps.Keys(by), func(x, y key) int {
		return cmp.Or(cmp.Compare(x.project, y.project), cmp.Compare(x.question, y.question),
			cmp.Compare(x.level, y.level), cmp.Compare(x.annotator, y.annotator))
	})
	out := make([]AnnotatorAgreement, len(keys))
	for i, k := range keys {
		out[i] = *by[k]
	}
	return out
}

// Distribution is a question's labels in one span: how many carry each canonical value, and
// how they cluster in units (labels of one item are not independent draws).
type Distribution struct {
	// Counts are the labels per canonical value.
	Counts map[agreement.Value]int64
	// SumSquares is the sum over units of the square of their labels in the span; at least
	// the number of labels (zero is read as every label a unit of its own).
	SumSquares int64
}

// Labels is the number of labels.
func (d Distribution) Labels() int64 {
	var n int64
	for _, c := range d.Counts {
		n += c
	}
	return n
}

// effectiveSize is Labels²/SumSquares: the number of independent labels with the same
// variance of a share (each unit contributes its labels' count squared).
func (d Distribution) effectiveSize() float64 {
	n := float64(d.Labels())
	ss := math.Max(float64(d.SumSquares), n)
	if ss == 0 {
		return 0
	}
	return n * n / ss
}

// TotalVariation is the total-variation distance between the shares of two distributions:
// half the sum over values of the absolute difference of their shares, in [0, 1]. It is 0
// when either is empty.
func TotalVariation(p, q Distribution) float64 {
	np, nq := float64(p.Labels()), float64(q.Labels())
	if np == 0 || nq == 0 {
		return 0
	}
	var sum float64
	for _, v := range unionValues(p, q) {
		sum += math.Abs(float64(p.Counts[v])/np - float64(q.Counts[v])/nq)
	}
	return sum / 2
}

func unionValues(p, q Distribution) []agreement.Value {
	vs := slices.Collect(maps.Keys(p.Counts))
	for v := range q.Counts {
		if _, ok := p.Counts[v]; !ok {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs
}

// DriftRule is the label-drift rule: a question's label distribution in the current window
// against its baseline.
type DriftRule struct {
	// MinLabels is the labels the current window and the baseline each need.
	MinLabels int64
	// MaxDrift is the largest total-variation distance tolerated (the project's
	// max_label_drift).
	MaxDrift float64
	// FalseAlarm is the probability that noise alone exceeds the noise bound.
	FalseAlarm float64
}

// DriftVerdict is what DriftRule.Judge decided.
type DriftVerdict struct {
	Fired bool
	// Distance is the total-variation distance between the current window and the
	// baseline.
	Distance float64
	// NoiseBound is the distance sampling noise alone stays under with probability at least
	// 1 - FalseAlarm when both spans draw from the same distribution.
	NoiseBound float64
	// Threshold is max(MaxDrift, NoiseBound): the distance that fires.
	Threshold float64
	// Shifts are the values whose share moved the most, largest first (at most five).
	Shifts []Shift
	// Reason says why the rule did not fire; empty when it fired.
	Reason string
}

// maxShifts is how many values a verdict lists.
const maxShifts = 5

// Judge fires when both spans have at least MinLabels labels and their total-variation
// distance exceeds both MaxDrift and the noise bound. The noise bound holds without any
// assumption on the distribution (see doc.go, "label_drift"): with v = 1/n_cur + 1/n_base
// over the effective sizes (labels²/Σ labels-per-unit²), E[TV] <= ½ Σ sqrt(p(1-p)·v) over
// the pooled shares p (Jensen), and TV moves by at most m/n when the m labels of one unit
// change, so by McDiarmid's inequality P(TV > E[TV] + t) <= exp(-2t²/v): t = sqrt(v·ln(1/α)/2).
func (r DriftRule) Judge(cur, base Distribution) DriftVerdict {
	var v DriftVerdict
	nc, nb := cur.Labels(), base.Labels()
	if nc < r.MinLabels || nb < r.MinLabels || nc == 0 || nb == 0 {
		v.Reason = ReasonNotEnoughData
		return v
	}
	v.Distance = TotalVariation(cur, base)
	variance := 1/cur.effectiveSize() + 1/base.effectiveSize()
	var spread float64
	for _, x := range unionValues(cur, base) {
		p := float64(cur.Counts[x]+base.Counts[x]) / float64(nc+nb)
		spread += math.Sqrt(p * (1 - p))
		v.Shifts = append(v.Shifts, Shift{Value: string(x),
			Current: float64(cur.Counts[x]) / float64(nc), Baseline: float64(base.Counts[x]) / float64(nb)})
	}
	v.NoiseBound = spread*math.Sqrt(variance)/2 + math.Sqrt(variance*math.Log(1/r.FalseAlarm)/2)
	v.Threshold = math.Max(r.MaxDrift, v.NoiseBound)
	slices.SortStableFunc(v.Shifts, func(a, b Shift) int {
		return cmp.Compare(math.Abs(b.Current-b.Baseline), math.Abs(a.Current-a.Baseline))
	})
	v.Shifts = v.Shifts[:min(len(v.Shifts), maxShifts)]
	switch {
	case v.Distance <= v.NoiseBound:
		v.Reason = ReasonWithinNoise
	case v.Distance <= r.MaxDrift:
		v.Reason = ReasonBelowMinimum
	default:
		v.Fired = true
	}
	return v
}

// describeShift is a shift in words for an anomaly's detail.
func describeShift(s Shift) string {
	return fmt.Sprintf("%q %.0f%% (baseline %.0f%%)", s.Value, 100*s.Current, 100*s.Baseline)
}
