package lineage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// TestLineageTablesAndRemediationKPI writes the history through the broker into the lineage
// and ledger tables and runs the README's queries and the kpi_remediation view.
func TestLineageTablesAndRemediationKPI(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	_, conn := testenv.MigratedClickHouse(t)
	cl := testenv.KafkaClient(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for _, ev := range lineagetest.History() {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []runtime.Processor{lineage.NewProcessor(), ledger.New()} {
		// Twice: a replayed batch must collapse, not double the graph.
		for i := 0; i < 2; i++ {
			if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
				t.Fatalf("%s: %v", p.Name(), err)
			}
		}
	}
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
