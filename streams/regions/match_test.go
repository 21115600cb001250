package regions

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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

func TestMatchTable(t *testing.T) {
	sp := func(l string, s, e int64) Span { return Span{Label: l, Start: s, End: e} }
	for _, tc := range []struct {
		name string
		a, b []Span
		t    float64
		rule Rule
		want [][2]int // matched (A, B) indices
	}{
		{name: "both empty", t: 0.5},
		{name: "one side empty", a: []Span{sp("x", 0, 10)}, t: 0.5},
		{name: "equal spans", a: []Span{sp("x", 0, 10)}, b: []Span{sp("x", 0, 10)}, t: 0.5, want: [][2]int{{0, 0}}},
		{name: "IoU exactly at the threshold is eligible", a: []Span{sp("x", 0, 10)}, b: []Span{sp("x", 0, 20)}, t: 0.5, want: [][2]int{{0, 0}}},
		{name: "IoU just under the threshold is not", a: []Span{sp("x", 0, 10)}, b: []Span{sp("x", 0, 20)}, t: 0.500001},
		{name: "threshold 1 is exact match", a: []Span{sp("x", 0, 10), sp("x", 20, 30)}, b: []Span{sp("x", 0, 10), sp("x", 20, 31)}, t: 1, want: [][2]int{{0, 0}}},
		{name: "same-label rule ignores other labels", a: []Span{sp("x", 0, 10)}, b: []Span{sp("y", 0, 10)}, t: 0.5},
		{name: "any-label rule matches them", a: []Span{sp("x", 0, 10)}, b: []Span{sp("y", 0, 10)}, t: 0.5, rule: AnyLabel, want: [][2]int{{0, 0}}},
		{
			// a0-b0 0.9, a1-b0 0.9, a0-b1 9/11, a1-b1 8/12 (< 0.7): taking the best pair first
			// (a0-b0) leaves a1 alone; the optimum pairs both, total 0.9 + 0.818.
			name: "better than greedy", t: 0.7,
			a:    []Span{sp("x", 10, 20), sp("x", 11, 21)},
			b:    []Span{sp("x", 11, 20), sp("x", 9, 19)},
			want: [][2]int{{0, 1}, {1, 0}},
		},
		{
			// {a0-b0} weighs 1.0 with one pair, {a0-b1, a1-b0} 0.5 + 0.5 with two: equal
			// totals, and the matching with more pairs wins.
			name: "equal totals: more pairs", t: 0.5,
			a:    []Span{sp("x", 0, 10), sp("x", 0, 5)},
			b:    []Span{sp("x", 0, 10), sp("x", 0, 20)},
			want: [][2]int{{0, 1}, {1, 0}},
		},
		{
			// The same under the any-label rule, where the two pairs disagree on labels and
			// the single pair agrees: the pair count still comes before label agreement.
			name: "equal totals: more pairs, before agreeing labels", t: 0.5, rule: AnyLabel,
			a:    []Span{sp("x", 0, 10), sp("y", 0, 5)},
			b:    []Span{sp("x", 0, 10), sp("y", 0, 20)},
			want: [][2]int{{0, 1}, {1, 0}},
		},
		{
			// The same extent marked twice by each annotator, once x and once y: geometry
			// cannot tell the crossings apart, and the labels decide.
			name: "equal totals and pairs: agreeing labels", t: 0.5, rule: AnyLabel,
			a:    []Span{sp("x", 0, 10), sp("y", 0, 10)},
			b:    []Span{sp("y", 0, 10), sp("x", 0, 10)},
			want: [][2]int{{0, 1}, {1, 0}},
		},
		{
			name: "separate components", t: 0.5,
			a:    []Span{sp("x", 100, 110), sp("x", 0, 10), sp("y", 50, 60)},
			b:    []Span{sp("y", 51, 60), sp("x", 1, 10), sp("x", 100, 111)},
			want: [][2]int{{0, 2}, {1, 1}, {2, 0}},
		},
		{name: "empty spans never match", a: []Span{sp("x", 5, 5)}, b: []Span{sp("x", 5, 5)}, t: 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs, err := MatchSpans(tc.a, tc.b, tc.t, tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]int
			for _, p := range pairs {
				got = append(got, [2]int{p.A, p.B})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pairs %v, want %v", got, tc.want)
			}
			checkMatching(t, tc.a, tc.b, pairs, tc.t, tc.rule)
		})
	}
}

