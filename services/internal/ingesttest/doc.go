// Package ingesttest holds what the ingest tests and benchmarks share: one valid event of
// every type, an independent murmur2 partitioner to check where keys land, and a reader that
// collects a topic's records from the beginning.
package ingesttest
