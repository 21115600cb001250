package agreement

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Interval is a confidence interval for an agreement coefficient: [Low, High] at confidence
// Level (0.95 for a 95% interval), computed by Method.
type Interval struct {
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
	Level  float64 `json:"level"`
	Method string  `json:"method"`
}

// MethodJackknifeUnits names the interval AlphaInterval computes: the jackknife over units
// on Fisher's z scale of alpha (see the package documentation, "Confidence intervals").
const MethodJackknifeUnits = "jackknife-units-fisher-z"

// DefaultConfidence is the confidence level of the intervals Assay reports.
const DefaultConfidence = 0.95

// UnitProfile stands for Units units that hold the same multiset of values: what alpha and
// its interval need of a unit, since neither depends on which annotator gave which value or
// on the unit's name. Aggregating units by profile is what lets a stream processor keep the
// input of the interval as a small table of counts (streams/kpi, agreement_profiles).
type UnitProfile struct {
	// Values are the values of one such unit, one per rating (so repeated values repeat), in
	// any order.
	Values []Value `json:"values"`
	// Units is how many units hold exactly these values.
	Units int64 `json:"units"`
}

// Profiles groups units (each given as its values, one per rating) by profile, in a
// deterministic order (by ProfileKey).
func Profiles(units [][]Value) []UnitProfile {
	byKey := map[string]*UnitProfile{}
	for _, vals := range units {
		k := ProfileKey(vals)
		p := byKey[k]
		if p == nil {
			p = &UnitProfile{Values: slices.Sorted(slices.Values(vals))}
			byKey[k] = p
		}
		p.Units++
	}
	out := make([]UnitProfile, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, *byKey[k])
	}
	return out
}

// AddProfile adds the contribution of p.Units units holding p.Values: the Coincidences of a
// set of profiles are those of their units, in O(d²) per profile, whatever its number of units.
func (c *Coincidences) AddProfile(p UnitProfile) {
	c.addContribution(countValues(p.Values), int64(len(p.Values)), p.Units)
}

// ProfileKey is the canonical text of a multiset of values: a JSON array of the values
// sorted, with repeats. Two units have the same key exactly when they have the same profile,
// so it serves as a map or table key; ParseProfileKey reads it back.
func ProfileKey(values []Value) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	slices.Sort(s)
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for []string
		panic(err)
	}
	return string(b)
}

// ParseProfileKey reads the values of a ProfileKey.
func ParseProfileKey(key string) ([]Value, error) {
	var s []string
	if err := json.Unmarshal([]byte(key), &s); err != nil {
		return nil, fmt.Errorf("profile %q is not a JSON array of strings: %w", key, err)
	}
	out := make([]Value, len(s))
	for i, x := range s {
		out[i] = Value(x)
	}
	return out, nil
}

// AlphaInterval computes a confidence interval (confidence in (0, 1), e.g. 0.95) for
// Krippendorff's alpha at level from the units given as profiles, by the jackknife over
// units (Hughes 2022): every unit is left out in turn, and the spread of the leave-one-out
// alphas gives the standard error. It is taken on Fisher's z scale of alpha,
// z = ½·ln((1 + (k−1)·α)/(1 − α)) with k = n../N the mean number of values per pairable
// unit, and the interval z ± q·SE is mapped back, so it is asymmetric around alpha, as
// alpha's sampling distribution is near 1. Units, not pairs of values, are what is left out,
// so the dependence between the values of a unit is respected. The package documentation
// ("Confidence intervals") derives the O(values) leave-one-out alpha and records the
// coverage simulation behind these choices.
//
// Named ordinal categories go through AlphaOrdinalInterval. The error wraps ErrUndefined
// when alpha is undefined, when fewer than two units are pairable, when no disagreement is
// observed (alpha is 1 and nothing shows its uncertainty) or all of it is in one unit, and
// when alpha is at or below −1/(k−1), outside the range of the transform.
func AlphaInterval(profiles []UnitProfile, level Level, confidence float64) (Interval, error) {
	return alphaInterval(profiles, level, nil, confidence)
}

