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
// # Values as JSON
//
// ParseSpans and ParseBoxes read a value as the CLI's CSV holds it, a JSON array of
// {"label", "start", "end"} or {"label", "x", "y", "w", "h"[, "score"]}, and check it with
// ValidateSpans or ValidateBoxes; every error is a FieldError naming the region's index and
// the field, for a 400 or a CLI message. Bounds against the item's stated length or size are
// the caller's. Unitizing alpha, the other span figure of issue 21, is not computed here.
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
// BenchmarkWorstCase measures that worst case, every region of both lists eligible with every
// other (one component of n×n), for one unit pair's whole contribution (CompareSpans /
// CompareBoxes, both matchings), in two shapes: "random", IoUs that differ at random, and
// "tied", IoUs arranged so that every one-to-one matching has the same total, where each new
// row of the assignment displaces all the rows before it: the slowest shape found, and the
// n³ growth of the bound. CPU time per unit pair on this project's 2-core machine, shared with
// other work while measured (December 2026):
//
//	regions a side   random spans   random boxes   tied spans   tied boxes
//	100              2 ms           2 ms           3 ms         3 ms
//	250              10-11 ms       10-13 ms       30-33 ms     28-29 ms
//	500              40-43 ms       30-35 ms       197-208 ms   203-230 ms
//	1000             211-217 ms     177-188 ms     2.0-2.4 s    1.7-1.8 s
//
// MaxRegions bounds the regions of one value so that no unit pair's contribution stalls a
// partition for more than about 50 ms: 250 keeps the slowest shape near 30 ms, where 300 would
// reach about 50 and 500 over 200. The gateway refuses a value with more (the contract mirrors
// it as schemas.MaxRegions), and the functions here refuse longer lists rather than run
// unbounded. A unit labeled by k annotators costs k(k−1)/2 unit pairs, each bounded so.
package regions

// MaxRegions is the most regions one span or box value may hold (see Cost in the package
// documentation).
const MaxRegions = 250
