// Package clickhouse owns Assay's connection to ClickHouse and its schema: the numbered SQL
// migrations embedded from migrations/ and the migrator that applies them in order, recording
// each in a schema_migrations table so that running it again is a no-op.
//
// Only the native protocol is used, and every migration must run both on the 18.16 server that
// Debian ships (used by the local scripts and CI) and on current releases (docker-compose); see
// CONTRIBUTING.md for the SQL subset that satisfies both.
package clickhouse