// AlphaOrdinalInterval is AlphaInterval for ordinal alpha over named categories ranked by
// their position in order, as AlphaOrdinal.
func AlphaOrdinalInterval(profiles []UnitProfile, order []Value, confidence float64) (Interval, error) {
	if order == nil {
		order = []Value{}
	}
	return alphaInterval(profiles, Ordinal, order, confidence)
}

// jackProfile is one pairable profile in dense form: its distinct values as indices into the
// value space with their counts, its size m and its multiplicity w.
type jackProfile struct {
	idx []int
	n   []float64
	m   float64
	w   int64
}

func alphaInterval(profiles []UnitProfile, level Level, order []Value, confidence float64) (Interval, error) {
	if !(confidence > 0 && confidence < 1) {
		return Interval{}, fmt.Errorf("alpha interval: confidence %v is not between 0 and 1", confidence)
	}
	full, jps, loo, err := jackknife(profiles, level, order)
	if err != nil {
		return Interval{}, fmt.Errorf("%v alpha interval: %w", level, err)
	}
	k := float64(full.PairableValues) / float64(full.PairableUnits)
	fz := fisherZ{k}
	z := make([]float64, len(loo))
	for i, a := range loo {
		if z[i], err = fz.z(a); err != nil {
			return Interval{}, fmt.Errorf("%v alpha interval: %w", level, err)
		}
	}
	center, err := fz.z(full.Alpha)
	if err != nil {
		return Interval{}, fmt.Errorf("%v alpha interval: %w", level, err)
	}
	half := math.Sqrt2 * math.Erfinv(confidence) * jackknifeSE(jps, z)
	return Interval{
		Low:    fz.alpha(center - half),
		High:   fz.alpha(center + half),
		Level:  confidence,
		Method: MethodJackknifeUnits,
	}, nil
}

// fisherZ is Fisher's z transform of an intraclass correlation from k values per unit,
// which alpha is an estimator of (Hughes 2022 derives the customary alpha from the one-way
// ANOVA model's): z = ½·ln((1 + (k−1)·α)/(1 − α)), defined for −1/(k−1) < α < 1.
type fisherZ struct{ k float64 }

func (f fisherZ) z(a float64) (float64, error) {
	lo := 1 + (f.k-1)*a
	if lo <= 0 || a >= 1 {
		return 0, fmt.Errorf("%w: alpha %v is outside (−1/(k−1), 1) for k = %.3g values per unit, the range of Fisher's z", ErrUndefined, a, f.k)
	}
	return 0.5 * math.Log(lo/(1-a)), nil
}

// alpha inverts z: α = (e^{2z} − 1)/(e^{2z} + k − 1).
func (f fisherZ) alpha(z float64) float64 {
	e := math.Exp(2 * z)
	if math.IsInf(e, 1) {
		return 1
	}
	return (e - 1) / (e + f.k - 1)
}

