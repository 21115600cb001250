// Package schematest provides fully populated, valid examples of every event type of the
// contract, for tests across the repository (codec round trips, Kafka and ClickHouse
// integration tests, gateway tests), so that each does not grow its own slightly different
// fixtures.
package schematest
