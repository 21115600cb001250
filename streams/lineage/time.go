package lineage

import "time"

// msString renders epoch milliseconds as RFC 3339 in UTC, the form --as-of takes.
func msString(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }
