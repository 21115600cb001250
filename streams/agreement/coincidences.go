package agreement

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrUndefined is wrapped by every error for a figure whose denominator is zero, so callers
// can report "undefined" with errors.Is instead of publishing a misleading number.
var ErrUndefined = errors.New("undefined")

// Reasons a figure is undefined; each wraps ErrUndefined.
var (
	// ErrNoPairableValues: no unit has two or more values, so nothing can be compared.
	ErrNoPairableValues = fmt.Errorf("%w: no unit has two or more values", ErrUndefined)
	// ErrNoVariation: every pairable value is the same, so no disagreement is expected by
	// chance and alpha or kappa would divide zero by zero.
	ErrNoVariation = fmt.Errorf("%w: all pairable values are alike, so chance disagreement is zero", ErrUndefined)
	// ErrUnequalRaters: Fleiss' kappa needs the same number of values in every pairable unit.
	ErrUnequalRaters = fmt.Errorf("%w: pairable units have different numbers of values", ErrUndefined)
)

// cellKey addresses one integer sum S^m_ab: size is m, the number of values in the
// contributing units, and a <= b because the matrix is symmetric.
type cellKey struct {
	size int
	a, b Value
}

// Coincidences is the mergeable partial aggregate behind alpha, percent agreement and Fleiss'
// kappa: Krippendorff's coincidence matrix kept as exact integers per unit size (see the
// package documentation).
//
// It serializes (Cells, MarshalJSON) to rows (unit_size, a, b, count) that can be summed by
// (unit_size, a, b) across partitions, e.g. in a ClickHouse SummingMergeTree, and read back
// with CoincidencesFromCells. The zero value is an empty partial. It is not safe for
// concurrent mutation.
type Coincidences struct {
	cells map[cellKey]int64
}

// NewCoincidences returns an empty partial.
func NewCoincidences() *Coincidences { return &Coincidences{cells: map[cellKey]int64{}} }

// valueCount is one distinct value of a unit and how many times it was given there.
type valueCount struct {
	v Value
	n int64
}

// addContribution adds sign times the contribution of one unit, whose distinct values are
// given sorted by value with m = Σ n. Units with fewer than two values contribute nothing.
// Cost is O(d²) map updates for d distinct values: every pair of the unit's values is one cell.
func (c *Coincidences) addContribution(vals []valueCount, m int64, sign int64) {
	if m < 2 {
		return
	}
	for i, x := range vals {
		if x.n > 1 {
			c.bump(cellKey{int(m), x.v, x.v}, sign*x.n*(x.n-1))
		}
		for _, y := range vals[i+1:] {
			c.bump(cellKey{int(m), x.v, y.v}, sign*x.n*y.n)
		}
	}
}

// bump adds d to a cell and drops cells that reach zero, so that equal data always gives an
// equal map (Equal, and exact undo of Add by Remove).
func (c *Coincidences) bump(k cellKey, d int64) {
	if c.cells == nil {
		c.cells = map[cellKey]int64{}
	}
	if n := c.cells[k] + d; n == 0 {
		delete(c.cells, k)
	} else {
		c.cells[k] = n
	}
}

// AddUnit adds the contribution of one whole unit given as its values (one per rating, in any
// order). It is the batch path, used to recompute from scratch and by tests; streams use
// Reliability, which remembers units so that single labels can be added and retracted.
func (c *Coincidences) AddUnit(values []Value) {
	c.addContribution(countValues(values), int64(len(values)), 1)
}

// countValues turns a unit's values into distinct values sorted by value with their counts.
func countValues(values []Value) []valueCount {
	s := slices.Clone(values)
	slices.Sort(s)
	var out []valueCount
	for i, v := range s {
		if i > 0 && v == s[i-1] {
			out[len(out)-1].n++
			continue
		}
		out = append(out, valueCount{v: v, n: 1})
	}
	return out
}

// Merge adds another partial into c: the coincidence matrix of a union of disjoint sets of
// units is the sum of their matrices, so merging every partition gives the global figure.
func (c *Coincidences) Merge(o *Coincidences) {
	for k, n := range o.cells {
		c.bump(k, n)
	}
}

// Subtract removes a partial that was merged into c earlier, for example the partial of a
// time bucket leaving a sliding window. It fails without changing c if o holds more than c
// in some cell, which would mean o was never part of c.
func (c *Coincidences) Subtract(o *Coincidences) error {
	for k, n := range o.cells {
		if c.cells[k] < n {
			return fmt.Errorf("subtract coincidences: cell (m=%d, %q, %q) has %d, cannot remove %d", k.size, k.a, k.b, c.cells[k], n)
		}
	}
	for k, n := range o.cells {
		c.bump(k, -n)
	}
	return nil
}

