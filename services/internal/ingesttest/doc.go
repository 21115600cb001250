// Package ingesttest holds what the ingest tests and benchmarks share: a valid event of every
// type as a client sends it (Sample, the descriptors' examples of schemas.Example), an
// independent murmur2 partitioner to check where keys land, and a reader that collects a
// topic's records from the beginning.
package ingesttest
