// Package httpapi is the read-only KPI API and live dashboard of services/api.
//
// Every handler reads ClickHouse through the read path of the package that owns the figure:
// the kpi_* views and KPI tables the streams/kpi processors write (agreement through
// kpi.ReadAgreement, accuracy, cycle time, rework), the lineage processor's chain read model
// (lineage.ReadVersion, lineage.ReadCompleteness: judged by the rule assay audit judges by),
// for the figures no processor writes yet (coverage, evaluation-to-remediation time) the
// ledger tables of streams/ledger, and for automation (GET /v1/routing) the kpi_automation
// view and the routing_* tables of streams/router. The consumer lag (GET /v1/pipeline) comes
// from the broker: each processor group's committed offsets against its topics' ends.
//
// # Failures
//
// An answer is whole or it is an error: a handler writes its JSON only once every read has
// succeeded, and /v1/kpis fails as a whole when any one section cannot be read (a
// summary with a hole would show the other figures as if the KPI store were complete). A
// failed ClickHouse read is answered
//
//   - 503 Service Unavailable with Retry-After when ClickHouse could not be reached, did not
//     answer within QueryTimeout, or refused for a passing reason (too many queries, memory);
//   - 500 Internal Server Error when it answered with an error that asking again will not fix
//     (a missing database, table or column).
//
// The body is a Problem with a fixed message: ClickHouse's errors quote queries, tables and
// server internals, so the detail goes to the log (one line per failed request, with path,
// query and status) and never to the client. /v1/history answers the same codes while the
// latest sample of its view failed (the sampler adds no point for a failed sample: a gap in
// the charts, never a made-up value), and the KPI gauges keep their last values.
// /v1/pipeline reads the broker, not ClickHouse: its total is the sum over every processor
// or null, and it answers 502 Bad Gateway naming the processors whose lag could not be read;
// in /v1/kpis the lag total is then null and the processors are listed, beside ClickHouse
// figures that are whole. /healthz stays 200 through a ClickHouse outage and
// /readyz (a ClickHouse ping) answers 503.
//
// # Host allowlist
//
// A page of another site can rebind its name to 127.0.0.1 (DNS rebinding) and then read a
// server there as same-origin: the browser sends the attacker's name in the Host header.
// Server.CheckHost, which main wraps around every route (the API, the dashboard, /healthz,
// /readyz and /metrics alike), answers 421 Misdirected Request to any Host not on the
// allowlist: localhost, 127.0.0.1 and [::1], the host of ListenAddr, and AllowedHosts (main's
// -allowed-hosts). A name is allowed on any port (the port is the one the browser connected
// to, whatever the name; only the name tells a rebinding page from a real client), a
// "name:port" entry only with that port. Serving the API under a public name, or to
// Prometheus or a container network under a service name, means adding that name.
//
// # Filters
//
// Filters are query parameters (project, cohort, dataset, window), validated by ParseFilter
// and passed to ClickHouse only as bound parameters of clickhouse-go (the client-side `?`
// placeholders, the only kind the 18.16 server accepts): no SQL text is ever built from a
// request. Identifiers in the event contract are free text, so the validation refuses only
// what no id can be (control characters, invalid UTF-8, more than 128 bytes) and a filter
// such as project="x' OR 1=1 --" is simply a project that has no data. Unknown or repeated
// parameters and malformed windows are answered 400 with a JSON Problem saying which
// parameter is wrong and why.
//
// # Live figures
//
// The dashboard (static files embedded with go:embed, plain HTML, CSS and JavaScript with
// inline SVG charts) polls /v1/kpis and /v1/history every two seconds. The history is kept
// in memory by a sampler that computes the same summary as /v1/kpis every SampleInterval for
// the unfiltered view and for every filter a client asked for recently; the KPI tables hold
// current totals, not their past, so the charts start when the API starts.
package httpapi
