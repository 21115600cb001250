// Package chaos holds the two suites that run the pipeline against the real stack as
// processes of their own and check afterwards that nothing was lost. Both are tests behind a
// build tag, so `go test ./...` never runs them; each prints a summary table and, with
// ASSAY_CHAOS_OUT set to a directory, writes it there as <suite>-<date>.txt and .json.
//
// The fault suite (`make chaos`, -tags chaos, chaos_test.go): under steady load through the
// ingest gateway it kills -9 each processor process, restarts a private Kafka broker, cuts
// ClickHouse off for 60 s and sends a burst of malformed input; afterwards the ClickHouse
// tables must equal the log exactly (no loss, no duplicate) and every rejected input must be
// in the DLQ with a reason. The broker is a private one (testenv.StartPrivateKafka): stopping
// the shared broker would break every other package's tests running against it.
//
// The abuse suite (`make abuse`, -tags abuse, abuse_test.go and attackers_test.go): with the
// gateway, the ledger and the router as processes (their memory read from /proc, their
// /metrics scraped), on the shared broker in a namespace of its own, it floods the gateway
// without credentials, sends gzip bombs and slow clients, floods the router with pre-labels
// for made-up items, sends a batch spanning 150 months with records ClickHouse refuses, and
// stops the ledger with SIGTERM while ClickHouse is cut off, all while a legitimate producer
// sends at a steady rate. Each attack yields a figure held to a bound, never a timed
// assertion on throughput; afterwards the ledger tables must equal the log and a replay of it.
//
// -quick runs a short variant of either suite (-short would skip them: it means unit tests
// only). The helpers both share are in helpers_test.go.
package chaos
