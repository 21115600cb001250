// Command api serves Assay's read-only KPI API and the live dashboard over ClickHouse:
// /v1/kpis, /v1/agreement, /v1/accuracy, /v1/coverage, /v1/cycle, /v1/remediation,
// /v1/lineage/{dataset}/{version} and /v1/history as JSON, the dashboard page at /, and
// /healthz, /readyz (ClickHouse ping) and /metrics (assay_api_*).
//
// /v1/pipeline is the processors' consumer lag, read from the broker (-kafka-brokers,
// -topic-prefix) for the processors of -lag-processors: each group's committed offsets
// against its topics' ends, so a processor that stopped shows its lag growing.
//
// It only reads: every figure comes from the tables and kpi_* views the processors write, and
// the lag from the consumer groups' offsets, so any number of API instances can run beside
// the pipeline. A failed ClickHouse read is a 503
// (unreachable, with Retry-After) or a 500, never a partial 200. Every route answers only
// the Host names on its allowlist (localhost, 127.0.0.1, [::1], the host of -addr and
// -allowed-hosts; others get 421), against DNS rebinding: give the API's public name in
// -allowed-hosts in production. Each flag falls back to its environment variables,
// ASSAY_API_<FLAG> then ASSAY_<FLAG> (config.ParseFlags; -h lists them); the library is
// package httpapi.
package main
