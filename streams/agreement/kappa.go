package agreement

import (
	"cmp"
	"fmt"
	"slices"
)

// Weighting selects the disagreement weights of Cohen's kappa, as scikit-learn's
// cohen_kappa_score(weights=...) does.
type Weighting int

const (
	// Unweighted counts every disagreement the same (weights=None).
	Unweighted Weighting = iota
	// Linear weighs a disagreement by |i−j|, the distance between the label positions.
	Linear
	// Quadratic weighs a disagreement by (i−j)².
	Quadratic
)

// String returns the name scikit-learn uses ("none" for Unweighted).
func (w Weighting) String() string {
	switch w {
	case Unweighted:
		return "none"
	case Linear:
		return "linear"
	case Quadratic:
		return "quadratic"
	}
	return fmt.Sprintf("Weighting(%d)", int(w))
}

// CohenKappa is Cohen's (1960) kappa between two raters who rated the same units, a[i] and
// b[i] being their values for unit i; with Linear or Quadratic weights it is Cohen's (1968)
// weighted kappa. It follows scikit-learn's cohen_kappa_score: the labels are the union of
// both raters' values, ordered numerically when all are numbers and as text otherwise, and
// weights depend on label positions in that order, not on the values themselves.
// The result is undefined (ErrUndefined) when expected disagreement is zero.
func CohenKappa(a, b []Value, w Weighting) (KappaResult, error) {
	r := KappaResult{RatersPerUnit: 2, PairableUnits: int64(len(a)), PairableValues: 2 * int64(len(a))}
	if len(a) != len(b) {
		return r, fmt.Errorf("cohen kappa: raters have %d and %d values", len(a), len(b))
	}
	if len(a) == 0 {
		return r, fmt.Errorf("cohen kappa: %w", ErrNoPairableValues)
	}
	labels := orderLabels(append(slices.Clone(a), b...))
	pos := make(map[Value]int, len(labels))
	for i, v := range labels {
		pos[v] = i
	}
	k := len(labels)
	conf := make([]float64, k*k)
	rows := make([]float64, k)
	cols := make([]float64, k)
	for i := range a {
		x, y := pos[a[i]], pos[b[i]]
		conf[x*k+y]++
		rows[x]++
		cols[y]++
	}
	n := float64(len(a))
	var num, den, agree, chance float64
	for i := range k {
		for j := range k {
			var wt float64
			switch d := float64(i - j); w {
			case Unweighted:
				if i != j {
					wt = 1
				}
			case Linear:
				wt = max(d, -d)
			case Quadratic:
				wt = d * d
			default:
				return r, fmt.Errorf("cohen kappa: unknown weighting %v", w)
			}
			expected := rows[i] * cols[j] / n
			num += wt * conf[i*k+j]
			den += wt * expected
			if i == j {
				agree += conf[i*k+j]
				chance += expected
			}
		}
	}
	r.ObservedAgreement = agree / n
	r.ExpectedAgreement = chance / n
	if den == 0 {
		return r, fmt.Errorf("cohen kappa: %w", ErrNoVariation)
	}
	r.Kappa = 1 - num/den
	return r, nil
}

// orderLabels returns the distinct values, numerically ordered when every one is a number
// (so ranks 2 < 10) and in text order otherwise, matching numpy's sort of the label set.
func orderLabels(vals []Value) []Value {
	s := slices.Clone(vals)
	slices.Sort(s)
	s = slices.Compact(s)
	nums := make(map[Value]float64, len(s))
	for _, v := range s {
		x, err := v.Float()
		if err != nil {
			return s
		}
		nums[v] = x
	}
	slices.SortStableFunc(s, func(x, y Value) int { return cmp.Compare(nums[x], nums[y]) })
	return s
}
