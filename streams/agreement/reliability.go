package agreement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ErrNotFound is returned by Reliability.Remove for a value that its unit does not hold:
// a retraction of a label that was never counted, which a caller should surface rather than
// let it corrupt the totals.
var ErrNotFound = errors.New("value not found in unit")

// Reliability is the incremental accumulator a stream processor keeps per partition: for each
// unit, the multiset of values given to it, plus the Coincidences totals over all units.
// Add and Remove take the unit's old contribution out of the totals and put the new one in,
// so each costs O(d²) for the d distinct values of that unit (d ≤ its number of ratings),
// whatever the number of units. It does not track who gave a value; callers that retract a
// label pass the value that label had. It is not safe for concurrent use.
type Reliability struct {
	units map[string]*unitState
	co    *Coincidences
}

// unitState is one unit's distinct values, sorted by value, and their total m. Sorted small
// slices beat maps here: units hold a handful of values and this is the hot path.
type unitState struct {
	vals []valueCount
	m    int64
}

// NewReliability returns an empty accumulator.
func NewReliability() *Reliability {
	return &Reliability{units: map[string]*unitState{}, co: NewCoincidences()}
}

// Add records that value v was given to unit.
func (r *Reliability) Add(unit string, v Value) {
	u := r.units[unit]
	if u == nil {
		u = &unitState{}
		r.units[unit] = u
	}
	r.co.addContribution(u.vals, u.m, -1)
	i, found := slices.BinarySearchFunc(u.vals, v, func(x valueCount, v Value) int { return cmp.Compare(x.v, v) })
	if found {
		u.vals[i].n++
	} else {
		u.vals = slices.Insert(u.vals, i, valueCount{v: v, n: 1})
	}
	u.m++
	r.co.addContribution(u.vals, u.m, 1)
}

// Remove undoes one earlier Add of value v to unit, e.g. for a LabelRetracted event. Removing
// the last value of a unit forgets the unit. The totals afterwards are exactly those before
// the Add, because they are integers.
func (r *Reliability) Remove(unit string, v Value) error {
	u := r.units[unit]
	if u == nil {
		return fmt.Errorf("remove %q from unit %q: %w", v, unit, ErrNotFound)
	}
	i, found := slices.BinarySearchFunc(u.vals, v, func(x valueCount, v Value) int { return cmp.Compare(x.v, v) })
	if !found {
		return fmt.Errorf("remove %q from unit %q: %w", v, unit, ErrNotFound)
	}
	r.co.addContribution(u.vals, u.m, -1)
	if u.vals[i].n--; u.vals[i].n == 0 {
		u.vals = slices.Delete(u.vals, i, i+1)
	}
	u.m--
	if u.m == 0 {
		delete(r.units, unit)
		return nil
	}
	r.co.addContribution(u.vals, u.m, 1)
	return nil
}

// Values returns the values unit currently holds, sorted, with repeats.
func (r *Reliability) Values(unit string) []Value {
	u := r.units[unit]
	if u == nil {
		return nil
	}
	out := make([]Value, 0, u.m)
	for _, x := range u.vals {
		for range x.n {
			out = append(out, x.v)
		}
	}
	return out
}

// Units is the number of units holding at least one value, pairable or not.
func (r *Reliability) Units() int { return len(r.units) }

// Snapshot returns a copy of the current totals: the partial a processor ships, and the
// value to Merge with other partitions' partials.
func (r *Reliability) Snapshot() *Coincidences { return r.co.Clone() }

// Alpha is Coincidences.Alpha on the current totals, without copying them.
func (r *Reliability) Alpha(level Level) (AlphaResult, error) { return r.co.Alpha(level) }

// AlphaOrdinal is Coincidences.AlphaOrdinal on the current totals.
func (r *Reliability) AlphaOrdinal(order []Value) (AlphaResult, error) {
	return r.co.AlphaOrdinal(order)
}

// PercentAgreement is Coincidences.PercentAgreement on the current totals.
func (r *Reliability) PercentAgreement() (AgreementResult, error) { return r.co.PercentAgreement() }

// FleissKappa is Coincidences.FleissKappa on the current totals.
func (r *Reliability) FleissKappa() (KappaResult, error) { return r.co.FleissKappa() }

// PairableUnits is the number of units with two or more values.
func (r *Reliability) PairableUnits() int64 { return r.co.PairableUnits() }

// PairableValues is n.., the number of values in pairable units.
func (r *Reliability) PairableValues() int64 { return r.co.PairableValues() }
