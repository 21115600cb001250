package lineage_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// replayTwice produces recs to a namespace of the broker of the test's own and replays each
// processor into a fresh database twice (a replayed batch must collapse, not double what the
// tables say); it returns a context bounded by two minutes, the namespace and the database.
func replayTwice(t *testing.T, recs []lineagetest.Record, ps ...runtime.Processor) (context.Context, config.Kafka, driver.Conn) {
	t.Helper()
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn := env.Kafka, env.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := lineagetest.Produce(ctx, testenv.KafkaClient(t, k), k, recs); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for range 2 {
			if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
				t.Fatalf("%s: %v", p.Name(), err)
			}
		}
	}
	return ctx, k, conn
}

// TestLineageTablesAndRemediationKPI writes the history through the broker into the lineage
// and ledger tables and runs the README's queries and the kpi_remediation view.
func TestLineageTablesAndRemediationKPI(t *testing.T) {
	recs, err := lineagetest.HistoryRecords()
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, conn := replayTwice(t, recs, lineage.NewProcessor(), ledger.New())
	strs := func(q string, args ...any) []string {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	// README: which cohorts labeled the items implicated in finding F (in the versions its run used).
	cohorts := strs(`
SELECT DISTINCT c.dst_id AS cohort
FROM lineage_edges AS c FINAL
WHERE c.rel = 'in_cohort' AND c.src_id IN (
    SELECT src_id FROM lineage_edges FINAL
    WHERE rel = 'member_of' AND src_kind = 'label' AND dst_id IN (
        SELECT src_id FROM lineage_edges FINAL WHERE rel = 'trained' AND dst_id IN (
            SELECT src_id FROM lineage_edges FINAL WHERE rel = 'evaluated' AND dst_id = ?))
      AND src_id IN (
        SELECT dst_id FROM lineage_edges FINAL WHERE rel = 'labeled' AND src_id IN (
            SELECT dst_id FROM lineage_edges FINAL WHERE rel = 'implicates' AND src_id = ?)))
ORDER BY cohort`, "f1", "f1")
	if want := []string{"cohort-a", "cohort-b"}; !reflect.DeepEqual(cohorts, want) {
		t.Errorf("cohorts of f1: %v, want %v", cohorts, want)
	}
	// README: which training runs used item X.
	runs := strs(`
SELECT DISTINCT dst_id AS run_id
FROM lineage_edges FINAL
WHERE rel = 'trained' AND src_id IN (
    SELECT dst_id FROM lineage_edges FINAL WHERE rel = 'member_of' AND src_kind = 'item' AND src_id = ?)
ORDER BY run_id`, "i3")
	if want := []string{"run-1"}; !reflect.DeepEqual(runs, want) {
		t.Errorf("runs of i3: %v, want %v", runs, want)
	}
	var edgesN, nodesN uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM lineage_edges FINAL").Scan(&edgesN); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM lineage_nodes FINAL").Scan(&nodesN); err != nil {
		t.Fatal(err)
	}
	// 4 items, 2 sources, 5 labels, 4 annotators + 1 reviewer, 3 cohorts, 1 model, 5 reviews,
	// 3 versions, 1 run, 2 findings, 1 remediation.
	if nodesN != 32 {
		t.Errorf("%d nodes, want 32", nodesN)
	}
	sha := strs("SELECT attr_values[indexOf(attr_names, 'sha256')] FROM lineage_nodes FINAL WHERE kind = 'item' AND id = 'i1'")
	if len(sha) != 1 || sha[0] != lineagetest.SHA("i1") {
		t.Errorf("sha256 attribute of i1: %v", sha)
	}
	t.Logf("%d nodes, %d edges", nodesN, edgesN)

	rows, err := conn.Query(ctx, "SELECT severity, findings, shipped, open, time_to_fix_p50_s, time_to_fix_p90_s, oldest_open_age_s FROM kpi_remediation ORDER BY severity")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type kpiRow struct {
		Severity                string
		Findings, Shipped, Open uint64
		P50, P90, Oldest        float64
	}
	var got []kpiRow
	for rows.Next() {
		var r kpiRow
		if err := rows.Scan(&r.Severity, &r.Findings, &r.Shipped, &r.Open, &r.P50, &r.P90, &r.Oldest); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0].Severity != "high" || got[0].Shipped != 1 || got[0].P50 != 900 || got[0].P90 != 900 ||
		got[1].Severity != "low" || got[1].Open != 1 || got[1].Oldest < float64(time.Since(lineagetest.T0.Add(70*time.Minute))/time.Second)-60 {
		t.Errorf("kpi_remediation: %+v", got)
	}
}

