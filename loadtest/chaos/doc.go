// Package chaos is the fault suite (`make chaos`, tests built with -tags chaos): under steady
// load through the ingest gateway it kills -9 each processor process, restarts a private Kafka
// broker, cuts ClickHouse off for 60 s and sends a burst of malformed input; afterwards the
// ClickHouse tables must equal the log exactly (no loss, no duplicate) and every rejected
// input must be in the DLQ with a reason. It prints a summary table and, with
// ASSAY_CHAOS_OUT set, writes it as JSON there.
//
// The broker is a private one (testenv.StartPrivateKafka): stopping the shared broker would
// break every other package's tests running against it.
package chaos
