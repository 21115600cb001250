package unitizing_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/agreement/unitizing/unitizingtest"
)

// figure is one expected value with the tolerance it is held to.
type figure struct {
	want, tol float64
}

func checkFigure(t *testing.T, what string, got *float64, f figure) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("%s: not defined, want %v", what, f.want)
	case math.Abs(*got-f.want) > f.tol:
		t.Errorf("%s = %.12g, want %.12g ± %g", what, *got, f.want, f.tol)
	}
}

func category(t *testing.T, res unitizing.Result, label string) unitizing.Category {
	t.Helper()
	for _, c := range res.Categories {
		if c.Label == label {
			return c
		}
	}
	t.Fatalf("no category %q in %+v", label, res.Categories)
	return unitizing.Category{}
}

func mustAlpha(t *testing.T, s unitizing.Study) unitizing.Result {
	t.Helper()
	res, err := unitizing.Alpha(s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// dkproExact is the tolerance for values DKPro Statistics 2.2.0 printed (ops/dkpro recomputes
// them in make test): its doubles and BigDecimal(DECIMAL128) against Alpha's exact rationals.
const dkproExact = 1e-12

// TestKrippendorff2004: the published values (unitizingtest.Krippendorff2004Values), and what
// DKPro Statistics 2.2.0 computes for the example (ops/dkpro recomputes it in make test).
func TestKrippendorff2004(t *testing.T) {
	res := mustAlpha(t, unitizingtest.Krippendorff2004())
	for label, v := range unitizingtest.Krippendorff2004Values {
		if label == "" {
			unitizingtest.Check(t, "published, overall", res.Observed, res.Expected, res.Alpha, v)
			continue
		}
		c := category(t, res, label)
		unitizingtest.Check(t, "published, "+label, c.Observed, c.Expected, c.Alpha, v)
	}
	c, k := category(t, res, "c"), category(t, res, "k")
	checkFigure(t, "DKPro alpha", res.Alpha, figure{0.8586654051841702, dkproExact})
	checkFigure(t, "DKPro D_o", res.Observed, figure{0.007222222222222222, dkproExact})
	checkFigure(t, "DKPro D_e", res.Expected, figure{0.05110017283194786, dkproExact})
	checkFigure(t, "DKPro alpha(c)", c.Alpha, figure{0.728598996805389, dkproExact})
	checkFigure(t, "DKPro D_o(c)", c.Observed, figure{0.014444444444444444, dkproExact})
	checkFigure(t, "DKPro D_e(c)", c.Expected, figure{0.05322177985498048, dkproExact})
	checkFigure(t, "DKPro alpha(k)", k.Alpha, figure{1, dkproExact})
	checkFigure(t, "DKPro D_e(k)", k.Expected, figure{0.04897856580891524, dkproExact})
	if res.Length != 300 || res.Spans != 9 || res.Raters != 2 || c.Spans != 5 || k.Spans != 4 {
		t.Errorf("evidence: %+v", res)
	}
}

// TestKrippendorff1995: the published values (unitizingtest.Krippendorff1995Values: D_o at
// the paper's scale, D_e and alpha stretched ×50,000 towards the continuous measure the paper
// reports), example C converging on them as it is stretched, and DKPro 2.2.0's exact values
// at both scales.
func TestKrippendorff1995(t *testing.T) {
	at1 := mustAlpha(t, unitizingtest.Krippendorff1995(1))
	stretched := mustAlpha(t, unitizingtest.Krippendorff1995(unitizingtest.Krippendorff1995Stretch))
	for label, v := range unitizingtest.Krippendorff1995Values {
		c := category(t, at1, label)
		unitizingtest.Check(t, "published, "+label, c.Observed, nil, nil, unitizingtest.Values{Observed: v.Observed})
		c = category(t, stretched, label)
		unitizingtest.Check(t, "published, stretched, "+label, c.Observed, c.Expected, c.Alpha, v)
	}
	for _, v := range unitizingtest.Krippendorff1995C {
		c := category(t, mustAlpha(t, unitizingtest.Krippendorff1995(v.Stretch, "C")), "C")
		unitizingtest.Check(t, fmt.Sprintf("C ×%v", v.Stretch), c.Observed, c.Expected, c.Alpha, v.Values)
	}

	dkpro := map[string][2][3]float64{ // label: {D_o, D_e, alpha} at ×1 and stretched
		"A": {{0.03125, 0.06447124304267161, 0.5152877697841727}, {0.03125, 0.0699021974111251, 0.5529468148732835}},
		"B": {{2.267361111111111, 1.0895125300377617, -1.081078508599186}, {2.267361111111111, 1.175782583692202, -0.9283846712468944}},
		"C": {{0.027777777777777776, 0.07003058103975535, 0.6033478893740902}, {0.027777777777777776, 0.0905045881736827, 0.6930787892822531}},
		"D": {{0.3871527777777778, 0.32079646017699115, -0.20684865900383143}, {0.3871527777777778, 0.41445228613805307, 0.06586888110729805}},
	}
	for label, w := range dkpro {
		for i, res := range []unitizing.Result{at1, stretched} {
			c := category(t, res, label)
			checkFigure(t, fmt.Sprintf("DKPro D_o(%s) #%d", label, i), c.Observed, figure{w[i][0], dkproExact})
			checkFigure(t, fmt.Sprintf("DKPro D_e(%s) #%d", label, i), c.Expected, figure{w[i][1], dkproExact})
			checkFigure(t, fmt.Sprintf("DKPro alpha(%s) #%d", label, i), c.Alpha, figure{w[i][2], dkproExact})
		}
	}
	checkFigure(t, "DKPro alpha", at1.Alpha, figure{-0.7565527387256199, dkproExact})
	checkFigure(t, "DKPro D_o", at1.Observed, figure{0.6783854166666666, dkproExact})
	checkFigure(t, "DKPro D_e", at1.Expected, figure{0.386202703574295, dkproExact})
	checkFigure(t, "DKPro alpha, stretched", stretched.Alpha, figure{-0.5500269048626674, dkproExact})
}

// TestDKProExample is the example of DKPro's own UnitizingAgreementTest.
func TestDKProExample(t *testing.T) {
	res := mustAlpha(t, unitizingtest.DKProExample())
	a := category(t, res, "A")
	checkFigure(t, "D_o", a.Observed, figure{0.91, dkproExact})
	checkFigure(t, "D_e", a.Expected, figure{0.5351851851851852, dkproExact})
	checkFigure(t, "alpha", a.Alpha, figure{-0.7003460207612457, dkproExact})
	checkFigure(t, "overall", res.Alpha, figure{-0.7003460207612457, dkproExact})
}

func study(raters int, items ...unitizing.Item) unitizing.Study {
	s := unitizing.Study{}
	for r := range raters {
		s.Raters = append(s.Raters, string(rune('a'+r)))
	}
	s.Items = items
	return s
}

func spans(label string, bounds ...int64) []unitizing.Span {
	var out []unitizing.Span
	for i := 0; i+1 < len(bounds); i += 2 {
		out = append(out, unitizing.Span{Label: label, Start: bounds[i], End: bounds[i+1]})
	}
	return out
}

// TestNotDefined: what the measure cannot say is reported, with the reason, instead of a
// number; DKPro's answers for the same studies are in ops/dkpro (NaN, 0.0 or garbage).
func TestNotDefined(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      unitizing.Study
		reason string
	}{
		{"one rater", study(1, unitizing.Item{ID: "x", Length: 10, Spans: [][]unitizing.Span{spans("A", 1, 3)}}), "two or more raters"},
		{"no items", study(2), "no item is in scope"},
		{"items of length 0", study(2, unitizing.Item{ID: "x", Spans: [][]unitizing.Span{nil, nil}}), "continuum is empty"},
		{"no spans", study(3, unitizing.Item{ID: "x", Length: 20, Spans: [][]unitizing.Span{nil, nil, {}}}), "no rater marked any span"},
		{"every position in spans of length 1", study(2, unitizing.Item{ID: "x", Length: 3, Spans: [][]unitizing.Span{
			spans("A", 0, 1, 1, 2, 2, 3), spans("A", 2, 3, 0, 1, 1, 2)}}), "expected disagreement is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustAlpha(t, tc.s)
			if res.Alpha != nil || !strings.Contains(res.Undefined, tc.reason) {
				t.Errorf("alpha %v, undefined %q; want not defined: %q", res.Alpha, res.Undefined, tc.reason)
			}
			if res.Observed != nil || res.Expected != nil {
				t.Errorf("disagreements reported for an undefined alpha: %+v", res)
			}
		})
	}

	// One unit in all: D_o = D_e, alpha 0 (DKPro's UnitizingAgreementTest: 0.0). Defined.
	res := mustAlpha(t, study(3, unitizing.Item{ID: "x", Length: 20, Spans: [][]unitizing.Span{spans("X", 0, 1), nil, nil}}))
	checkFigure(t, "single unit", res.Alpha, figure{0, 0})
}

