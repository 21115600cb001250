// Package kpi holds the KPI stream processors of the design's "KPIs"
// section: agreement (Krippendorff's alpha and per-annotator agreement),
// accuracy against gold, and flow (cycle time and rework). Each is a pure
// state machine for streams/runtime: Apply folds one record into the state
// of its (topic, partition) and returns the rows it changes; the runner does
// all of the I/O.
//
// # Per-partition partials, merged at query time
//
// No processor sees all of the data: a partition's state covers the items
// keyed to it. So every KPI table holds, per (kafka_topic, kafka_partition),
// the partition's CURRENT total of each figure's additive parts
// (coincidence cells, correct/total counts, ...), in a
// ReplacingMergeTree(version) whose version is the Kafka offset of the record
// that last changed the total. Queries read the tables with FINAL, which
// keeps the latest total of each partition, and sum across partitions. This
// makes the figures independent of how many processor instances share the
// partitions, and makes a replayed batch (at-least-once delivery) collapse:
// the same offsets produce the same totals.
//
// Apply returns a row only for the totals the record changed, so the runner's
// batches stay proportional to the events, not to the size of the state.
//
// # Cross-topic facts without cross-topic state
//
// The runtime gives each (topic, partition) a state of its own and may assign
// partition p of the items, labels and reviews topics to different instances,
// so a processor cannot join topics in memory. The flow processor therefore
// writes one row per (item, stage) from whichever topic the stage comes from
// (ingested from items, first label from labels, accepted from reviews), and
// the kpi_item_cycle view pivots them in ClickHouse.
//
// Coverage, and cycle time up to a dataset version, join facts of topics
// keyed differently (items by item, datasets by dataset), so they are views
// over the ledger tables (migrations 0004 and 0006) rather than processors.
//
// Reading: the kpi_* views give every figure that is a plain sum (nominal
// alpha, accuracy, rework, cycle-time quantiles, coverage); ReadAgreement,
// ReadAgreementWindow and ReadPairwiseKappa merge cells in SQL and apply the
// level's metric with streams/agreement, for the figures that are not.
//
// Definitions (denominators, the error of accuracy, which units count) are
// in README.md, section "KPIs", and in the comments of migrations 0003-0007.
package kpi
