package agreement

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
)

// AlphaResult is Krippendorff's alpha with the disagreements it compares and its evidence.
type AlphaResult struct {
	Level string  `json:"level"`
	Alpha float64 `json:"alpha"`
	// ObservedDisagreement is D_o = (1/n..) Σ_c Σ_k o_ck·δ²_ck.
	ObservedDisagreement float64 `json:"observed_disagreement"`
	// ExpectedDisagreement is D_e = 1/(n..(n..−1)) Σ_c Σ_k n_c·n_k·δ²_ck.
	ExpectedDisagreement float64 `json:"expected_disagreement"`
	PairableUnits        int64   `json:"pairable_units"`
	PairableValues       int64   `json:"pairable_values"`
}

// Alpha computes Krippendorff's alpha = 1 − D_o/D_e at the given level (Krippendorff 2011,
// "Computing Krippendorff's Alpha-Reliability"). Values must be of the level's form: numbers
// for Ordinal (ranks, ordered numerically), IntervalLevel and Ratio, sets for MASI and Jaccard.
// Named ordinal categories go through AlphaOrdinal.
//
// Cost is O(C log C) for the C stored cells, plus O(V log V) for V distinct values at the
// nominal, ordinal and interval levels and O(V²) distance evaluations at the ratio, MASI and
// Jaccard levels, whose expected disagreement has no closed form.
func (c *Coincidences) Alpha(level Level) (AlphaResult, error) {
	vs, err := c.prepare()
	if err != nil {
		return vs.result(level), err
	}
	switch level {
	case Nominal:
		return vs.alphaNominal()
	case Ordinal:
		ranks := make([]float64, len(vs.values))
		for i, v := range vs.values {
			if ranks[i], err = v.Float(); err != nil {
				return vs.result(level), fmt.Errorf("ordinal alpha: %w (named categories need AlphaOrdinal)", err)
			}
		}
		return vs.alphaOrdinal(ranks)
	case IntervalLevel:
		x, err := vs.floats(level)
		if err != nil {
			return vs.result(level), err
		}
		return vs.alphaCoordinates(IntervalLevel, x)
	case Ratio:
		x, err := vs.floats(level)
		if err != nil {
			return vs.result(level), err
		}
		for i, xi := range x {
			if xi < 0 {
				return vs.result(level), fmt.Errorf("ratio alpha: value %q is negative", vs.values[i])
			}
		}
		return vs.alphaPairwise(Ratio, func(i, j int) float64 {
			s := x[i] + x[j]
			if s == 0 {
				return 0
			}
			d := (x[i] - x[j]) / s
			return d * d
		})
	case MASI, Jaccard:
		sets := make([][]string, len(vs.values))
		for i, v := range vs.values {
			if sets[i], err = v.Labels(); err != nil {
				return vs.result(level), fmt.Errorf("%v alpha: %w", level, err)
			}
		}
		dist := masi
		if level == Jaccard {
			dist = jaccard
		}
		return vs.alphaPairwise(level, func(i, j int) float64 { return dist(sets[i], sets[j]) })
	}
	return vs.result(level), fmt.Errorf("alpha: unknown level %v", level)
}

// AlphaOrdinal computes ordinal alpha for named categories ranked by their position in order
// (e.g. "low", "mid", "high"). Every observed value must appear in order.
func (c *Coincidences) AlphaOrdinal(order []Value) (AlphaResult, error) {
	vs, err := c.prepare()
	if err != nil {
		return vs.result(Ordinal), err
	}
	pos := make(map[Value]int, len(order))
	for i, v := range order {
		if _, dup := pos[v]; dup {
			return vs.result(Ordinal), fmt.Errorf("ordinal alpha: %q appears twice in the order", v)
		}
		pos[v] = i
	}
	ranks := make([]float64, len(vs.values))
	for i, v := range vs.values {
		p, ok := pos[v]
		if !ok {
			return vs.result(Ordinal), fmt.Errorf("ordinal alpha: value %q is not in the order", v)
		}
		ranks[i] = float64(p)
	}
	return vs.alphaOrdinal(ranks)
}

// valueSpace is the dense form of a partial that alpha is computed from: the distinct values
// sorted, their marginals n_c, n.., and the off-diagonal coincidences as index pairs. Only
// off-diagonal cells matter for disagreement, since δ_cc = 0 for every metric.
type valueSpace struct {
	values []Value
	n      []int64 // marginals, by index into values
	total  int64   // n..
	units  int64
	off    []offCell
}

type offCell struct {
	i, j int
	o    float64 // o_ij = o_ji, already divided by m−1
}

// prepare densifies the partial in a deterministic order, so that float sums and hence the
// result are identical whatever order the data arrived in.
func (c *Coincidences) prepare() (valueSpace, error) {
	marg := c.Marginals()
	vs := valueSpace{values: slices.Sorted(maps.Keys(marg)), units: c.PairableUnits()}
	idx := make(map[Value]int, len(vs.values))
	vs.n = make([]int64, len(vs.values))
	for i, v := range vs.values {
		idx[v] = i
		vs.n[i] = marg[v]
		vs.total += marg[v]
	}
	for _, x := range c.Cells() {
		if x.A != x.B {
			vs.off = append(vs.off, offCell{idx[x.A], idx[x.B], float64(x.Count) / float64(x.UnitSize-1)})
		}
	}
	if vs.total == 0 {
		return vs, ErrNoPairableValues
	}
	return vs, nil
}

