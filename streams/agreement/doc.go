// Package agreement holds the inter-annotator agreement mathematics behind Assay's agreement
// KPIs: Krippendorff's alpha (nominal, ordinal, interval, ratio, and MASI or Jaccard for
// set-valued answers), Fleiss' kappa, Cohen's kappa, percent agreement and each annotator's
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
// # Conventions shared by every figure
//
// Units with fewer than two values are not pairable and are left out, as the KPI contract
// requires; every result reports the pairable units and pairable values (n..) beside the figure.
// A figure whose denominator is zero is reported as undefined (an error wrapping
// [ErrUndefined]) rather than as 0, 1 or NaN, so that a dashboard cannot mistake "no evidence"
// for "perfect" or "none".
package agreement
