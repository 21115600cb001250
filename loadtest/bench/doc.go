// Package bench is `make bench`: in one run on the real local stack it measures the
// baselines (raw Kafka produce and consume with franz-go and with Kafka's own
// ProducerPerformance, raw ClickHouse batch inserts of the ledger's rows with clickhouse-go
// and, as the database's own ceiling, with clickhouse-client in Native format in the
// processor's batches, and again in exactly the inserts the replay made) and the pipeline
// (ingest gateway → Kafka → ledger processor → ClickHouse: sustained events/s, event-to-row
// latency at half that rate, processor and gateway memory, replay rate), and reports each
// pipeline figure as a ratio to the baseline taken minutes earlier on the same machine.
// Absolute figures on a shared machine are noise; the ratios are the result.
//
// The gateway and the processor run as child processes of the bench binary itself (roles
// "gateway" and "processor", wiring the same libraries as services/ingest and
// services/processor), so their memory is their own process's and each writes a CPU profile
// of the run; the load driver stays in the parent.
package bench
