package unitizingtest

import (
	"math"
	"slices"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// Figure is a published value and the tolerance it is held to.
type Figure struct {
	Value, Tol float64
}

// Krippendorff2004 is the example of Krippendorff (2004, "Measuring the reliability of
// qualitative text analysis data", appendix; Content Analysis 2nd ed., p. 254): observers i
// and j on the continuum [150, 450), labels c and k. A study's continuum starts at 0, so the
// example is one item of length 300 with every position less 150 (the measure only sees
// differences of positions); Krippendorff2004Begin is the 150 to add back.
func Krippendorff2004() unitizing.Study {
	sp := func(label string, b, l int64) unitizing.Span {
		return unitizing.Span{Label: label, Start: b - Krippendorff2004Begin, End: b + l - Krippendorff2004Begin}
	}
	return unitizing.Study{
		Raters: []string{"i", "j"},
		Items: []unitizing.Item{{ID: "figure-2", Length: 300, Spans: [][]unitizing.Span{
			{sp("c", 225, 70), sp("c", 370, 30), sp("k", 180, 60), sp("k", 300, 50)},
			{sp("c", 220, 80), sp("c", 355, 20), sp("c", 400, 20), sp("k", 180, 60), sp("k", 300, 50)},
		}}},
	}
}

// Krippendorff2004Begin is where the 2004 example's continuum begins in the paper.
const Krippendorff2004Begin = 150

// Krippendorff2004Values are its published values, with the tolerances DKPro's
// Krippendorff2004Test holds them to: "" is the overall alpha.
var Krippendorff2004Values = map[string]Values{
	"":  {Alpha: &Figure{0.8591, 0.0005}},
	"c": {Observed: &Figure{0.0144, 0.0001}, Expected: &Figure{0.0532, 0.0001}, Alpha: &Figure{0.7286, 0.0001}},
	"k": {Observed: &Figure{0, 0.0001}, Expected: &Figure{0.0490, 0.0001}, Alpha: &Figure{1, 0.0001}},
}

// Values are the published figures for one label (nil: not published).
type Values struct {
	Observed, Expected, Alpha *Figure
}

// krippendorff1995Units are the four two-observer examples of Krippendorff (1995, "On the
// reliability of unitizing continuous data", p. 57) on a continuum of 24, as DKPro's
// Krippendorff1995Test puts them in one study, one label per example (A: Bertha and Bill, B:
// John and Jill, C: Gerret and Gill, D: Heather and Hill): {rater, begin, length}.
var krippendorff1995Units = map[string][][3]int64{
	"A": {{0, 2, 8}, {0, 14, 6}, {1, 4, 4}, {1, 15, 2}},
	"B": {{0, 0, 18}, {1, 0, 2}, {1, 2, 1}, {1, 3, 1}, {1, 4, 1}, {1, 5, 1}, {1, 6, 3}, {1, 9, 1}},
	"C": {{0, 2, 6}, {0, 10, 2}, {0, 14, 4}, {0, 20, 2}, {1, 0, 2}, {1, 4, 4}, {1, 10, 4}, {1, 16, 2}, {1, 20, 2}},
	"D": {{0, 0, 2}, {0, 2, 8}, {0, 10, 4}, {0, 14, 6}, {0, 20, 4}, {1, 0, 4}, {1, 4, 4}, {1, 8, 7}, {1, 15, 2}, {1, 17, 7}},
}

// Krippendorff1995 is that study with every position multiplied by stretch and truncated as
// DKPro's test does ((int)(x·stretch)), keeping only the labels in only (none: all four).
func Krippendorff1995(stretch float64, only ...string) unitizing.Study {
	at := func(x int64) int64 { return int64(float64(x) * stretch) }
	it := unitizing.Item{ID: "p57", Length: at(24), Spans: make([][]unitizing.Span, 2)}
	for _, label := range []string{"A", "B", "C", "D"} {
		if len(only) > 0 && !slices.Contains(only, label) {
			continue
		}
		for _, u := range krippendorff1995Units[label] {
			it.Spans[u[0]] = append(it.Spans[u[0]], unitizing.Span{Label: label, Start: at(u[1]), End: at(u[1]) + at(u[2])})
		}
	}
	return unitizing.Study{Raters: []string{"first", "second"}, Items: []unitizing.Item{it}}
}

// Krippendorff1995Stretch is the stretch at which the discrete measure is held to the published
// D_e and alpha: those are the continuous measure's, which the discrete one approaches as
// positions get finer (D_o does not depend on the scale). It is DKPro's test's 1,200,000/24.
const Krippendorff1995Stretch = 50000

// Krippendorff1995Values are the published values per label, with the tolerances of DKPro's
// Krippendorff1995Test (which notes a small error in the paper's D_e): D_o at any stretch,
// D_e and alpha at Krippendorff1995Stretch.
var Krippendorff1995Values = map[string]Values{
	"A": {Observed: &Figure{0.03125, 1e-5}, Expected: &Figure{0.06990, 0.005}, Alpha: &Figure{0.553, 0.02}},
	"B": {Observed: &Figure{2.26736, 1e-5}, Expected: &Figure{1.17731, 0.005}, Alpha: &Figure{-0.926, 0.02}},
	"C": {Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.08642, 0.005}, Alpha: &Figure{0.679, 0.02}},
	"D": {Observed: &Figure{0.38715, 1e-5}, Expected: &Figure{0.41445, 0.005}, Alpha: &Figure{0.066, 0.02}},
}

