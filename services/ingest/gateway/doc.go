// Package gateway is the library behind services/ingest: the HTTP door through which
// collectors, annotation tools and evaluation harnesses put events on the ledger.
//
// POST /v1/events takes one event (a JSON object), a batch (a JSON array) or a large batch
// (NDJSON, Content-Type application/x-ndjson). Each object carries event_type and the fields
// of the schemas Go struct of that type, by their JSON names. The gateway:
//
//   - authenticates the caller by a bearer token, configured only as its SHA-256 hash; the
//     token decides the producer field (schemas.Stamp) and which families it may write;
//   - decodes strictly (unknown fields and wrong types are errors), stamps and validates each
//     event (schemas' Validate plus the door's own rules: timestamps in milliseconds and not
//     in the future, sizes, event id shape), and encodes it to Avro;
//   - publishes the request all-or-nothing: if any event is rejected, none is published, every
//     rejected event is written to the DLQ topic with its original bytes and the reason, and the
//     answer names each rejected event by index and field;
//   - answers 202 only after Kafka acknowledged every record (acks=all, idempotent producer),
//     and 503 with Retry-After when Kafka does not;
//   - collapses retried events by event id in a bounded window of recently acknowledged ids;
//     what escapes the window (restarts, other instances, concurrent retries) is collapsed
//     downstream, where every typed table is a ReplacingMergeTree keyed by event_id;
//   - bounds the bytes of requests in flight, so a burst queues briefly and then gets 503
//     instead of exhausting memory.
//
// The answers and their reasons are the contract documented in README.md ("Ingest").
package gateway
