// Package auditor is the I/O edge of a dataset version audit: it rebuilds the lineage graph by
// replaying every ledger topic from the beginning (direct partition reads up to the high-water
// marks taken at start, no consumer group, nothing committed), compares what the log says about
// the version with ClickHouse (the ledger tables, CompareLedger, and the lineage processor's
// chain read model that the API and the dashboard read, CompareLineage), and renders the
// report. The judgement itself is streams/lineage's pure model, the same for the replay and
// for ClickHouse.
package auditor
