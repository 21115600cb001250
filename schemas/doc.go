// Package schemas is Assay's event contract: every other package imports it
// to name, build, validate, encode and decode events.
//
// It owns:
//
//   - the Avro schemas (avro/<family>/<EventType>.v<N>.avsc, embedded), one
//     self-contained file per event type and version, each starting with the
//     same envelope fields (event_id, event_type, occurred_at, recorded_at,
//     producer, trace);
//   - the families and their topics (assay.<family>.v1) and the partition key
//     of every event, so that state stays partition-local (DESIGN.md, Events);
//   - typed Go events whose JSON form (snake_case, the Avro field names) is
//     what the ingest gateway accepts, and their Validate rules, so the gateway
//     and the stream runtime reject exactly the same things;
//   - the codec: Avro single-object encoding (0xC3 0x01, 8-byte little-endian
//     CRC-64-AVRO fingerprint of the writer schema's canonical form, Avro
//     binary body). Decode finds the writer schema by fingerprint among all
//     embedded versions, so no registry is needed and old versions keep
//     decoding: fields a writer did not know take the reader's defaults.
//
// Evolution rule: never edit a committed .avsc that has been used; add
// <EventType>.v<N+1>.avsc in which every new field has a default, update the
// Go struct, and keep the old file (the golden tests prove it still decodes).
//
// Conventions of the Go types: optional strings are plain strings whose empty
// value means "not set" (Avro default ""); optional numbers and records are
// pointers (Avro ["null", T] with default null); lists are slices (Avro
// arrays, default []). Maps are never used, so encoding is deterministic.
package schemas
