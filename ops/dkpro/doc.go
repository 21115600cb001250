// Package dkpro checks Assay's unitizing alpha (streams/agreement/unitizing) against the
// implementation issue 21 names as its definition: KrippendorffAlphaUnitizingAgreement of DKPro
// Statistics (org.dkpro.statistics:dkpro-statistics-agreement, pinned at 2.2.0 in pom.xml, from
// Maven Central), the measure INCEpTION reports. The tests here hold Assay to it in
// `make test`:
//
//   - on Krippendorff's published examples (1995, p. 57, at the paper's scale and stretched
//     toward the continuous measure; 2004, with its continuum beginning at 150 as published) and
//     DKPro's own test example, Assay's alpha, D_o and D_e, overall and per label, equal DKPro's
//     within 1e-12, and both are within the published values' tolerances;
//   - on 500 seeded random studies (2-5 raters, several items, labels and gaps, a fifth of them
//     scaled to millions of positions) every figure equals DKPro's within 1e-9;
//   - where Assay reports alpha as not defined, DKPro's number is pinned (NaN for an empty
//     study, 0.0 where D_o = D_e = 0), so a change on either side shows.
//
// Check.java, next to this file, is the Java side in source-file mode (so it is never stale),
// answering a whole batch of studies in one JVM; ASSAY_DKPRO_CLASSPATH names a classpath
// holding DKPro (setup.sh in this directory collects the jar with Maven into .data/dkpro and
// prints it; make test sets it through ops/checkers.sh). Without it the checks skip, or fail
// under ASSAY_INTEGRATION=1, as ops/avro's do.
package dkpro
