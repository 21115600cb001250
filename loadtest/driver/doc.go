// Package driver sends a deterministic event stream to the ingest gateway at a configured
// rate: the rate-controlled half of the load generator. What is sent comes from the
// generators (loadtest/workload, loadtest/annotation), so a seed fixes the stream; the driver
// only decides when each request leaves and retries what the gateway answers 503 (or another
// 5xx, or not at all) and 429 (after its Retry-After: a rate limit is not a rejection), with the
// same bytes, so every event is eventually accepted exactly as generated (the gateway's
// recent-ids window and the ReplacingMergeTree tables collapse a retry's second copy).
package driver
