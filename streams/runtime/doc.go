// Package runtime is the one runner every Assay stream processor shares.
//
// A processor (see Processor) is a pure state machine: Apply(state, record)
// returns the ClickHouse rows and the events a record causes and updates the
// partition's state, with no I/O. The Runner does all the I/O around it, in
// the spirit of lovoo/goka on top of franz-go:
//
//   - consumer group membership with cooperative-sticky rebalancing; the
//     state of a (topic, partition) is created when the partition is
//     assigned and dropped when it is revoked or lost;
//   - state rebuilt on assignment by replaying the partition from the start
//     of the log up to the group's committed offset, before live records of
//     that partition are applied; outputs of the rebuild are discarded,
//     because they were made durable before that offset was committed;
//   - batching by record count and time, one generic insert path per table
//     (PrepareBatch with an explicit column list, as ClickHouse 18.16
//     requires), retried with exponential backoff for as long as it takes,
//     so an unavailable ClickHouse delays processing but never loses or
//     duplicates anything;
//   - offsets committed only after the batch is durable (autocommit is off);
//     processors that emit events (Emitter) run in Kafka transactions
//     (kgo.GroupTransactSession), so emitted events and offsets commit
//     atomically;
//   - poison records (undecodable, or rejected by Apply) go to the DLQ topic
//     as schemas.EventRejected with the reason and the record's coordinates;
//     they never block the partition and are never dropped silently;
//   - Prometheus metrics assay_processor_* labelled by processor, and a
//     graceful shutdown that flushes, commits and leaves the group.
//
// Exactly-once effect: the runner delivers at least once to ClickHouse (a
// crash between the insert and the commit replays the batch), so processors
// key their rows deterministically (event id, or topic/partition/offset) in
// ReplacingMergeTree tables, and a replayed batch collapses into the rows it
// already wrote.
//
// Replay runs a processor over the log without a consumer group, for
// rebuilding a projection into fresh tables (assay replay).
package runtime
