// Package workload generates valid Assay events of every type, stamped and
// deterministic for a seed, and produces them to Kafka. Tests use it to know
// exactly how many rows each ledger table must end up with; benchmarks and
// load generators use it for volume.
package workload