// TestOverlapNotDefined: overlapping spans of one label by one rater leave that label's alpha
// and the overall one not defined, naming the rater, the item and the spans; other labels are
// still computed, and spans of different labels may overlap (as DKPro and Krippendorff's own
// examples allow: the measure sees one label at a time).
func TestOverlapNotDefined(t *testing.T) {
	s := unitizing.Study{Raters: []string{"ann", "bob"}, Items: []unitizing.Item{
		{ID: "doc-1", Length: 20, Spans: [][]unitizing.Span{
			append(spans("PER", 0, 4, 10, 14), spans("LOC", 2, 12)...),
			append(spans("PER", 0, 5, 11, 14), spans("LOC", 2, 12)...),
		}},
		{ID: "doc-2", Length: 30, Spans: [][]unitizing.Span{
			spans("PER", 3, 9),
			append(spans("PER", 8, 12, 2, 9, 20, 25, 20, 25), spans("LOC", 0, 3)...),
		}},
	}}
	res := mustAlpha(t, s)
	if res.Alpha != nil || !strings.Contains(res.Undefined, `rater "bob"`) || !strings.Contains(res.Undefined, `item "doc-2"`) ||
		!strings.Contains(res.Undefined, "PER [2, 9) and [8, 12)") || !strings.Contains(res.Undefined, "2 overlap(s) in 1 label(s)") {
		t.Errorf("overall: alpha %v, undefined %q", res.Alpha, res.Undefined)
	}
	want := []unitizing.Overlap{
		{Rater: "bob", Item: "doc-2", First: unitizing.Span{Label: "PER", Start: 2, End: 9}, Second: unitizing.Span{Label: "PER", Start: 8, End: 12}},
		{Rater: "bob", Item: "doc-2", First: unitizing.Span{Label: "PER", Start: 20, End: 25}, Second: unitizing.Span{Label: "PER", Start: 20, End: 25}},
	}
	if !slices.Equal(res.Overlaps, want) {
		t.Errorf("overlaps %+v, want %+v", res.Overlaps, want)
	}
	if per := category(t, res, "PER"); per.Alpha != nil || !strings.Contains(per.Undefined, "flat spans only") {
		t.Errorf("PER: %+v", per)
	}
	if loc := category(t, res, "LOC"); loc.Alpha == nil {
		t.Errorf("LOC, whose spans overlap only other labels' spans, is not defined: %s", loc.Undefined)
	}
}

