package auditor_test

import (
	"os"

	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// The text report of version 2 of the scripted history with the gate's verdicts and an owner's
// override, with one drift found in ClickHouse.
func ExampleReport_WriteText() {
	g := lineage.New(0)
	evs := append(lineagetest.History(), lineagetest.Gate()...)
	for _, ev := range evs {
		g.Apply(ev)
	}
	g.Clock = lineagetest.At(100) // the CLI uses the wall clock
	a, err := g.Audit(lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "2"})
	if err != nil {
		panic(err)
	}
	drift := []auditor.Drift{{Table: "dataset_members", Key: "ds-cars@2 i4/l4", Problem: "row missing"}}
	_ = auditor.NewReport(a, "", len(evs), true, drift).WriteText(os.Stdout)
	// Output:
	// audit ds-cars@2: FAIL
	// committed:       2026-10-01T08:30:00Z (parent "1")
	// members:         4, complete 3
	// merkle root:     sha256:239c53fcf1036d524aacb4b66c21d6e63c809de1da6665886d4706cf5cac923a
	// manifest digest: sha256:6ce544db4ddd5dfdb243ac3a21e1b38242cccc5780a0968498aee25aa2a66453 (recomputed: matches)
	// cohorts:         cohort-a, cohort-b
	// annotators:      ann-a, ann-b, ann-c
	// reviewers:       rev-1
	// gold checks:     1 of 2 match
	// training runs:   run-1
	// gate:            REJECTED by verdict 2 of 2: min_lineage_completeness: 0.75 < 1
	// verdict 1:       rejected at 2026-10-01T08:31:00Z (targets t1): min_lineage_completeness: 0.5 < 1
	//                    not_enough_data min_alpha[q]: figure -, threshold 0.667, evidence 3 (3 pairable values, fewer than the 10 the target needs)
	//                    fail min_lineage_completeness: figure 0.5, threshold 1, evidence 4 (2 of 4 members have a complete chain)
	// verdict 2:       rejected at 2026-10-01T08:59:00Z (targets t1): min_lineage_completeness: 0.75 < 1
	//                    fail min_lineage_completeness: figure 0.75, threshold 1, evidence 4 (3 of 4 members have a complete chain)
	// override:        granted by owner-1 at 2026-10-01T08:35:00Z: ablation run on the rejected version, signed off by the data owner
	// run run-1:       registered 2026-10-01T08:40:00Z: NOT certified (verdict 1 rejected), overridden by an owner
	// finding:         f1 (high) implicates this version; fixed by ds-cars@3 after 15m0s
	// finding:         f2 (low) implicates this version; OPEN for 30m0s (cohorts cohort-b)
	// records read:    30
	//
	// ITEM  LABEL  SOURCE     SHA256        ANNOTATOR  COHORT    GUIDELINE  PRELABEL      REVIEW            GOLD                           MISSING
	// i1    l1     cam-north  4cd9b7672d7f  ann-a      cohort-a  g1         detector@1.0  accept by rev-1   match                          -
	// i2    l2     cam-north  420fce314175  ann-b      cohort-b  g1         -             correct by rev-1  MISMATCH (gold nominal:truck)  -
	// i3    l3     cam-south  9a83c6cb1126  ann-a      cohort-a  g1         -             reject by rev-1   -                              label rejected in review
	// i4    l4     cam-south  6ed5045938d7  ann-c      cohort-b  g1         -             accept by rev-1   -                              -
	//
	// ClickHouse drift: 1
	//   dataset_members ds-cars@2 i4/l4: row missing
}
