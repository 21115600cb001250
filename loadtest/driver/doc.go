// Package driver sends a deterministic event stream to the ingest gateway at a configured
// rate: the rate-controlled half of the load generator. What is sent comes from the
// generators (loadtest/workload, services/demo/annotation), so a seed fixes the stream; the driver
// only decides when each request leaves and retries what the gateway answers 503 (or another
// 5xx, or not at all) and 429 (after its Retry-After: a rate limit is not a rejection), with the
// same bytes, so every event is eventually accepted exactly as generated (the gateway's
// recent-ids window and the ReplacingMergeTree tables collapse a retry's second copy).
//
// Each request is sent by the principal that may write its events (schemas/access): Prepare
// groups the stream by principal with access.Writers, and Principals and Credentials make a
// set of principals that writes everything the generators make, with fresh tokens and the
// principals file for the gateway.
package driver
