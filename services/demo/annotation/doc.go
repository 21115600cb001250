// Package annotation generates a realistic, deterministic annotation
// workload: items with slice and edge-case tags, several annotators per item
// drawn from cohorts with known per-cohort accuracy (the probability of
// answering the true class, otherwise a uniformly random other class), gold
// answers (some first set wrong and corrected later), retractions, reviews
// that accept correct labels and reject wrong ones, coverage targets and
// dataset versions, and model pre-labels (PreLabelProposed, one per item, from
// a model version of known accuracy with calibrated confidence) for the
// router to decide on. The pre-labels come from a random stream of their own:
// every other event is the same with or without them.
//
// Because the noise model is known, the generator also says what the KPIs
// should be: Expected* are the analytic values of the model (what a very
// large workload converges to), Exact* are the figures of the events actually
// generated (what the pipeline must reproduce to the last digit). End-to-end
// tests check the pipeline against Exact* exactly and against Expected*
// within a sampling tolerance.
package annotation