// TestMalformed: a study Alpha's arithmetic cannot take is an error, naming what is wrong.
func TestMalformed(t *testing.T) {
	item := func(length int64, ss ...[]unitizing.Span) unitizing.Item {
		return unitizing.Item{ID: "x", Length: length, Spans: ss}
	}
	for _, tc := range []struct {
		name string
		s    unitizing.Study
		want string
	}{
		{"end before start", study(2, item(10, spans("A", 5, 4), nil)), "span 0 (A [5, 4))"},
		{"empty span", study(2, item(10, nil, spans("A", 5, 5))), `rater "b"`},
		{"negative start", study(2, item(10, spans("A", -1, 4), nil)), "0 <= start"},
		{"past the item", study(2, item(10, spans("A", 5, 11), nil)), "item's length 10"},
		{"missing rater list", study(2, item(10, nil)), "span lists for 1 raters, the study has 2"},
		{"negative length", study(2, item(-1, nil, nil)), "negative"},
		{"duplicate rater", unitizing.Study{Raters: []string{"a", "a"}}, `rater "a" listed twice`},
		{"duplicate item", study(2, item(1, nil, nil), item(1, nil, nil)), `item "x" listed twice`},
		{"continuum too long", study(2, item(math.MaxInt64, nil, nil), unitizing.Item{ID: "y", Length: 1, Spans: make([][]unitizing.Span, 2)}), "add up past"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unitizing.Alpha(tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestInvariants: alpha does not depend on how raters or spans are listed; D_o does not depend
// on the order of the items (D_e does, through gaps that join across items: package doc);
// raters who mark the same spans agree perfectly.
func TestInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 21))
	for n := range 200 {
		s := unitizingtest.RandomStudy(rng)
		res := mustAlpha(t, s)

		perm := rng.Perm(len(s.Raters))
		p := unitizing.Study{Raters: make([]string, len(s.Raters))}
		for i, j := range perm {
			p.Raters[j] = s.Raters[i]
		}
		for _, it := range s.Items {
			q := unitizing.Item{ID: it.ID, Length: it.Length, Spans: make([][]unitizing.Span, len(it.Spans))}
			for i, j := range perm {
				q.Spans[j] = slices.Clone(it.Spans[i])
				slices.Reverse(q.Spans[j])
			}
			p.Items = append(p.Items, q)
		}
		if got := mustAlpha(t, p); !sameFigures(got, res) {
			t.Fatalf("study %d: raters permuted %v: %+v, was %+v", n, perm, got, res)
		}

		rev := unitizing.Study{Raters: s.Raters, Items: slices.Clone(s.Items)}
		slices.Reverse(rev.Items)
		got := mustAlpha(t, rev)
		for i, c := range got.Categories {
			if !same(c.Observed, res.Categories[i].Observed) {
				t.Fatalf("study %d: items reversed: D_o(%s) %v, was %v", n, c.Label, *c.Observed, *res.Categories[i].Observed)
			}
		}

		twin := unitizing.Study{Raters: s.Raters}
		for _, it := range s.Items {
			q := unitizing.Item{ID: it.ID, Length: it.Length, Spans: make([][]unitizing.Span, len(it.Spans))}
			for r := range q.Spans {
				q.Spans[r] = it.Spans[0]
			}
			twin.Items = append(twin.Items, q)
		}
		tw := mustAlpha(t, twin)
		for _, c := range tw.Categories {
			if c.Alpha != nil && *c.Alpha != 1 {
				t.Fatalf("study %d: identical raters, alpha(%s) = %v", n, c.Label, *c.Alpha)
			}
		}
	}
}

func same(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func sameFigures(a, b unitizing.Result) bool {
	if !same(a.Alpha, b.Alpha) || !same(a.Observed, b.Observed) || !same(a.Expected, b.Expected) || len(a.Categories) != len(b.Categories) {
		return false
	}
	for i := range a.Categories {
		x, y := a.Categories[i], b.Categories[i]
		if x.Label != y.Label || !same(x.Alpha, y.Alpha) || !same(x.Observed, y.Observed) || !same(x.Expected, y.Expected) {
			return false
		}
	}
	return true
}
