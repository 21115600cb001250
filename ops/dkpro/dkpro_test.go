package dkpro

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/agreement/unitizing/unitizingtest"
)

// wantVersion is the release issue 21 names; pom.xml pins it.
const wantVersion = "2.2.0"

func alpha(t *testing.T, s unitizing.Study) unitizing.Result {
	t.Helper()
	res, err := unitizing.Alpha(s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// compare holds Assay's figures (nil: not defined) to DKPro's within tol, returning the largest
// difference.
func compare(t *testing.T, what string, tol float64, alpha, observed, expected *float64, d Figures) float64 {
	t.Helper()
	worst := 0.0
	for _, f := range []struct {
		name  string
		got   *float64
		dkpro float64
	}{{"alpha", alpha, d.Alpha}, {"D_o", observed, d.Observed}, {"D_e", expected, d.Expected}} {
		switch {
		case f.got == nil:
			t.Errorf("%s: %s not defined in Assay, DKPro %v", what, f.name, f.dkpro)
		case !(math.Abs(*f.got-f.dkpro) <= tol): // NaN from DKPro fails too
			t.Errorf("%s: %s = %.17g, DKPro %.17g", what, f.name, *f.got, f.dkpro)
		default:
			worst = max(worst, math.Abs(*f.got-f.dkpro))
		}
	}
	return worst
}

// compareAll holds a whole result to DKPro's answer: overall and every category, the same
// categories on both sides.
func compareAll(t *testing.T, id string, tol float64, res unitizing.Result, a Answer) float64 {
	t.Helper()
	if a.Error != "" {
		t.Errorf("%s: DKPro threw %s", id, a.Error)
		return 0
	}
	if len(a.Categories) != len(res.Categories) {
		t.Errorf("%s: %d categories, DKPro %d", id, len(res.Categories), len(a.Categories))
	}
	worst := compare(t, id, tol, res.Alpha, res.Observed, res.Expected, a.Figures)
	for _, c := range res.Categories {
		d, ok := a.Categories[c.Label]
		if !ok {
			t.Errorf("%s: DKPro has no category %q", id, c.Label)
			continue
		}
		worst = max(worst, compare(t, id+"/"+c.Label, tol, c.Alpha, c.Observed, c.Expected, d))
	}
	return worst
}

func ptr(x float64) *float64 { return &x }

// TestPublishedExamplesMatchDKPro: Krippendorff's published examples and DKPro's own, through
// DKPro Statistics 2.2.0 and through Alpha: the same figures within 1e-12, and DKPro's within
// the published values' tolerances as Assay's are (streams/agreement/unitizing's tests).
func TestPublishedExamplesMatchDKPro(t *testing.T) {
	type example struct {
		id        string
		study     unitizing.Study
		published map[string]unitizingtest.Values // by label; "" overall
	}
	examples := []example{
		{"krippendorff-2004", unitizingtest.Krippendorff2004(), unitizingtest.Krippendorff2004Values},
		{"krippendorff-1995", unitizingtest.Krippendorff1995(1), map[string]unitizingtest.Values{}},
		{"krippendorff-1995-stretched", unitizingtest.Krippendorff1995(unitizingtest.Krippendorff1995Stretch), unitizingtest.Krippendorff1995Values},
		{"dkpro-unitizing-agreement-test", unitizingtest.DKProExample(), nil},
	}
	for label, v := range unitizingtest.Krippendorff1995Values {
		examples[1].published[label] = unitizingtest.Values{Observed: v.Observed}
	}
	for _, c := range unitizingtest.Krippendorff1995C {
		examples = append(examples, example{fmt.Sprintf("krippendorff-1995-C-x%v", c.Stretch),
			unitizingtest.Krippendorff1995(c.Stretch, "C"), map[string]unitizingtest.Values{"C": c.Values}})
	}
	var studies []Study
	for _, e := range examples {
		studies = append(studies, Layout(e.id, e.study))
	}
	// The 2004 example once more with its continuum where the paper puts it, [150, 450).
	asPublished := Layout("krippendorff-2004-as-published", unitizingtest.Krippendorff2004())
	asPublished.Begin = unitizingtest.Krippendorff2004Begin
	for i := range asPublished.Units {
		asPublished.Units[i].Offset += unitizingtest.Krippendorff2004Begin
	}
	studies = append(studies, asPublished)

	v := Run(t, studies)
	if v.Version != wantVersion {
		t.Errorf("DKPro Statistics %s answered, want %s (ops/dkpro/pom.xml)", v.Version, wantVersion)
	}
	for _, e := range examples {
		res := alpha(t, e.study)
		a := v.Studies[e.id]
		compareAll(t, e.id, 1e-12, res, a)
		for label, pub := range e.published {
			d := a.Figures
			if label != "" {
				d = a.Categories[label]
			}
			unitizingtest.Check(t, "DKPro, "+e.id+"/"+label, ptr(d.Observed), ptr(d.Expected), ptr(d.Alpha), pub)
		}
	}
	compareAll(t, asPublished.ID, 1e-12, alpha(t, unitizingtest.Krippendorff2004()), v.Studies[asPublished.ID])
	t.Logf("DKPro Statistics %s: %d published and DKPro examples agree with Assay within 1e-12", v.Version, len(studies))
}

// TestSeededStudiesMatchDKPro: 500 seeded random studies (2-5 raters, several items, labels
// and gaps, spans of different labels overlapping, touching spans, empty labels; every fifth
// scaled ×10,007 to millions of positions), one JVM: every figure of every study equals DKPro's
// within 1e-9. The studies Assay calls not defined (no spans, an empty continuum) get NaN from
// DKPro.
func TestSeededStudiesMatchDKPro(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2026))
	var studies []Study
	var ours []unitizing.Study
	for n := range 500 {
		s := unitizingtest.RandomStudy(rng)
		if n%5 == 4 {
			s = unitizingtest.Scale(s, 10007)
		}
		ours = append(ours, s)
		studies = append(studies, Layout(fmt.Sprintf("seed-%03d", n), s))
	}
	v := Run(t, studies)
	worst, defined := 0.0, 0
	for n, s := range ours {
		res, a := alpha(t, s), v.Studies[studies[n].ID]
		if res.Alpha == nil {
			if !math.IsNaN(a.Alpha) {
				t.Errorf("%s: not defined in Assay (%s), DKPro %v", studies[n].ID, res.Undefined, a.Alpha)
			}
			continue
		}
		defined++
		worst = max(worst, compareAll(t, studies[n].ID, 1e-9, res, a))
	}
	if defined < 450 {
		t.Errorf("only %d of %d seeded studies have a defined alpha", defined, len(ours))
	}
	t.Logf("DKPro Statistics %s: %d seeded studies with a defined alpha agree, largest difference %.3g", v.Version, defined, worst)
}

