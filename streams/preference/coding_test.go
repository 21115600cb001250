package preference

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
)

func TestNominalValueIsTheCanonicalIndex(t *testing.T) {
	three := Label{Responses: []string{"x", "y", "z"}, ShownFirst: "z"}
	for i, id := range three.Responses {
		l := three
		l.Choice = id
		v, err := NominalValue(l)
		if err != nil {
			t.Fatal(err)
		}
		if v != agreement.Category(strconv.Itoa(i)) {
			t.Errorf("choice %q: value %q, want %d", id, v, i)
		}
	}
	// Two annotators who chose the same response agree, whatever each was shown first.
	a, _ := NominalValue(pair("b", "a", nil))
	b, _ := NominalValue(pair("b", "b", nil))
	if a != b {
		t.Errorf("same choice shown in different orders: %q vs %q", a, b)
	}
	_, err := NominalValue(pair("c", "a", nil))
	wantField(t, err, "choice", "not one of responses")
}

func TestOrdinalValue(t *testing.T) {
	// S = 3: six ranks from "a much better" (0) to "b much better" (5).
	for _, tc := range []struct {
		choice string
		s      int32
		rank   int
	}{
		{"a", 3, 0}, {"a", 2, 1}, {"a", 1, 2}, {"b", 1, 3}, {"b", 2, 4}, {"b", 3, 5},
	} {
		v, ok, err := OrdinalValue(pair(tc.choice, "a", strength(tc.s)), 3)
		if err != nil || !ok || v != agreement.Rank(tc.rank) {
			t.Errorf("choice %s strength %d: %q %v %v, want rank %d", tc.choice, tc.s, v, ok, err, tc.rank)
		}
	}
	// S = 1: two ranks, the nominal coding again.
	for i, c := range []string{"a", "b"} {
		if v, ok, err := OrdinalValue(pair(c, "b", strength(1)), 1); err != nil || !ok || v != agreement.Rank(i) {
			t.Errorf("S=1 choice %s: %q %v %v", c, v, ok, err)
		}
	}
	// Not pairable for the ordinal figure.
	for name, tc := range map[string]struct {
		l     Label
		scale Scale
	}{
		"no scale":        {pair("a", "a", strength(1)), NoScale},
		"no strength":     {pair("a", "a", nil), 3},
		"three responses": {Label{Responses: []string{"x", "y", "z"}, Choice: "x", ShownFirst: "x", Strength: strength(2)}, 3},
	} {
		if v, ok, err := OrdinalValue(tc.l, tc.scale); ok || err != nil || v != "" {
			t.Errorf("%s: %q %v %v, want not pairable", name, v, ok, err)
		}
	}
	_, _, err := OrdinalValue(pair("a", "a", strength(4)), 3)
	wantField(t, err, "strength", "from 1 to 3, got 4")
	_, _, err = OrdinalValue(pair("c", "a", strength(1)), 3)
	wantField(t, err, "choice", "not one of responses")
}

func TestUnitValues(t *testing.T) {
	unit := []Label{pair("a", "a", strength(2)), pair("b", "a", nil), pair("b", "b", strength(1))}
	nom, err := NominalValues(unit)
	if err != nil {
		t.Fatal(err)
	}
	if want := []agreement.Value{"0", "1", "1"}; !slices.Equal(nom, want) {
		t.Errorf("nominal %q, want %q", nom, want)
	}
	// The label without strength is not pairable for the ordinal figure.
	ord, err := OrdinalValues(unit, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []agreement.Value{agreement.Rank(0), agreement.Rank(2)}; !slices.Equal(ord, want) {
		t.Errorf("ordinal %q, want %q", ord, want)
	}
	mixed := []Label{pair("a", "a", nil), {Responses: []string{"b", "a"}, Choice: "a", ShownFirst: "a"}}
	_, err = NominalValues(mixed)
	wantField(t, err, "responses", "differs from label 0's")
	_, err = OrdinalValues(mixed, 2)
	wantField(t, err, "responses", "differs from label 0's")
	_, err = NominalValues([]Label{pair("a", "a", nil), pair("q", "a", nil)})
	wantField(t, err, "choice", "not one of responses")
}

// TestNominalAlphaByHand: two annotators, four items. Chosen indices (0,0), (1,1), (0,1),
// (0,0): n.. = 8, n_0 = 5, n_1 = 3, and the one disagreeing unit puts 1 in o_01 and o_10, so
// α = 1 − (n..−1)·(o_01+o_10)/(2·n_0·n_1) = 1 − 7·2/30 = 8/15.
func TestNominalAlphaByHand(t *testing.T) {
	units := [][]Label{
		{pair("a", "a", nil), pair("a", "b", nil)},
		{pair("b", "a", nil), pair("b", "b", nil)},
		{pair("a", "b", nil), pair("b", "b", nil)},
		{pair("a", "a", nil), pair("a", "a", nil)},
	}
	c := agreement.NewCoincidences()
	for _, u := range units {
		vs, err := NominalValues(u)
		if err != nil {
			t.Fatal(err)
		}
		c.AddUnit(vs)
	}
	r, err := c.Alpha(agreement.Nominal)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Alpha-8.0/15) > 1e-12 || r.PairableUnits != 4 || r.PairableValues != 8 {
		t.Errorf("alpha %+v, want 8/15 over 4 units and 8 values", r)
	}
}

