package regions

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// DefaultThreshold is the IoU a pair of regions needs to be matched unless a question states
// its own (QuestionDefined's IoU threshold, the CLI's --iou).
const DefaultThreshold = 0.5

// IoUScale is the fixed point in which matched IoU is summed and compared: millionths
// (micro-IoU). Sums of integers are exact, so adding a unit pair's contribution and
// subtracting it later restores the previous figures bit for bit, whatever the order.
const IoUScale = 1_000_000

// Micro returns iou in millionths, rounded half up: the fixed-point value every sum and every
// matching objective of this package uses.
func Micro(iou float64) int64 { return int64(math.Floor(iou*IoUScale + 0.5)) }

// CheckThreshold reports whether t can be an IoU threshold: a number in (0, 1]. Zero is
// refused because it would make regions that do not overlap at all eligible.
func CheckThreshold(t float64) error {
	if !(t > 0 && t <= 1) {
		return fmt.Errorf("IoU threshold %v is not in (0, 1]", t)
	}
	return nil
}

// Rule says which pairs of regions the matching may use.
type Rule int

const (
	// SameLabel matches only regions with the same label: pairwise F1, per-label F1, mean IoU
	// and accuracy against gold.
	SameLabel Rule = iota
	// AnyLabel matches regions whatever their labels: label alpha.
	AnyLabel
)

