package agreement

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"testing"
)

// profilesOf groups the units of randomUnits into profiles.
func profilesOf(units map[string][]Value) []UnitProfile {
	var us [][]Value
	for _, k := range slices.Sorted(maps.Keys(units)) {
		us = append(us, units[k])
	}
	return Profiles(us)
}

// TestLeaveOneOutMatchesRecomputation: the O(d) leave-one-out alpha of every profile equals
// alpha recomputed from scratch without one of its units, at every level.
func TestLeaveOneOutMatchesRecomputation(t *testing.T) {
	for _, level := range allLevels {
		t.Run(level.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(level) + 11))
			for trial := range 20 {
				profiles := profilesOf(randomUnits(rng, level, 10+rng.Intn(60), 5))
				full, jps, loo, err := jackknife(profiles, level, nil)
				if errors.Is(err, ErrUndefined) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := batchOf(profiles).Alpha(level); full.Alpha != want.Alpha {
					t.Fatalf("trial %d: full alpha %v, want %v", trial, full.Alpha, want.Alpha)
				}
				if len(loo) != len(jps) {
					t.Fatalf("%d leave-one-out alphas for %d profiles", len(loo), len(jps))
				}
				vs, _ := batchOf(profiles).prepare()
				checked := 0
				for i, p := range profiles {
					if len(p.Values) < 2 {
						continue
					}
					less := slices.Clone(profiles)
					less[i].Units--
					want, err := batchOf(less).Alpha(level)
					if err != nil {
						t.Fatalf("trial %d: recomputed alpha: %v", trial, err)
					}
					j := slices.IndexFunc(jps, func(jp jackProfile) bool { return jp.m == float64(len(p.Values)) && sameProfile(jp, p, vs) })
					if j < 0 {
						t.Fatalf("profile %v not among the pairable ones", p.Values)
					}
					if !near(loo[j], want.Alpha, 1e-9) {
						t.Errorf("trial %d, profile %s: leave-one-out alpha %.15f, recomputed %.15f", trial, ProfileKey(p.Values), loo[j], want.Alpha)
					}
					checked++
				}
				if checked == 0 {
					t.Fatalf("trial %d: no pairable profile", trial)
				}
			}
		})
	}
}

// sameProfile reports whether jp is the dense form of p in the value space vs.
func sameProfile(jp jackProfile, p UnitProfile, vs valueSpace) bool {
	cv := countValues(p.Values)
	if len(cv) != len(jp.idx) {
		return false
	}
	for k, x := range cv {
		if vs.values[jp.idx[k]] != x.v || jp.n[k] != float64(x.n) {
			return false
		}
	}
	return true
}

// TestAddProfile: a profile adds what its units add one by one.
func TestAddProfile(t *testing.T) {
	for _, level := range allLevels {
		rng := rand.New(rand.NewSource(int64(level)))
		profiles := profilesOf(randomUnits(rng, level, 100, 5))
		got := NewCoincidences()
		for _, p := range profiles {
			got.AddProfile(p)
		}
		if !got.Equal(batchOf(profiles)) {
			t.Errorf("%v: AddProfile differs from AddUnit per unit", level)
		}
	}
}

// batchOf builds the coincidences of profiles the plain way: one AddUnit per unit.
func batchOf(profiles []UnitProfile) *Coincidences {
	c := NewCoincidences()
	for _, p := range profiles {
		for range p.Units {
			c.AddUnit(p.Values)
		}
	}
	return c
}