// randomUnits makes preference units of two responses on a 3-point scale with some labels
// lacking strength, the responses' canonical order and display order random.
func randomUnits(rng *rand.Rand, n int) [][]Label {
	units := make([][]Label, n)
	for u := range units {
		responses := []string{"p" + strconv.Itoa(u), "q" + strconv.Itoa(u)}
		if rng.IntN(2) == 0 {
			responses[0], responses[1] = responses[1], responses[0]
		}
		better := rng.IntN(2)
		for range 1 + rng.IntN(4) {
			choice := better
			if rng.Float64() < 0.25 {
				choice = 1 - better
			}
			l := Label{Responses: responses, Choice: responses[choice], ShownFirst: responses[rng.IntN(2)]}
			if rng.Float64() < 0.8 {
				l.Strength = strength(int32(1 + rng.IntN(3)))
			}
			units[u] = append(units[u], l)
		}
	}
	return units
}

func alphas(t *testing.T, units [][]Label) (nominal, ordinal float64) {
	t.Helper()
	nc, oc := agreement.NewCoincidences(), agreement.NewCoincidences()
	for _, u := range units {
		nv, err := NominalValues(u)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := OrdinalValues(u, 3)
		if err != nil {
			t.Fatal(err)
		}
		nc.AddUnit(nv)
		oc.AddUnit(ov)
	}
	n, err := nc.Alpha(agreement.Nominal)
	if err != nil {
		t.Fatal(err)
	}
	o, err := oc.Alpha(agreement.Ordinal)
	if err != nil {
		t.Fatal(err)
	}
	return n.Alpha, o.Alpha
}

// TestAlphaDoesNotDependOnDisplayOrder: display order is no part of the coding, and reversing
// the canonical order of every item only mirrors the values (0 ↔ 1, rank r ↔ 2S−1−r), which
// neither alpha sees.
func TestAlphaDoesNotDependOnDisplayOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	units := randomUnits(rng, 200)
	nom, ord := alphas(t, units)

	shuffled := make([][]Label, len(units))
	reversed := make([][]Label, len(units))
	for i, u := range units {
		for _, l := range u {
			s := l
			s.ShownFirst = l.Responses[rng.IntN(2)]
			shuffled[i] = append(shuffled[i], s)
			r := l
			r.Responses = []string{l.Responses[1], l.Responses[0]}
			reversed[i] = append(reversed[i], r)
		}
	}
	if n, o := alphas(t, shuffled); n != nom || o != ord {
		t.Errorf("display order changed alpha: nominal %v → %v, ordinal %v → %v", nom, n, ord, o)
	}
	if n, o := alphas(t, reversed); math.Abs(n-nom) > 1e-12 || math.Abs(o-ord) > 1e-12 {
		t.Errorf("reversed canonical order changed alpha: nominal %v → %v, ordinal %v → %v", nom, n, ord, o)
	}
}

// TestCodingIsAdditive: the coincidences of the units coded one at a time, added and taken
// out, equal those of all units at once; taking a unit out restores the state exactly.
func TestCodingIsAdditive(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2))
	units := randomUnits(rng, 100)
	all := agreement.NewCoincidences()
	parts := []*agreement.Coincidences{agreement.NewCoincidences(), agreement.NewCoincidences()}
	for i, u := range units {
		vs, err := OrdinalValues(u, 3)
		if err != nil {
			t.Fatal(err)
		}
		all.AddUnit(vs)
		parts[i%2].AddUnit(vs)
	}
	merged := parts[0].Clone()
	merged.Merge(parts[1])
	if !merged.Equal(all) {
		t.Error("partitions do not add up to the whole")
	}
	before := all.Clone()
	extra := agreement.NewCoincidences()
	vs, err := OrdinalValues(units[0], 3)
	if err != nil {
		t.Fatal(err)
	}
	extra.AddUnit(vs)
	all.Merge(extra)
	if err := all.Subtract(extra); err != nil {
		t.Fatal(err)
	}
	if !all.Equal(before) {
		t.Error("adding and subtracting a unit does not restore the coincidences")
	}
}