func (r Rule) String() string {
	switch r {
	case SameLabel:
		return "same-label"
	case AnyLabel:
		return "any-label"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// Pair is one matched pair of regions: A indexes the first list, B the second.
type Pair struct {
	A, B int
	IoU  float64
}

// MatchSpans matches two annotators' spans on one unit (see the package documentation for
// the rule): pairs with IoU >= t (and the same label under SameLabel) are eligible, and the
// one-to-one matching among them maximizes the total micro-IoU, then the number of pairs,
// then (AnyLabel) the number of same-label pairs. Pairs come back sorted by A. It fails only
// on a threshold outside (0, 1], an unknown rule or a list longer than MaxRegions.
func MatchSpans(a, b []Span, t float64, rule Rule) ([]Pair, error) {
	if err := checkMatch(len(a), len(b), t, rule); err != nil {
		return nil, err
	}
	return prepareSpans(a, b).match(t, rule), nil
}

// MatchBoxes is MatchSpans for boxes.
func MatchBoxes(a, b []Box, t float64, rule Rule) ([]Pair, error) {
	if err := checkMatch(len(a), len(b), t, rule); err != nil {
		return nil, err
	}
	return prepareBoxes(a, b).match(t, rule), nil
}

func checkMatch(na, nb int, t float64, rule Rule) error {
	if err := CheckThreshold(t); err != nil {
		return err
	}
	if rule != SameLabel && rule != AnyLabel {
		return fmt.Errorf("match: unknown rule %v", rule)
	}
	if na > MaxRegions || nb > MaxRegions {
		return fmt.Errorf("match: %d and %d regions, more than the %d a value may hold", na, nb, MaxRegions)
	}
	return nil
}

// lists is two region lists as the matching sees them, whatever their kind: for each region
// its projection on the sweep axis, whether it is empty, its label as a number, and its rank
// in canonical order; and the IoU of a pair. Building it is the only place that touches the
// regions' types, so the quadratic and cubic parts run on plain slices.
type lists struct {
	n     [2]int
	lo    [2][]float64
	hi    [2][]float64
	empty [2][]bool
	label [2][]int32
	// order[s]: the indices of list s in canonical order (position, then label), so that
	// every choice, including which of two equally good matchings wins, depends only on the
	// regions and not on the order the annotator drew them in.
	order [2][]int
	iou   func(i, j int) float64

	// t and edges: every pair with IoU >= t whatever its labels, found once by eligible and
	// shared by the same-label and the any-label matching.
	t     float64
	edges []edge
}

func prepare[R region[R]](a, b []R, iou func(i, j int) float64) *lists {
	l := &lists{n: [2]int{len(a), len(b)}, iou: iou}
	ids := map[string]int32{}
	for s, rs := range [2][]R{a, b} {
		l.lo[s], l.hi[s] = make([]float64, len(rs)), make([]float64, len(rs))
		l.empty[s], l.label[s] = make([]bool, len(rs)), make([]int32, len(rs))
		for i, r := range rs {
			l.lo[s][i], l.hi[s][i] = r.axis()
			l.empty[s][i] = r.empty()
			id, ok := ids[r.label()]
			if !ok {
				id = int32(len(ids))
				ids[r.label()] = id
			}
			l.label[s][i] = id
		}
		l.order[s] = canonical(rs)
	}
	return l
}

func prepareSpans(a, b []Span) *lists {
	return prepare(a, b, func(i, j int) float64 { return SpanIoU(a[i], b[j]) })
}

func prepareBoxes(a, b []Box) *lists {
	ra, rb := make([]rect, len(a)), make([]rect, len(b))
	for i, x := range a {
		ra[i] = rectOf(x)
	}
	for j, x := range b {
		rb[j] = rectOf(x)
	}
	// Empty boxes never reach iou (the sweep skips them), so the unchecked form is BoxIoU.
	return prepare(a, b, func(i, j int) float64 { return ra[i].iou(rb[j]) })
}

// edge is an eligible pair: i in the first list, j in the second, and its IoU in millionths.
type edge struct {
	i, j  int32
	micro int32
	same  bool
}

// match finds the best matching (see MatchSpans) of the lists at threshold t under rule.
func (l *lists) match(t float64, rule Rule) []Pair {
	na, nb := l.n[0], l.n[1]
	if na == 0 || nb == 0 {
		return nil
	}
	edges := l.eligible(t)
	if rule == SameLabel {
		edges = slices.DeleteFunc(slices.Clone(edges), func(e edge) bool { return !e.same })
	}
	if len(edges) == 0 {
		return nil
	}

	// Connected components of the eligibility graph (nodes: first list 0..na-1, second list
	// na..na+nb-1). No eligible pair crosses components, so each is matched on its own and
	// the cost is the sum of the components' cubes instead of the cube of the whole.
	uf := newUnionFind(na + nb)
	hasEdge := make([]bool, na+nb)
	for _, e := range edges {
		uf.union(int(e.i), na+int(e.j))
		hasEdge[e.i], hasEdge[na+int(e.j)] = true, true
	}
	// comp[node]: the node's component; loc[node]: its position there, in canonical order.
	comp, loc := make([]int, na+nb), make([]int, na+nb)
	type component struct{ as, bs []int }
	var comps []component
	byRoot := map[int]int{}
	for s, off := range [2]int{0, na} {
		for _, i := range l.order[s] {
			node := off + i
			if !hasEdge[node] {
				continue
			}
			root := uf.find(node)
			c, ok := byRoot[root]
			if !ok {
				c = len(comps)
				byRoot[root] = c
				comps = append(comps, component{})
			}
			comp[node] = c
			if s == 0 {
				loc[node] = len(comps[c].as)
				comps[c].as = append(comps[c].as, i)
			} else {
				loc[node] = len(comps[c].bs)
				comps[c].bs = append(comps[c].bs, i)
			}
		}
	}

	// One weight matrix per component (rows: the smaller side), filled in one pass.
	type problem struct {
		rows, cols int
		transpose  bool
		k          int64
		w          []int64
	}
	probs := make([]problem, len(comps))
	for c, cp := range comps {
		p := problem{rows: len(cp.as), cols: len(cp.bs), k: int64(min(len(cp.as), len(cp.bs)))}
		if p.rows > p.cols {
			p.rows, p.cols, p.transpose = p.cols, p.rows, true
		}
		p.w = make([]int64, p.rows*p.cols)
		probs[c] = p
	}
	for _, e := range edges {
		p := &probs[comp[e.i]]
		r, c := loc[e.i], loc[na+int(e.j)]
		if p.transpose {
			r, c = c, r
		}
		p.w[r*p.cols+c] = weigh(e, p.k)
	}

	var pairs []Pair
	for c, p := range probs {
		var assigned []int
		if p.rows == 1 {
			assigned = []int{heaviest(p.w)}
		} else {
			assigned = assign(p.w, p.rows, p.cols)
		}
		for r, col := range assigned {
			if p.w[r*p.cols+col] == 0 {
				continue // the row was left unmatched: no eligible column was free for it
			}
			var pr Pair
			if p.transpose {
				pr.A, pr.B = comps[c].as[col], comps[c].bs[r]
			} else {
				pr.A, pr.B = comps[c].as[r], comps[c].bs[col]
			}
			pr.IoU = l.iou(pr.A, pr.B)
			pairs = append(pairs, pr)
		}
	}
	slices.SortFunc(pairs, func(x, y Pair) int { return cmp.Compare(x.A, y.A) })
	return pairs
}

// heaviest is the assignment of a single row: its heaviest column, the first of equals.
func heaviest(w []int64) int {
	best := 0
	for j, x := range w {
		if x > w[best] {
			best = j
		}
	}
	return best
}

// weigh is an eligible pair's weight in the assignment: micro-IoU first, then one for the
// pair itself, then one for a same-label pair, packed so that totals compare
// lexicographically. With k >= the most pairs a matching of the component can hold, the
// lower terms of a whole matching add up to less than one unit of the term above, so a
// matching with a larger total micro-IoU always wins, among equal totals the one with more
// pairs, and among those the one with more same-label pairs (for AnyLabel: when geometry
// cannot tell two correspondences apart, the one the labels agree with is taken). Ineligible
// pairs weigh 0, so an optimal assignment never needs them and they are dropped after.
// Bound: micro <= 10^6 and k <= MaxRegions keep a whole matching's weight below 2^63.
func weigh(e edge, k int64) int64 {
	w := (int64(e.micro)*(k+1) + 1) * (k + 1)
	if e.same {
		w++
	}
	return w
}

// canonical returns the indices of rs sorted by region (position, then label), ties by index.
func canonical[R region[R]](rs []R) []int {
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return rs[x].compare(rs[y]) })
	return idx
}

