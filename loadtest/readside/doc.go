// Package readside measures the read side against history (issue 17): how long every /v1
// endpoint, every section of /v1/kpis, the read functions of streams/* behind them, the gate's
// figures of a version and the Grafana dashboard's SQL take over a ledger of 10k and of 10M
// labels, in one run.
//
// A database is loaded by playing a synthetic annotation program (Program, Generate: eight
// projects, two questions and two datasets each, 240 annotators in eight cohorts of four
// vendors and in house, about three labels, one review and one dataset member an item, 5%
// gold, 30% pre-labels, 2% retractions, a dataset version every few thousand items with the
// gate's verdict, owners' overrides, training runs, findings and remediations, a few DLQ
// records) through the processors themselves, in process (Load): each event is applied, as
// its runner would, by every processor of its family to the state of its (topic, partition),
// and the rows they make are written with the runner's sink. So the ledger, the chain read
// model, the routing tables and the KPI partials hold what a live pipeline would have written
// for those events, consistent by construction. Two differences, both to make a 10M load
// take an hour rather than a day on two cores: the raw events table (read by no read path) is
// not written, and the KPI processors' rows of one flush are collapsed in memory to the last
// of each sorting key (the partition's latest total, what their ReplacingMergeTree keeps).
// Each pass of a load applies one group of processors to one partition number of every topic,
// so the states in memory at once are a twelfth of the whole.
//
// Loading 10M labels takes about an hour, so a loaded database is kept (Ensure): a named
// database whose marker table names the program it holds is reused as it is (migrations
// added since are applied, as a deployment would); any other is dropped and loaded.
//
// Probes lists the read paths, and Time times one: a warm-up run, then up to 30 runs (at
// least 5, no new run after a minute), nearest-rank p50 and p99. The endpoints go through the
// API's own handlers (services/api/httpapi, with httptest) as an analyst of every project, an
// analyst of one project and a vendor; nothing in the API is changed for it. The benchmark is
// TestReadSide (ASSAY_READSIDE_BENCH=1), which writes its table to READSIDE_RESULTS.
package readside
