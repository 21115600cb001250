package preference

import (
	"fmt"
	"math"
	"math/big"

	"github.com/assay-data/assay/streams/agreement"
)

// ExpectedUnit is the least common multiple of 1..MaxResponses. A label comparing k responses
// adds ExpectedUnit/k, a whole number, to BiasCounts.ExpectedScaled, so the sum of 1/k over the
// labels is kept exactly in an int64 (up to 39.6 billion labels) and subtracting a label restores
// the previous counts bit for bit.
const ExpectedUnit = 232792560

// MethodWilson names the interval Wilson computes.
const MethodWilson = "wilson"

// BiasCounts are the additive counts behind position bias for any set of labels (one
// annotator's, a cohort's, all of them: the caller groups). Counts of disjoint sets add up
// (Add), and a label's counts come off exactly (Sub).
type BiasCounts struct {
	// FirstChosen counts the labels whose choice is the response shown first.
	FirstChosen int64 `json:"first_chosen"`
	// Labels counts the labels.
	Labels int64 `json:"labels"`
	// ExpectedScaled is Σ 1/k over the labels, k a label's number of responses, times
	// ExpectedUnit: the number of first-shown choices expected without position bias, scaled.
	ExpectedScaled int64 `json:"expected_scaled"`
}

// BiasOf returns one label's counts; l must be valid (Validate), an error names the field
// otherwise.
func BiasOf(l Label) (BiasCounts, error) {
	k := len(l.Responses)
	if k < 2 || k > MaxResponses {
		return BiasCounts{}, fieldErr("responses", "must list 2 to %d responses, got %d", MaxResponses, k)
	}
	if err := l.oneOf("shown_first", l.ShownFirst); err != nil {
		return BiasCounts{}, err
	}
	if err := l.oneOf("choice", l.Choice); err != nil {
		return BiasCounts{}, err
	}
	c := BiasCounts{Labels: 1, ExpectedScaled: ExpectedUnit / int64(k)}
	if l.ChoseFirstShown() {
		c.FirstChosen = 1
	}
	return c, nil
}

// Add returns the counts of the union of two disjoint sets of labels.
func (c BiasCounts) Add(o BiasCounts) BiasCounts {
	return BiasCounts{c.FirstChosen + o.FirstChosen, c.Labels + o.Labels, c.ExpectedScaled + o.ExpectedScaled}
}

// Sub returns c without the labels counted in o (a retracted label, a partition's old partial).
func (c BiasCounts) Sub(o BiasCounts) BiasCounts {
	return BiasCounts{c.FirstChosen - o.FirstChosen, c.Labels - o.Labels, c.ExpectedScaled - o.ExpectedScaled}
}

// Bias is position bias: how often the annotators chose the response they were shown first,
// against how often they would without bias.
type Bias struct {
	// Share is FirstChosen/Labels.
	Share float64 `json:"share"`
	// Interval is the Wilson score interval around Share.
	Interval agreement.Interval `json:"interval"`
	// Expected is the share without position bias: the mean of 1/k over the labels (1/2 when
	// every item compares two responses).
	Expected float64 `json:"expected"`
	// ExcludesExpected is true when Expected lies outside Interval: evidence of position bias
	// (towards the first-shown response when Share > Expected, away from it otherwise).
	ExcludesExpected bool  `json:"excludes_expected"`
	FirstChosen      int64 `json:"first_chosen"`
	Labels           int64 `json:"labels"`
}

// Bias computes position bias and its interval at the given confidence
// (agreement.DefaultConfidence for 95%). Without labels it is undefined (an error wrapping
// agreement.ErrUndefined); counts that no set of labels can have (negative, more first-shown
// choices than labels, an expectation outside [1/MaxResponses, 1/2] per label) are an error.
func (c BiasCounts) Bias(confidence float64) (Bias, error) {
	if c.Labels == 0 && c.FirstChosen == 0 && c.ExpectedScaled == 0 {
		return Bias{}, fmt.Errorf("position bias: no labels: %w", agreement.ErrUndefined)
	}
	if c.Labels <= 0 || c.FirstChosen < 0 || c.FirstChosen > c.Labels ||
		c.ExpectedScaled < c.Labels*(ExpectedUnit/MaxResponses) || c.ExpectedScaled > c.Labels*(ExpectedUnit/2) {
		return Bias{}, fmt.Errorf("position bias: inconsistent counts %+v", c)
	}
	iv, err := Wilson(c.FirstChosen, c.Labels, confidence)
	if err != nil {
		return Bias{}, fmt.Errorf("position bias: %w", err)
	}
	// Correctly rounded, so every reader of the same counts reports the same float.
	expected, _ := new(big.Rat).SetFrac(big.NewInt(c.ExpectedScaled),
		new(big.Int).Mul(big.NewInt(c.Labels), big.NewInt(ExpectedUnit))).Float64()
	return Bias{
		Share:            float64(c.FirstChosen) / float64(c.Labels),
		Interval:         iv,
		Expected:         expected,
		ExcludesExpected: expected < iv.Low || expected > iv.High,
		FirstChosen:      c.FirstChosen,
		Labels:           c.Labels,
	}, nil
}

// Wilson is the Wilson score interval for a proportion, successes out of trials, at the given
// confidence (Wilson 1927; Brown, Cai and DasGupta 2001): the p whose score test
// |p̂ − p| ≤ z·√(p(1−p)/n) does not reject, namely
//
//	(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)
//
// with z the standard normal quantile at (1+confidence)/2. It is always inside [0, 1], and
// exactly 0 (1) at its lower (upper) end when there are no successes (failures). Without
// trials it is undefined (an error wrapping agreement.ErrUndefined).
func Wilson(successes, trials int64, confidence float64) (agreement.Interval, error) {
	if !(confidence > 0 && confidence < 1) {
		return agreement.Interval{}, fmt.Errorf("wilson interval: confidence %v is not between 0 and 1", confidence)
	}
	if trials == 0 {
		return agreement.Interval{}, fmt.Errorf("wilson interval: no trials: %w", agreement.ErrUndefined)
	}
	if trials < 0 || successes < 0 || successes > trials {
		return agreement.Interval{}, fmt.Errorf("wilson interval: %d successes out of %d trials", successes, trials)
	}
	z := math.Sqrt2 * math.Erfinv(confidence)
	n := float64(trials)
	p := float64(successes) / n
	z2n := z * z / n
	center := (p + z2n/2) / (1 + z2n)
	half := z * math.Sqrt(p*(1-p)/n+z2n/(4*n)) / (1 + z2n)
	iv := agreement.Interval{
		Low:    max(0, center-half),
		High:   min(1, center+half),
		Level:  confidence,
		Method: MethodWilson,
	}
	// At p̂ = 0 (1) the lower (upper) end is 0 (1) exactly; floating point would leave a
	// rounding error of either sign there.
	if successes == 0 {
		iv.Low = 0
	}
	if successes == trials {
		iv.High = 1
	}
	return iv, nil
}
