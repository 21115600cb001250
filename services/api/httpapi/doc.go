// Package httpapi is the read-only KPI API and live dashboard of services/api.
//
// Every handler reads ClickHouse only: the kpi_* views and KPI tables the streams/kpi
// processors write (agreement, accuracy, cycle time, rework) and, for the figures no KPI
// processor writes yet (coverage, evaluation-to-remediation time, lineage of a dataset
// version), the ledger tables of streams/ledger, and for automation (GET /v1/routing) the
// kpi_automation view and the routing_* tables of streams/router. A section whose tables are missing is
// reported with an "error" of its own rather than failing the whole answer, so the dashboard
// shows what exists while the pipeline grows.
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