// TestChainBreaksInClickHouse runs every way a chain can break (lineagetest.Breaks) and the
// scripted history with the gate's verdicts and an owner's override (lineagetest.Gate, a
// forged verdict among them) through the broker into the lineage processor's tables, and
// requires the ClickHouse read model (ReadVersion, ReadGate, ReadCompleteness: what the API
// and assay gate serve) to equal the graph the audit replays from the same log, version by
// version and member by member, verdict by verdict.
func TestChainBreaksInClickHouse(t *testing.T) {
	cases, brk, err := lineagetest.Breaks("brk", "proj-brk", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	hist, err := lineagetest.HistoryRecords()
	if err != nil {
		t.Fatal(err)
	}
	gate, err := lineagetest.GateRecords()
	if err != nil {
		t.Fatal(err)
	}
	ctx, k, conn := replayTwice(t, append(append(brk, hist...), gate...), lineage.NewProcessor())
	g, _, err := auditor.Rebuild(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}

	// check compares one version; with one set, its one member must miss exactly missing.
	check := func(ref lineage.VersionRef, one bool, missing []string) {
		t.Helper()
		audit, err := g.Audit(ref)
		if err != nil {
			t.Fatalf("audit %v: %v", ref, err)
		}
		want := audit.VersionLineage
		for i := range want.Members {
			want.Members[i].Gold = nil // gold checks are the audit's, not lineage
		}
		got, err := lineage.ReadVersion(ctx, conn, ref)
		if err != nil {
			t.Fatalf("read %v: %v", ref, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s@%s in ClickHouse:\n %+v\nreplayed from the log:\n %+v", ref.DatasetID, ref.Version, got, want)
		}
		if one && (len(got.Members) != 1 || !slices.Equal(got.Members[0].Missing, missing)) {
			t.Errorf("%s@%s: members %+v, want one missing %q", ref.DatasetID, ref.Version, got.Members, missing)
		}
	}
	for _, c := range cases {
		check(lineage.VersionRef{DatasetID: "brk-ds", Version: c.Version}, true, c.Missing)
	}
	for _, v := range []string{"all", "bad-manifest"} {
		check(lineage.VersionRef{DatasetID: "brk-ds", Version: v}, false, nil)
	}
	for _, v := range []string{"1", "2", "3"} {
		ref := lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: v}
		check(ref, false, nil)
		gt, err := lineage.ReadGate(ctx, conn, ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := g.Gate(ref); !reflect.DeepEqual(gt, want) || len(gt.Verdicts) == 0 {
			t.Errorf("gate of %s in ClickHouse:\n %+v\nreplayed from the log:\n %+v", v, gt, want)
		}
	}
	// The forged certification of ds-cars@2 is nowhere: the version in force is rejected.
	if gt, _ := lineage.ReadGate(ctx, conn, lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "2"}); gt.Status() != "rejected" ||
		len(gt.Verdicts) != 2 || len(gt.Overrides) != 1 || len(gt.Runs) != 1 || gt.Runs[0].Certified || !gt.Runs[0].Overridden {
		t.Errorf("gate of ds-cars@2: %+v", gt)
	}
	if gt, err := lineage.ReadGate(ctx, conn, lineage.VersionRef{DatasetID: "brk-ds", Version: "never-committed"}); err != nil || gt.Status() != "unjudged" {
		t.Errorf("gate of a version never judged: %+v, %v", gt, err)
	}
	var nf lineage.ErrVersionNotFound
	if _, err := lineage.ReadVersion(ctx, conn, lineage.VersionRef{DatasetID: "brk-ds", Version: "never-committed"}); !errors.As(err, &nf) {
		t.Errorf("a version never committed: %v, want ErrVersionNotFound", err)
	}

	for _, project := range []string{"", "proj-brk", "proj"} {
		got, err := lineage.ReadCompleteness(ctx, conn, project)
		if err != nil {
			t.Fatal(err)
		}
		if want := g.Completeness(project); got != want {
			t.Errorf("completeness of project %q in ClickHouse %+v, replayed %+v", project, got, want)
		}
	}
	if got, _ := lineage.ReadCompleteness(ctx, conn, "proj-brk"); got != lineagetest.BreakCompleteness(cases) {
		t.Errorf("completeness of the breaks %+v, want %+v", got, lineagetest.BreakCompleteness(cases))
	}
}

// TestRunClearanceAgreesWithTheKPIView: whether a training run was certified at its
// registration, as the lineage model says it (ReadGate, Graph.Gate), is what the ledger's
// kpi_training_runs_uncertified says of the same log: registration time, verdict sequence,
// certified, overridden, for every case of lineagetest.Clearances and the scripted history's
// run. One rule, two stores, as for lineage completeness.
func TestRunClearanceAgreesWithTheKPIView(t *testing.T) {
	// Without principals the ledger keeps a verdict of any producer (the runner refuses a
	// forged one when it has a registry, lineage always): the forgeries stay out here, so the
	// two stores are compared on one rule over the same verdicts.
	clearances, _ := lineagetest.Clearances()
	var evs []schemas.Event
	for _, ev := range append(append(lineagetest.History(), lineagetest.Gate()...), clearances...) {
		if ev.Meta().Producer != lineagetest.Forger {
			evs = append(evs, ev)
		}
	}
	recs, err := lineagetest.Records(evs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, k, conn := replayTwice(t, recs, lineage.NewProcessor(), ledger.New())
	g, _, err := auditor.Rebuild(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT run_id, dataset_id, version, registered_at_ms, toUInt8(certified_at_registration), verdict_sequence,
       toUInt8(overridden_at_registration) FROM kpi_training_runs_uncertified`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type key struct {
		ref lineage.VersionRef
		run string
	}
	view := map[key]lineage.RunGate{}
	for rows.Next() {
		var run lineage.RunGate
		var ref lineage.VersionRef
		var certified, overridden uint8
		if err := rows.Scan(&run.RunID, &ref.DatasetID, &ref.Version, &run.RegisteredAt, &certified, &run.Sequence, &overridden); err != nil {
			t.Fatal(err)
		}
		run.Certified, run.Overridden = certified == 1, overridden == 1
		view[key{ref, run.RunID}] = run
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	refs := []lineage.VersionRef{{DatasetID: lineagetest.Dataset, Version: "2"},
		{DatasetID: lineagetest.ClearanceDataset, Version: "v"}, {DatasetID: lineagetest.ClearanceDataset, Version: "w"}}
	for _, ref := range refs {
		read, err := lineage.ReadGate(ctx, conn, ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := g.Gate(ref); !reflect.DeepEqual(read, want) {
			t.Errorf("%s@%s: ReadGate %+v, replayed %+v", ref.DatasetID, ref.Version, read, want)
		}
		for _, run := range read.Runs {
			k := key{ref, run.RunID}
			if v, ok := view[k]; !ok || v != run {
				t.Errorf("%s on %s@%s: lineage %+v, kpi_training_runs_uncertified %+v (row %v)", run.RunID, ref.DatasetID, ref.Version, run, v, ok)
			}
			delete(view, k)
		}
	}
	// What the view has besides: a run counted on a version an earlier registration named and
	// its latest does not (lineage lists the versions of a run's latest registration).
	if want := (key{lineage.VersionRef{DatasetID: lineagetest.ClearanceDataset, Version: "v"}, "clear-gone"}); len(view) != 1 || view[want] == (lineage.RunGate{}) {
		t.Errorf("kpi_training_runs_uncertified rows beyond lineage's: %+v, want only %v", view, want)
	}
}