// eligible returns every pair with IoU >= t, whatever the labels (each marked same or not),
// computing them on first use. The pairs are found by a sweep over the regions' projections
// on one axis (start offsets for spans, x for boxes): IoU >= t > 0 needs a positive
// intersection, so only pairs whose projections overlap are candidates. The regions of both
// lists are visited in order of their low end; each keeps a list of the other list's regions
// still open, drops those that ended before it starts, and is paired with the rest. The sweep
// runs twice, first counting the candidates so the pairs are stored in one allocation, then
// computing their IoU: O((n+m)·log(n+m) + P) for P pairs with overlapping projections, P <=
// n·m, each IoU computed once. Empty regions are never eligible and are skipped.
func (l *lists) eligible(t float64) []edge {
	if l.edges != nil && l.t == t {
		return l.edges
	}
	type visit struct {
		lo, hi float64
		side   int // 0: first list, 1: second
		rank   int // position in canonical order, for a deterministic sweep
		idx    int
	}
	visits := make([]visit, 0, l.n[0]+l.n[1])
	for s := range 2 {
		for rank, i := range l.order[s] {
			if !l.empty[s][i] {
				visits = append(visits, visit{l.lo[s][i], l.hi[s][i], s, rank, i})
			}
		}
	}
	slices.SortFunc(visits, func(x, y visit) int {
		return cmp.Or(cmp.Compare(x.lo, y.lo), cmp.Compare(x.side, y.side), cmp.Compare(x.rank, y.rank))
	})
	sweep := func(fn func(i, j int)) {
		var open [2][]visit
		for _, v := range visits {
			other := 1 - v.side
			kept := open[other][:0]
			for _, o := range open[other] {
				if o.hi < v.lo {
					continue // ended before v starts, and so before every later visit starts
				}
				kept = append(kept, o)
				if v.side == 0 {
					fn(v.idx, o.idx)
				} else {
					fn(o.idx, v.idx)
				}
			}
			open[other] = kept
			open[v.side] = append(open[v.side], v)
		}
	}
	candidates := 0
	sweep(func(int, int) { candidates++ })
	edges := make([]edge, 0, candidates)
	la, lb := l.label[0], l.label[1]
	sweep(func(i, j int) {
		if iou := l.iou(i, j); iou >= t {
			edges = append(edges, edge{i: int32(i), j: int32(j), micro: int32(Micro(iou)), same: la[i] == lb[j]})
		}
	})
	l.t, l.edges = t, edges
	return edges
}

// unionFind is a disjoint-set forest with path halving and union by size.
type unionFind struct{ parent, size []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), size: make([]int, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = i, 1
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(x, y int) {
	x, y = u.find(x), u.find(y)
	if x == y {
		return
	}
	if u.size[x] < u.size[y] {
		x, y = y, x
	}
	u.parent[y] = x
	u.size[x] += u.size[y]
}
