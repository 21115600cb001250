package regions

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"testing"
)

// objective is what the matching maximizes, lexicographically: total micro-IoU, then pairs,
// then same-label pairs.
type objective struct{ micro, pairs, same int64 }

func (o objective) compare(p objective) int {
	return cmp.Or(cmp.Compare(o.micro, p.micro), cmp.Compare(o.pairs, p.pairs), cmp.Compare(o.same, p.same))
}

func score[R region[R]](a, b []R, pairs []Pair) objective {
	var o objective
	for _, p := range pairs {
		o.micro += Micro(p.IoU)
		o.pairs++
		if a[p.A].label() == b[p.B].label() {
			o.same++
		}
	}
	return o
}

// bruteForce is the best objective over every one-to-one matching of eligible pairs, by
// enumeration: row i takes no column or any free eligible column.
func bruteForce[R region[R]](a, b []R, t float64, rule Rule) objective {
	used := make([]bool, len(b))
	var best objective
	var walk func(i int, cur objective)
	walk = func(i int, cur objective) {
		if i == len(a) {
			if cur.compare(best) > 0 {
				best = cur
			}
			return
		}
		walk(i+1, cur)
		for j := range b {
			if used[j] {
				continue
			}
			same := a[i].label() == b[j].label()
			iou := a[i].iou(b[j])
			if iou < t || rule == SameLabel && !same {
				continue
			}
			used[j] = true
			next := cur
			next.micro += Micro(iou)
			next.pairs++
			if same {
				next.same++
			}
			walk(i+1, next)
			used[j] = false
		}
	}
	walk(0, objective{})
	return best
}

// checkMatching fails unless pairs is a one-to-one matching of eligible pairs with correct
// IoUs, sorted by A.
func checkMatching[R region[R]](t *testing.T, a, b []R, pairs []Pair, th float64, rule Rule) {
	t.Helper()
	usedA, usedB := map[int]bool{}, map[int]bool{}
	for k, p := range pairs {
		if usedA[p.A] || usedB[p.B] {
			t.Fatalf("pair %d %+v reuses a region: %+v", k, p, pairs)
		}
		usedA[p.A], usedB[p.B] = true, true
		if p.IoU != a[p.A].iou(b[p.B]) || p.IoU < th {
			t.Fatalf("pair %d %+v: IoU %v, threshold %v", k, p, a[p.A].iou(b[p.B]), th)
		}
		if rule == SameLabel && a[p.A].label() != b[p.B].label() {
			t.Fatalf("pair %d %+v: labels %q and %q under %v", k, p, a[p.A].label(), b[p.B].label(), rule)
		}
		if k > 0 && pairs[k-1].A >= p.A {
			t.Fatalf("pairs not sorted by A: %+v", pairs)
		}
	}
}

// randomSpans draws n spans around a few shared "entities" (as two annotators marking the
// same text do): each span is an entity's extent moved by up to jitter at either end, with the
// entity's label or, one time in four, another. Small offsets give many equal spans and equal
// IoUs, so ties are exercised.
func randomSpans(rng *rand.Rand, n int, entities []Span, jitter int64, labels string) []Span {
	s := make([]Span, n)
	for i := range s {
		e := entities[rng.IntN(len(entities))]
		start := max(0, e.Start+rng.Int64N(2*jitter+1)-jitter)
		end := max(start+1, e.End+rng.Int64N(2*jitter+1)-jitter)
		label := e.Label
		if rng.IntN(4) == 0 {
			label = string(labels[rng.IntN(len(labels))])
		}
		s[i] = Span{Label: label, Start: start, End: end}
	}
	return s
}

func spanEntities(rng *rand.Rand, k int, labels string) []Span {
	e := make([]Span, k)
	for i := range e {
		start := rng.Int64N(20)
		e[i] = Span{Label: string(labels[rng.IntN(len(labels))]), Start: start, End: start + 2 + rng.Int64N(6)}
	}
	return e
}

// randomBoxes is randomSpans for boxes; coordinates are on a grid of quarters, exact in
// binary, so every IoU is computed the same way by any correct formula.
func randomBoxes(rng *rand.Rand, n int, entities []Box, jitter float64, labels string) []Box {
	q := func(x float64) float64 { return float64(int(x*4)) / 4 }
	b := make([]Box, n)
	for i := range b {
		e := entities[rng.IntN(len(entities))]
		d := func() float64 { return q((2*rng.Float64() - 1) * jitter) }
		label := e.Label
		if rng.IntN(4) == 0 {
			label = string(labels[rng.IntN(len(labels))])
		}
		b[i] = Box{Label: label, X: max(0, e.X+d()), Y: max(0, e.Y+d()), W: max(0.25, e.W+d()), H: max(0.25, e.H+d())}
	}
	return b
}

