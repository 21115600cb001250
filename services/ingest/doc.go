// Command ingest is the ingestion gateway: collectors POST events to /v1/events; the gateway
// authenticates, validates and publishes them to the ledger topics, dead-letters what it
// rejects, and serves /healthz, /readyz and /metrics. The library is services/ingest/gateway
// (answers, batch semantics, idempotency: its package documentation and README.md,
// "Ingest"); main.go only wires flags to it.
package main
