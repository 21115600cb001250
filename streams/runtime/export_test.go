package runtime

// The snapshot store's queries, for running them on chdb (current ClickHouse).
const (
	LatestSnapshotQuery = latestSnapshot
	ReadSnapshotQuery   = readSnapshot
)

// RejectionID is the event id of a DLQ record (engine.rejection).
var RejectionID = rejectionID
