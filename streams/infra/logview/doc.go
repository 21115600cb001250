// Package logview reads ledger topics from the start of their logs into state held in memory,
// the way Kafka Streams' GlobalKTable and goka's views do, and says when that state has
// caught up with the log.
//
// Catching up. ListTargets lists, for every partition of the topics, its start and end
// offsets (the end offset is the high watermark); a partition whose start offset is below its
// end offset must be read up to it, the others (empty, or with every record deleted) are
// caught up at once. Targets.Saw notes each fetched record, and a partition is caught up
// once a record at its end offset minus one or later has been fetched. Transaction markers
// count as records there: the last offset below a high watermark is often a commit or abort
// marker, so a read_committed consumer must keep control records (kgo.KeepControlRecords)
// to see its position pass them. The gate's runner (streams/gate) tracks its rebuild with
// Targets on its own transactional client.
//
// Following. A Reader is a whole view's loop: its own franz-go consumer, in no consumer
// group and committing nothing, reads every partition of its topics (those added later
// too) from the start of the log, read_committed, and hands the data records of each poll
// to the caller's apply function, which folds them into its state; it is caught up once
// Targets listed at start are reached, and keeps following after that. Listing the offsets
// is retried with backoff while Kafka is unreachable or a topic is missing (Progress says
// why it is not caught up), so Run only fails when its client cannot be made. The gateway's
// views (services/ingest/gateview, services/ingest/questionview) are Readers.
//
// The package holds no state of its own beyond offsets: what a view keeps, and whom it
// trusts, is the view's.
package logview
