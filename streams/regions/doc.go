// Package regions holds the one definition of region agreement, for spans (stretches of text,
// audio or video) and boxes (rectangles on images), that the stream processor, the CLI
// (assay agreement --level spans|boxes) and the API all use: IoU, the matching of two
// annotators' regions, the figures read from it, and accuracy against gold regions. It is pure:
// no I/O, no project imports but streams/agreement. Span and Box mirror the contract's
// schemas.Span and schemas.Box; callers convert.
//
// # The definition
//
// For each unit and each pair of annotators who both labeled it (an empty list is a label
// with no regions), regions are matched one to one, only same-label pairs with IoU >= t
// (default 0.5) are eligible, and the matching maximizes the total IoU of the matched pairs
// (Hungarian assignment). IoU of two spans is the length of their intersection over the length
// of their union; of two boxes, the area likewise. Reported:
//
//   - micro pairwise F1 = 2 × (matched pairs) / (regions of the first + regions of the
//     second), numerator and denominator each summed over all unit pairs (Hripcsak and
//     Rothschild 2005: positive specific agreement, which is what F1 between two annotators
//     is when neither is the reference);
//   - mean IoU over the matched pairs;
//   - F1 per label: the same ratio over the regions that carry the label and the matched
//     pairs of that label.
//
// Beside them, label alpha, a chance-corrected figure: the regions of each pair of annotators
// are matched again, one to one, among pairs with IoU >= t whatever their labels (the same
// rule otherwise); each matched pair is a unit with two values, its two labels; and label
// alpha is Krippendorff's alpha (nominal) over those units, computed by streams/agreement's
// Coincidences. It answers whether two annotators who marked the same stretch or object agree
// on what it is; regions only one of them marked are F1's business, not alpha's. Alpha on the
// same-label matching would always be 1: every unit it makes holds two equal labels, so the
// observed disagreement is zero and alpha = 1 − 0/D_e (or undefined, when one label is all
// there is). Accuracy against gold is the same-label matching of one annotator's regions
// (predicted) against the gold regions at the same threshold: true positives are the matched
// pairs, precision = TP / predicted, recall = TP / gold, F1 = 2·TP / (predicted + gold),
// overall and per label.
//
// # Details the wording leaves open
//
//   - Spans are half-open, [start, end): spans that touch ([0,5) and [5,9)) do not overlap,
//     and boxes that share an edge do not either. Box IoU is COCO's (pycocotools bbIou).
//   - A region that covers nothing (end <= start; a box with a size <= 0 or a coordinate that
//     is not a finite number) has IoU 0 with everything, itself included (0/0 is taken as 0).
//     The gateway refuses such regions (ValidateSpans, ValidateBoxes); the definition still
//     covers them.
//   - t is in (0, 1]; IoU exactly t is eligible; t = 1 is exact match.
//   - The total the matching maximizes is counted in millionths of IoU (Micro, round half
//     up), so that it is an exact integer: the figures' sums then add and subtract exactly
//     (see below), and ties are real ties. A matching chosen this way is within 10^-6 per
//     pair of the best float total (checked against SciPy).
//   - Ties: among matchings with the same total, the one with more pairs wins (it accounts for
//     more regions); among those, under the any-label rule, the one with more same-label
//     pairs (when geometry cannot tell two correspondences apart, the labels decide rather
//     than an accident of order); what is still tied is decided by a canonical order of the
//     regions (position, then label), so the result depends on the two lists as sets and not
//     on the order the annotator drew them in. Both matchings are one to one: a region is in
//     at most one pair.
//   - A unit labeled by k annotators contributes k(k−1)/2 unit pairs; in each, the annotator
//     whose id sorts first is "the first" (CompareUnitSpans). F1 does not depend on the order.
//
// # Additive figures
//
// Figures (same-label matching) and Agreement (Figures and label alpha's coincidences) are
// sums over unit pairs of integers: pairs, matched pairs, regions of each side, micro-IoU,
// per label the same, and Krippendorff's integer coincidence sums. A stream processor adds a
// unit pair's contribution (CompareSpans, CompareBoxes, ScoreSpans, ScoreBoxes) with Merge and
// takes it out with Subtract when a label is retracted or a window slides; integers make the
// result exact and independent of the order, and per-partition tallies add up to the global
// one. A contribution is a deterministic function of the two lists, so it can be recomputed
// to be subtracted. Figures are read (F1, MeanIoU, Precision, Recall, Alpha, Report) only at
// the end; a figure whose denominator is zero is undefined (agreement.ErrUndefined), as
// everywhere in Assay.
//
// # Cost
//
// For lists of n and m regions: the eligible pairs are found by a sweep over the regions'
// projections on one axis (offsets for spans, x for boxes) in O((n+m)·log(n+m) + P), P <= n·m
// the pairs whose projections overlap, computing each such pair's IoU once for both matchings.
// The eligibility graph (regions as nodes, eligible pairs as edges) then falls into connected
// components that are matched separately, each by the shortest augmenting path form of the
// Hungarian method (Jonker and Volgenant 1987; Crouse 2016) on exact integer weights: a
// component of a and b regions costs O(min(a,b)²·max(a,b)) time and O(a·b) memory. A unit
// pair's cost is the sum over components, at worst O(min(n,m)²·max(n,m)) when every region is
// eligible with every other, and O(MaxRegions³) at the limit. CompareSpans and CompareBoxes run
// two matchings (same-label and any-label), ScoreSpans and ScoreBoxes one. Real annotations
// (entities in a text, objects in an image) overlap little, so components are small and the
// cost near linear; the bound matters against a value built to be slow.
//
// BenchmarkWorstCase measures that worst case: every region of both lists eligible with every
// other, one component of n×n with IoUs that differ at random, for one unit pair's whole
// contribution (CompareSpans / CompareBoxes, both matchings), CPU time on this project's
// 2-core machine:
//
//	regions a side   spans     boxes
//	100              ~2 ms     ~2 ms
//	250              ~13 ms    ~11 ms
//	400              TBD       TBD
//	500              TBD       TBD
//	1000             ~0.3 s    ~0.25 s
//
// MaxRegions bounds the regions of one value so that no unit pair's contribution stalls a
// partition for more than about 50 ms: the gateway refuses a value with more (the contract
// mirrors it as schemas.MaxRegions), and the functions here refuse longer lists rather than
// run unbounded.
package regions

// MaxRegions is the most regions one span or box value may hold (see Cost in the package
// documentation).
const MaxRegions = 250
