// Package unitizing computes Krippendorff's alpha for unitized data (u-alpha) over spans: how
// well raters agree on where regions of a text or a recording begin and end, label by label,
// chance-corrected. It is the measure DKPro Statistics 2.2.0 computes in
// KrippendorffAlphaUnitizingAgreement (and INCEpTION reports), overall and per label, with
// the same definition term for term and exact arithmetic; ops/dkpro holds it to DKPro itself.
// It owns the one rule for which items a figure covers and how they are laid out (NewStudy),
// so the processor, the CLI and the API compute the same number. It does no I/O and imports
// only the standard library.
//
// # The study
//
// R raters label the same items; every rater's label on an item is a list of spans
// {label, [start, end)} (an empty list is a label that marks nothing). Items are laid end to
// end into one continuum [0, L): item k starts at the sum of the lengths of the items before
// it, and a span [s, e) on it becomes [o_k + s, o_k + e). This is DKPro's
// UnitizingAnnotationStudy(R, 0, L) with addUnit(o_k + s, e − s, rater, label). Only items
// every rater in scope labeled take part (NewStudy leaves out the others and counts them), each
// as long as its labels state (the CLI, which has no stated length, uses the largest span end).
//
// # Definition
//
// Alpha is computed for each label c on its own. For rater i, its units are its spans of c;
// its gaps are the maximal stretches of [0, L) that none of its units of c covers. Units and
// gaps are i's sections: they tile the continuum. For a section g (begin b_g, end e_g, length
// l_g) of rater i and a section h of another rater j, Krippendorff's (1995) difference is
//
//	δ²(g, h) = (b_g − b_h)² + (e_g − e_h)²   both units, sharing a position
//	         = l_g²                          g a unit lying inside the gap h
//	         = l_h²                          h a unit lying inside the gap g
//	         = 0                             otherwise
//
// and, with N the number of units of c of all raters and f(l) = (2l³ − 3l² + l)/3,
//
//	D_o(c) = Σ_{i≠j} Σ_{g of i} Σ_{h of j} δ²(g, h) / (R(R−1)·L²)
//
//	D_e(c) = (2/L) · Σ_u [ (N−1)·f(l_u) + l_u²·Σ_{gaps h: l_h ≥ l_u} (l_h − l_u + 1) ]
//	         / ( RL(RL−1) − Σ_u l_u(l_u−1) )
//
//	alpha(c) = 1 − D_o(c)/D_e(c)
//
// where u runs over the N units and h over the gaps of all raters. The overall figure is DKPro's
// calculateAgreement: alpha = 1 − D̄_o/D̄_e with D̄ the mean of the labels' disagreements over
// the labels that occur in the study (not a mean of the labels' alphas; labels of the closed
// set that nobody used would add 0 to both sums and leave it unchanged).
//
// Reading the terms. Two overlapping units disagree by the squared shifts of their two
// boundaries; a unit one rater marked where the other marked nothing costs its squared length
// (as if the other's unit had shrunk to nothing); gaps against gaps, and units that do not
// meet, cost nothing (each unit is accounted against the gap opposite it). D_o is the mean over
// the R(R−1) ordered pairs of raters, scaled by L². D_e is the same difference for units
// placed anywhere, drawn from the pool of every rater's units and gaps, as coding alpha pools
// every coder's values:
//
//   - two units of lengths a and b share a position at a + b − 1 relative shifts, and over those
//     shifts Σ δ² = f(a) + f(b) (with shift d of the one's begin past the other's, the begins
//     contribute Σ_{d=−a+1}^{b−1} d² and the ends the same sum shifted by a − b, which is
//     S(a−1) + S(b−1) each for S(n) = Σ_{k≤n} k², and f(l) = 2·S(l−1); TestOverlapShiftIdentity
//     checks it). Over the N(N−1) ordered pairs of distinct units that is 2(N−1)·Σ_u f(l_u), the
//     first term with the leading 2;
//   - a unit of length l fits inside a gap of length g ≥ l at g − l + 1 positions, each costing
//     l²; the 2 counts the pair both ways (unit against gap, gap against unit);
//   - the normaliser is Krippendorff's: the RL(RL−1) ordered pairs of positions in the R raters'
//     copies of the continuum, less the ordered pairs of positions within one unit, and L for
//     the positions a placement ranges over. The package takes it as published (1995; 2004,
//     "Measuring the reliability of qualitative text analysis data") rather than re-deriving
//     it.
//
// Krippendorff, Mathet, Bouvry and Widlöcher (2016, "On the reliability of unitizing textual
// continua: further developments") later revised this coefficient, which "turned out to
// behave not as expected when applied to more than two observers", into a family of four. This
// package computes the 1995/2004 coefficient on purpose: it is what DKPro 2.2.0 and INCEpTION
// report, and issue 21 fixes DKPro's measure as the definition.
//
// # How it is computed
//
// D_o needs no sections. For two raters i and j, every unit of i either shares a position with
// some units of j or lies inside one of j's gaps (the gaps are the complement of the units), so
// their share of D_o's numerator is Σ (Δbegin² + Δend²) over the pairs of their units that
// share a position, plus l² for every unit of either that meets none of the other's. Each
// rater's units of a label are flat (see below), so sorted by begin they are sorted by end too,
// and one merge of the two lists finds every meeting pair: of the two current units, the one
// that ends first cannot meet the other list's later units. D_e's gap term is
// Σ_u l_u²·(G(l_u) − (l_u−1)·C(l_u)) for the sum G and count C of the gaps of length ≥ l_u, so
// walking the units from the longest down against the gaps sorted the same way costs one pass.
//
// Every term is an integer: δ², l²(g−l+1), l(l−1), and f(l), since l(l−1)(2l−1) = 6·S(l−1).
// Alpha sums them with math/big and divides once per figure as exact rationals, rounding to
// float64 at the end, so results do not depend on the order in which raters or spans are
// listed (TestInvariants) and equal the literal definition exactly (TestAlphaMatchesLiteralDefinition,
// which computes it section pair by section pair). DKPro sums D_o in doubles (exact below 2⁵³)
// and D_e in 34-digit BigDecimals built from double products ((N−1)·(2l³ − 3l² + l) is exact
// while it stays below 2⁵³), then divides in doubles; the two agree within 1e-12 on the published examples and within 1e-9 on
// the seeded studies of ops/dkpro. DKPro's long product R(R−1)·L² overflows for continua
// longer than about 3·10⁹/√(R(R−1)) positions; Alpha's arithmetic has no such bound.
//
// # Items laid end to end: what the order changes
//
// A rater's gaps run across item boundaries: the gap that ends one item and the gap that starts
// the next are one gap, as when DKPro or INCEpTION put documents end to end. D_o does not depend
// on the order (no unit crosses an item boundary, and whether a unit lies inside the other
// rater's gap is decided within its item), but D_e's gap term does: it sees which items are
// neighbours. NewStudy therefore lays items out in byte order of their ids, so every reader of
// the same labels gets the same figure; a Study built by hand is taken in its own order.
//
// # Flat spans, and what is not defined
//
// The measure needs each rater's units of a label to be flat: DKPro's documentation forbids
// units of one category by one rater to overlap, and given such units its section walk makes
// gaps of negative length and returns a number without complaint (for [0, 10) and [5, 8) by
// one rater against [0, 10) by the other, 2.2.0 reports perfect agreement, alpha 1). Spans of one label by one
// rater that share a position (touching, [0, 5) and [5, 9), is not sharing) leave that label's
// alpha, and the overall alpha, not defined; Result.Overlaps names every such pair with its
// rater and item, and the other labels are still computed. Spans of different labels may
// overlap (nested entities): the measure sees one label at a time, and Krippendorff's own 1995
// examples, as DKPro's tests combine them into one study, overlap across labels. (INCEpTION
// silently drops the later of two overlapping spans of one label; Assay reports instead.)
//
// A figure whose denominator is zero is reported as not defined, with the reason, never as 0,
// 1 or NaN: fewer than two raters; an empty continuum; no spans at all; and D_e = 0, which
// happens only when every rater marks every position with the label in spans of length 1 (no
// unitization could then disagree, and D_o is 0 too). DKPro 2.2.0 returns NaN for the empty
// study and 0.0 whenever D_o = D_e, that case included (2.3 returns 1.0 there); these are the
// only studies where it gives a number Alpha does not, and ops/dkpro pins its answers. One unit
// in all the study gives D_o = D_e and alpha exactly 0, defined.
//
// # Folded incrementally, or computed on read
//
// On read, over the spans in scope. Parts of it do fold: D_o's numerator is a sum over items
// and pairs of raters, and N, Σ f(l), Σ l(l−1) and L are sums. But D_e's gap term is a bilinear
// form in two global distributions, the lengths of all units and of all gaps in scope, with
// no per-partition scalar summary (Σ over pairs l ≤ g of l²(g−l+1)); and the gaps themselves
// depend on which items are neighbours in the layout and on which raters are in scope, since
// the study keeps only the items every rater in scope labeled. A partial fold would have to keep
// per item and rater the interior gap lengths, the edge gaps and the unit lengths, which is
// the spans again. The cost on read is O(S log S + R·S) big-integer steps for S spans and R
// raters (each pair of raters merges its two span lists once per label) plus O(R·C) for C
// labels, memory O(S): about 40 ms for 78,000 spans of 5 raters (BenchmarkAlpha).
package unitizing
