package agreement

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Reference values in this file come from published sources, cited at each test. Where a
// source rounds (the papers give three decimals), the test checks both the rounding and the
// full-precision value of the reference implementation the source is also tested with:
//
//   - krippendorff (PyPI "krippendorff" 0.9.0, pln-fing-udelar/fast-krippendorff), whose
//     tests/test_krippendorff.py uses the same data sets;
//   - scikit-learn 1.9.1, sklearn/metrics/tests/test_classification.py::test_cohen_kappa;
//   - NLTK 3.10.4, nltk.metrics.distance.masi_distance and nltk.metrics.agreement.AnnotationTask.
//
// The full-precision figures were computed with those packages once, by hand; the tests need
// no Python.

const tight = 1e-12

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// round3 rounds to the three decimals the papers publish.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// matrixRows builds a Reliability from reliability data written as Krippendorff does: one row
// per observer, one column per unit, "." for a missing value.
func matrixRows(t *testing.T, level Level, rows ...string) *Reliability {
	t.Helper()
	r := NewReliability()
	for _, row := range rows {
		for u, cell := range strings.Fields(row) {
			if cell == "." {
				continue
			}
			v, err := ParseValue(level, cell)
			if err != nil {
				t.Fatalf("cell %q: %v", cell, err)
			}
			r.Add(strconv.Itoa(u+1), v)
		}
	}
	return r
}

// Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
// Communication, University of Pennsylvania (repository.upenn.edu/asc_papers/43), section C,
// "Nominal data, any number of observers, missing data": 4 observers × 12 units. The paper
// gives α_nominal = 0.743, α_ordinal = 0.815, α_interval = 0.849, α_ratio = 0.797, with
// n.. = 40 pairable values and marginals n_1..n_5 = 9, 13, 10, 5, 3.
// The same data is in the krippendorff package's test_ordinal_metric (0.815) and
// test_ratio_metric (0.797).
func TestKrippendorff2011Example(t *testing.T) {
	f, err := os.Open("testdata/krippendorff2011.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		level     Level
		published float64 // Krippendorff 2011
		full      float64 // krippendorff 0.9.0 alpha(...)
	}{
		{Nominal, 0.743, 0.743421052631579},
		{Ordinal, 0.815, 0.8153875037548814},
		{IntervalLevel, 0.849, 0.8491071428571428},
		{Ratio, 0.797, 0.7974027747116121},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			ratings, err := ReadRatingsCSV(f, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			if len(ratings) != 41 {
				t.Fatalf("read %d ratings, want 41", len(ratings))
			}
			r := NewReliability()
			for _, x := range ratings {
				r.Add(x.Unit, x.Value)
			}
			got, err := r.Alpha(tc.level)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Krippendorff 2011 %v: computed %.17g, published %.3f, package %.17g", tc.level, got.Alpha, tc.published, tc.full)
			if round3(got.Alpha) != tc.published {
				t.Errorf("alpha = %.6f, rounds to %.3f; Krippendorff 2011 publishes %.3f", got.Alpha, round3(got.Alpha), tc.published)
			}
			if !near(got.Alpha, tc.full, tight) {
				t.Errorf("alpha = %.17g, krippendorff package gives %.17g", got.Alpha, tc.full)
			}
			if got.PairableValues != 40 || got.PairableUnits != 11 {
				t.Errorf("pairable values/units = %d/%d, want 40/11 (unit 12 has one value)", got.PairableValues, got.PairableUnits)
			}
		})
	}
	r := matrixRows(t, Nominal,
		"1 2 3 3 2 1 4 1 2 . . .",
		"1 2 3 3 2 2 4 1 2 5 . 3",
		". 3 3 3 2 3 4 2 2 5 1 .",
		"1 2 3 3 2 4 4 1 2 5 1 .")
	marg := r.Snapshot().Marginals()
	for v, want := range map[Value]int64{"1": 9, "2": 13, "3": 10, "4": 5, "5": 3} {
		if marg[v] != want {
			t.Errorf("n_%s = %d, Krippendorff 2011 gives %d", v, marg[v], want)
		}
	}
}