func boxEntities(rng *rand.Rand, k int, labels string) []Box {
	q := func(x float64) float64 { return float64(int(x*4)) / 4 }
	e := make([]Box, k)
	for i := range e {
		e[i] = Box{Label: string(labels[rng.IntN(len(labels))]), X: q(rng.Float64() * 8), Y: q(rng.Float64() * 8), W: q(1 + rng.Float64()*4), H: q(1 + rng.Float64()*4)}
	}
	return e
}

// TestMatchOptimal compares the matching with exhaustive search on small random cases, for
// both rules and several thresholds: it must be one to one, use only eligible pairs, and reach
// the best objective.
func TestMatchOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	multi := 0 // cases whose best matching has two or more pairs: the random cases must exercise real choices
	defer func() {
		if multi < 800 {
			t.Errorf("only %d of 3000 cases matched two or more pairs: the generator no longer exercises the matching", multi)
		}
	}()
	for c := 0; c < 3000; c++ {
		na, nb := rng.IntN(8), rng.IntN(8)
		th := []float64{0.1, 0.25, 0.5, 0.5, 0.75, 1}[rng.IntN(6)]
		rule := Rule(rng.IntN(2))
		labels := "xyz"[:1+rng.IntN(3)]
		name := fmt.Sprintf("case%d", c)
		if c%2 == 0 {
			// Short items and few offsets: many equal spans and equal IoUs, so ties.
			ents := spanEntities(rng, 1+rng.IntN(4), labels)
			a, b := randomSpans(rng, na, ents, 2, labels), randomSpans(rng, nb, ents, 2, labels)
			pairs, err := MatchSpans(a, b, th, rule)
			if err != nil {
				t.Fatal(err)
			}
			checkMatching(t, a, b, pairs, th, rule)
			if len(pairs) > 1 {
				multi++
			}
			if got, want := score(a, b, pairs), bruteForce(a, b, th, rule); got != want {
				t.Fatalf("%s: spans %v vs %v at %v %v: got %+v (%+v), best %+v", name, a, b, th, rule, got, pairs, want)
			}
		} else {
			ents := boxEntities(rng, 1+rng.IntN(4), labels)
			a, b := randomBoxes(rng, na, ents, 1, labels), randomBoxes(rng, nb, ents, 1, labels)
			pairs, err := MatchBoxes(a, b, th, rule)
			if err != nil {
				t.Fatal(err)
			}
			checkMatching(t, a, b, pairs, th, rule)
			if len(pairs) > 1 {
				multi++
			}
			if got, want := score(a, b, pairs), bruteForce(a, b, th, rule); got != want {
				t.Fatalf("%s: boxes %v vs %v at %v %v: got %+v (%+v), best %+v", name, a, b, th, rule, got, pairs, want)
			}
		}
	}
}

// TestAssignDense checks the assignment on its own against exhaustive search over dense random
// integer matrices (including zero rows and many ties), rows <= cols.
func TestAssignDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2))
	for c := 0; c < 2000; c++ {
		rows := 1 + rng.IntN(6)
		cols := rows + rng.IntN(3)
		w := make([]int64, rows*cols)
		for k := range w {
			if rng.IntN(4) > 0 {
				w[k] = rng.Int64N(5)
			}
		}
		got := assign(w, rows, cols)
		seen := map[int]bool{}
		var total int64
		for r, c := range got {
			if c < 0 || c >= cols || seen[c] {
				t.Fatalf("assignment %v of %v (%dx%d) is not one to one", got, w, rows, cols)
			}
			seen[c] = true
			total += w[r*cols+c]
		}
		if best := bestAssignment(w, rows, cols); total != best {
			t.Fatalf("assignment %v of %v (%dx%d) weighs %d, best %d", got, w, rows, cols, total, best)
		}
	}
}

func bestAssignment(w []int64, rows, cols int) int64 {
	best := int64(-1)
	var walk func(r int, used []bool, total int64)
	walk = func(r int, used []bool, total int64) {
		if r == rows {
			best = max(best, total)
			return
		}
		for j := 0; j < cols; j++ {
			if !used[j] {
				used[j] = true
				walk(r+1, used, total+w[r*cols+j])
				used[j] = false
			}
		}
	}
	walk(0, make([]bool, cols), 0)
	return best
}
