// Package ledger is the processor that copies every event of every contract
// topic into ClickHouse, as it is, in tables analysts query directly: the
// raw events table (envelope columns, the payload as JSON, and the record's
// topic/partition/offset) and one typed table per event type, plus child
// tables for the lists inside events (dataset members, the dataset versions
// of a training run, the items implicated by a finding). Where an event's
// lists are short and read with it (routing inputs, coverage and quality
// targets, a gate verdict's checks) they are parallel arrays in its row.
//
// Apply is a pure mapping from one record to rows. The ledger keeps state
// only for the findings partitions (Findings: each finding's project, for
// the write rules below); NewState returns nil for every other partition,
// so they hold no per-key state to bound and the runner skips their
// rebuild.
//
// Write rules. With a principals registry (streams/runtime WithAuthorizer)
// the runner refuses, before Apply, every event its producer may not write
// by the rules that need no state (schemas/access), so no typed table the
// API and the kpi_* views read (coverage, remediation, lineage of datasets)
// can be moved by a party that may not move it; Apply adds three: a
// RemediationStarted or RemediationShipped only in its finding's project
// [scope.project], a RoutingDecided only from the router
// [router.own_decisions], and a DatasetVersionCertified or
// DatasetVersionRejected only from the gate [gate.own_verdicts]. A refused record is poison: it goes to the DLQ
// (which the ledger copies into the dlq table, with the original record's
// bytes, coordinates, producer, rule and reason) and gets no row at all,
// not even in events: events holds the records the ledger accepted, and
// events and dlq together hold every record of the log, as for records
// that do not decode. The rules that need a label's producer (a
// retraction) are not the ledger's: label_retractions copies every
// retraction the gateway or the registry let through, and the KPI,
// lineage and routing processors, which remember who submitted each
// label, refuse another producer's.
//
// The table definitions are ops/clickhouse/migrations/0001_events.sql,
// 0002_ledger.sql and later ledger migrations. Here (tables.go) each table's
// row is a Go struct whose fields name their columns (`ch:"column"`, else the
// JSON name, so an event struct is a row as it is), so rows are written by
// name, never by position: the columns of Tables, their ClickHouse types
// (ColumnTypes) and each row's values in column order are derived from the
// struct when the table is declared, and every typed table starts with the
// envelope. A test compares every column, by name and type, with the
// migrated tables of the 18.16 server and of current ClickHouse (chdb). Each
// event type's rows are declared once, beside its table (eventTable, oneRow,
// on); the tests require rows for every type of the contract.
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
//
// The only state, a findings partition's Findings, is snapshotted by the
// runner (runtime.Snapshotter, snapshot.go: state version 1, about 17 bytes
// a finding), so an assignment replays the findings log after the latest
// snapshot only; the other partitions keep no state and rebuild nothing.
package ledger
