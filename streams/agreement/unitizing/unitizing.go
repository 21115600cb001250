package unitizing

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"
)

// Span is one region a rater marked on an item: its category and the half-open interval
// [Start, End) in the item's own offsets (characters or milliseconds), as schemas.Span.
type Span struct {
	Label string `json:"label"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// Item is one item of a study: its length and every rater's spans on it.
type Item struct {
	ID string
	// Length is the item's length in the unit of its spans; the continuum gives it exactly
	// this many positions, whatever its spans cover.
	Length int64
	// Spans[r] are the spans of Study.Raters[r] on the item, in any order; an empty list is a
	// label with no spans (all of the item is a gap for that rater).
	Spans [][]Span
}

// Study is a unitizing study: every item is labeled by every rater (NewStudy builds one from
// labels, leaving out the items some rater in scope did not label). The items are laid end to
// end in this order: item k starts where item k−1 ends.
type Study struct {
	Raters []string
	Items  []Item
	// Skipped counts the items NewStudy left out because not every rater in scope labeled
	// them; Alpha only reports it.
	Skipped int
}

// Result is unitizing alpha over a study, overall and per category. A figure that is not
// defined is nil with the reason beside it, as agreement.Report does: JSON has no NaN, and a 0
// would read as "no agreement".
type Result struct {
	// Alpha is 1 − D_o/D_e with D_o and D_e the means of the categories' disagreements, as
	// DKPro's calculateAgreement.
	Alpha     *float64 `json:"alpha"`
	Undefined string   `json:"undefined,omitempty"`
	// Observed and Expected are those means (nil when Alpha is).
	Observed *float64 `json:"observed_disagreement,omitempty"`
	Expected *float64 `json:"expected_disagreement,omitempty"`

	// The evidence: raters, items laid end to end and their total length (the continuum), the
	// spans in them, and the items left out by NewStudy.
	Raters  int   `json:"raters"`
	Items   int   `json:"items"`
	Length  int64 `json:"length"`
	Spans   int   `json:"spans"`
	Skipped int   `json:"items_skipped"`

	// Categories are the labels of the spans, in byte order of the label.
	Categories []Category `json:"categories"`
	// Overlaps lists every place where one rater's spans of one label overlap, which leaves
	// that label's alpha, and so the overall one, not defined.
	Overlaps []Overlap `json:"overlaps,omitempty"`
}

// Category is unitizing alpha for one label (DKPro's calculateCategoryAgreement).
type Category struct {
	Label     string   `json:"label"`
	Alpha     *float64 `json:"alpha"`
	Undefined string   `json:"undefined,omitempty"`
	// Observed and Expected are the label's D_o and D_e whenever they are computed, also when
	// D_e is 0 (and Alpha nil); nil when the label's spans overlap or there are too few raters.
	Observed *float64 `json:"observed_disagreement,omitempty"`
	Expected *float64 `json:"expected_disagreement,omitempty"`
	// Spans counts the spans of this label, every rater's (N_c).
	Spans int `json:"spans"`
}

// Overlap is two spans of one label by one rater on one item that share positions. First
// starts no later than Second (and, starting together, ends no later).
type Overlap struct {
	Rater  string `json:"rater"`
	Item   string `json:"item"`
	First  Span   `json:"first"`
	Second Span   `json:"second"`
}

func (o Overlap) String() string {
	return fmt.Sprintf("rater %q's spans on item %q overlap: %s [%d, %d) and [%d, %d)",
		o.Rater, o.Item, o.First.Label, o.First.Start, o.First.End, o.Second.Start, o.Second.End)
}

// unit is a span placed on the continuum: [b, e) in continuum positions, with where it came
// from (for Overlap).
type unit struct {
	b, e       int64
	item, span int
}

// Alpha computes Krippendorff's alpha for unitized data over s, overall and per category, as
// DKPro Statistics 2.2.0's KrippendorffAlphaUnitizingAgreement does (see the package doc for
// the definition, the exact arithmetic and what is not defined). The error is non-nil only for
// a malformed study (a span outside its item or with End <= Start, a rater list of the wrong
// length, duplicate raters or items); a well-formed study whose alpha is not defined gets a
// Result saying why.
//
// Cost: O(S log S + R·S) big-integer steps for S spans and R raters (every pair of raters
// sweeps its two span lists once per label), plus O(R·C) for C labels; memory O(S).
func Alpha(s Study) (Result, error) {
	R := len(s.Raters)
	res := Result{Raters: R, Items: len(s.Items), Skipped: s.Skipped, Categories: []Category{}}
	if err := validate(s); err != nil {
		return Result{}, err
	}

	// Lay the items end to end and group the spans by label and rater.
	byLabel := map[string][][]unit{}
	var L int64
	for k, it := range s.Items {
		for r, spans := range it.Spans {
			for i, sp := range spans {
				us := byLabel[sp.Label]
				if us == nil {
					us = make([][]unit, R)
					byLabel[sp.Label] = us
				}
				us[r] = append(us[r], unit{b: L + sp.Start, e: L + sp.End, item: k, span: i})
				res.Spans++
			}
		}
		L += it.Length
	}
	res.Length = L
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)

	sumO, sumE := new(big.Rat), new(big.Rat)
	broken := 0 // labels with overlapping spans
	for _, label := range labels {
		us := byLabel[label]
		c := Category{Label: label}
		var overlaps []Overlap
		for r := range us {
			slices.SortFunc(us[r], func(a, b unit) int { return cmp.Or(cmp.Compare(a.b, b.b), cmp.Compare(a.e, b.e)) })
			c.Spans += len(us[r])
			overlaps = append(overlaps, findOverlaps(s, r, us[r])...)
		}
		res.Overlaps = append(res.Overlaps, overlaps...)
		switch {
		case len(overlaps) > 0:
			broken++
			c.Undefined = fmt.Sprintf("%s (%d overlap(s) of this label; unitizing alpha is defined for flat spans only)", overlaps[0], len(overlaps))
		case R < 2:
			c.Undefined = notEnoughRaters(R)
		default:
			dO, dE := disagreements(us, L, c.Spans)
			sumO.Add(sumO, dO)
			sumE.Add(sumE, dE)
			c.Observed, c.Expected = ratFloat(dO), ratFloat(dE)
			if dE.Sign() == 0 {
				c.Undefined = fmt.Sprintf("expected disagreement is 0: every rater marked every position as %s, in spans of length 1, so no unitization could disagree", label)
			} else {
				c.Alpha = alpha(dO, dE)
			}
		}
		res.Categories = append(res.Categories, c)
	}

	switch {
	case R < 2:
		res.Undefined = notEnoughRaters(R)
	case len(s.Items) == 0:
		res.Undefined = "no item is in scope (labeled by every rater in scope)"
	case L == 0:
		res.Undefined = "the continuum is empty: every item in scope has length 0"
	case len(labels) == 0:
		res.Undefined = "no rater marked any span, so there is no label to agree on"
	case broken > 0:
		res.Undefined = fmt.Sprintf("%s (%d overlap(s) in %d label(s); unitizing alpha is defined for flat spans only)", res.Overlaps[0], len(res.Overlaps), broken)
	case sumE.Sign() == 0:
		res.Undefined = "expected disagreement is 0 for every label: every rater marked every position with each label, in spans of length 1"
	default:
		k := new(big.Rat).SetInt64(int64(len(labels)))
		res.Observed = ratFloat(new(big.Rat).Quo(sumO, k))
		res.Expected = ratFloat(new(big.Rat).Quo(sumE, k))
		res.Alpha = alpha(sumO, sumE)
	}
	return res, nil
}

func notEnoughRaters(r int) string {
	return fmt.Sprintf("unitizing alpha needs two or more raters, the study has %d", r)
}

// validate checks what Alpha's arithmetic relies on: every span inside its item with positive
// length, one span list per rater, the continuum's length within int64.
func validate(s Study) error {
	seen := map[string]bool{}
	for _, r := range s.Raters {
		if seen[r] {
			return fmt.Errorf("unitizing: rater %q listed twice", r)
		}
		seen[r] = true
	}
	clear(seen)
	var L int64
	for _, it := range s.Items {
		if seen[it.ID] {
			return fmt.Errorf("unitizing: item %q listed twice", it.ID)
		}
		seen[it.ID] = true
		if it.Length < 0 {
			return fmt.Errorf("unitizing: item %q: length %d is negative", it.ID, it.Length)
		}
		if it.Length > math.MaxInt64-L {
			return fmt.Errorf("unitizing: item %q: the items' lengths add up past %d", it.ID, int64(math.MaxInt64))
		}
		L += it.Length
		if len(it.Spans) != len(s.Raters) {
			return fmt.Errorf("unitizing: item %q has span lists for %d raters, the study has %d", it.ID, len(it.Spans), len(s.Raters))
		}
		for r, spans := range it.Spans {
			for i, sp := range spans {
				if sp.Start < 0 || sp.End <= sp.Start || sp.End > it.Length {
					return fmt.Errorf("unitizing: item %q, rater %q, span %d (%s [%d, %d)): spans must satisfy 0 <= start < end <= the item's length %d",
						it.ID, s.Raters[r], i, sp.Label, sp.Start, sp.End, it.Length)
				}
			}
		}
	}
	return nil
}

// findOverlaps lists the overlaps among one rater's spans of one label, us sorted by (b, e):
// each span that starts before the furthest end so far overlaps the span holding that end.
func findOverlaps(s Study, r int, us []unit) []Overlap {
	var out []Overlap
	far := -1 // index in us of the span ending furthest so far
	for i, u := range us {
		if far >= 0 && u.b < us[far].e {
			f := us[far]
			out = append(out, Overlap{Rater: s.Raters[r], Item: s.Items[f.item].ID,
				First: s.Items[f.item].Spans[r][f.span], Second: s.Items[u.item].Spans[r][u.span]})
		}
		if far < 0 || u.e > us[far].e {
			far = i
		}
	}
	return out
}

// disagreements returns one label's D_o and D_e, exactly, for its units us[r] per rater
// (sorted, flat), n of them in all, on a continuum of length L (package doc, "Definition").
func disagreements(us [][]unit, L int64, n int) (dO, dE *big.Rat) {
	R := int64(len(us))
	bL := big.NewInt(L)
	var t big.Int

	// D_o = 2·P / (R(R−1)·L²), P summed over the unordered pairs of raters.
	P := new(big.Int)
	var hitA, hitB []bool
	for i := range us {
		for j := i + 1; j < len(us); j++ {
			hitA = resetBools(hitA, len(us[i]))
			hitB = resetBools(hitB, len(us[j]))
			pairObserved(P, us[i], us[j], hitA, hitB, &t)
		}
	}
	den := new(big.Int).Mul(bL, bL)
	den.Mul(den, big.NewInt(R*(R-1)))
	dO = new(big.Rat).SetFrac(new(big.Int).Lsh(P, 1), den)

	// D_e = 2·T / (L·(RL(RL−1) − Σ l(l−1))).
	T, sq := expectedSums(us, L, n)
	RL := new(big.Int).Mul(big.NewInt(R), bL)
	den = new(big.Int).Sub(RL, big.NewInt(1))
	den.Mul(den, RL)
	den.Sub(den, sq)
	den.Mul(den, bL)
	dE = new(big.Rat).SetFrac(T.Lsh(T, 1), den)
	return dO, dE
}

func resetBools(b []bool, n int) []bool {
	b = slices.Grow(b[:0], n)[:n]
	clear(b)
	return b
}

// pairObserved adds to P one pair of raters' share of observed disagreement: for every two
// units of theirs that share positions, (b−b')² + (e−e')²; for every unit sharing no position
// with the other rater's units (so lying inside one of that rater's gaps), l². a and b are
// sorted and flat, so one merge finds every intersecting pair: of the two current units, the
// one that ends first cannot meet the other list's later units.
func pairObserved(P *big.Int, a, b []unit, hitA, hitB []bool, t *big.Int) {
	for p, q := 0, 0; p < len(a) && q < len(b); {
		x, y := a[p], b[q]
		if x.b < y.e && y.b < x.e {
			addSquare(P, x.b-y.b, t)
			addSquare(P, x.e-y.e, t)
			hitA[p], hitB[q] = true, true
		}
		switch {
		case x.e < y.e:
			p++
		case y.e < x.e:
			q++
		default:
			p++
			q++
		}
	}
	for p, x := range a {
		if !hitA[p] {
			addSquare(P, x.e-x.b, t)
		}
	}
	for q, y := range b {
		if !hitB[q] {
			addSquare(P, y.e-y.b, t)
		}
	}
}

// addSquare adds d² to acc, using t as scratch.
func addSquare(acc *big.Int, d int64, t *big.Int) {
	t.SetInt64(d)
	acc.Add(acc, t.Mul(t, t))
}

// expectedSums returns T = Σ_u [(n−1)·l(l−1)(2l−1)/3 + l²·Σ_{gaps g ≥ l} (g−l+1)] over one
// label's units u of length l (n of them, every rater's), the gaps being every rater's
// stretches of the continuum [0, L) outside its units of the label, and Σ_u l(l−1).
// Σ_{g ≥ l} (g−l+1) = G(l) − (l−1)·C(l) for the sum G and count C of gaps of length >= l, so
// walking units and gaps from the longest down costs O((S+gaps) log) for the sorts.
func expectedSums(us [][]unit, L int64, n int) (T, sq *big.Int) {
	var lens, gaps []int64
	for _, ru := range us {
		pos := int64(0)
		for _, u := range ru {
			lens = append(lens, u.e-u.b)
			if u.b > pos {
				gaps = append(gaps, u.b-pos)
			}
			pos = u.e
		}
		if pos < L {
			gaps = append(gaps, L-pos)
		}
	}
	desc := func(a, b int64) int { return cmp.Compare(b, a) }
	slices.SortFunc(lens, desc)
	slices.SortFunc(gaps, desc)

	T, sq = new(big.Int), new(big.Int)
	G := new(big.Int) // sum of the gaps >= l
	C := int64(0)     // their number
	var l, lm1, t, u big.Int
	nm1 := big.NewInt(int64(n - 1))
	three := big.NewInt(3)
	for _, x := range lens {
		for C < int64(len(gaps)) && gaps[C] >= x {
			G.Add(G, t.SetInt64(gaps[C]))
			C++
		}
		l.SetInt64(x)
		lm1.SetInt64(x - 1)
		// (n−1)·l(l−1)(2l−1)/3: l(l−1)(2l−1) is six times Σ_{k<l} k², so the division is exact.
		t.Mul(&l, &lm1)
		sq.Add(sq, &t)
		u.Add(&l, &lm1)
		t.Mul(&t, &u)
		t.Quo(&t, three)
		t.Mul(&t, nm1)
		T.Add(T, &t)
		// l²·(G − (l−1)·C)
		u.Mul(&lm1, t.SetInt64(C))
		u.Sub(G, &u)
		t.Mul(&l, &l)
		T.Add(T, t.Mul(&t, &u))
	}
	return T, sq
}

// alpha is 1 − dO/dE as the nearest float64 (dE ≠ 0).
func alpha(dO, dE *big.Rat) *float64 {
	a := new(big.Rat).Quo(dO, dE)
	return ratFloat(a.Sub(big.NewRat(1, 1), a))
}

func ratFloat(r *big.Rat) *float64 {
	f, _ := r.Float64()
	return &f
}
