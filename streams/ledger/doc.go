// Package ledger is the processor that copies every event of every contract
// topic into ClickHouse, as it is, in tables analysts query directly: the
// raw events table (envelope columns, the payload as JSON, and the record's
// topic/partition/offset) and one typed table per event type, plus child
// tables for the lists inside events (dataset members, the dataset versions
// of a training run, the items implicated by a finding).
//
// The ledger is stateless: Apply is a pure mapping from one record to rows,
// and NewState returns nil, so it holds no per-key state to bound (and the
// runner skips the rebuild and reports no assay_processor_state_keys).
// The table definitions are ops/clickhouse/migrations/0001_events.sql and
// 0002_ledger.sql; Tables here must list the same columns (a test checks it
// against the migrated server).
//
// Keys, so that at-least-once writes have an exactly-once effect
// (ReplacingMergeTree, read with FINAL):
//
//   - events is keyed by (topic, partition, offset): a replayed batch
//     collapses; a client duplicate stays visible as two offsets with one
//     event_id, which is what an auditor wants to see;
//   - typed tables are keyed by their natural key followed by event_id,
//     with kafka_offset as the version: a replayed batch collapses, and so
//     does a client duplicate of the same event_id at two offsets (the
//     later offset wins). Tables are not partitioned by time, because the
//     copies of a duplicate may differ in occurred_at and recorded_at.
package ledger
