package agreement

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"testing"
)

// The properties the stream processor relies on, checked on random data with fixed seeds:
// incremental == batch, order does not matter, Remove undoes Add exactly, and merged
// partitions == the whole. Equality is exact (Equal on the integer cells, == on alpha), not
// approximate, because the design promises exactness.

var allLevels = []Level{Nominal, Ordinal, IntervalLevel, Ratio, MASI, Jaccard}

// randomUnits draws units with 1..maxM values each from a small domain fitting level, so that
// units repeat values and every code path (diagonal cells, several unit sizes, singletons) runs.
func randomUnits(rng *rand.Rand, level Level, units, maxM int) map[string][]Value {
	labels := []string{"a", "b", "c", "d"}
	out := map[string][]Value{}
	for u := range units {
		m := 1 + rng.Intn(maxM)
		vals := make([]Value, m)
		for i := range vals {
			switch level {
			case Nominal, Ordinal:
				vals[i] = Rank(1 + rng.Intn(5))
			case IntervalLevel:
				vals[i] = Number(float64(rng.Intn(7)) - 2.5)
			case Ratio:
				vals[i] = Number(float64(rng.Intn(6)))
			case MASI, Jaccard:
				var s []string
				for _, l := range labels {
					if rng.Intn(3) == 0 {
						s = append(s, l)
					}
				}
				vals[i] = Set(s...)
			}
		}
		out["u"+strconv.Itoa(u)] = vals
	}
	return out
}

type event struct {
	unit string
	v    Value
}

func events(units map[string][]Value) []event {
	var ev []event
	for _, u := range slices.Sorted(maps.Keys(units)) {
		for _, v := range units[u] {
			ev = append(ev, event{u, v})
		}
	}
	return ev
}

func batch(units map[string][]Value) *Coincidences {
	c := NewCoincidences()
	for _, vals := range units {
		c.AddUnit(vals)
	}
	return c
}

func incremental(ev []event) *Reliability {
	r := NewReliability()
	for _, e := range ev {
		r.Add(e.unit, e.v)
	}
	return r
}

// bruteAlpha evaluates Krippendorff's definition directly on the reliability data: pairs of
// values within units for D_o, pairs of all pairable values for D_e, and the ordinal metric
// summed rank by rank as written in Krippendorff (2011). It shares no code with Alpha except
// the set distances, which are checked against NLTK separately.
func bruteAlpha(t *testing.T, units map[string][]Value, level Level) float64 {
	t.Helper()
	var pool []Value
	for _, vals := range units {
		if len(vals) >= 2 {
			pool = append(pool, vals...)
		}
	}
	ng := map[float64]float64{}
	var ranks []float64
	num := func(v Value) float64 {
		x, err := v.Float()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if level == Ordinal {
		for _, v := range pool {
			if ng[num(v)] == 0 {
				ranks = append(ranks, num(v))
			}
			ng[num(v)]++
		}
		slices.Sort(ranks)
	}
	delta := func(a, b Value) float64 {
		switch level {
		case Nominal:
			if a == b {
				return 0
			}
			return 1
		case Ordinal:
			lo, hi := min(num(a), num(b)), max(num(a), num(b))
			var s float64
			for _, g := range ranks {
				if g >= lo && g <= hi {
					s += ng[g]
				}
			}
			s -= (ng[lo] + ng[hi]) / 2
			return s * s
		case IntervalLevel:
			d := num(a) - num(b)
			return d * d
		case Ratio:
			if num(a)+num(b) == 0 {
				return 0
			}
			d := (num(a) - num(b)) / (num(a) + num(b))
			return d * d
		case MASI, Jaccard:
			la, _ := a.Labels()
			lb, _ := b.Labels()
			if level == MASI {
				return MASIDistance(la, lb)
			}
			return JaccardDistance(la, lb)
		}
		t.Fatalf("level %v", level)
		return 0
	}
	var do, de float64
	for _, vals := range units {
		if len(vals) < 2 {
			continue
		}
		for i := range vals {
			for j := range vals {
				if i != j {
					do += delta(vals[i], vals[j]) / float64(len(vals)-1)
				}
			}
		}
	}
	for i := range pool {
		for j := range pool {
			if i != j {
				de += delta(pool[i], pool[j])
			}
		}
	}
	n := float64(len(pool))
	return 1 - (do/n)/(de/(n*(n-1)))
}

func TestIncrementalEqualsBatchAndDefinition(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		for _, level := range allLevels {
			rng := rand.New(rand.NewSource(seed))
			units := randomUnits(rng, level, 5+rng.Intn(40), 6)
			ev := events(units)
			rng.Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
			inc := incremental(ev)
			b := batch(units)
			if !inc.Snapshot().Equal(b) {
				t.Fatalf("seed %d %v: incremental cells differ from batch", seed, level)
			}
			if inc.PairableUnits() != b.PairableUnits() || inc.PairableValues() != b.PairableValues() || inc.Units() != len(units) {
				t.Fatalf("seed %d %v: counts differ", seed, level)
			}
			var wantUnits, wantValues int64
			for _, vals := range units {
				if len(vals) >= 2 {
					wantUnits++
					wantValues += int64(len(vals))
				}
			}
			if b.PairableUnits() != wantUnits || b.PairableValues() != wantValues {
				t.Fatalf("seed %d %v: pairable %d/%d, want %d/%d", seed, level, b.PairableUnits(), b.PairableValues(), wantUnits, wantValues)
			}
			ia, ierr := inc.Alpha(level)
			ba, berr := b.Alpha(level)
			if ia != ba || fmt.Sprint(ierr) != fmt.Sprint(berr) {
				t.Fatalf("seed %d %v: incremental %+v (%v) vs batch %+v (%v)", seed, level, ia, ierr, ba, berr)
			}
			if ierr != nil {
				continue // e.g. no variation in a tiny draw; compared above
			}
			if want := bruteAlpha(t, units, level); math.Abs(ia.Alpha-want) > 1e-9 {
				t.Errorf("seed %d %v: alpha %.15g, definition gives %.15g", seed, level, ia.Alpha, want)
			}
		}
	}
}

