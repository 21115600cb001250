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
// on a threshold outside (0, 1] or a list longer than MaxRegions.
func MatchSpans(a, b []Span, t float64, rule Rule) ([]Pair, error) { return match(a, b, t, rule) }

// MatchBoxes is MatchSpans for boxes.
func MatchBoxes(a, b []Box, t float64, rule Rule) ([]Pair, error) { return match(a, b, t, rule) }

// edge is an eligible pair: i in the first list, j in the second, and its IoU in millionths.
// It is kept small (16 bytes) because a unit pair can have MaxRegions² of them.
type edge struct {
	i, j  int32
	micro int32
	same  bool
}

func match[R region[R]](a, b []R, t float64, rule Rule) ([]Pair, error) {
	if err := CheckThreshold(t); err != nil {
		return nil, err
	}
	if rule != SameLabel && rule != AnyLabel {
		return nil, fmt.Errorf("match: unknown rule %v", rule)
	}
	if len(a) > MaxRegions || len(b) > MaxRegions {
		return nil, fmt.Errorf("match: %d and %d regions, more than the %d a value may hold", len(a), len(b), MaxRegions)
	}
	if len(a) == 0 || len(b) == 0 {
		return nil, nil
	}
	// Canonical order: sorting each list by position (then label) first makes every choice
	// below, including which of two equally good matchings wins, depend only on the regions
	// and not on the order the annotator drew them in.
	orderA, orderB := canonical(a), canonical(b)
	edges := eligible(a, b, orderA, orderB, t, rule)
	if len(edges) == 0 {
		return nil, nil
	}

	// Connected components of the eligibility graph (nodes: first list 0..na-1, second list
	// na..na+nb-1). No eligible pair crosses components, so each is matched on its own and
	// the cost is the sum of the components' cubes instead of the cube of the whole.
	na := len(a)
	uf := newUnionFind(na + len(b))
	hasEdge := make([]bool, na+len(b))
	for _, e := range edges {
		uf.union(int(e.i), na+int(e.j))
		hasEdge[e.i], hasEdge[na+int(e.j)] = true, true
	}
	// comp[node]: the node's component; loc[node]: its position there, in canonical order.
	comp, loc := make([]int, na+len(b)), make([]int, na+len(b))
	type component struct{ as, bs []int }
	var comps []component
	byRoot := map[int]int{}
	place := func(node, idx int, second bool) {
		root := uf.find(node)
		c, ok := byRoot[root]
		if !ok {
			c = len(comps)
			byRoot[root] = c
			comps = append(comps, component{})
		}
		comp[node] = c
		if second {
			loc[node] = len(comps[c].bs)
			comps[c].bs = append(comps[c].bs, idx)
		} else {
			loc[node] = len(comps[c].as)
			comps[c].as = append(comps[c].as, idx)
		}
	}
	for _, i := range orderA {
		if hasEdge[i] {
			place(i, i, false)
		}
	}
	for _, j := range orderB {
		if hasEdge[na+j] {
			place(na+j, j, true)
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
			i, j := comps[c].as, comps[c].bs
			pr := Pair{}
			if p.transpose {
				pr.A, pr.B = i[col], j[r]
			} else {
				pr.A, pr.B = i[r], j[col]
			}
			pr.IoU = a[pr.A].iou(b[pr.B])
			pairs = append(pairs, pr)
		}
	}
	slices.SortFunc(pairs, func(x, y Pair) int { return cmp.Compare(x.A, y.A) })
	return pairs, nil
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

// eligible returns every eligible pair, found by a sweep over the regions' projections on one
// axis (start offsets for spans, x for boxes): IoU >= t > 0 needs a positive intersection, so
// only pairs whose projections overlap are candidates. The regions of both lists are visited
// in order of their low end; each keeps a list of the other list's regions still open, drops
// those that ended before it starts, and is tested against the rest. The cost is
// O((n+m)·log(n+m) + P) for P pairs with overlapping projections, P <= n·m. Empty regions are
// never eligible and are skipped.
func eligible[R region[R]](a, b []R, orderA, orderB []int, t float64, rule Rule) []edge {
	type visit struct {
		lo, hi float64
		side   int // 0: first list, 1: second
		rank   int // position in canonical order, for a deterministic sweep
		idx    int
	}
	var visits []visit
	for side, rs := range [2][]R{a, b} {
		order := orderA
		if side == 1 {
			order = orderB
		}
		for rank, i := range order {
			if rs[i].empty() {
				continue
			}
			lo, hi := rs[i].axis()
			visits = append(visits, visit{lo, hi, side, rank, i})
		}
	}
	slices.SortFunc(visits, func(x, y visit) int {
		return cmp.Or(cmp.Compare(x.lo, y.lo), cmp.Compare(x.side, y.side), cmp.Compare(x.rank, y.rank))
	})
	var open [2][]visit
	var edges []edge
	for _, v := range visits {
		other := 1 - v.side
		kept := open[other][:0]
		for _, o := range open[other] {
			if o.hi < v.lo {
				continue // ended before v starts, and so before every later visit starts
			}
			kept = append(kept, o)
			i, j := v.idx, o.idx
			if v.side == 1 {
				i, j = o.idx, v.idx
			}
			same := a[i].label() == b[j].label()
			if rule == SameLabel && !same {
				continue
			}
			if iou := a[i].iou(b[j]); iou >= t {
				edges = append(edges, edge{i: int32(i), j: int32(j), micro: int32(Micro(iou)), same: same})
			}
		}
		open[other] = kept
		open[v.side] = append(open[v.side], v)
	}
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
