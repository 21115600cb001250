package regions

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/assay-data/assay/ops/scipy"
)

// refCase and refResult are the protocol of ops/scipy/regions.py.
type refCase struct {
	Kind string  `json:"kind"`
	T    float64 `json:"t"`
	Rule string  `json:"rule"`
	A    [][]any `json:"a"`
	B    [][]any `json:"b"`

	spansA, spansB []Span
	boxesA, boxesB []Box
	rule           Rule
}

type refResult struct {
	IoU        [][]float64 `json:"iou"`
	Micro      int64       `json:"micro"`
	Pairs      int64       `json:"pairs"`
	Same       int64       `json:"same"`
	FloatTotal float64     `json:"float_total"`
}

func spanCase(a, b []Span, t float64, rule Rule) refCase {
	c := refCase{Kind: "spans", T: t, Rule: map[Rule]string{SameLabel: "same", AnyLabel: "any"}[rule], spansA: a, spansB: b, rule: rule, A: [][]any{}, B: [][]any{}}
	for _, s := range a {
		c.A = append(c.A, []any{s.Label, s.Start, s.End})
	}
	for _, s := range b {
		c.B = append(c.B, []any{s.Label, s.Start, s.End})
	}
	return c
}

func boxCase(a, b []Box, t float64, rule Rule) refCase {
	c := refCase{Kind: "boxes", T: t, Rule: map[Rule]string{SameLabel: "same", AnyLabel: "any"}[rule], boxesA: a, boxesB: b, rule: rule, A: [][]any{}, B: [][]any{}}
	for _, x := range a {
		c.A = append(c.A, []any{x.Label, x.X, x.Y, x.W, x.H})
	}
	for _, x := range b {
		c.B = append(c.B, []any{x.Label, x.X, x.Y, x.W, x.H})
	}
	return c
}

// referenceCases: seeded random unit pairs of 0 to 40 regions a side, dense (every entity on
// one stretch, so components are large) or spread out (many small components), at several
// thresholds and both rules; and a few worst cases of 150 mutually eligible regions a side.
func referenceCases() []refCase {
	rng := rand.New(rand.NewPCG(21, 6))
	var cases []refCase
	for c := 0; c < 600; c++ {
		th := []float64{0.1, 0.3, 0.5, 0.5, 0.7, 0.9, 1}[rng.IntN(7)]
		rule := Rule(rng.IntN(2))
		labels := "xyz"[:1+rng.IntN(3)]
		na, nb := rng.IntN(41), rng.IntN(41)
		k := 1 + rng.IntN(12)
		spread := rng.IntN(2) == 0
		if c%2 == 0 {
			ents := spanEntities(rng, k, labels)
			if spread {
				for i := range ents {
					ents[i].Start, ents[i].End = ents[i].Start+40*int64(i), ents[i].End+40*int64(i)
				}
			}
			cases = append(cases, spanCase(randomSpans(rng, na, ents, 2, labels), randomSpans(rng, nb, ents, 2, labels), th, rule))
		} else {
			ents := boxEntities(rng, k, labels)
			if spread {
				for i := range ents {
					ents[i].X += 20 * float64(i)
				}
			}
			cases = append(cases, boxCase(randomBoxes(rng, na, ents, 1, labels), randomBoxes(rng, nb, ents, 1, labels), th, rule))
		}
	}
	for _, rule := range []Rule{SameLabel, AnyLabel} {
		q := func(bs []Box) []Box { // quarters, as randomBoxes: exact in binary
			for i := range bs {
				bs[i].X, bs[i].Y = math.Round(bs[i].X*4)/4, math.Round(bs[i].Y*4)/4
				bs[i].W, bs[i].H = math.Round(bs[i].W*4)/4, math.Round(bs[i].H*4)/4
				bs[i].Label = string("xy"[i%2])
			}
			return bs
		}
		cases = append(cases,
			spanCase(worstSpans(rng, 150), worstSpans(rng, 140), 0.5, rule),
			boxCase(q(worstBoxes(rng, 150)), q(worstBoxes(rng, 150)), 0.5, rule))
	}
	return cases
}

