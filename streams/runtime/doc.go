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
//   - state rebuilt on assignment by replaying the partition up to the
//     group's committed offset, before live records of that partition are
//     applied: from its latest snapshot when there is a usable one (see
//     "Snapshots"), else from the start of the log; outputs of the rebuild
//     are discarded, because they were made durable before that offset was
//     committed;
//   - batching by record count and time, one generic insert path per table
//     (PrepareBatch with an explicit column list, as ClickHouse 18.16
//     requires; a batch's tables written concurrently, a bounded number at
//     a time), retried with exponential backoff for as long as it takes,
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
// on. The tables of a batch are written concurrently, at most
// WithWriteConcurrency inserts in flight (default 4; 1 writes them one after
// the other), each on its own: a record's rows are dropped only from the
// tables that refused them and written in every other one (rows are keyed
// deterministically, so a replay rewrites the same rows), so for each
// table a record is either written or named by a DLQ record. When several
// tables refuse one record, its one DLQ record names the first of them by
// name (the id derives from that table, whichever insert ended first) and
// lists the others in its reason; the isolation metric counts each
// table's refusal. Its state change and the events it emitted stand: Apply
// already folded it in. The DLQ records of isolated records
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
// rebuilding a projection into fresh tables (assay replay). It never reads
// or writes snapshots. Having no offsets to commit, it writes each batch
// in the background while it reads and applies the next
// (WithOverlappedWrites): one batch written at a time, in log order, so it
// holds at most two batches.
//
// # Snapshots
//
// Without snapshots every assignment replays its partitions from the start
// of the log, so a restart after a year takes as long as replaying the
// year. With WithSnapshots(store), a processor that implements Snapshotter
// (StateVersion, EncodeState, DecodeState; streams/runtime/statecodec has
// the encoding's primitives) gets its partition states snapshotted, and a
// newly assigned partition is restored from its latest snapshot and brought
// up to the committed offset by replaying only the log after it. The log
// stays the source of truth: the snapshot is a cache of a replay.
//
// Where: ClickHouseSnapshots, the table processor_snapshots (migration
// 0050) in the database the processors write to, one row per 1 MiB chunk,
// keyed by (processor, topic, partition, chunk) in a ReplacingMergeTree
// versioned by the snapshot's id, so merges keep the latest snapshot of
// each state. Why a table rather than a compacted Kafka topic (Kafka
// Streams' changelogs, goka's group tables): those topics hold a changelog
// of a key-value store, one record per changed key, and are read back
// whole; Assay's states are nested maps of interned names that a
// processor writes in one piece. A piece of hundreds of megabytes in a
// topic is hundreds of chunks under the broker's message size, and Kafka
// has no lookup by key, so finding a partition's latest snapshot means
// reading the snapshot topic's partition from its start, through every
// other state's snapshots hashed to it and whatever the log cleaner has
// not compacted yet (never the active segment). A ClickHouse table is
// read by primary key: a restore reads exactly its snapshot's chunks,
// whatever else is stored; one INSERT is one part, so a snapshot is stored
// whole or not at all; an operator sees every snapshot's offset, size and
// age in SQL; and the design keeps the topics an immutable, never
// compacted ledger. The store is an interface (SnapshotStore), so another
// can be plugged in.
//
// What a snapshot holds: a frame written by the runner around the
// processor's encoding: the processor's name, the topic and partition, the
// processor's StateVersion, the offset the state covers (every record
// before it applied, none after) and the time, followed by the state and a
// CRC-32C of everything. EncodeSnapshot and DecodeSnapshot are the pure
// halves of a write and a restore, for tests.
//
// When: only at points where the offset's effects are durable. After a
// batch's rows are written and its offsets committed (for an Emitter,
// after its transaction committed), when nothing polled is left
// unflushed, each state is due once WithSnapshotEvery's records (default
// 100,000, and an eighth of the state's keys, see Cost) have been applied
// to it since its latest snapshot, or its interval (default 5 minutes) has
// passed with at least one. The most overdue state is encoded in the poll
// loop, which waits for the encoding
// (assay_processor_snapshot_encode_duration_seconds: the state must not
// change while it is read), and written in the background, one write at a
// time (a failed write is logged, counted and retried at a later point; a
// runner whose commit failed snapshots nothing until a commit succeeds).
// A state rebuilt on assignment counts the records it replayed, so a full
// rebuild is snapshotted as soon as it is committed. A graceful shutdown
// snapshots every state that applied records since its latest snapshot,
// after the final commit and before leaving the group, within the shutdown
// grace, so the next owner replays nothing. A revoked partition is not
// snapshotted (the rebalance would wait for it).
//
// Cost: a snapshot is the whole state, not a delta. The processors'
// encodings take 17 to 19 bytes per state key (kpi's BenchmarkSnapshot:
// digests are 16 bytes, names and values a table index), and on this
// project's 2-core machine 160 to 460 ns per key to encode and 250 to 500
// to decode. The poll loop waits for the encoding; the frame is held in
// memory until the background write ends (the ClickHouse client holds a
// copy while it sends it). So that the cost per record stays bounded
// however large a state grows, a state that reports its size (StateSizer)
// is snapshotted by count only once an eighth of its keys' worth of records
// was applied since its latest snapshot (and at least WithSnapshotEvery's
// count): at most eight keys' encoding, a few microseconds, per record
// applied, where applying one costs 10 to 75 (Avro decoding included). The
// price is the replay after a crash: up to that many records per partition
// (BenchmarkRecovery's "crash" column). A clean stop leaves none.
//
// Restore: on assignment the runner loads the latest snapshot of each
// partition with a committed offset, bounded by WithSnapshotTimeout. It is
// ignored, with a warning and assay_processor_snapshot_rejected_total
// {reason}, when the store fails (unavailable), its chunks do not make a
// whole or its checksum, magic or header fail (corrupt), its frame format
// is unknown (format), it names another processor (processor), topic or
// partition (partition) or state version (version), it covers offsets past
// the group's committed offset (ahead: the group was rewound or reset), or
// the processor cannot decode it (decode; a panic in DecodeState counts as
// one). An ignored or missing snapshot (assay_processor_snapshot_misses_total)
// means the rebuild from the start of the log, never a wrong state. A
// restored state replays the log from the snapshot's offset to the
// committed one (assay_processor_rebuild_records_total counts those
// records only); the time of the whole setup is
// assay_processor_rebuild_duration_seconds, the snapshot's part
// assay_processor_snapshot_restore_duration_seconds. Other series:
// assay_processor_snapshot_{writes,write_failures,written_bytes}_total,
// assay_processor_snapshot_write_duration_seconds and, per partition,
// assay_processor_snapshot_bytes, assay_processor_snapshot_age_seconds and
// assay_processor_snapshot_behind_records (what a restore would replay).
//
// A restored state is the state the processor held when the snapshot was
// taken, built under the configuration and the principals in force then;
// a rebuild from the log judges the whole log by today's (see "Write
// rules"). To make a change of principals or rules apply to the past,
// replay into fresh tables (assay replay), and delete the processor's rows
// of processor_snapshots so that its next assignment rebuilds from the log.
// Changing a processor's StateVersion does that for every state.
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
// judge the whole log by today's principals file (a state restored from a
// snapshot keeps the judgments made when it was built; see "Snapshots"). So a principal id must
// never be reused for another role or a narrower scope (give the new role
// a new id), and a revoked principal whose past events must keep counting
// stays in the file with "-" for its token hash; deleting its lines makes
// the next rebuild or replay refuse its past events too, and the figures
// move.
package runtime