// jackknife returns alpha over every unit of profiles, the pairable profiles in dense form
// and, for each, alpha with one of its units left out.
func jackknife(profiles []UnitProfile, level Level, order []Value) (AlphaResult, []jackProfile, []float64, error) {
	co := NewCoincidences()
	for _, p := range profiles {
		if p.Units < 0 {
			return AlphaResult{}, nil, nil, fmt.Errorf("profile %s has %d units", ProfileKey(p.Values), p.Units)
		}
		co.AddProfile(p)
	}
	var (
		full AlphaResult
		err  error
	)
	if order != nil {
		full, err = co.AlphaOrdinal(order)
	} else {
		full, err = co.Alpha(level)
	}
	if err != nil {
		return full, nil, nil, err
	}
	if full.PairableUnits < 2 {
		return full, nil, nil, fmt.Errorf("%w: fewer than two pairable units", ErrUndefined)
	}
	vs, err := co.prepare()
	if err != nil {
		return full, nil, nil, err
	}
	idx := make(map[Value]int, len(vs.values))
	for i, v := range vs.values {
		idx[v] = i
	}
	var jps []jackProfile
	for _, p := range profiles {
		if len(p.Values) < 2 || p.Units == 0 {
			continue
		}
		jp := jackProfile{m: float64(len(p.Values)), w: p.Units}
		for _, x := range countValues(p.Values) {
			jp.idx = append(jp.idx, idx[x.v])
			jp.n = append(jp.n, float64(x.n))
		}
		jps = append(jps, jp)
	}
	// Every leave-one-out alpha must see some disagreement, or the jackknife says nothing
	// about it (and Fisher's z of alpha = 1 is infinite). Units with one distinct value
	// disagree with nothing; any two distinct values are at a positive distance.
	var disagreeing int64
	for _, p := range jps {
		if len(p.idx) > 1 {
			disagreeing += p.w
		}
	}
	switch disagreeing {
	case 0:
		return full, nil, nil, fmt.Errorf("%w: no disagreement observed, so nothing shows how far alpha could be from 1", ErrUndefined)
	case 1:
		return full, nil, nil, fmt.Errorf("%w: all observed disagreement is in one unit", ErrUndefined)
	}
	// A fixed order, and equal profiles merged, so that the float sums and hence the interval
	// do not depend on the order of the profiles or on how their units were split among
	// entries (a profile comes once from each partition that has it).
	compare := func(a, b jackProfile) int {
		return cmp.Or(slices.Compare(a.idx, b.idx), slices.CompareFunc(a.n, b.n, cmp.Compare[float64]))
	}
	slices.SortFunc(jps, compare)
	merged := jps[:0]
	for _, p := range jps {
		if l := len(merged); l > 0 && compare(merged[l-1], p) == 0 {
			merged[l-1].w += p.w
		} else {
			merged = append(merged, p)
		}
	}
	jps = merged
	loo, err := vs.leaveOneOut(level, order, jps)
	return full, jps, loo, err
}

// jackknifeSE is the jackknife standard error over N = Σ w units, where the w units of a
// profile share the leave-one-out alpha loo: sqrt((N−1)/N · Σ w (loo − mean)²).
func jackknifeSE(jps []jackProfile, loo []float64) float64 {
	var n, mean float64
	for i, p := range jps {
		n += float64(p.w)
		mean += float64(p.w) * loo[i]
	}
	mean /= n
	var ss float64
	for i, p := range jps {
		d := loo[i] - mean
		ss += float64(p.w) * d * d
	}
	return math.Sqrt((n - 1) / n * ss)
}

