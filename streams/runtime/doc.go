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
//     duplicates anything, under the rule below that no record can stall a
//     partition;
//   - offsets committed only after the batch is durable (autocommit is off);
//     processors that emit events (Emitter) run in Kafka transactions
//     (kgo.GroupTransactSession), so emitted events and offsets commit
//     atomically; the commit also moves past the transaction markers those
//     transactions leave in the topics (the client keeps control records and
//     the runner skips them), so a group that has consumed everything has a
//     lag of 0 on the broker, which is where the API reads it;
//   - poison records (undecodable, or rejected by Apply) go to the DLQ topic
//     as schemas.EventRejected with the reason and the record's coordinates;
//     they never block the partition and are never dropped silently;
//   - Prometheus metrics assay_processor_* labelled by processor, among
//     them the size of every partition state that implements StateSizer;
//   - a graceful shutdown that flushes, commits and leaves the group,
//     bounded by the shutdown timeout (WithShutdownTimeout) measured from
//     the cancellation of Run's context, even in the middle of a retrying
//     flush, a rebalance callback or a rebuild, and even while ClickHouse
//     is down: a batch that is not durable by then is not committed and
//     the next owner re-reads it (a Kafka transaction caught ending when
//     the grace runs out is aborted, within min(5s, grace) more).
//
// # No record can stall a partition forever
//
// The Runner and Replay share one write path, which classifies every
// failed insert (classify.go has the exact lists and their sources):
//
//   - Transient: any error that is not a ClickHouse exception (connection
//     refused or reset, EOF, timeouts, the deadline of one attempt), and
//     the server codes that say nothing about the rows: the server is busy
//     or short of a resource (TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES,
//     MEMORY_LIMIT_EXCEEDED, NETWORK_ERROR, SOCKET_TIMEOUT,
//     TABLE_IS_READ_ONLY, TOO_MANY_PARTS when merges are behind or the
//     table holds too many parts, Keeper and replica errors, ...) or the
//     deployment is not ready for the insert (UNKNOWN_TABLE,
//     UNKNOWN_DATABASE, NO_SUCH_COLUMN_IN_TABLE, ACCESS_DENIED, READONLY,
//     ...: every record would fail alike, so none is to blame). So is any
//     failure to start the insert before a row is sent. These are retried
//     with backoff without limit and never send a record to the DLQ.
//   - Refused: every other server exception, known or not, including
//     TOO_MANY_PARTS "Too many partitions for single INSERT block" (a
//     current server's max_partitions_per_insert_block, which depends only
//     on the rows), and a value the client cannot convert (the sink wraps
//     it in backoff.Permanent).
//
// An insert of the rows of several records that is refused is split in
// two at a record boundary and each half is written in turn, recursively,
// so the records that are not to blame are written (a block refused only
// as a whole, like one spanning more than 100 months of a table
// partitioned by month, is written completely in smaller pieces). An
// insert of several records failing WithIsolateAfter times in a row
// (default 3) with the same transient code that a smaller insert may avoid
// (MEMORY_LIMIT_EXCEEDED, CANNOT_ALLOCATE_MEMORY, TIMEOUT_EXCEEDED,
// SOCKET_TIMEOUT) is split too, but its records are still retried without
// limit. The rows of one record are never split.
//
// A record is isolated when the insert of its rows alone is refused
// WithIsolateAfter times (default 3, with backoff between the attempts and
// transient failures in between retried without being counted), so a
// transient condition the lists mislabel cannot send a good record to the
// DLQ on one failure. An isolated record goes to the DLQ topic as
// schemas.EventRejected whose reason names the table and carries the
// server's code, name and message, and whose event id is derived from the
// processor, the record's coordinates and the table; the partition moves
// on. Tables are written in name order: the record's rows in the tables
// before the one that refused them stay written (rows are keyed
// deterministically, so a replay rewrites the same rows), its rows in the
// tables after are dropped, so for each table a record is either written
// or named by a DLQ record. Its state change and the events it emitted
// stand: Apply already folded it in. The DLQ records of isolated records
// follow the batch's exactly-once path: in its Kafka transaction for
// emitting processors, produced before the offsets are committed
// otherwise. Replay isolates the same way but produces nothing; it counts
// and logs the isolated records (ReplayStats.Isolated). A table whose
// columns no longer take what a processor writes (a type changed without
// the processor) refuses every record, so every record goes to the DLQ:
// assay_processor_write_isolated_records_total shows it at once.
//
// Exactly-once effect: the runner delivers at least once to ClickHouse (a
// crash between the insert and the commit replays the batch), so processors
// key their rows deterministically (event id, or topic/partition/offset) in
// ReplacingMergeTree tables, and a replayed batch collapses into the rows it
// already wrote.
//
// Replay runs a processor over the log without a consumer group, for
// rebuilding a projection into fresh tables (assay replay).
//
// # Write rules: what slipped past the gateway
//
// The gateway refuses what a principal may not write (schemas/access), but
// an event can reach Kafka another way (a client with Kafka credentials, a
// replayed backup), and some rules need state the gateway does not have. So
// with WithAuthorizer (services/processor -principals-file, and assay replay
// with the same flag) the engine judges every decoded record by its
// producer before Apply (access.Registry.Check, without facts): an unknown
// producer, a role that does not write the type, a project, vendor, cohort,
// annotator or model outside the principal's scope, or an Assay-reserved
// producer on a type Assay does not write. Apply completes the check with
// what its state knows (Record.Authorized with access.Facts: the project of
// an event that names none, the producer of a retracted label). A refused
// record is poison with cause "forbidden": it goes to the DLQ, its reason
// "forbidden: <rule>: <why>", its original_producer and field set, with the
// deterministic id of every poison record, and it changes no state and
// writes no row, in this processor. Each processor refuses on its own, so a
// forbidden event read by several processors has one DLQ record per
// processor. Which processor completes which rule is in its package
// documentation:
//
//	rule (access)          needs                       completed by
//	labeler.own_labels     the label's producer        kpi_agreement, kpi_accuracy, lineage, router (labels side)
//	scope.project          an item's project           kpi_accuracy (GoldLabelSet, of an item with labels),
//	                                                   kpi_agreement and kpi_accuracy (LabelRetracted),
//	                                                   router (PreLabelProposed of an ingested item)
//	scope.project          a finding's project         ledger, lineage (RemediationStarted, RemediationShipped)
//	router.own_decisions   nothing                     router (always), ledger (with an authorizer):
//	                                                   RoutingDecided only from router.Producer
//
// Two rules need no registry and apply with or without an authorizer: a
// label is retracted only by the producer that submitted it
// (Record.Authorized), and the router trusts only its own decisions. The
// project of a review, a dataset's events and a gold answer for an item no
// label of the partition names yet is not known to any processor: for
// those only the role and the other stateless rules apply, unless the
// principal is scoped to every project (projects=*).
//
// A principal's role and scope are read when a record is processed, from
// the registry in force then: a rebuild on assignment and assay replay
// judge the whole log by today's principals file. So a principal id must
// never be reused for another role or a narrower scope (give the new role
// a new id), and a revoked principal whose past events must keep counting
// stays in the file with "-" for its token hash; deleting its lines makes
// the next rebuild or replay refuse its past events too, and the figures
// move.
package runtime
