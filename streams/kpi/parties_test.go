package kpi_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// The queries label_parties replaces (services/api's partiesQuery and annotatorCohortQuery
// before migration 0070): the reference the new reads must answer alike.
const (
	ledgerPartiesQuery = `SELECT annotator_id, cohort, vendor
FROM labels
WHERE project_id = ?
GROUP BY annotator_id, cohort, vendor
ORDER BY annotator_id, cohort, vendor`
	ledgerCohortsQuery = `SELECT annotator_id, argMax(cohort, occurred_at_ms)
FROM labels FINAL
WHERE (? = '' OR project_id = ?)
GROUP BY annotator_id
ORDER BY annotator_id`
)

// partyLabels are two labels of one annotator at the same instant in two cohorts of a
// project (the tie AnnotatorCohortsQuery breaks by event id), and the labels rows of two
// annotation programs (two more projects, a vendor's cohort beside an in-house one,
// retractions), as the ledger writes them, in log order.
func partyLabels(t *testing.T) (runtime.Table, [][]any) {
	t.Helper()
	led := ledger.New()
	var table runtime.Table
	for _, tb := range led.Tables() {
		if tb.Name == "labels" {
			table = tb
		}
	}
	var rows [][]any
	off := int64(0)
	add := func(ev schemas.Event) {
		out, err := led.Apply(led.NewState("labels", 0), runtime.Record{Topic: "labels", Offset: off, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		off++
		for _, r := range out.Rows {
			if r.Table == "labels" {
				rows = append(rows, r.Values)
			}
		}
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, cohort := range []string{"zeta", "alpha"} {
		ev := &schemas.LabelSubmitted{LabelID: fmt.Sprintf("tie-%d", i), ItemID: "tie-item", ProjectID: "pc", TaskID: "t", QuestionID: "q",
			AnnotatorID: "tied", Cohort: cohort, GuidelineVersion: "g1", Value: schemas.LabelValue{Level: schemas.LevelNominal, Category: "x"}}
		ev.EventID = fmt.Sprintf("tie-event-%d", i) // tie-event-1 (cohort alpha) is the greater id
		ev.OccurredAt = at.UnixMilli()
		schemas.Stamp(ev, "labeler", at)
		add(ev)
	}
	for i, run := range []string{"pa", "pb"} {
		cfg := annotation.DefaultConfig(run, uint64(7+i))
		cfg.Items = 150
		cfg.Cohorts = append(cfg.Cohorts, annotation.Cohort{Name: "night-shift", Vendor: "globex", Annotators: 3, Accuracy: 0.8})
		for _, ev := range annotation.Generate(cfg).Events {
			if ev.Type() == schemas.TypeLabelSubmitted {
				add(ev)
			}
		}
	}
	return table, rows
}

// copies returns rows again as a replayed batch writes them (same rows) and one of them as a
// client duplicate (the same event at a later offset).
func copies(rows [][]any, offsetCol int) [][]any {
	out := slices.Clone(rows[:len(rows)/3])
	dup := slices.Clone(rows[len(rows)/2])
	dup[offsetCol] = uint64(1 << 40)
	return append(out, dup)
}

// wantCohorts is each annotator's cohort by the definition: the cohort of their label of
// greatest (occurred_at_ms, event_id), in project ("" every project).
func wantCohorts(table runtime.Table, rows [][]any, project string) map[string]string {
	col := func(name string) int { return slices.Index(table.Columns, name) }
	type latest struct {
		at     int64
		ev, co string
	}
	by := map[string]latest{}
	for _, r := range rows {
		if project != "" && r[col("project_id")] != project {
			continue
		}
		a := r[col("annotator_id")].(string)
		l := latest{r[col("occurred_at_ms")].(int64), r[col("event_id")].(string), r[col("cohort")].(string)}
		if cur, ok := by[a]; !ok || l.at > cur.at || l.at == cur.at && l.ev > cur.ev {
			by[a] = l
		}
	}
	out := map[string]string{}
	for a, l := range by {
		out[a] = l.co
	}
	return out
}

// TestPartiesAsLabels holds kpi.ReadParties and kpi.ReadAnnotatorCohorts to the queries over
// the ledger's labels they replace, on the 18.16 server: for labels written before migration
// 0070 (its INSERT copies them), after it (its materialized view), and after a replayed batch
// and a client duplicate (which FINAL hides in the ledger and max in label_parties).
func TestPartiesAsLabels(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(ms, func(m clickhouse.Migration) bool { return m.Version >= 70 })
	if before < 0 {
		t.Fatal("no migration 0070")
	}
	if _, err := clickhouse.Migrate(ctx, conn, ms[:before], nil); err != nil {
		t.Fatal(err)
	}
	table, rows := partyLabels(t)
	sink := runtime.ClickHouseSink(conn)
	half := len(rows) / 2
	if err := sink.Write(ctx, table, rows[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatal(err)
	}
	written := rows[:half]
	check := func(when string) {
		t.Helper()
		for _, p := range []string{"pa-proj", "pb-proj", "pc", "no-such-project"} {
			got, err := kpi.ReadParties(ctx, conn, p)
			if err != nil {
				t.Fatal(err)
			}
			want := ledgerRows(t, ctx, conn, ledgerPartiesQuery, p)
			if p != "no-such-project" && len(want) == 0 {
				t.Fatalf("%s: project %s has no labels", when, p)
			}
			if g := partyLines(got); !slices.Equal(g, want) {
				t.Errorf("%s: parties of %s:\n got %q\nwant %q", when, p, g, want)
			}
		}
		for _, p := range []string{"", "pa-proj", "pc"} {
			got, err := kpi.ReadAnnotatorCohorts(ctx, conn, p)
			if err != nil {
				t.Fatal(err)
			}
			if want := wantCohorts(table, written, p); !maps.Equal(got, want) {
				t.Errorf("%s: cohorts in %q:\n got %v\nwant %v", when, p, got, want)
			}
			// The ledger's query agrees wherever its argMax has no tie to break.
			for _, line := range ledgerRows(t, ctx, conn, ledgerCohortsQuery, p, p) {
				a, c, _ := strings.Cut(line, "\t")
				if a != "tied" && got[a] != c {
					t.Errorf("%s: cohort of %s in %q: %q, the ledger says %q", when, a, p, got[a], c)
				}
			}
		}
		if got, _ := kpi.ReadAnnotatorCohorts(ctx, conn, "pc"); got["tied"] != "alpha" {
			t.Errorf("%s: the tie goes to the greater event id's cohort, alpha; got %q", when, got["tied"])
		}
	}
	check("copied by the migration")
	if err := sink.Write(ctx, table, rows[half:]); err != nil {
		t.Fatal(err)
	}
	written = rows
	check("through the view")
	if err := sink.Write(ctx, table, copies(rows, slices.Index(table.Columns, "kafka_offset"))); err != nil {
		t.Fatal(err)
	}
	check("after copies")
}

func partyLines(ps []kpi.Party) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.AnnotatorID+"\t"+p.Cohort+"\t"+p.Vendor)
	}
	return out
}

// ledgerRows runs a query of string columns and returns its rows tab-joined.
func ledgerRows(t *testing.T, ctx context.Context, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]string, len(rows.Columns()))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(vals, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPartiesOnCurrentClickHouse runs migration 0070's view and the two reads on a current
// ClickHouse (chdb), with copies and the migration's copy statement run again over labels
// already counted: the answers are the definition's.
func TestPartiesOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	table, rows := partyLabels(t)
	if err := s.Insert(ctx, table.Name, table.Columns, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, table.Name, table.Columns, copies(rows, slices.Index(table.Columns, "kafka_offset"))); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version == 70 {
			if err := s.Exec(ctx, m.Statements[len(m.Statements)-1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(q string, args ...any) []string {
		t.Helper()
		sql, err := chdb.Bind(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Query(ctx, sql)
		if err != nil {
			t.Fatalf("ClickHouse %s refused:\n%s\n%v", s.Version, sql, err)
		}
		if out == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	for _, p := range []string{"pa-proj", "pc"} {
		want := map[string]bool{}
		col := func(name string) int { return slices.Index(table.Columns, name) }
		for _, r := range rows {
			if r[col("project_id")] == p {
				want[fmt.Sprintf("%s\t%s\t%s", r[col("annotator_id")], r[col("cohort")], r[col("vendor")])] = true
			}
		}
		if got := query(kpi.PartiesQuery, p); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Errorf("parties of %s on ClickHouse %s:\n got %q\nwant %q", p, s.Version, got, slices.Sorted(maps.Keys(want)))
		}
	}
	for _, p := range []string{"", "pb-proj"} {
		want := wantCohorts(table, rows, p)
		var lines []string
		for _, a := range slices.Sorted(maps.Keys(want)) {
			lines = append(lines, a+"\t"+want[a])
		}
		if got := query(kpi.AnnotatorCohortsQuery, p, p); !slices.Equal(got, lines) {
			t.Errorf("cohorts in %q on ClickHouse %s:\n got %q\nwant %q", p, s.Version, got, lines)
		}
	}
}
