// Package client is the Go client collectors use to send events to the ingest gateway.
//
// It takes schemas.Event values (the typed structs of package schemas), assigns every event
// without one an event_id before the first attempt, so that any retry is a retry of the same
// events and collapses instead of duplicating; splits the events into NDJSON batches within
// the gateway's limits; and retries a batch on network errors and on 408/429/5xx answers with
// exponential backoff (github.com/cenkalti/backoff/v4), waiting at least what the gateway's
// Retry-After asks (a 408 says the body did not arrive within the gateway's read timeout).
// Rejections (the other 4xx) are not retried: they come back as *Error naming each rejected
// event.
//
// Send is synchronous: when it returns nil, every event is acknowledged by Kafka.
package client
