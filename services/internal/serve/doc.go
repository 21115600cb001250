// Package serve owns what every Assay service does the same way: structured logging with
// log/slog, a context cancelled on SIGINT/SIGTERM, the operational HTTP endpoints
// (/healthz, /readyz, /metrics) and the HTTP server itself, with graceful shutdown.
//
// Liveness and readiness are separate on purpose, as in Kubernetes: /healthz says the process
// is up and should not be restarted; /readyz says its dependencies answer and it should get
// traffic.
//
// Rule: every HTTP server of Assay is started by ListenAndServe, which always applies read,
// write and idle timeouts, a header bound and a connection bound (HTTPConfig; the -http-*
// flags of RegisterHTTPFlags), so no client, slow or idle, holds a connection or the memory
// behind it for longer than the configuration says. A handler that must outlive the write
// timeout (a stream) extends its own deadline with http.ResponseController; none does today.
// With WithConnMetrics the server exports assay_http_connections_* labelled by service.
package serve