// Clone returns an independent copy, for shipping a partial while the original keeps changing.
func (c *Coincidences) Clone() *Coincidences { return &Coincidences{cells: maps.Clone(c.cells)} }

// Equal reports whether two partials hold exactly the same sums.
func (c *Coincidences) Equal(o *Coincidences) bool { return maps.Equal(c.cells, o.cells) }

// Cell is one serialized entry of a Coincidences partial: Count is Σ n_ua·n_ub over the units
// with UnitSize values (n_ua·(n_ua−1) when A = B), and A <= B. The coincidence o_ab is
// Σ over unit sizes of Count/(UnitSize−1), so summing Count by (UnitSize, A, B) over partitions
// merges them exactly.
type Cell struct {
	UnitSize int   `json:"unit_size"`
	A        Value `json:"a"`
	B        Value `json:"b"`
	Count    int64 `json:"count"`
}

// Cells returns the partial as rows sorted by (UnitSize, A, B), a deterministic order so that
// serialized partials and the sums computed from them do not depend on map iteration.
func (c *Coincidences) Cells() []Cell {
	out := make([]Cell, 0, len(c.cells))
	for k, n := range c.cells {
		out = append(out, Cell{UnitSize: k.size, A: k.a, B: k.b, Count: n})
	}
	slices.SortFunc(out, func(x, y Cell) int {
		return cmp.Or(cmp.Compare(x.UnitSize, y.UnitSize), cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B))
	})
	return out
}