func (vs valueSpace) result(level Level) AlphaResult {
	return AlphaResult{Level: level.String(), PairableUnits: vs.units, PairableValues: vs.total}
}

func (vs valueSpace) floats(level Level) ([]float64, error) {
	x := make([]float64, len(vs.values))
	for i, v := range vs.values {
		var err error
		if x[i], err = v.Float(); err != nil {
			return nil, fmt.Errorf("%v alpha: %w", level, err)
		}
	}
	return x, nil
}

// finish turns the two disagreement sums into alpha. doSum is Σ o_ck δ_ck and deSum is
// Σ n_c n_k δ_ck, both over all ordered pairs (c, k).
func (vs valueSpace) finish(level Level, doSum, deSum float64) (AlphaResult, error) {
	r := vs.result(level)
	n := float64(vs.total)
	r.ObservedDisagreement = doSum / n
	r.ExpectedDisagreement = deSum / (n * (n - 1))
	if deSum <= 0 {
		return r, fmt.Errorf("%v alpha: %w", level, ErrNoVariation)
	}
	r.Alpha = 1 - r.ObservedDisagreement/r.ExpectedDisagreement
	return r, nil
}

// alphaNominal uses δ = 1 for every pair of different values, where D_e has the closed form
// n..² − Σ n_c².
func (vs valueSpace) alphaNominal() (AlphaResult, error) {
	var doSum float64
	for _, x := range vs.off {
		doSum += 2 * x.o
	}
	if len(vs.values) < 2 {
		return vs.finish(Nominal, doSum, 0)
	}
	n := float64(vs.total)
	de := n * n
	for _, c := range vs.n {
		de -= float64(c) * float64(c)
	}
	return vs.finish(Nominal, doSum, de)
}

// alphaOrdinal applies Krippendorff's (2011) ordinal metric,
// δ_ck = (Σ_{g=c..k} n_g − (n_c+n_k)/2)², where the sum runs over the ranks from c to k.
// Writing N_g for the cumulative count up to and including rank g, that is (M_k − M_c)² with
// M_g = N_g − n_g/2, so ordinal alpha is interval alpha on the coordinates M, and D_e gets the
// interval closed form. Values that share a rank share a coordinate.
func (vs valueSpace) alphaOrdinal(ranks []float64) (AlphaResult, error) {
	order := make([]int, len(ranks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ranks[a], ranks[b]) })
	coord := make([]float64, len(ranks))
	var cum int64
	for s := 0; s < len(order); {
		e := s
		var ng int64
		for e < len(order) && ranks[order[e]] == ranks[order[s]] {
			ng += vs.n[order[e]]
			e++
		}
		cum += ng
		for _, i := range order[s:e] {
			coord[i] = float64(cum) - float64(ng)/2
		}
		s = e
	}
	return vs.alphaCoordinates(Ordinal, coord)
}

// alphaCoordinates handles metrics of the form δ = (x_c − x_k)². D_e uses the identity
// Σ_c Σ_k n_c n_k (x_c − x_k)² = 2 n.. Σ_c n_c (x_c − x̄)², computed about the mean for
// numerical stability, which keeps D_e O(V) even for continuous data with many values.
func (vs valueSpace) alphaCoordinates(level Level, x []float64) (AlphaResult, error) {
	var doSum float64
	for _, c := range vs.off {
		d := x[c.i] - x[c.j]
		doSum += 2 * c.o * d * d
	}
	distinct := map[float64]bool{}
	var mean float64
	for i, xi := range x {
		if vs.n[i] > 0 {
			distinct[xi] = true
		}
		mean += float64(vs.n[i]) * xi
	}
	if len(distinct) < 2 {
		// Guard before the float sums: with one distinct value, rounding in the mean
		// could make D_e a tiny positive number and alpha a spurious 1.
		return vs.finish(level, doSum, 0)
	}
	n := float64(vs.total)
	mean /= n
	var ss float64
	for i, xi := range x {
		d := xi - mean
		ss += float64(vs.n[i]) * d * d
	}
	return vs.finish(level, doSum, 2*n*ss)
}

// alphaPairwise handles metrics without a closed form for D_e, summing over value pairs.
func (vs valueSpace) alphaPairwise(level Level, delta func(i, j int) float64) (AlphaResult, error) {
	var doSum float64
	for _, c := range vs.off {
		doSum += 2 * c.o * delta(c.i, c.j)
	}
	var deSum float64
	for i := range vs.values {
		var row float64
		for j := i + 1; j < len(vs.values); j++ {
			row += float64(vs.n[j]) * delta(i, j)
		}
		deSum += 2 * float64(vs.n[i]) * row
	}
	if math.IsNaN(deSum) || math.IsNaN(doSum) {
		return vs.result(level), fmt.Errorf("%v alpha: distance is not a number", level)
	}
	return vs.finish(level, doSum, deSum)
}