// Krippendorff1995C is example C at the stretches of DKPro's testVaryingLengths, with the
// values it holds D_e and alpha to there: they converge on the published ones.
var Krippendorff1995C = []struct {
	Stretch float64
	Values  Values
}{
	{0.5, Values{Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.05494, 1e-5}, Alpha: &Figure{0.494, 0.02}}},
	{5, Values{Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.08234, 0.005}, Alpha: &Figure{0.663, 0.02}}},
	{50, Values{Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.08600, 0.005}, Alpha: &Figure{0.677, 0.02}}},
	{500, Values{Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.08638, 0.005}, Alpha: &Figure{0.678, 0.02}}},
	{5000, Values{Observed: &Figure{0.02777, 1e-5}, Expected: &Figure{0.08642, 0.005}, Alpha: &Figure{0.679, 0.02}}},
}

// DKProExample is the example of DKPro's own UnitizingAgreementTest (not published elsewhere):
// one rater marks [1, 9) of 10, the other three single positions inside it.
func DKProExample() unitizing.Study {
	return unitizing.Study{Raters: []string{"r0", "r1"}, Items: []unitizing.Item{{ID: "x", Length: 10, Spans: [][]unitizing.Span{
		{{Label: "A", Start: 1, End: 9}},
		{{Label: "A", Start: 2, End: 3}, {Label: "A", Start: 4, End: 5}, {Label: "A", Start: 6, End: 7}},
	}}}}
}

// Scale returns s with every length and position multiplied by k, for checks at large
// magnitudes.
func Scale(s unitizing.Study, k int64) unitizing.Study {
	out := unitizing.Study{Raters: s.Raters, Skipped: s.Skipped}
	for _, it := range s.Items {
		q := unitizing.Item{ID: it.ID, Length: it.Length * k, Spans: make([][]unitizing.Span, len(it.Spans))}
		for r, ss := range it.Spans {
			for _, sp := range ss {
				q.Spans[r] = append(q.Spans[r], unitizing.Span{Label: sp.Label, Start: sp.Start * k, End: sp.End * k})
			}
		}
		out.Items = append(out.Items, q)
	}
	return out
}

// Check holds the figures observed, expected and alpha (nil: not defined) to the ones v
// publishes, failing t for each that is off or missing; what names them in the message.
func Check(t testing.TB, what string, observed, expected, alpha *float64, v Values) {
	t.Helper()
	for _, f := range []struct {
		name string
		got  *float64
		want *Figure
	}{{"D_o", observed, v.Observed}, {"D_e", expected, v.Expected}, {"alpha", alpha, v.Alpha}} {
		switch {
		case f.want == nil:
		case f.got == nil:
			t.Errorf("%s: %s not defined, published %v", what, f.name, f.want.Value)
		case math.Abs(*f.got-f.want.Value) > f.want.Tol:
			t.Errorf("%s: %s = %.6g, published %v ± %v", what, f.name, *f.got, f.want.Value, f.want.Tol)
		}
	}
}
