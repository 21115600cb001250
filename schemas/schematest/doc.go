// Package schematest provides the canonical examples of every event type of the contract,
// for tests across the repository (codec round trips, golden files, the Apache Avro check,
// Kafka and ClickHouse integration tests). They are not written here: each is the example
// its event type's Descriptor makes of the subject Canonical, the one fixture source that the
// ingest tests (services/internal/ingesttest) and the load generator (loadtest/workload)
// draw on with other subjects.
package schematest
