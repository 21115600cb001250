// Package serve owns what every Assay service does the same way: structured logging with
// log/slog, a context cancelled on SIGINT/SIGTERM, and the operational HTTP endpoints
// (/healthz, /readyz, /metrics) with graceful shutdown.
//
// Liveness and readiness are separate on purpose, as in Kubernetes: /healthz says the process
// is up and should not be restarted; /readyz says its dependencies answer and it should get
// traffic.
package serve
