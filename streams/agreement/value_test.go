package agreement

import (
	"errors"
	"testing"
)

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		level   Level
		raw     string
		want    Value
		wantErr bool
	}{
		{Nominal, " cat ", "cat", false},
		{Nominal, "", "", true},
		{Ordinal, "3", "3", false},
		{Ordinal, "3.0", "3", false}, // canonical: same key as "3"
		{Ordinal, "low", "", true},   // named ordinal categories go through AlphaOrdinal
		{IntervalLevel, "1e2", "100", false},
		{IntervalLevel, "-0.5", "-0.5", false},
		{IntervalLevel, "NaN", "", true},
		{IntervalLevel, "Inf", "", true},
		{Ratio, "-1", "", true},
		{Ratio, "0", "0", false},
		{MASI, "b|a|b", `["a","b"]`, false},
		{MASI, " a | | c ", `["a","c"]`, false},
		{Jaccard, `["x|y","a"]`, `["a","x|y"]`, false}, // JSON form carries a '|' in a label
		{MASI, "[]", `[]`, false},
		{MASI, "[1,2]", "", true}, // not strings
		{Level(42), "x", "", true},
	} {
		got, err := ParseValue(tc.level, tc.raw)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseValue(%v, %q) = %q, %v; want %q, err %v", tc.level, tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := ParseValue(Nominal, "  "); !errors.Is(err, ErrMissing) {
		t.Errorf("blank cell: %v, want ErrMissing", err)
	}
}

func TestSetAndLabelsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Value
	}{
		{nil, "[]"},
		{[]string{"b", "a", "a"}, `["a","b"]`},
		{[]string{`q"uote`}, `["q\"uote"]`},
	} {
		v := Set(tc.in...)
		if v != tc.want {
			t.Errorf("Set(%q) = %s, want %s", tc.in, v, tc.want)
		}
		back, err := v.Labels()
		if err != nil || Set(back...) != v {
			t.Errorf("Labels(%s) = %q, %v", v, back, err)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range allLevels {
		got, err := ParseLevel(" " + l.String() + " ")
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, err)
		}
	}
	if got, err := ParseLevel("MASI"); err != nil || got != MASI {
		t.Errorf("ParseLevel(MASI) = %v, %v", got, err)
	}
	if _, err := ParseLevel("cardinal"); err == nil {
		t.Error("ParseLevel(cardinal) succeeded")
	}
	for _, l := range allLevels {
		if l.IsSet() != (l == MASI || l == Jaccard) {
			t.Errorf("%v.IsSet() = %v", l, l.IsSet())
		}
	}
	if s := Level(9).String(); s != "Level(9)" {
		t.Errorf("Level(9).String() = %q", s)
	}
}

