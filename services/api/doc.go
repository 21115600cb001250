// Command api serves Assay's read-only KPI API and the live dashboard over ClickHouse:
// /v1/kpis, /v1/agreement, /v1/accuracy, /v1/annotators, /v1/coverage, /v1/cycle,
// /v1/remediation, /v1/routing, /v1/lineage/{dataset}/{version}, /v1/targets, /v1/gate,
// /v1/gate/{dataset}/{version}, /v1/confusion, /v1/alerts, /v1/regions, /v1/preferences,
// /v1/history and /v1/whoami as JSON, the dashboard page at /, and /healthz, /readyz
// (ClickHouse ping) and /metrics (assay_api_*, with the quality targets in force and the
// anomalies the alert rules compare the KPIs with). Unitizing alpha (/v1/regions) is computed
// on read over at most -max-unitizing-spans spans of a question.
//
// Every /v1 request authenticates with a bearer token of a principal of the principals file
// (-principals-file, ASSAY_API_PRINCIPALS_FILE or the ASSAY_PRINCIPALS_FILE the gateway and
// processors share; `assay token create` prints its lines) and is answered within that
// principal's read scope (package httpapi, "Who reads what"). The file is checked every
// -principals-poll and reloaded on SIGHUP, so a token removed from it is refused within a
// poll; a file that does not parse leaves the principals in force. Without a principals
// file the API does not start: it has no unauthenticated mode.
//
// /metrics stays open, for Prometheus to scrape without a secret: it carries the request
// counters and the KPI gauges of the unfiltered view, which are project-level headline
// figures (labelled by project, question, dataset, model and model version), and, for the
// alert rules, the anomalies of streams/anomaly, whose scope label names the cohort, vendor or
// annotator whose agreement dropped. They are every project's and party's: an operator who
// must keep them from a project's vendors lets vendors reach the API through a proxy that
// passes /, /static/ and /v1/ only (all a vendor's dashboard needs; /v1/alerts shows a vendor
// only its own party's anomalies).
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