func TestMatchBoxesTable(t *testing.T) {
	bx := func(l string, x, y, w, h float64) Box { return Box{Label: l, X: x, Y: y, W: w, H: h} }
	// Two rows of boxes sharing their x range: one sweep component by x, but only boxes in
	// the same row are eligible.
	a := []Box{bx("car", 0, 0, 10, 10), bx("car", 0, 100, 10, 10), bx("person", 50, 50, 5, 20)}
	b := []Box{bx("car", 1, 101, 10, 10), bx("car", 0, 1, 10, 10), bx("person", 50, 52, 5, 20), bx("person", 200, 200, 5, 5)}
	pairs, err := MatchBoxes(a, b, 0.5, SameLabel)
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{{0, 1, 90.0 / 110}, {1, 0, 81.0 / 119}, {2, 2, 90.0 / 110}}
	if len(pairs) != len(want) {
		t.Fatalf("pairs %v, want %v", pairs, want)
	}
	for k := range want {
		if pairs[k].A != want[k].A || pairs[k].B != want[k].B || math.Abs(pairs[k].IoU-want[k].IoU) > 1e-15 {
			t.Errorf("pair %d: %v, want %v", k, pairs[k], want[k])
		}
	}
}

func TestMatchRefuses(t *testing.T) {
	one := []Span{{"x", 0, 1}}
	for _, th := range []float64{0, -0.5, 1.0000001, math.NaN(), math.Inf(1)} {
		if _, err := MatchSpans(one, one, th, SameLabel); err == nil {
			t.Errorf("threshold %v accepted", th)
		}
	}
	if _, err := MatchSpans(one, one, 0.5, Rule(7)); err == nil {
		t.Error("rule 7 accepted")
	}
	long := make([]Span, MaxRegions+1)
	for i := range long {
		long[i] = Span{"x", int64(i), int64(i + 1)}
	}
	if _, err := MatchSpans(long, one, 0.5, SameLabel); err == nil {
		t.Errorf("%d spans accepted", len(long))
	}
	if _, err := CompareSpans(one, long, 0.5); err == nil {
		t.Errorf("CompareSpans: %d spans accepted", len(long))
	}
	if _, err := MatchSpans(long[:MaxRegions], one, 0.5, SameLabel); err != nil {
		t.Errorf("MaxRegions spans refused: %v", err)
	}
}

// TestMatchOrderFree: the matching depends on the regions, not on the order they were drawn
// in: shuffling either list gives the same pairs of regions.
func TestMatchOrderFree(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 3))
	for c := 0; c < 500; c++ {
		labels := "xy"
		ents := spanEntities(rng, 1+rng.IntN(4), labels)
		a, b := randomSpans(rng, rng.IntN(9), ents, 2, labels), randomSpans(rng, rng.IntN(9), ents, 2, labels)
		rule := Rule(rng.IntN(2))
		want := matchedRegions(t, a, b, rule)
		rng.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
		if got := matchedRegions(t, a, b, rule); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after shuffling: %v, before %v", got, want)
		}
	}
}

// matchedRegions is the matching as a sorted list of region pairs.
func matchedRegions(t *testing.T, a, b []Span, rule Rule) []string {
	t.Helper()
	pairs, err := MatchSpans(a, b, 0.5, rule)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pairs {
		out = append(out, fmt.Sprint(a[p.A], b[p.B]))
	}
	slices.Sort(out)
	return out
}

// TestBenchmarkShapes: the benchmark's lists are what they claim: every pair eligible, and
// for the tied shape every perfect matching equally good (so the optimum is n pairs with the
// total of the identity).
func TestBenchmarkShapes(t *testing.T) {
	const n = 40
	rng := rand.New(rand.NewPCG(1, n))
	x, y := worstSpans(rng, n), worstSpans(rng, n)
	bx, by := worstBoxes(rng, n), worstBoxes(rng, n)
	tx, ty := tiedSpans(n)
	tbx, tby := tiedBoxes(n)
	for name, l := range map[string]*lists{
		"random spans": prepareSpans(x, y), "random boxes": prepareBoxes(bx, by),
		"tied spans": prepareSpans(tx, ty), "tied boxes": prepareBoxes(tbx, tby),
	} {
		if got := len(l.eligible(DefaultThreshold)); got != n*n {
			t.Errorf("%s: %d eligible pairs, want %d", name, got, n*n)
		}
		if got := len(l.match(DefaultThreshold, AnyLabel)); got != n {
			t.Errorf("%s: %d matched, want %d", name, got, n)
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if want := float64(4*n+i-j) / float64(5*n); math.Abs(SpanIoU(tx[i], ty[j])-want) > 1e-15 || math.Abs(BoxIoU(tbx[i], tby[j])-want) > 1e-15 {
				t.Fatalf("tied IoU (%d, %d) = %v and %v, want %v", i, j, SpanIoU(tx[i], ty[j]), BoxIoU(tbx[i], tby[j]), want)
			}
		}
	}
}
