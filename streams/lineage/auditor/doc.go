// Package auditor is the I/O edge of a dataset version audit: it rebuilds the lineage graph by
// replaying every ledger topic from the beginning (direct partition reads up to the high-water
// marks taken at start, no consumer group, nothing committed), compares what the log says about
// the version with ClickHouse (the ledger tables, CompareLedger, and the lineage processor's
// chain read model that the API and the dashboard read, CompareLineage), and renders the
// report. The judgement itself is streams/lineage's pure model, the same for the replay and
// for ClickHouse.
//
// The report also lists the gate's word on the version (lineage.Gate): the verdict in force,
// every verdict with the checks it did not pass, every owner's override with its reason and
// who granted it, and for each training run that used the version whether it was certified
// (or overridden) at its registration; CompareLineage compares all of it with ClickHouse.
// None of it decides Pass: a rejected version whose lineage is complete and agrees with
// ClickHouse passes the audit, which judges lineage, not quality targets.
package auditor