// TestJackknifeAggregatedEqualsPerUnit: the interval from profiles equals the textbook
// jackknife over the same units one by one (every unit left out, recomputed from scratch).
func TestJackknifeAggregatedEqualsPerUnit(t *testing.T) {
	for _, level := range allLevels {
		rng := rand.New(rand.NewSource(int64(level) + 99))
		units := randomUnits(rng, level, 80, 4)
		profiles := profilesOf(units)
		got, err := AlphaInterval(profiles, level, 0.9)
		if err != nil {
			t.Fatalf("%v: %v", level, err)
		}
		var pairable [][]Value
		for _, k := range slices.Sorted(maps.Keys(units)) {
			if len(units[k]) >= 2 {
				pairable = append(pairable, units[k])
			}
		}
		n := float64(len(pairable))
		loo := make([]float64, len(pairable))
		for i := range pairable {
			c := NewCoincidences()
			for j, u := range pairable {
				if j != i {
					c.AddUnit(u)
				}
			}
			a, err := c.Alpha(level)
			if err != nil {
				t.Fatalf("%v: %v", level, err)
			}
			loo[i] = a.Alpha
		}
		full, _ := batch(units).Alpha(level)
		// Fisher's z with k = n../N, written out again.
		k := float64(full.PairableValues) / n
		fz := func(a float64) float64 { return 0.5 * math.Log((1+(k-1)*a)/(1-a)) }
		var zmean float64
		for _, a := range loo {
			zmean += fz(a) / n
		}
		var ss float64
		for _, a := range loo {
			ss += (fz(a) - zmean) * (fz(a) - zmean)
		}
		se := math.Sqrt((n - 1) / n * ss)
		const z90 = 1.6448536269514722
		back := func(z float64) float64 { return (math.Exp(2*z) - 1) / (math.Exp(2*z) + k - 1) }
		wantLow, wantHigh := back(fz(full.Alpha)-z90*se), back(fz(full.Alpha)+z90*se)
		if !near(got.Low, wantLow, 1e-9) || !near(got.High, wantHigh, 1e-9) || got.Level != 0.9 || got.Method != MethodJackknifeUnits {
			t.Errorf("%v: interval %+v, per-unit jackknife [%v, %v]", level, got, wantLow, wantHigh)
		}
		if !(got.Low <= full.Alpha && full.Alpha <= got.High) {
			t.Errorf("%v: interval %+v does not contain alpha %v", level, got, full.Alpha)
		}
	}
}

// TestAlphaIntervalOrderInvariant: the interval does not depend on the order of the profiles,
// on how units are split between equal profiles, or on the order of values in a profile, to
// the last bit.
func TestAlphaIntervalOrderInvariant(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	profiles := profilesOf(randomUnits(rng, IntervalLevel, 200, 4))
	want, err := AlphaInterval(profiles, IntervalLevel, DefaultConfidence)
	if err != nil {
		t.Fatal(err)
	}
	var split []UnitProfile
	for _, p := range profiles {
		v := slices.Clone(p.Values)
		slices.Reverse(v)
		for range p.Units {
			split = append(split, UnitProfile{Values: v, Units: 1})
		}
	}
	rng.Shuffle(len(split), func(i, j int) { split[i], split[j] = split[j], split[i] })
	got, err := AlphaInterval(split, IntervalLevel, DefaultConfidence)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("units one by one, shuffled: %+v; grouped: %+v", got, want)
	}
}

// TestAlphaOrdinalIntervalNamed: named ordinal categories give the interval of their ranks.
func TestAlphaOrdinalIntervalNamed(t *testing.T) {
	names := []Value{"low", "mid", "high", "top"}
	rng := rand.New(rand.NewSource(8))
	var ranked, named [][]Value
	for range 60 {
		var r, n []Value
		for range 2 + rng.Intn(3) {
			k := rng.Intn(len(names))
			r = append(r, Rank(k))
			n = append(n, names[k])
		}
		ranked, named = append(ranked, r), append(named, n)
	}
	want, err := AlphaInterval(Profiles(ranked), Ordinal, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	got, err := AlphaOrdinalInterval(Profiles(named), names, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.Low, want.Low, 1e-12) || !near(got.High, want.High, 1e-12) {
		t.Errorf("named %+v, ranks %+v", got, want)
	}
	if _, err := AlphaOrdinalInterval(Profiles(named), names[:2], 0.95); err == nil || errors.Is(err, ErrUndefined) {
		t.Errorf("a value missing from the order: %v, want an input error", err)
	}
}

// TestAlphaIntervalUndefined: no interval without evidence, and a confidence outside (0, 1)
// is an input error.
func TestAlphaIntervalUndefined(t *testing.T) {
	v := func(s ...string) []Value {
		out := make([]Value, len(s))
		for i, x := range s {
			out[i] = Value(x)
		}
		return out
	}
	for name, ps := range map[string][]UnitProfile{
		"no units":         nil,
		"singletons":       {{Values: v("a"), Units: 5}},
		"one unit":         {{Values: v("a", "b"), Units: 1}},
		"no variation":     {{Values: v("a", "a"), Units: 9}},
		"variation in one": {{Values: v("a", "a"), Units: 9}, {Values: v("a", "b"), Units: 1}},
	} {
		if _, err := AlphaInterval(ps, Nominal, 0.95); !errors.Is(err, ErrUndefined) {
			t.Errorf("%s: %v, want ErrUndefined", name, err)
		}
	}
	ok := []UnitProfile{{Values: v("a", "a"), Units: 3}, {Values: v("b", "b"), Units: 3}, {Values: v("a", "b"), Units: 2}}
	if _, err := AlphaInterval(ok, Nominal, 0.95); err != nil {
		t.Fatal(err)
	}
	for _, c := range []float64{0, 1, -0.5, 95, math.NaN()} {
		if _, err := AlphaInterval(ok, Nominal, c); err == nil || errors.Is(err, ErrUndefined) {
			t.Errorf("confidence %v: %v, want an input error", c, err)
		}
	}
	if _, err := AlphaInterval([]UnitProfile{{Values: v("a", "b"), Units: -1}}, Nominal, 0.95); err == nil {
		t.Error("negative units accepted")
	}
	// Perfect agreement: alpha is 1, but nothing shows how far it could be from 1; and
	// disagreement in a single unit: leaving it out gives alpha 1 again.
	perfect := []UnitProfile{{Values: v("a", "a"), Units: 3}, {Values: v("b", "b", "b"), Units: 2}}
	if _, err := AlphaInterval(perfect, Nominal, 0.95); !errors.Is(err, ErrUndefined) {
		t.Errorf("perfect agreement: %v, want ErrUndefined", err)
	}
	if _, err := AlphaInterval(append(perfect, UnitProfile{Values: v("a", "b"), Units: 1}), Nominal, 0.95); !errors.Is(err, ErrUndefined) {
		t.Errorf("disagreement in one unit: %v, want ErrUndefined", err)
	}
	// Interval values whose mean does not round-trip (0.1·3/3) still agree exactly.
	tenths := []UnitProfile{{Values: v("0.1", "0.1", "0.1"), Units: 4}, {Values: v("0.7", "0.7"), Units: 4}, {Values: v("0.1", "0.7"), Units: 1}}
	if _, err := AlphaInterval(tenths, IntervalLevel, 0.95); !errors.Is(err, ErrUndefined) {
		t.Errorf("interval disagreement in one unit: %v, want ErrUndefined", err)
	}
	// Fisher's z is defined on (−1/(k−1), 1) and inverted exactly.
	fz := fisherZ{3}
	for _, a := range []float64{-0.5, -0.6, 1, 1.2} {
		if _, err := fz.z(a); !errors.Is(err, ErrUndefined) {
			t.Errorf("z(%v) for k = 3: %v, want ErrUndefined", a, err)
		}
	}
	for _, a := range []float64{-0.49, 0, 0.5, 0.999} {
		z, err := fz.z(a)
		if err != nil || !near(fz.alpha(z), a, 1e-12) {
			t.Errorf("z(%v) = %v (%v), back %v", a, z, err, fz.alpha(z))
		}
	}
	if fz.alpha(math.Inf(1)) != 1 || fz.alpha(math.Inf(-1)) != -0.5 {
		t.Errorf("z at ±inf: %v, %v", fz.alpha(math.Inf(1)), fz.alpha(math.Inf(-1)))
	}
}

// TestProfiles: grouping, keys and their round trip.
func TestProfiles(t *testing.T) {
	ps := Profiles([][]Value{{"b", "a"}, {"a", "b"}, {"a"}, {"a", "a", "b"}, {`["x","y"]`, "q"}})
	var got []string
	for _, p := range ps {
		got = append(got, ProfileKey(p.Values)+"×"+strconv.FormatInt(p.Units, 10))
	}
	want := []string{`["[\"x\",\"y\"]","q"]×1`, `["a","a","b"]×1`, `["a","b"]×2`, `["a"]×1`} // sorted by key
	if !slices.Equal(got, want) {
		t.Errorf("profiles %q, want %q", got, want)
	}
	for _, p := range ps {
		back, err := ParseProfileKey(ProfileKey(p.Values))
		if err != nil || !slices.Equal(back, p.Values) {
			t.Errorf("round trip of %q: %q, %v", p.Values, back, err)
		}
	}
	if _, err := ParseProfileKey("a,b"); err == nil {
		t.Error("ParseProfileKey accepted text that is not a key")
	}
	b, _ := json.Marshal(Interval{Low: 0.5, High: 0.75, Level: 0.95, Method: MethodJackknifeUnits})
	if string(b) != `{"low":0.5,"high":0.75,"level":0.95,"method":"jackknife-units-fisher-z"}` {
		t.Errorf("interval JSON %s", b)
	}
}