// Krippendorff 2011, section A, "Binary or dichotomous data, two observers, no missing data":
// 10 units, α = 0.095. The exact value is 2/21.
func TestKrippendorff2011Binary(t *testing.T) {
	r := matrixRows(t, Nominal,
		"0 1 0 0 0 0 0 0 1 0",
		"1 1 1 0 0 1 0 0 0 0")
	got, err := r.Alpha(Nominal)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Krippendorff 2011 binary: computed %.17g, published 0.095", got.Alpha)
	if round3(got.Alpha) != 0.095 || !near(got.Alpha, 2.0/21, tight) {
		t.Errorf("alpha = %.17g, want 0.095 (2/21 = %.17g)", got.Alpha, 2.0/21)
	}
	// The paper's coincidence matrix: o_00 = 10, o_01 = o_10 = 4, o_11 = 2; n.. = 20.
	co := r.Snapshot()
	for _, c := range []struct {
		a, b Value
		o    float64
	}{{"0", "0", 10}, {"0", "1", 4}, {"1", "0", 4}, {"1", "1", 2}} {
		if got := co.Coincidence(c.a, c.b); got != c.o {
			t.Errorf("o_%s%s = %v, want %v", c.a, c.b, got, c.o)
		}
	}
	if n := co.PairableValues(); n != 20 {
		t.Errorf("n.. = %d, want 20", n)
	}
}

// The 3 coders × 15 units data set of Wikipedia's "Krippendorff's alpha" computational example
// and of the krippendorff package's test_nominal_metric_reliability_data (0.691358) and
// test_interval_metric (0.810845). Ordinal and ratio are that package's values on the same data.
func TestKrippendorffWikipediaExample(t *testing.T) {
	rows := []string{
		". . . . . 3 4 1 2 1 1 3 3 . 3",
		"1 . 2 1 3 3 4 3 . . . . . . .",
		". . 2 1 3 4 4 . 2 1 1 3 3 . 4",
	}
	for _, tc := range []struct {
		level Level
		want  float64
		tol   float64
	}{
		{Nominal, 0.691358, 5e-7},
		{Nominal, 0.691358024691358, tight},
		{IntervalLevel, 0.810845, 5e-7},
		{IntervalLevel, 0.8108448928121059, tight},
		{Ordinal, 0.8067214199413153, tight},
		{Ratio, 0.8089436707842471, tight},
	} {
		got, err := matrixRows(t, tc.level, rows...).Alpha(tc.level)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Wikipedia 3x15 %v: computed %.17g, want %v", tc.level, got.Alpha, tc.want)
		if !near(got.Alpha, tc.want, tc.tol) {
			t.Errorf("%v alpha = %.17g, want %v", tc.level, got.Alpha, tc.want)
		}
	}
}

// krippendorff package, test_ratio_metric_with_zeros: two identical coders with values 0, 1, 2
// give α_ratio = 1 (the ratio distance between 0 and 0 is defined as 0).
func TestRatioWithZeros(t *testing.T) {
	got, err := matrixRows(t, Ratio, "0 1 2", "0 1 2").Alpha(Ratio)
	if err != nil || got.Alpha != 1 {
		t.Errorf("alpha = %v, %v; want 1", got.Alpha, err)
	}
}

// Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories,
// P̄ = 0.378, P_e = 0.213, κ = 0.210. Rows are subjects, columns the counts per category.
func TestFleissKappaWikipedia(t *testing.T) {
	table := [][5]int{
		{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
		{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
	}
	r := NewReliability()
	for i, row := range table {
		for c, n := range row {
			for range n {
				r.Add(strconv.Itoa(i), Category(strconv.Itoa(c+1)))
			}
		}
	}
	k, err := r.FleissKappa()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Fleiss Wikipedia: kappa %.17g P̄ %.17g P_e %.17g", k.Kappa, k.ObservedAgreement, k.ExpectedAgreement)
	if round3(k.Kappa) != 0.210 || round3(k.ObservedAgreement) != 0.378 || round3(k.ExpectedAgreement) != 0.213 {
		t.Errorf("kappa %.4f P̄ %.4f P_e %.4f; Wikipedia gives 0.210, 0.378, 0.213", k.Kappa, k.ObservedAgreement, k.ExpectedAgreement)
	}
	// Full precision from the Wikipedia formulas evaluated with numpy.
	if !near(k.Kappa, 0.20993070442195522, tight) {
		t.Errorf("kappa = %.17g, want 0.20993070442195522", k.Kappa)
	}
	if k.RatersPerUnit != 14 || k.PairableUnits != 10 || k.PairableValues != 140 {
		t.Errorf("raters/units/values = %d/%d/%d, want 14/10/140", k.RatersPerUnit, k.PairableUnits, k.PairableValues)
	}
	// P̄ is also this package's percent agreement.
	p, err := r.PercentAgreement()
	if err != nil || !near(p.PercentAgreement, k.ObservedAgreement, tight) {
		t.Errorf("percent agreement %v (%v), want P̄ %v", p.PercentAgreement, err, k.ObservedAgreement)
	}
}

// scikit-learn, sklearn/metrics/tests/test_classification.py::test_cohen_kappa, whose data
// reproduce Artstein & Poesio (2008) Tables 1 and 4.
func TestCohenKappaScikitLearn(t *testing.T) {
	seq := func(parts ...int) []Value { // value, count, value, count, ...
		var out []Value
		for i := 0; i < len(parts); i += 2 {
			for range parts[i+1] {
				out = append(out, Rank(parts[i]))
			}
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		y1, y2    []Value
		w         Weighting
		sklearn   float64 // asserted in the sklearn test (to its stated decimals)
		decimals  int
		fullValue float64 // cohen_kappa_score in scikit-learn 1.9.1
	}{
		{"binary", seq(0, 40, 1, 60), seq(0, 20, 1, 20, 0, 10, 1, 50), Unweighted, 0.348, 3, 0.34782608695652173},
		{"multiclass", seq(0, 46, 1, 44, 2, 10), seq(0, 52, 1, 32, 2, 16), Unweighted, 0.8013, 4, 0.8013245033112583},
		{"none", seq(0, 46, 1, 44, 2, 10), seq(0, 50, 1, 40, 2, 10), Unweighted, 0.9315, 4, 0.9315068493150684},
		{"linear", seq(0, 46, 1, 44, 2, 10), seq(0, 50, 1, 40, 2, 10), Linear, 0.9412, 4, 0.9411764705882353},
		{"quadratic", seq(0, 46, 1, 44, 2, 10), seq(0, 50, 1, 40, 2, 10), Quadratic, 0.9541, 4, 0.9541284403669725},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := CohenKappa(tc.y1, tc.y2, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("sklearn %s: computed %.17g, test asserts %v, sklearn %.17g", tc.name, k.Kappa, tc.sklearn, tc.fullValue)
			// assert_almost_equal(actual, desired, decimal) checks |a−d| < 1.5·10^−decimal.
			if !near(k.Kappa, tc.sklearn, 1.5*math.Pow10(-tc.decimals)) {
				t.Errorf("kappa = %v, sklearn test asserts %v", k.Kappa, tc.sklearn)
			}
			if !near(k.Kappa, tc.fullValue, tight) {
				t.Errorf("kappa = %.17g, sklearn computes %.17g", k.Kappa, tc.fullValue)
			}
			rev, _ := CohenKappa(tc.y2, tc.y1, tc.w)
			if rev.Kappa != k.Kappa {
				t.Errorf("kappa not symmetric: %v vs %v", k.Kappa, rev.Kappa)
			}
		})
	}
	// Same test: a rater agreeing with itself has kappa 1.
	y := seq(0, 40, 1, 60, 2, 4)
	if k, err := CohenKappa(y, y, Unweighted); err != nil || k.Kappa != 1 {
		t.Errorf("self kappa = %v, %v", k.Kappa, err)
	}
	// sklearn test_cohen_kappa_undefined: both raters only ever use one label → undefined.
	if _, err := CohenKappa(seq(3, 10), seq(3, 10), Unweighted); !errors.Is(err, ErrUndefined) {
		t.Errorf("single-label kappa err = %v, want ErrUndefined", err)
	}
}

// NLTK's masi_distance (nltk.metrics.distance), the reference implementation of Passonneau
// (2006): its docstring gives masi_distance({1,2}, {1,2,3,4}) = 0.6666666666666667. The other
// rows are NLTK's results for the four cases of Passonneau's monotonicity weight M.
func TestMASIDistanceNLTK(t *testing.T) {
	for _, tc := range []struct {
		a, b          []string
		masi, jaccard float64
	}{
		{[]string{"1", "2"}, []string{"1", "2", "3", "4"}, 0.6666666666666667, 0.5},      // subset, M = 2/3
		{[]string{"a", "b"}, []string{"a", "b", "c"}, 0.5555555555555556, 1.0 / 3},       // subset
		{[]string{"a", "b"}, []string{"b", "c"}, 0.8888888888888888, 0.6666666666666666}, // overlap, M = 1/3
		{[]string{"a"}, []string{"b"}, 1, 1},                                             // disjoint, M = 0
		{[]string{"a", "b"}, []string{"b", "a"}, 0, 0},                                   // identical, M = 1
		{nil, nil, 0, 0}, // NLTK divides by zero; two empty answers are the same answer
	} {
		t.Logf("masi(%v,%v) = %.17g (NLTK %v), jaccard %.17g (NLTK %v)", tc.a, tc.b, MASIDistance(tc.a, tc.b), tc.masi, JaccardDistance(tc.a, tc.b), tc.jaccard)
		if got := MASIDistance(tc.a, tc.b); !near(got, tc.masi, tight) {
			t.Errorf("masi(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.masi)
		}
		if got := JaccardDistance(tc.a, tc.b); !near(got, tc.jaccard, tight) {
			t.Errorf("jaccard(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.jaccard)
		}
	}
}

// Alpha with set distances checked against nltk.metrics.agreement.AnnotationTask(data,
// distance=masi_distance).alpha() (and jaccard_distance) on the same triples; NLTK 3.10.4
// gives 0.4547003692132915 and 0.5138226882745471. Unit 7 has one value and is left out.
func TestAlphaMASINLTK(t *testing.T) {
	data := []struct{ coder, unit, labels string }{
		{"c1", "1", "a"}, {"c2", "1", "a|b"}, {"c3", "1", "a"},
		{"c1", "2", "b|c"}, {"c2", "2", "c"}, {"c3", "2", "b|c"},
		{"c1", "3", "a|b|c"}, {"c2", "3", "a|b"},
		{"c1", "4", "d"}, {"c2", "4", "d"}, {"c3", "4", "a|d"},
		{"c1", "5", "b"}, {"c2", "5", "c"}, {"c3", "5", "b"},
		{"c1", "6", "a|c"}, {"c3", "6", "c|a"},
		{"c1", "7", "e"},
	}
	for level, want := range map[Level]float64{MASI: 0.4547003692132915, Jaccard: 0.5138226882745471} {
		r := NewReliability()
		for _, d := range data {
			v, err := ParseValue(level, d.labels)
			if err != nil {
				t.Fatal(err)
			}
			r.Add(d.unit, v)
		}
		got, err := r.Alpha(level)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v alpha: computed %.17g, NLTK %.17g", level, got.Alpha, want)
		if !near(got.Alpha, want, tight) {
			t.Errorf("%v alpha = %.17g, NLTK gives %.17g", level, got.Alpha, want)
		}
		if got.PairableUnits != 6 || got.PairableValues != 16 {
			t.Errorf("%v pairable units/values = %d/%d, want 6/16", level, got.PairableUnits, got.PairableValues)
		}
	}
}
