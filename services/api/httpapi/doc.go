// Package httpapi is the read-only KPI API and live dashboard of services/api.
//
// # Who reads what
//
// Every /v1 request carries a bearer token (Authorization: Bearer <token>), resolved through
// the registry in force in Config.Principals (an access.Store, which main keeps in step with
// the principals file); the registry is read once per request, so a token removed from the
// file is refused from the request after the reload on. No token, or one the registry does
// not know, is a 401 with a Bearer challenge; a principal whose role reads nothing (collector,
// labeler, model) a 403 naming access.RuleRead. The dashboard's page and static files hold no
// figure and are open, as are /healthz and /readyz; /metrics too (see services/api), as
// Prometheus scrapes it.
//
// Every answer is narrowed server-side to the caller's read scope (access.ReadScope) by a
// View (Reader.View), with one rule throughout: a request that names something outside the
// scope is refused with a 403 naming the rule, never answered with less:
//
//   - project: a scope of every project (projects=*) reads any project, or all of them at
//     once; any other reads one of its own projects per answer (access.RuleProject for
//     another, whether it exists or not), its only one by default, and a scope of several
//     names one (400 otherwise: figures over a set of projects cannot be put together from
//     the per-project ones the KPI tables hold);
//   - figures over every project at once, which no table splits by project (the consumer lag
//     of /v1/pipeline, the rework rate, the count of rejected events), are read by scopes of
//     every project only: /v1/pipeline is RuleAllProjects for the others, and in /v1/kpis
//     and /v1/cycle those figures are null;
//   - party figures: a full scope (analyst, owner, qa) reads every figure of its projects; a
//     vendor's reads the project-level figures (agreement and accuracy over all labels,
//     coverage, cycle time, remediation, lineage completeness, routing, volume) and, of the
//     party figures, only those whose every label is its own (its vendor, and its cohorts
//     when its principal names some): its annotators, its cohorts' within-cohort agreement
//     and accuracy, the member chains of its labels in /v1/lineage. An annotator or cohort
//     that also labeled for another party or in house is not shown to a vendor, since its
//     figures count those labels too; a cohort filter naming such a cohort is RuleParty.
//     Who labeled for whom is read from the project's labels, at most once per
//     SampleInterval for all the vendor views of a project (partyCache).
//
// The history is sampled per view, never per principal: readers of one scope asking for one
// filter share one sampled view (see history), and a reader is served only its own scope's.
//
// Every handler reads ClickHouse through the read path of the package that owns the figure:
// the kpi_* views and KPI tables the streams/kpi processors write (agreement through
// kpi.ReadAgreement, accuracy, cycle time, rework), the lineage processor's chain read model
// (lineage.ReadVersion, lineage.ReadCompleteness: judged by the rule assay audit judges by),
// for the figures no processor writes yet (coverage, evaluation-to-remediation time) the
// ledger tables of streams/ledger, and for automation (GET /v1/routing) the kpi_automation
// view and the routing_* tables of streams/router. Governance (issue 20): the quality targets
// (GET /v1/targets) from the ledger table quality_targets, resolved at now by gate.Resolve's
// rule; the gate's standing verdicts (GET /v1/gate, the gate section of /v1/kpis) from the
// view dataset_version_gate, their checks from dataset_verdicts, the overrides from
// gate_overrides and the KPI "training runs on uncertified data" from
// kpi_training_runs_uncertified; accuracy's error types (GET /v1/confusion) through
// kpi.ReadConfusion; alpha's interval from kpi.ReadAgreement's figures; the alerts (GET
// /v1/alerts) from anomaly.Detect and the KPIs below their targets. Issue 21's figures: region
// agreement and accuracy against gold regions (GET /v1/regions, the regions section of
// /v1/kpis) through kpi.ReadRegions, unitizing alpha of spans questions through
// kpi.ReadUnitizing (computed on read from the ledger's labels, bounded by
// Config.MaxUnitizingSpans: above it the figure is not computed and the answer says so with
// the bound), and preference agreement, accuracy and position bias (GET /v1/preferences, the
// preferences section) through kpi.ReadPreferences.
//
// # Region and preference figures
//
// GET /v1/regions and /v1/preferences take project, question, scope and window. Without a
// scope they answer every scope the view sees (all, and of a vendor's view only its own
// cohorts, vendor and annotators, by the rule of the party figures above); a scope names one
// (all, cohort:<c>, vendor:<v>, annotator:<a>), refused with RuleParty when it is another
// party's, as /v1/confusion refuses it. Unitizing alpha is computed for the spans questions
// in the scopes of raters (all, cohorts, vendors); where one rater's spans overlap, its result
// names the rater and the item, which a vendor's view keeps of its own annotators only
// (View.redactUnitizing). These figures are read once per key (project, question, scope, the
// window's first day) and SampleInterval for every viewer (figureCache), filtered by each
// view afterwards: dashboards polling them add no read per viewer. The history sampler reads
// them for the unfiltered view only, which sets their gauges (assay_api_kpi_region_*,
// assay_api_kpi_preference_*); no sample charts them.
//
// # Once per interval, for every viewer
//
// The sampler (RunSampler) reads, with the unfiltered summary of each interval, the targets
// in force and the anomalies of every project (Server.governance): it sets the series the
// alert rules compare the KPIs with (assay_api_quality_target, assay_api_anomaly_*, the
// per-question figures) and keeps the alerts, which GET /v1/alerts filters by the caller's
// scope. No request detects anything: /v1/alerts answers 503 before the first detection and
// while the latest failed. A vendor sees the project-wide alerts (label drift, a figure below
// its target) and the agreement drops of its own party only (View.seesScope: its cohorts,
// its annotators, its vendor when every label of it is in its cohorts). Each governance
// series family is replaced whole (gaugeSet), so a scrape never sees a threshold missing. The consumer lag (GET /v1/pipeline) comes
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
// inline SVG charts) asks for a read token, keeps it in sessionStorage (the tab only: never
// localStorage, never a cookie, which a browser would send along with cross-site requests),
// shows who it is (GET /v1/whoami) with a way to log out, and polls /v1/kpis and /v1/history
// every two seconds with it. The history is kept in memory by a sampler that computes the
// same summary as /v1/kpis every SampleInterval for the unfiltered view of every figure and
// for every view (filter and scope) a client asked for recently; the KPI tables hold current
// totals, not their past, so the charts start when the API starts.
package httpapi
