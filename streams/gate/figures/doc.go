// Package figures measures what the quality gate (streams/gate) judges a dataset version on:
// Read returns a gate.Figures for one version, read from ClickHouse only, from the tables the
// processors maintain (the ledger of streams/ledger, the KPI partials of streams/kpi, the chain
// read model of streams/lineage). It owns the definitions below and the queries that apply
// them; it writes nothing and keeps no state, so the gate may call it again whenever an event
// could have changed a figure.
//
// # Definitions
//
// Members are the (item, label) pairs of the version's earliest commit in the ledger table
// dataset_members (a version is immutable; lineage keeps the earliest commit too). Members 0
// means the ledger has not ingested the version yet: nothing else is measured.
//
// ProjectID is the project most member items belong to, each item by its latest ingest
// (occurred_at, then event id) in the ledger table items; ties go to the smallest id. It is
// empty while no member item is ingested, and then the project figures (Questions,
// Agreement, Accuracy) stay empty.
//
// Questions are those any label of the project answers (the labels table).
//
// Agreement is kpi.ReadAgreement's figure per question and level of the project, all time,
// scope "all": the one agreement read. Alpha is nil, and Undefined says why, when the KPI
// has no alpha; Low, High and Method are the KPI's 95% interval (the jackknife over units),
// nil when it has none (too little evidence, or unit profiles behind the cells).
//
// Accuracy has two figures per question of the project (zero counts where nothing is scored):
//
//   - all_submitted is the accuracy KPI (accuracy_counts, scope "all"): every submitted label
//     of an item with gold that is not retracted, scored against the item's latest gold
//     answer;
//   - final_after_review counts one label per (gold item, question): the version's member
//     label of the item when it answers the question, else the item's latest label (by
//     occurred_at, then event id) that still stands, i.e. is not retracted and was not
//     rejected by its latest review. The value counted is the one after review: the latest
//     review's corrected value when it corrected the label, the submitted value otherwise
//     (an unreviewed label stands as submitted). A member label that was retracted or
//     rejected stands for nothing, so its item does not count. Correct when equal to the
//     latest gold answer in the accuracy KPI's canonical form (level, then category, rank,
//     number or set). Latest is by occurred_at, then event id, as streams/lineage decides;
//     the accuracy KPI keeps the last gold to arrive, the same answer unless two gold
//     answers of one item arrive out of occurred_at order. A retraction counts when the
//     chain read model holds it (the lineage processor refuses one by anyone but the
//     label's producer).
//
// Coverage is measured against the dataset's CoverageTargetSet in force at the commit: the
// latest (occurred_at, then event id) that occurred at or before Request.CommittedAt, so a
// target set later never rewrites a verdict. Nil when there was none. The rules are migration
// 0004's: a slice target is met when the version's distinct member items with the slice tag
// (by each item's latest ingest) reach its minimum count and their share of the version's
// distinct member items reaches its target share, whichever are set; an edge-case minimum is
// met when the distinct member items with the tag whose member label has an accepting
// review reach it.
//
// LineageComplete counts the members whose chain is complete by streams/lineage's one rule
// (Links.Complete), from the chain read model: the facts lineage.VersionChainsQuery reads
// for the version, reduced to Links as lineage.ChainFactsQuery does. It equals the count
// lineage.ReadVersion gives (TestLineageAsReadVersion, every way a chain can break), without
// ReadVersion's reads of training runs and fixes.
//
// ReviewedLabels counts the member labels with any ReviewCompleted (naming the member's item
// and label), ReworkedLabels those with at least one reject or correct verdict.
//
// OpenFindings counts per severity (a finding's latest report) the findings that implicate a
// member item and have no RemediationShipped. GoldMembers counts the member items with a
// GoldLabelSet.
//
// Every figure but coverage is as of now: a later review, retraction, corrected gold or
// remediation changes it, which is how the gate comes to supersede a verdict.
//
// # Reading without FINAL
//
// The ledger and chain tables keep copies of an event until a merge collapses them (a
// replayed batch, a client duplicate). Every query here aggregates with DISTINCT, uniqExact,
// max, argMax or argMin, or reduces rows in Go by (occurred_at, event id), so copies cannot
// change a figure and no ledger table is read with FINAL; the KPI table accuracy_counts is
// read with FINAL over the project's key range, as its per-partition totals require.
// TestReadOnCurrentClickHouse feeds every event twice.
//
// # Cost
//
// Each query names the version's members through the key of dataset_members (dataset_id,
// version) and the commit's event id, and reaches the other tables through their keys (item
// or label ids, the dataset, the project) wherever the table has one. TestReadCost measures
// the rows the 18.16 server reads for each query of a two-member version beside an unrelated
// project of 200,000 items, labels, reviews, members and chain rows (20,000 gold items spread
// over them, 20,000 findings):
//
//	query                       bounded by                                rows read
//	members, project, chain     the version's members: a few granules     3,394-13,576
//	  facts, rework, gold       of each table (member items and labels
//	  members, slice and        are key prefixes of items, reviews,
//	  edge-case counts, gold    gold_labels and the chain tables)
//	  member pairs
//	coverage targets            the dataset (coverage_targets' key)       3,617
//	all submitted               the project (accuracy_counts' key, FINAL) 3,617
//	open findings               finding_items whole (its key is the       7,233 + 20,001
//	                            finding), then findings and remediations
//	                            by key
//	questions                   labels whole, its project_id column       200,002 (3.4 MB)
//	                            (question_id where the project matches)
//	agreement                   kpi.ReadAgreement: the views              20,000 + 20,000
//	                            kpi_agreement_cells and                   (all cells and
//	                            kpi_agreement_profiles merge every        profiles)
//	                            project's cells and unit profiles
//	                            (FINAL); 18.16 pushes no predicate into
//	                            a view
//	labels on gold items        gold_labels whole (the gold table), the   620,007 (28 MB)
//	                            labels and reviews of the granules that
//	                            hold any project's gold items, and the
//	                            retracted column of lineage_labels whole
//
// So the member-bounded queries cost in proportion to the version, whatever the size of the
// other projects; questions, agreement and final_after_review cost in proportion to the
// label table's project column, the agreement cells and the gold items' granules, once per
// Read. The labels table is read once for final_after_review: its left side; the right sides
// of its joins need only the gold table's ids.
package figures
