// Command ingest is the ingestion gateway: collectors POST events to /v1/events; the gateway
// authenticates, validates and publishes them to the ledger topics, dead-letters what it
// rejects, and serves /healthz, /readyz and /metrics. The library is services/ingest/gateway
// (answers, batch semantics, idempotency: its package documentation and README.md,
// "Ingest"); main.go wires flags to it, loads the principals file (-principals-file) and
// keeps it in force: it polls the file (-principals-poll) and reloads it on SIGHUP, so a
// token is revoked by editing the file, without a restart (services/internal/principals).
//
// Main also owns the gate's view (services/ingest/gateview) unless -gate-training-runs=false:
// it starts the view's Run, stops it on shutdown, and adds its readiness check, so the
// gateway is not ready before the view has read the datasets topic; the gateway asks the
// view about every TrainingRunRegistered (409 for a version the gate has not certified).
//
// Likewise main owns the view of the questions projects define
// (services/ingest/questionview) unless -check-questions=false, bounded by
// -question-view-bytes, with its readiness check (question_view): the gateway asks it about
// every LabelSubmitted, GoldLabelSet and PreLabelProposed (422 for a value the question's
// definition does not admit, or a spans, boxes or preference value of a question not
// defined).
package main
