// Package demo builds the annotation program that `assay demo` (and `make run`) plays
// through the ingest gateway, and that the dashboard's browser test uses: the realistic,
// deterministic workload of services/demo/annotation (items with slice and edge-case tags, gold
// answers, retractions, reviews, coverage targets, dataset versions) with three cohorts of
// clearly different quality, plus the model side of the story that workload leaves out: a
// training run on the first dataset version, an evaluation finding against it with its
// remediation shipped in a later version, and a second finding still open.
//
// Times: the generator stamps a fixed base instant; Shift moves a program so that it ends
// at a chosen instant (now, when played live), keeping every interval, so cycle and
// remediation times keep their modeled sizes and open findings have a realistic age.
package demo