// CoincidencesFromCells rebuilds a partial from rows, summing duplicate rows (as a query
// that did not group would return them) and swapping A and B where A > B. It rejects rows that
// no set of units could have produced, so a corrupt partial fails loudly instead of giving a
// plausible but wrong alpha.
func CoincidencesFromCells(cells []Cell) (*Coincidences, error) {
	c := NewCoincidences()
	for _, x := range cells {
		if x.UnitSize < 2 {
			return nil, fmt.Errorf("coincidence cell %+v: unit_size must be at least 2", x)
		}
		if x.Count < 0 {
			return nil, fmt.Errorf("coincidence cell %+v: negative count", x)
		}
		a, b := x.A, x.B
		if a > b {
			a, b = b, a
		}
		c.bump(cellKey{x.UnitSize, a, b}, x.Count)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// validate checks the divisibility that real data guarantees: within unit size m, each value's
// row sum is (m−1)·Σ_u n_uc and the total is m·(m−1)·(number of units).
func (c *Coincidences) validate() error {
	rows := c.rowSums()
	for k, s := range rows {
		if s%int64(k.size-1) != 0 {
			return fmt.Errorf("coincidences: row of %q for unit size %d sums to %d, not a multiple of %d", k.v, k.size, s, k.size-1)
		}
	}
	for m, t := range c.classTotals() {
		if t.all%int64(m*(m-1)) != 0 {
			return fmt.Errorf("coincidences: unit size %d totals %d, not a multiple of %d", m, t.all, m*(m-1))
		}
	}
	return nil
}

// MarshalJSON writes the partial as its sorted Cells.
func (c *Coincidences) MarshalJSON() ([]byte, error) { return json.Marshal(c.Cells()) }

// UnmarshalJSON reads Cells written by MarshalJSON, validated as in CoincidencesFromCells.
func (c *Coincidences) UnmarshalJSON(b []byte) error {
	var cells []Cell
	if err := json.Unmarshal(b, &cells); err != nil {
		return fmt.Errorf("decode coincidences: %w", err)
	}
	d, err := CoincidencesFromCells(cells)
	if err != nil {
		return fmt.Errorf("decode coincidences: %w", err)
	}
	*c = *d
	return nil
}

// sizeValue addresses one value's row within one unit size.
type sizeValue struct {
	size int
	v    Value
}

// rowSums returns, per unit size and value, Σ_k S^m_vk over the full symmetric matrix.
func (c *Coincidences) rowSums() map[sizeValue]int64 {
	rows := map[sizeValue]int64{}
	for k, n := range c.cells {
		rows[sizeValue{k.size, k.a}] += n
		if k.a != k.b {
			rows[sizeValue{k.size, k.b}] += n
		}
	}
	return rows
}

// classTotal sums one unit size's cells: all over the full symmetric matrix, diag over c = k.
type classTotal struct{ all, diag int64 }

func (c *Coincidences) classTotals() map[int]classTotal {
	t := map[int]classTotal{}
	for k, n := range c.cells {
		x := t[k.size]
		if k.a == k.b {
			x.all += n
			x.diag += n
		} else {
			x.all += 2 * n
		}
		t[k.size] = x
	}
	return t
}

// PairableUnits is the number of units with two or more values.
func (c *Coincidences) PairableUnits() int64 {
	var u int64
	for m, t := range c.classTotals() {
		u += t.all / int64(m*(m-1))
	}
	return u
}

// PairableValues is n.., the number of values in pairable units: the sample size of alpha.
func (c *Coincidences) PairableValues() int64 {
	var n int64
	for m, t := range c.classTotals() {
		n += t.all / int64(m-1)
	}
	return n
}

// Marginals returns n_c, how many pairable values equal c (the row sums of o_ck).
func (c *Coincidences) Marginals() map[Value]int64 {
	n := map[Value]int64{}
	for k, s := range c.rowSums() {
		n[k.v] += s / int64(k.size-1)
	}
	return n
}

// Coincidence returns o_ab, the (fractional) number of a-b pairs of values within units.
func (c *Coincidences) Coincidence(a, b Value) float64 {
	if a > b {
		a, b = b, a
	}
	var sizes []int
	for k := range c.cells {
		if k.a == a && k.b == b {
			sizes = append(sizes, k.size)
		}
	}
	slices.Sort(sizes) // a fixed summation order, for results independent of map order
	var o float64
	for _, m := range sizes {
		o += float64(c.cells[cellKey{m, a, b}]) / float64(m-1)
	}
	return o
}

// AgreementResult is percent agreement with the evidence it rests on.
type AgreementResult struct {
	// PercentAgreement is a proportion in [0, 1] (not multiplied by 100): the mean over
	// pairable units of the share of pairs of values in the unit that are equal.
	PercentAgreement float64 `json:"percent_agreement"`
	PairableUnits    int64   `json:"pairable_units"`
	PairableValues   int64   `json:"pairable_values"`
}

// PercentAgreement is the mean, over pairable units, of the share of the unit's pairs of
// values that are identical (Fleiss' P̄). Each unit weighs the same, whatever its number of
// raters, so that a few heavily rated units do not dominate. Equality is exact, also for
// sets; chance-corrected partial credit is what alpha with MASI is for.
func (c *Coincidences) PercentAgreement() (AgreementResult, error) {
	totals := c.classTotals()
	r := AgreementResult{PairableUnits: c.PairableUnits(), PairableValues: c.PairableValues()}
	if r.PairableUnits == 0 {
		return r, ErrNoPairableValues
	}
	var sum float64
	for _, m := range slices.Sorted(maps.Keys(totals)) {
		sum += float64(totals[m].diag) / float64(m*(m-1))
	}
	r.PercentAgreement = sum / float64(r.PairableUnits)
	return r, nil
}

// KappaResult is a kappa coefficient with the agreements it compares and its evidence.
type KappaResult struct {
	Kappa             float64 `json:"kappa"`
	ObservedAgreement float64 `json:"observed_agreement"`
	ExpectedAgreement float64 `json:"expected_agreement"`
	// RatersPerUnit is the common number of values per unit (Fleiss); 2 for Cohen.
	RatersPerUnit  int   `json:"raters_per_unit"`
	PairableUnits  int64 `json:"pairable_units"`
	PairableValues int64 `json:"pairable_values"`
}

// FleissKappa is Fleiss' (1971) kappa over the pairable units, treating values as nominal
// categories. It is defined only when every pairable unit has the same number of values,
// as the KPI contract states; otherwise the error wraps ErrUnequalRaters. Units with a single
// value are left out before that check, like everywhere else in this package.
func (c *Coincidences) FleissKappa() (KappaResult, error) {
	totals := c.classTotals()
	r := KappaResult{PairableUnits: c.PairableUnits(), PairableValues: c.PairableValues()}
	if len(totals) == 0 {
		return r, ErrNoPairableValues
	}
	if len(totals) > 1 {
		return r, fmt.Errorf("fleiss kappa: %w (sizes %v)", ErrUnequalRaters, slices.Sorted(maps.Keys(totals)))
	}
	m := slices.Collect(maps.Keys(totals))[0]
	r.RatersPerUnit = m
	units := float64(r.PairableUnits)
	r.ObservedAgreement = float64(totals[m].diag) / (float64(m*(m-1)) * units)
	marg := c.Marginals()
	for _, v := range slices.Sorted(maps.Keys(marg)) {
		p := float64(marg[v]) / float64(r.PairableValues)
		r.ExpectedAgreement += p * p
	}
	if len(marg) < 2 {
		return r, fmt.Errorf("fleiss kappa: %w", ErrNoVariation)
	}
	r.Kappa = (r.ObservedAgreement - r.ExpectedAgreement) / (1 - r.ExpectedAgreement)
	return r, nil
}
