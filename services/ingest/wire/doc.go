// Package wire holds the HTTP contract of the ingest gateway shared by the gateway and its
// Go client: the path, the media types, the answer bodies and the rejection codes. It has no
// dependencies beyond the standard library, so collectors importing the client do not pull
// in the gateway's Kafka and metrics code.
package wire