func TestOrderOfAddsDoesNotMatter(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		for _, level := range allLevels {
			rng := rand.New(rand.NewSource(seed))
			ev := events(randomUnits(rng, level, 60, 6))
			first := incremental(ev)
			rng.Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
			second := incremental(ev)
			if !first.Snapshot().Equal(second.Snapshot()) {
				t.Fatalf("seed %d %v: cells depend on order", seed, level)
			}
			a1, _ := first.Alpha(level)
			a2, _ := second.Alpha(level)
			if a1 != a2 {
				t.Fatalf("seed %d %v: alpha %v vs %v", seed, level, a1, a2)
			}
		}
	}
}

func TestRemoveUndoesAdd(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		for _, level := range allLevels {
			rng := rand.New(rand.NewSource(seed))
			units := randomUnits(rng, level, 50, 5)
			ev := events(units)
			r := incremental(ev)
			// A single add then remove, on existing and on new units, restores the exact state.
			for range 50 {
				before := r.Snapshot()
				beforeAlpha, _ := r.Alpha(level)
				e := ev[rng.Intn(len(ev))]
				unit := e.unit
				if rng.Intn(4) == 0 {
					unit = "new"
				}
				r.Add(unit, e.v)
				if err := r.Remove(unit, e.v); err != nil {
					t.Fatal(err)
				}
				afterAlpha, _ := r.Alpha(level)
				if !r.Snapshot().Equal(before) || afterAlpha != beforeAlpha {
					t.Fatalf("seed %d %v: add+remove of %v on %s changed the state", seed, level, e.v, unit)
				}
			}
			// Retracting a random half leaves exactly the batch result of the other half.
			rng.Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
			kept := map[string][]Value{}
			for i, e := range ev {
				if i%2 == 0 {
					if err := r.Remove(e.unit, e.v); err != nil {
						t.Fatal(err)
					}
				} else {
					kept[e.unit] = append(kept[e.unit], e.v)
				}
			}
			if !r.Snapshot().Equal(batch(kept)) || r.Units() != len(kept) {
				t.Fatalf("seed %d %v: state after retractions differs from batch of the rest", seed, level)
			}
		}
	}
}

func TestMergedPartitionsEqualWhole(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		for _, level := range allLevels {
			rng := rand.New(rand.NewSource(seed))
			units := randomUnits(rng, level, 80, 6)
			whole := batch(units)
			parts := make([]*Reliability, 4)
			for i := range parts {
				parts[i] = NewReliability()
			}
			for _, e := range events(units) {
				h := fnv.New32a()
				h.Write([]byte(e.unit))
				parts[h.Sum32()%uint32(len(parts))].Add(e.unit, e.v) // partition by key, as Kafka does
			}
			merged := NewCoincidences()
			for _, p := range parts {
				// Ship each partial through JSON, as it would travel between processes.
				b, err := json.Marshal(p.Snapshot())
				if err != nil {
					t.Fatal(err)
				}
				var back Coincidences
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				merged.Merge(&back)
			}
			if !merged.Equal(whole) {
				t.Fatalf("seed %d %v: merged partitions differ from whole", seed, level)
			}
			wa, werr := whole.Alpha(level)
			ma, merr := merged.Alpha(level)
			if wa != ma || fmt.Sprint(werr) != fmt.Sprint(merr) {
				t.Fatalf("seed %d %v: alpha whole %+v merged %+v", seed, level, wa, ma)
			}
			// Subtracting one partition's partial leaves the merge of the others (sliding windows).
			if err := merged.Subtract(parts[0].Snapshot()); err != nil {
				t.Fatal(err)
			}
			rest := NewCoincidences()
			for _, p := range parts[1:] {
				rest.Merge(p.Snapshot())
			}
			if !merged.Equal(rest) {
				t.Fatalf("seed %d %v: subtract did not undo merge", seed, level)
			}
		}
	}
}

// Percent agreement and Fleiss' kappa against their textbook formulas on random data.
func TestPercentAgreementAndFleissAgainstDefinition(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		m := 2 + rng.Intn(5)
		units := map[string][]Value{}
		for u := range 30 {
			for range m {
				units[strconv.Itoa(u)] = append(units[strconv.Itoa(u)], Rank(rng.Intn(4)))
			}
		}
		units["single"] = []Value{Rank(9)} // one value: not pairable, must not count
		var sumP float64
		cat := map[Value]float64{}
		for u, vals := range units {
			if u == "single" {
				continue
			}
			cnt := map[Value]float64{}
			for _, v := range vals {
				cnt[v]++
				cat[v]++
			}
			var agree float64
			for _, n := range cnt {
				agree += n * (n - 1)
			}
			sumP += agree / float64(m*(m-1))
		}
		pbar := sumP / 30
		var pe float64
		for _, n := range cat {
			pe += (n / float64(30*m)) * (n / float64(30*m))
		}
		co := batch(units)
		p, err := co.PercentAgreement()
		if err != nil || math.Abs(p.PercentAgreement-pbar) > 1e-12 || p.PairableUnits != 30 {
			t.Errorf("seed %d: percent agreement %+v (%v), want %v", seed, p, err, pbar)
		}
		k, err := co.FleissKappa()
		if want := (pbar - pe) / (1 - pe); err != nil || math.Abs(k.Kappa-want) > 1e-12 {
			t.Errorf("seed %d: fleiss %+v (%v), want %v", seed, k, err, want)
		}
	}
}
