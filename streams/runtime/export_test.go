package runtime

// The snapshot store's queries, for running them on chdb (current ClickHouse).
const (
	LatestSnapshotQuery = latestSnapshot
	ReadSnapshotQuery   = readSnapshot
)
