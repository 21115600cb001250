// Package workload generates valid Assay events of every type, stamped and
// deterministic for a seed, and produces them to Kafka. It writes no event
// itself: a round is the examples the event types' descriptors make of one
// subject (schemas.Example), so a new event type joins every round, and
// ExpectedRows (what the ledger makes of a round) grows with it. Tests use it
// to know exactly how many rows each ledger table must end up with;
// benchmarks and load generators use it for volume.
package workload