// TestReferenceSciPy checks IoU and matching against code Assay did not write (ops/scipy/
// regions.py): IoU of spans from NumPy, of boxes from COCO's pycocotools.mask.iou, and the
// optimal matching from SciPy's linear_sum_assignment. Ties may pick different pairs, so the
// totals are compared: the objective (total micro-IoU, pairs, same-label pairs) exactly, F1
// (through the pairs), and the float total IoU against SciPy's float optimum within what
// rounding IoU to millionths can cost.
func TestReferenceSciPy(t *testing.T) {
	cases := referenceCases()
	var out struct {
		Versions map[string]string `json:"versions"`
		Results  []refResult       `json:"results"`
	}
	scipy.Run(t, "regions.py", map[string]any{"cases": cases}, &out)
	if len(out.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(out.Results), len(cases))
	}
	t.Logf("reference: scipy %s, numpy %s, pycocotools %s; %d cases", out.Versions["scipy"], out.Versions["numpy"], out.Versions["pycocotools"], len(cases))
	matched := 0
	for k, c := range cases {
		ref := out.Results[k]
		name := fmt.Sprintf("case %d (%s, %d×%d, t=%v, %v)", k, c.Kind, len(c.A), len(c.B), c.T, c.rule)
		var (
			pairs []Pair
			err   error
			iou   func(i, j int) float64
			part  Agreement
		)
		if c.Kind == "spans" {
			pairs, err = MatchSpans(c.spansA, c.spansB, c.T, c.rule)
			iou = func(i, j int) float64 { return SpanIoU(c.spansA[i], c.spansB[j]) }
			if err == nil {
				part, err = CompareSpans(c.spansA, c.spansB, c.T)
			}
		} else {
			pairs, err = MatchBoxes(c.boxesA, c.boxesB, c.T, c.rule)
			iou = func(i, j int) float64 { return BoxIoU(c.boxesA[i], c.boxesB[j]) }
			if err == nil {
				part, err = CompareBoxes(c.boxesA, c.boxesB, c.T)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range c.A {
			for j := range c.B {
				if got, want := iou(i, j), ref.IoU[i][j]; got != want {
					t.Fatalf("%s: IoU of a[%d] %v and b[%d] %v is %v, reference %v", name, i, c.A[i], j, c.B[j], got, want)
				}
			}
		}
		var got objective
		total := 0.0
		for _, p := range pairs {
			got.micro += Micro(p.IoU)
			got.pairs++
			if c.A[p.A][0] == c.B[p.B][0] {
				got.same++
			}
			total += p.IoU
		}
		if want := (objective{ref.Micro, ref.Pairs, ref.Same}); got != want {
			t.Fatalf("%s: matching reaches %+v, SciPy %+v", name, got, want)
		}
		if slack := float64(got.pairs)*0.5e-6*2 + 1e-9; total < ref.FloatTotal-slack || total > ref.FloatTotal+1e-9 {
			t.Errorf("%s: total IoU %v, SciPy's float optimum %v", name, total, ref.FloatTotal)
		}
		// F1 and label alpha rest on the counts of the two matchings.
		if c.rule == SameLabel {
			if part.Matched != ref.Pairs {
				t.Errorf("%s: CompareSpans/Boxes matched %d, SciPy %d", name, part.Matched, ref.Pairs)
			}
			if n := len(c.A) + len(c.B); n > 0 {
				if f1, _ := part.F1(); f1 != 2*float64(ref.Pairs)/float64(n) {
					t.Errorf("%s: F1 %v, from SciPy's matching %v", name, f1, 2*float64(ref.Pairs)/float64(n))
				}
			}
		} else {
			var units int64
			if part.LabelAlpha != nil {
				units = part.LabelAlpha.PairableUnits()
			}
			if units != ref.Pairs {
				t.Errorf("%s: label alpha rests on %d pairs, SciPy's any-label matching has %d", name, units, ref.Pairs)
			}
		}
		if ref.Pairs > 1 {
			matched++
		}
	}
	if matched < len(cases)/2 {
		t.Errorf("only %d of %d cases matched two or more pairs: the cases no longer exercise the matching", matched, len(cases))
	}
}