// Undefined figures must say so instead of returning a number.
func TestUndefinedFigures(t *testing.T) {
	units := func(us ...[]Value) *Coincidences {
		c := NewCoincidences()
		for _, u := range us {
			c.AddUnit(u)
		}
		return c
	}
	v := func(s ...string) []Value {
		out := make([]Value, len(s))
		for i, x := range s {
			out[i] = Value(x)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		co   *Coincidences
		want error
	}{
		{"empty", units(), ErrNoPairableValues},
		{"only singletons", units(v("1"), v("2")), ErrNoPairableValues},
		{"no variation", units(v("1", "1"), v("1", "1", "1")), ErrNoVariation},
	} {
		for _, level := range []Level{Nominal, Ordinal, IntervalLevel, Ratio} {
			if _, err := tc.co.Alpha(level); !errors.Is(err, tc.want) || !errors.Is(err, ErrUndefined) {
				t.Errorf("%s %v alpha: err %v, want %v", tc.name, level, err, tc.want)
			}
		}
	}
	// 0.1 three times: rounding in the mean must not turn "no variation" into alpha = 1.
	if _, err := units(v("0.1", "0.1", "0.1")).Alpha(IntervalLevel); !errors.Is(err, ErrNoVariation) {
		t.Errorf("interval no variation: %v", err)
	}
	if _, err := units(v("1", "2"), v("1", "1", "2")).FleissKappa(); !errors.Is(err, ErrUnequalRaters) {
		t.Errorf("fleiss unequal raters: %v", err)
	}
	// A singleton unit does not break Fleiss' equal-raters condition: it is not pairable.
	if k, err := units(v("1", "2"), v("1", "1"), v("3")).FleissKappa(); err != nil || k.PairableUnits != 2 {
		t.Errorf("fleiss with singleton: %+v, %v", k, err)
	}
	if _, err := units(v("1", "1"), v("1", "1")).FleissKappa(); !errors.Is(err, ErrNoVariation) {
		t.Errorf("fleiss no variation: %v", err)
	}
	if _, err := units().PercentAgreement(); !errors.Is(err, ErrNoPairableValues) {
		t.Errorf("percent agreement empty: %v", err)
	}
	if _, err := CohenKappa(nil, nil, Unweighted); !errors.Is(err, ErrNoPairableValues) {
		t.Errorf("cohen empty: %v", err)
	}
	if _, err := CohenKappa(v("1"), v("1", "2"), Unweighted); err == nil || errors.Is(err, ErrUndefined) {
		t.Errorf("cohen length mismatch: %v", err)
	}
}

func TestAlphaInputErrors(t *testing.T) {
	c := NewCoincidences()
	c.AddUnit([]Value{"low", "high"})
	c.AddUnit([]Value{"low", "low", "mid"})
	for _, level := range []Level{Ordinal, IntervalLevel, Ratio, MASI} {
		if _, err := c.Alpha(level); err == nil || errors.Is(err, ErrUndefined) {
			t.Errorf("%v alpha on categories: err %v, want an input error", level, err)
		}
	}
	if _, err := c.AlphaOrdinal([]Value{"low", "mid"}); err == nil {
		t.Error("AlphaOrdinal accepted a value missing from the order")
	}
	if _, err := c.AlphaOrdinal([]Value{"low", "low", "mid", "high"}); err == nil {
		t.Error("AlphaOrdinal accepted a repeated category")
	}
	neg := NewCoincidences()
	neg.AddUnit([]Value{"-1", "2"})
	if _, err := neg.Alpha(Ratio); err == nil {
		t.Error("ratio alpha accepted a negative value")
	}
}

// Named ordinal categories ranked by AlphaOrdinal give the same alpha as their ranks, as in
// the krippendorff package's test_string_labels_ordinal_with_domain (0.815 on Krippendorff 2011).
func TestAlphaOrdinalNamedCategories(t *testing.T) {
	names := []Value{"very low", "low", "mid", "high", "very high"}
	ranked := matrixRows(t, Ordinal,
		"1 2 3 3 2 1 4 1 2 . . .",
		"1 2 3 3 2 2 4 1 2 5 . 3",
		". 3 3 3 2 3 4 2 2 5 1 .",
		"1 2 3 3 2 4 4 1 2 5 1 .")
	named := NewReliability()
	for u := 1; u <= 12; u++ {
		for _, v := range ranked.Values(itoa(u)) {
			x, _ := v.Float()
			named.Add(itoa(u), names[int(x)-1])
		}
	}
	want, _ := ranked.Alpha(Ordinal)
	got, err := named.AlphaOrdinal(names)
	// Not bit-equal: the values sort differently as text, so the float sums run in another order.
	if err != nil || !near(got.Alpha, want.Alpha, tight) || round3(got.Alpha) != 0.815 {
		t.Errorf("named ordinal alpha %v (%v), ranks give %v", got.Alpha, err, want.Alpha)
	}
}

func itoa(i int) string { return string(Number(float64(i))) }

func TestRemoveErrors(t *testing.T) {
	r := NewReliability()
	r.Add("u", "a")
	if err := r.Remove("v", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove from unknown unit: %v", err)
	}
	if err := r.Remove("u", "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove unknown value: %v", err)
	}
	if err := r.Remove("u", "a"); err != nil || r.Units() != 0 {
		t.Errorf("remove last value: %v, units %d", err, r.Units())
	}
}

func TestCoincidencesFromCells(t *testing.T) {
	good := NewCoincidences()
	good.AddUnit([]Value{"a", "b", "b"})
	good.AddUnit([]Value{"a", "c"})
	cells := good.Cells()
	// Rows summed from several partitions arrive ungrouped and possibly with A > B.
	split := []Cell{}
	for _, c := range cells {
		a, b := c.A, c.B
		if a != b {
			a, b = b, a
		}
		split = append(split, Cell{c.UnitSize, a, b, c.Count})
	}
	back, err := CoincidencesFromCells(split)
	if err != nil || !back.Equal(good) {
		t.Fatalf("round trip: %v", err)
	}
	for _, tc := range []struct {
		name  string
		cells []Cell
	}{
		{"unit size 1", []Cell{{1, "a", "a", 1}}},
		{"negative", []Cell{{2, "a", "b", -1}}},
		{"impossible sums", []Cell{{3, "a", "b", 1}}},
	} {
		if _, err := CoincidencesFromCells(tc.cells); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	var c Coincidences
	if err := c.UnmarshalJSON([]byte(`[{"unit_size":3,"a":"x","b":"y","count":1}]`)); err == nil {
		t.Error("UnmarshalJSON accepted an impossible partial")
	}
	var zero Coincidences // the zero value is an empty partial, usable as a merge target
	zero.Merge(good)
	if !zero.Equal(good) || zero.Coincidence("b", "b") != 1 || zero.Coincidence("b", "a") != 1 {
		t.Errorf("zero value merge: %v", zero.Cells())
	}
	other := NewCoincidences()
	other.AddUnit([]Value{"z", "z"})
	if err := good.Subtract(other); err == nil {
		t.Error("Subtract accepted a partial that was never merged")
	}
}

func TestCohenKappaLabelOrder(t *testing.T) {
	// Ranks 2 and 10 must be ordered numerically for weights: with text order "10" < "2"
	// the linear weights would differ.
	a := []Value{"1", "2", "10", "2"}
	b := []Value{"2", "2", "10", "1"}
	got, err := CohenKappa(a, b, Linear)
	if err != nil {
		t.Fatal(err)
	}
	// Same data relabelled 0, 1, 2 in numeric order.
	want, _ := CohenKappa([]Value{"0", "1", "2", "1"}, []Value{"1", "1", "2", "0"}, Linear)
	if got.Kappa != want.Kappa {
		t.Errorf("kappa %v, want %v", got.Kappa, want.Kappa)
	}
	if _, err := CohenKappa(a, b, Weighting(7)); err == nil {
		t.Error("unknown weighting accepted")
	}
}
