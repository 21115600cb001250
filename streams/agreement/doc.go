// Package agreement holds the inter-annotator agreement mathematics behind Assay's agreement
// KPIs: Krippendorff's alpha (nominal, ordinal, interval, ratio, and MASI or Jaccard for
// set-valued answers) with its confidence interval, Fleiss' kappa, Cohen's kappa, percent agreement and each annotator's
// agreement with the others. It does no I/O beyond reading a CSV export; the stream processor
// and the CLI wrap it.
//
// # Why a coincidence matrix
//
// Alpha, percent agreement and Fleiss' kappa are all functions of Krippendorff's coincidence
// matrix o_ck (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"). A unit u with
// value counts n_uc and m_u = Σ_c n_uc contributes n_uc·n_uk/(m_u−1) to o_ck for c≠k and
// n_uc·(n_uc−1)/(m_u−1) to o_cc. The matrix is a sum over units, so:
//
//   - it can be maintained incrementally: when a label arrives or is retracted, only its unit's
//     contribution is taken out and put back ([Reliability.Add], [Reliability.Remove]), which
//     costs O(d²) for the d distinct values of that one unit, independent of the data size;
//   - per-partition matrices add up to the global one ([Coincidences.Merge]), which is how the
//     design doc's global KPIs are summed in ClickHouse from per-partition partials;
//   - the metric is applied only when a figure is read ([Coincidences.Alpha]), which matters for
//     the ordinal metric, whose distances depend on the global marginals and therefore cannot
//     be pre-applied per partition.
//
// # Exactness
//
// [Coincidences] does not store o_ck as floating point. It keeps, for every unit size m, the
// integer sum S^m_ck of n_uc·n_uk over the units of that size, so o_ck = Σ_m S^m_ck/(m−1).
// Integers make Add followed by Remove restore the exact previous state, make the result
// independent of the order of events, and make merging partitions bit-for-bit equal to
// computing over all of the data. Division happens only when a figure is read, in a fixed order.
//
// # Confidence intervals
//
// [AlphaInterval] puts a confidence interval around alpha by the jackknife over units
// (Hughes 2022, "Toward improved inference for Krippendorff's Alpha agreement coefficient"):
// each unit is left out in turn and alpha recomputed; the leave-one-out alphas θ_(u) give the
// standard error SE² = (N−1)/N · Σ_u (θ_(u) − θ̄)² over the N pairable units. Whole units are
// left out because the values of one unit are not independent (they share the item); the
// pair bootstrap of Hayes and Krippendorff (2007), which resamples pairs of values as if they
// were and holds D_e fixed, is deliberately not offered (see the simulation below).
//
// Leaving a unit out is cheap. Write α = 1 − (n..−1)·Σ_ck o_ck δ_ck / Σ_ck n_c n_k δ_ck, and
// let the unit have value counts a_c, m = Σ a_c values, and within-unit sum
// W = Σ_c Σ_k a_c a_k δ_ck. The unit adds W/(m−1) to Σ o δ, so without it
//
//	n..' = n.. − m
//	Σ o'δ = Σ oδ − W/(m−1)
//	Σ n'_c n'_k δ = Σ n_c n_k δ − 2 Σ_c a_c R_c + W,   R_c = Σ_k n_k δ_ck
//
// R is computed once: R_c = n.. − n_c for nominal, n..(x_c − x̄)² + Σ_k n_k (x_k − x̄)² for
// interval, and an O(V²) pass for ratio, MASI and Jaccard, like their D_e. Then each leave-one-out
// alpha costs O(d) for the unit's d distinct values (O(d²) distance evaluations for the pairwise
// metrics; W = 2m Σ a_c (x_c − x̄_u)² for interval). Units with the same multiset of values
// have the same leave-one-out alpha, so the input is [UnitProfile]s (a profile and how many
// units have it) and the jackknife costs O(Σ_profiles d) — a stream processor can keep
// profile counts instead of units. Ordinal distances depend on the marginals, which move when
// a unit leaves, so ordinal recomputes its coordinates per profile: O(G²) for G ranks.
//
// The interval is computed on Fisher's z scale, z = ½·ln((1 + (k−1)α)/(1 − α)) with k = n../N
// the mean values per pairable unit, the transform that makes an intraclass correlation
// (which the customary alpha estimates, as Hughes shows from the one-way ANOVA model) nearly
// normal: z(α) ± q·SE_z, mapped back. On alpha's own scale (α ± q·SE) the same jackknife
// undercovers when alpha is high, since alpha's sampling distribution is bounded by 1 and
// skewed: in the simulation below, interval data with α = 0.81 gave 92.7% at 100 units and
// 87% at 30. The interval is undefined (ErrUndefined) when no disagreement is observed (α = 1:
// nothing in the data shows how far it could be from 1), or all of it is in one unit, or
// fewer than two units are pairable.
//
// Coverage (TestAlphaIntervalCoverage): units with a latent true value drawn from π, each of
// their 2-4 values (annotators missing at random from four) the true value with probability
// p, else an independent draw from π, so the population alpha is exactly p² at every level;
// nominal: 4 categories, π = (.5, .25, .15, .10); interval: a 1-7 scale, π skewed to the top.
// Share of 95% intervals that hold the population alpha, and their mean width (2,000 data
// sets per cell):
//
//	level     alpha   30 units         100 units        1,000 units
//	nominal   0.64    95.9%  0.373     94.0%  0.200     94.9%  0.063
//	nominal   0.81    94.5%  0.338     94.8%  0.164     95.5%  0.050
//	interval  0.64    93.7%  0.521     95.2%  0.279     94.6%  0.088
//	interval  0.81    93.3%  0.489     94.5%  0.229     94.6%  0.069
//
// At 30 units 1.8% (nominal, 0.81) and 0.6% (interval, 0.81) of the data sets had no
// interval (no disagreement, or all in one unit); they count as misses. At 120 units
// (TestPairBootstrapUndercovers, 500 data sets, α = 0.64) the jackknife held alpha 95.4%
// (nominal) and 94.4% (interval) of the time, a bootstrap of units with BCa 93.8% and 94.2%
// at about the same widths, and the pair bootstrap 81.4% and 81.4%, its intervals about 30%
// too narrow. The jackknife is the one shipped: it matches the unit bootstrap, needs no
// random numbers (the same data always give the same interval) and costs one pass over the
// profiles, which the live read path needs.
//
// # Conventions shared by every figure
//
// Units with fewer than two values are not pairable and are left out, as the KPI contract
// requires; every result reports the pairable units and pairable values (n..) beside the figure.
// A figure whose denominator is zero is reported as undefined (an error wrapping
// [ErrUndefined]) rather than as 0, 1 or NaN, so that a dashboard cannot mistake "no evidence"
// for "perfect" or "none".
package agreement
