// Package preference holds the one definition of Assay's preference figures (pairwise or k-way
// comparisons of model responses, as collected for RLHF and DPO) that the stream processor, the
// CLI and the API share: how a preference is coded for Krippendorff's alpha, accuracy against a
// gold preference, and position bias with its interval. It is pure (no I/O, no environment) and
// imports no project package but streams/agreement, whose coincidence matrices carry the alpha
// figures; callers convert the contract's schemas.Preference into a [Label] and a question's
// strength scale into a [Scale] ([ScaleOf]).
//
// # Definitions
//
// A preference label is one annotator's answer on one item: the ids of the compared responses in
// the item's canonical order (Responses, the same list in the same order for every annotator of
// the item), the chosen response (Choice), the response this annotator was shown first
// (ShownFirst) and, when the question has a strength scale S, optionally how much better the
// choice is (Strength, 1 = slightly to S = much). [Label.Validate] states the rules: 2 to
// [MaxResponses] distinct non-empty ids, Choice and ShownFirst among them, a strength from 1 to S
// and none when the question has no scale. Errors are *[FieldError]s naming the field
// ("responses[2]", "choice", "shown_first", "strength"), so the gateway's 400 and the CLI can say
// which field is wrong; [ParseJSON] reads the JSON object the CLI takes,
// {"responses": [...], "choice": ..., "shown_first": ..., "strength": ...}, refusing unknown keys.
//
// # Agreement: how a choice is coded
//
// Nominal alpha compares choices coded as the chosen response's index in Responses
// ([NominalValue]: "0" for the first response of the canonical order). Not the response id:
// ids are particular to an item, so with ids as categories no two items would share a value,
// the value space would grow with the data and the expected disagreement D_e would approach 1,
// treating a choice between two responses as if chance agreement were nil and overstating alpha.
// The index keeps k categories for k responses, whose marginals give the chance agreement of
// a real k-way choice. Not the display position: each annotator may be shown the responses in
// another order, so two annotators who chose the same response may have chosen different
// positions, and coding positions would count their agreement as disagreement (and two who
// chose different responses at the same position as agreement). The canonical order is the
// same for every annotator of the item by contract, so equal indices mean the same response.
// Alpha sees the order only through the marginals: reversing the canonical order of every item
// mirrors every value and leaves alpha unchanged (TestAlphaDoesNotDependOnDisplayOrder).
//
// Ordinal alpha is defined where the question has a strength scale S and the item compares
// exactly two responses: choice and strength become one scale of 2S ranks, from "the first
// response much better" to "the second much better" ([OrdinalValue]): choice 0 with strength s
// is rank S−s, choice 1 with strength s is rank S−1+s. For S = 3 the ranks 0..5 read "first
// much, moderately, slightly better; second slightly, moderately, much better"; for S = 1 the
// scale is the nominal coding again. (Krippendorff's ordinal metric counts the values between two
// ranks, not their difference, so only the ranks' order matters.) Beyond two responses "how much better" has no single axis
// (better than which?), so such items have the nominal figure only: their labels give no ordinal
// value. A label without strength on a scaled question is not pairable for the ordinal figure,
// as a missing value, and counts in the nominal one: imputing a strength (1, or the middle)
// would invent an answer, and a "no strength" rank has no place between the others.
//
// The coded values of one unit (one item and question) go to streams/agreement as the unit's
// values ([NominalValues], [OrdinalValues]; or one label at a time to a Reliability), exactly as
// the agreement processor does for other levels: the coincidence matrix is a sum over units, so
// it is kept incrementally, merged over partitions and subtracted exactly, and alpha is read
// with Coincidences.Alpha(agreement.Nominal) or Alpha(agreement.Ordinal) (ranks are numbers).
// Every label of a unit must compare the same responses in the same order; a unit whose labels
// do not is an error naming "responses".
//
// # Accuracy against a gold preference
//
// A label is correct when its choice is the gold preference's choice ([AccuracyOf]); strength
// and display order play no part. [AccuracyCounts] (correct, labels) add and subtract per label;
// [AccuracyCounts.Accuracy] is their ratio with a Wilson interval, undefined without labels.
//
// # Position bias
//
// Position bias is the share of labels whose choice is the response shown first
// ([BiasCounts.Bias]), with its Wilson score interval, against its expectation without bias:
// 1/k for items of k responses, and with mixed k the mean of 1/k over the labels. The figure
// says whether the interval excludes the expectation (in either direction: a share well below
// it is a bias away from the first position). [BiasCounts] are additive per label: labels
// whose choice was shown first, labels, and Σ 1/k kept exactly as an integer, Σ [ExpectedUnit]/k
// with ExpectedUnit = lcm(1, ..., 20) (hence [MaxResponses] = 20), so adding and subtracting a
// label restores the counts bit for bit. The caller groups them: per annotator, per cohort.
//
// The interval is Wilson's score interval ([Wilson]), (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) /
// (1 + z²/n), the set of p that the score test of a proportion does not reject. It is chosen over
// Clopper-Pearson's "exact" interval because:
//   - the figure's verdict "excludes 1/k" is then exactly the two-sided score test of
//     p = 1/k at level 1 − confidence, so the interval and the flag say the same thing;
//   - Clopper-Pearson guarantees at least 95% coverage by being conservative: its false-alarm
//     rate on unbiased annotators stays below 5%, and it is up to about 10% wider, so fewer
//     biased annotators are flagged;
//   - it is closed-form: no inverse incomplete beta function, which Go's standard library lacks.
//
// Exact coverage and mean width of the two 95% intervals for n labels at true share p
// (computed once with SciPy 1.17.1, binomtest(...).proportion_ci):
//
//	n      p     Wilson          Clopper-Pearson
//	30     0.5   95.7%  0.332    95.7%  0.368
//	30     0.8   96.4%  0.272    98.0%  0.302
//	100    0.5   94.3%  0.191    96.5%  0.202
//	100    0.8   94.1%  0.154    96.7%  0.164
//	1000   0.5   94.6%  0.062    95.4%  0.063
//
// Averaged over p in [0.2, 0.8], Wilson covers 95.1% at 30 labels (95.0% at 100) and
// Clopper-Pearson 96.9% (96.1%). Wilson's price is a coverage that dips below 95% at some
// (n, p), to 92.7% at worst at 30 labels, as Brown, Cai and DasGupta (2001, "Interval
// estimation for a binomial proportion") document; they recommend it for small n.
//
// With mixed k the count of first-shown choices is a sum of Bernoulli draws of different
// probabilities, whose variance is below the binomial's at their mean, so the interval can only
// be conservative there.
//
// Coverage (TestPositionBiasCoverage, 4,000 seeded data sets per cell): an annotator shown the
// responses of each item in a random order picks the first-shown one with probability b, and
// otherwise picks by merit, independently of the order; the true share of first-shown choices
// is therefore b + (1−b)/k. Share of 95% intervals holding it (beside it, for one k, the exact
// coverage from the binomial distribution), mean width, and how often bias was flagged:
//
//	items         b     n = 30                   n = 100                  n = 1,000
//	k = 2         0     96.2% (95.7)  .332  3.8%  94.7% (94.3)  .191  5.3%  94.3% (94.6)  .062  5.7%
//	k = 2         0.2   96.5% (96.2)  .326  18%   95.2% (94.8)  .188  54%   94.7% (95.1)  .061  100%
//	k = 2         0.6   96.1% (96.4)  .271  94%   94.0% (94.1)  .154  100%  93.9% (94.7)  .049  100%
//	k = 2, 3, 4   0     96.2%         .320  3.9%  96.0%         .184  4.0%  96.0%         .059  4.0%
//	k = 2, 3, 4   0.2   95.2%         .332  32%   94.9%         .191  76%   95.8%         .062  100%
//
// The simulated coverage is within sampling error of the exact one, whose figures equal SciPy's
// above.
//
// # Checked against references
//
// TestWorkedExample pins the figures SciPy 1.17.1 and the PyPI krippendorff package 0.9.0
// compute of a worked data set (35 labels by four annotators: ten items of two responses on a
// three-point scale, two labels without strength, two items of three responses): nominal alpha
// 15/37 = 0.405, ordinal alpha 0.647, everyone's position bias 22/35 in [0.463, 0.768] against
// 7/15. TestReference computes them again with the references, and those of a seeded data set
// of 400 items with one biased annotator, including every annotator's counts, exact
// expectation and interval and Wilson intervals at the edges (ops/preference: check.py restates
// the coding in Python and leaves alpha and the interval to the references). It needs
// ASSAY_SCIPY_PYTHON (ops/scipy/setup.sh), skips without it, and fails without it under
// ASSAY_INTEGRATION=1.
//
// # What is additive
//
// Everything a processor keeps is a sum over labels or units, so it is kept per partition,
// merged by addition and corrected by subtraction, and every figure is computed on read:
// the coincidences of the nominal and ordinal codings (streams/agreement), [BiasCounts] and
// [AccuracyCounts]. A figure whose denominator is zero is undefined (an error wrapping
// agreement.ErrUndefined), never 0 or NaN.
package preference