// leaveOneOut returns, for every profile, alpha over all units but one unit of that profile.
// With R_c = Σ_k n_k δ_ck and a unit's within-unit sum W = Σ_c Σ_k a_c a_k δ_ck (a its value
// counts, m its size), leaving it out gives n' = n − m, Σ o'δ = Σ oδ − W/(m−1) and
// Σ n'_c n'_k δ = Σ n_c n_k δ − 2 Σ_c a_c R_c + W, which is O(d) for a profile of d distinct
// values once R is known (package documentation, "Confidence intervals"). Ordinal distances
// move with the marginals, so ordinal recomputes its coordinates for every profile instead.
func (vs valueSpace) leaveOneOut(level Level, order []Value, jps []jackProfile) ([]float64, error) {
	n := make([]float64, len(vs.values))
	for i, c := range vs.n {
		n[i] = float64(c)
	}
	total := float64(vs.total)
	var (
		r      []float64                   // R_c
		within func(p jackProfile) float64 // W of a profile
	)
	switch level {
	case Nominal:
		r = make([]float64, len(n))
		for i := range n {
			r[i] = total - n[i]
		}
		within = func(p jackProfile) float64 {
			w := p.m * p.m
			for _, a := range p.n {
				w -= a * a
			}
			return w
		}
	case Ordinal:
		return vs.leaveOneOutOrdinal(order, jps)
	case IntervalLevel:
		x, err := vs.floats(level)
		if err != nil {
			return nil, err
		}
		// Centred on the mean, for the same numerical reason as alphaCoordinates.
		var mean, ss float64
		for i, xi := range x {
			mean += n[i] * xi
		}
		mean /= total
		for i, xi := range x {
			d := xi - mean
			ss += n[i] * d * d
		}
		r = make([]float64, len(n))
		for i, xi := range x {
			d := xi - mean
			r[i] = total*d*d + ss
		}
		// W = Σ_c Σ_k a_c a_k (x_c − x_k)² = 2 m Σ_c a_c (x_c − x̄_u)².
		within = func(p jackProfile) float64 {
			var mu float64
			for j, i := range p.idx {
				mu += p.n[j] * x[i]
			}
			mu /= p.m
			var s float64
			for j, i := range p.idx {
				d := x[i] - mu
				s += p.n[j] * d * d
			}
			return 2 * p.m * s
		}
	case Ratio, MASI, Jaccard:
		delta, err := vs.pairwiseDelta(level)
		if err != nil {
			return nil, err
		}
		r = make([]float64, len(n))
		for i := range n {
			for j := i + 1; j < len(n); j++ {
				d := delta(i, j)
				r[i] += n[j] * d
				r[j] += n[i] * d
			}
		}
		within = func(p jackProfile) float64 {
			var w float64
			for a, i := range p.idx {
				for b := a + 1; b < len(p.idx); b++ {
					w += 2 * p.n[a] * p.n[b] * delta(i, p.idx[b])
				}
			}
			return w
		}
	default:
		return nil, fmt.Errorf("unknown level %v", level)
	}
	ws := make([]float64, len(jps))
	var doSum, deSum float64
	for i, p := range jps {
		if len(p.idx) > 1 { // one distinct value: W is 0, which rounding in within could miss
			ws[i] = within(p)
		}
		doSum += float64(p.w) * ws[i] / (p.m - 1)
	}
	for i := range n {
		deSum += n[i] * r[i]
	}
	distinct := 0
	for _, c := range n {
		if c > 0 {
			distinct++
		}
	}
	out := make([]float64, len(jps))
	for i, p := range jps {
		do := doSum - ws[i]/(p.m-1)
		de := deSum + ws[i]
		left := distinct
		for j, c := range p.idx {
			de -= 2 * p.n[j] * r[c]
			if n[c] == p.n[j] {
				left--
			}
		}
		if left < 2 || de <= 0 {
			return nil, fmt.Errorf("%w: leaving out one unit (profile %d) leaves no variation", ErrUndefined, i)
		}
		out[i] = 1 - (total-p.m-1)*do/de
	}
	return out, nil
}

// pairwiseDelta returns the distance of the levels without a closed form for D_e, by value
// index, as Alpha applies it.
func (vs valueSpace) pairwiseDelta(level Level) (func(i, j int) float64, error) {
	if level == Ratio {
		x, err := vs.floats(level)
		if err != nil {
			return nil, err
		}
		for i, xi := range x {
			if xi < 0 {
				return nil, fmt.Errorf("value %q is negative", vs.values[i])
			}
		}
		return func(i, j int) float64 {
			s := x[i] + x[j]
			if s == 0 {
				return 0
			}
			d := (x[i] - x[j]) / s
			return d * d
		}, nil
	}
	sets := make([][]string, len(vs.values))
	for i, v := range vs.values {
		var err error
		if sets[i], err = v.Labels(); err != nil {
			return nil, err
		}
	}
	dist := masi
	if level == Jaccard {
		dist = jaccard
	}
	return func(i, j int) float64 { return dist(sets[i], sets[j]) }, nil
}

