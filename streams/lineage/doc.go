// Package lineage is the lineage projection of the log: the chain source → item → labels →
// reviews → dataset version → training run → eval finding → remediation → fixing dataset
// version, and the one rule that says whether a member's chain is complete.
//
// # One model, two stores
//
// Graph folds events into memory and answers the audit questions over them: is every member
// of a dataset version fully traced, which links are missing, which cohorts and annotators
// are involved, what is the members' Merkle digest, which versions and cohorts does a finding
// implicate, and how long did its fix take. assay audit replays the whole log into a Graph.
//
// The Processor writes the same facts to ClickHouse, maintained as the log arrives: the graph
// as node and edge rows for walking it in SQL, and the chain read model (one typed row per
// event that states a link) that ReadVersion and ReadCompleteness read. The API and the
// dashboard read lineage and lineage completeness there, never from the ledger tables.
//
// The datasets of a project (Graph.DatasetsOf: those its items' latest ingests name), by
// which completeness, the gate and the lineage endpoint narrow to a project, are kept as the
// items arrive: an items partition's state holds each item's latest ingest, and the Processor
// writes the partition's count of items per (project, dataset) to lineage_project_datasets
// whenever one changes (migration 0071), so ProjectDatasetsQuery sums a few rows a dataset
// rather than reading every ingest (ProjectDatasetsFromItemsQuery, the reference the tests
// hold it to). The edge reads (training runs, fixes) name their edges' source kind, the first
// column of lineage_edges' key, so they read the versions' and remediations' edges only.
//
// Both stores reduce a member to the same Links (Graph.Links; ReadVersion through the same
// chainOf; ReadCompleteness by counting the members of each version by their Links in SQL),
// judged by one rule, Links.Missing: a member is complete when its item was ingested with a
// source and a hash, its label was submitted for that item by a known annotator and is not
// retracted, and the label's latest review accepted or corrected it. A version is complete
// when its manifest digest recomputes and every member is (VersionStatus), a training run when
// every version it used is (Tally). The audit passes a version only when it is complete and
// ClickHouse agrees with the replayed log (auditor.CompareLineage compares ReadVersion with
// Graph.Audit), so the dashboard cannot count as complete a version the audit fails on the
// same data. TestChainBreaks, TestChainBreaksInClickHouse and the API's stack test run every
// way a chain can break (lineagetest.Breaks) through each.
//
// # The gate's word on a version
//
// The gate's verdicts (DatasetVersionCertified, DatasetVersionRejected) and the owners'
// GateOverrideGranted join the model as facts about a version: Graph.Gate and ReadGate give
// the same Gate (newGate) for a version: every verdict ordered by sequence (the last is in
// force; ties, a gate bug, by occurred_at then event id), every override with its reason and
// who granted it, and for each training run that used the version whether it was certified
// at the run's registration, as Assay knew it when it accepted the run: the verdict of highest
// sequence among those recorded at or before the run's first registration naming the version,
// and whether an override was recorded by then (RunGate: recorded_at, not occurred_at, the
// rule of the ledger's kpi_training_runs_uncertified, so the audit and the KPI agree:
// TestRunClearanceAgreesWithTheKPIView). The Processor writes them as verdict and override
// nodes (edges judged, supersedes, overridden) and as rows of the chain read model
// (lineage_verdicts, lineage_overrides, lineage_runs); VersionLineage carries the Gate, so the
// audit lists them and compares ClickHouse's with the log's, and assay gate reads ReadGate.
//
// The gate judges, lineage only reports. The audit's rule is unchanged: a version passes when
// it is complete and ClickHouse agrees with the log, whatever the gate says; a rejected
// verdict is reported, never a lineage break, and a certified one does not make a broken
// chain complete.
//
// Only the gate's verdicts count. A verdict whose producer is not GateProducer
// (assay-processor/gate) is refused by the Processor with rule RuleOwnVerdicts, with or
// without a principals registry (the runner sends it to the DLQ), and ignored by the Graph,
// as the router trusts only its own decisions (streams/router): so no principal, and no
// record written straight to Kafka under another id, can make a version certified. A record
// claiming GateProducer itself cannot be told from the gate's: Kafka's ACLs must keep other
// writers off the datasets topic. Overrides are owners' events; with a registry the runner
// refuses one from anyone but an owner of its project before Apply.
//
// # Order and "latest"
//
// The model does no I/O. Fold order does not matter (every fact is keyed by its own id and
// "latest" is decided by occurred_at, then event id), because a replay reads partitions of
// several topics interleaved in no global order. The chain tables keep every statement and
// their reads decide "latest" by the same rule, with argMax over (occurred_at_ms, event_id):
// an item's and a label's latest statement and a label's latest review; a version's earliest
// commit (a version is immutable); any retraction; a finding's first shipment; a training
// run's latest registration. A version's verdict in force is decided by sequence, not time.
//
// Write rules. So that no party can make the graph say another party's label was retracted, or
// another project's finding remediated, the Processor completes two rules of schemas/access with
// the little state it keeps (State): a LabelRetracted is refused unless its producer submitted
// the label [labeler.own_labels], with or without a principals registry; with one, a
// RemediationStarted or RemediationShipped is refused unless the finding's project (from its
// EvalFindingReported) is in the principal's projects [scope.project]. The runner refuses the
// rest of the rules before Apply when it has a registry, and sends every refusal to the DLQ.
// State is snapshotted by the runner (runtime.Snapshotter, snapshot.go: state version 2, about
// 17 bytes a label or finding and 60 an item), so an assignment of a labels, findings or items
// partition replays the log after the latest snapshot only.
package lineage