// TestNotDefinedWhereDKProAnswers pins what DKPro 2.2.0 returns for the studies Assay reports
// as not defined, and the two edge cases both define.
func TestNotDefinedWhereDKProAnswers(t *testing.T) {
	item := func(length int64, spans ...[]unitizing.Span) unitizing.Item {
		return unitizing.Item{ID: "x", Length: length, Spans: spans}
	}
	sp := func(label string, b, e int64) unitizing.Span { return unitizing.Span{Label: label, Start: b, End: e} }
	cases := []struct {
		id    string
		study unitizing.Study
		// undefined is the reason Assay gives ("" when Assay defines alpha: then it must equal
		// DKPro's); dkpro checks DKPro's overall answer.
		undefined string
		dkpro     func(Answer) bool
	}{
		{"no-spans", unitizing.Study{Raters: []string{"a", "b", "c"}, Items: []unitizing.Item{item(20, nil, nil, nil)}},
			"no rater marked any span", func(a Answer) bool { return math.IsNaN(a.Alpha) }},
		{"one-rater", unitizing.Study{Raters: []string{"a"}, Items: []unitizing.Item{item(20, []unitizing.Span{sp("A", 2, 5)})}},
			"two or more raters", func(a Answer) bool { return math.IsNaN(a.Alpha) || math.IsInf(a.Alpha, 0) || a.Error != "" }},
		{"every-position-length-1", unitizing.Study{Raters: []string{"a", "b"}, Items: []unitizing.Item{item(3,
			[]unitizing.Span{sp("A", 0, 1), sp("A", 1, 2), sp("A", 2, 3)}, []unitizing.Span{sp("A", 0, 1), sp("A", 1, 2), sp("A", 2, 3)})}},
			"expected disagreement is 0", func(a Answer) bool { return a.Alpha == 0 && a.Observed == 0 && a.Expected == 0 }},
		{"overlap-same-label", unitizing.Study{Raters: []string{"a", "b"}, Items: []unitizing.Item{item(20,
			[]unitizing.Span{sp("A", 0, 10), sp("A", 5, 8)}, []unitizing.Span{sp("A", 0, 10)})}},
			// DKPro's section walk makes a gap of length −5 and reports perfect agreement,
			// though one rater marked a span the other did not.
			"overlap", func(a Answer) bool { return a.Alpha == 1 && a.Observed == 0 }},
		{"single-unit", unitizing.Study{Raters: []string{"a", "b", "c"}, Items: []unitizing.Item{item(20, []unitizing.Span{sp("X", 0, 1)}, nil, nil)}},
			"", nil},
		{"nested-labels", unitizing.Study{Raters: []string{"a", "b"}, Items: []unitizing.Item{item(30,
			[]unitizing.Span{sp("ORG", 0, 20), sp("LOC", 10, 15), sp("LOC", 15, 18)}, []unitizing.Span{sp("ORG", 0, 18), sp("LOC", 10, 15)})}},
			"", nil},
	}
	var studies []Study
	for _, c := range cases {
		studies = append(studies, Layout(c.id, c.study))
	}
	v := Run(t, studies)
	for _, c := range cases {
		res, a := alpha(t, c.study), v.Studies[c.id]
		if res.Alpha != nil {
			t.Logf("%s: Assay %v; DKPro %+v", c.id, *res.Alpha, a)
		} else {
			t.Logf("%s: Assay not defined (%s); DKPro %+v", c.id, res.Undefined, a)
		}
		if c.undefined == "" {
			compareAll(t, c.id, 1e-12, res, a)
			continue
		}
		if res.Alpha != nil || !strings.Contains(res.Undefined, c.undefined) {
			t.Errorf("%s: Assay alpha %v (%q), want not defined: %s", c.id, res.Alpha, res.Undefined, c.undefined)
		}
		if !c.dkpro(a) {
			t.Errorf("%s: DKPro %s answers %+v, not what this test pins", c.id, v.Version, a)
		}
	}
}