// leaveOneOutOrdinal recomputes the ordinal coordinates M_g = N_g − n_g/2 from the marginals
// without the left-out unit, then the observed and expected sums on them: O(G²) per profile
// for the G distinct ranks, small for the rating scales ordinal questions use. Values that
// share a rank are one coordinate, so they are merged into rank groups first.
func (vs valueSpace) leaveOneOutOrdinal(order []Value, jps []jackProfile) ([]float64, error) {
	ranks := make([]float64, len(vs.values))
	if order != nil {
		pos := make(map[Value]int, len(order))
		for i, v := range order {
			pos[v] = i
		}
		for i, v := range vs.values {
			ranks[i] = float64(pos[v]) // AlphaOrdinal already checked every value is in order
		}
	} else {
		for i, v := range vs.values {
			var err error
			if ranks[i], err = v.Float(); err != nil {
				return nil, err
			}
		}
	}
	distinct := slices.Sorted(slices.Values(ranks))
	distinct = slices.Compact(distinct)
	group := make([]int, len(ranks))
	for i, x := range ranks {
		group[i], _ = slices.BinarySearch(distinct, x)
	}
	g := len(distinct)
	n := make([]float64, g)
	for i, c := range vs.n {
		n[group[i]] += float64(c)
	}
	// o_ij over rank groups, off the diagonal, summed from the profiles.
	o := make([]float64, g*g)
	type groupCount struct {
		g int
		a float64
	}
	grouped := make([][]groupCount, len(jps))
	for pi, p := range jps {
		gc := make([]groupCount, len(p.idx))
		for j, i := range p.idx {
			gc[j] = groupCount{group[i], p.n[j]}
		}
		slices.SortFunc(gc, func(x, y groupCount) int { return cmp.Compare(x.g, y.g) })
		merged := gc[:0]
		for _, x := range gc {
			if l := len(merged); l > 0 && merged[l-1].g == x.g {
				merged[l-1].a += x.a
			} else {
				merged = append(merged, x)
			}
		}
		grouped[pi] = merged
		for a, x := range grouped[pi] {
			for _, y := range grouped[pi][a+1:] {
				v := float64(p.w) * x.a * y.a / (p.m - 1)
				o[x.g*g+y.g] += v
				o[y.g*g+x.g] += v
			}
		}
	}
	nn := make([]float64, g)
	coord := make([]float64, g)
	out := make([]float64, len(jps))
	for pi, p := range jps {
		copy(nn, n)
		for _, x := range grouped[pi] {
			nn[x.g] -= x.a
		}
		var cum, total, mean float64
		left := 0
		for k, c := range nn {
			cum += c
			coord[k] = cum - c/2
			total += c
			mean += c * coord[k]
			if c > 0 {
				left++
			}
		}
		if left < 2 {
			return nil, fmt.Errorf("%w: leaving out one unit (profile %d) leaves no variation", ErrUndefined, pi)
		}
		mean /= total
		var ss float64
		for k, c := range nn {
			d := coord[k] - mean
			ss += c * d * d
		}
		var do float64
		for i := range g {
			for j := i + 1; j < g; j++ {
				d := coord[i] - coord[j]
				do += 2 * o[i*g+j] * d * d
			}
		}
		// Take the left-out unit's own pairs out of the observed sum.
		for a, x := range grouped[pi] {
			for _, y := range grouped[pi][a+1:] {
				d := coord[x.g] - coord[y.g]
				do -= 2 * x.a * y.a / (p.m - 1) * d * d
			}
		}
		de := 2 * total * ss
		if de <= 0 {
			return nil, fmt.Errorf("%w: leaving out one unit (profile %d) leaves no variation", ErrUndefined, pi)
		}
		out[pi] = 1 - (total-1)*do/de
	}
	return out, nil
}
