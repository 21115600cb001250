package kpi_test

import (
	"context"
	"fmt"
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

// The API's coverage queries before kpi.ReadCoverage (services/api's coverageQuery and
// coverageSlicesQuery over the views of migration 0004): the reference the new read must
// answer alike.
const (
	viewCoverageQuery = `SELECT dataset_id, version, toInt64(items), toInt64(target_slices), toInt64(slices_meeting),
       toFloat64(tv_distance), toInt64(edge_case_tags), toInt64(edge_case_tags_covered)
FROM kpi_coverage
WHERE (dataset_id, version) IN (
        SELECT dataset_id, argMax(version, occurred_at_ms) FROM dataset_versions FINAL GROUP BY dataset_id)
  AND (? = '' OR dataset_id = ?)
  AND (? = '' OR dataset_id IN (SELECT dataset_id FROM items FINAL WHERE project_id = ?))
ORDER BY dataset_id`
	viewCoverageSlicesQuery = `SELECT dataset_id, slice, target_share, min_count, toInt64(items_in_slice), toFloat64(actual_share), toUInt8(meets)
FROM kpi_coverage_slices
WHERE (dataset_id, version) IN (
        SELECT dataset_id, argMax(version, occurred_at_ms) FROM dataset_versions FINAL GROUP BY dataset_id)
  AND (? = '' OR dataset_id = ?)
ORDER BY dataset_id, slice`
)

// coverageLedger is the ledger's rows of three annotation programs, each a project with a
// dataset, coverage targets and several versions: the second sets new targets mid-way (the
// latest counts), the third has none. Rows are in log order, table by table.
func coverageLedger(t *testing.T) map[string][][]any {
	t.Helper()
	led := ledger.New()
	rows := map[string][][]any{}
	off := int64(0)
	for i, run := range []string{"cova", "covb", "covc"} {
		cfg := annotation.DefaultConfig(run, uint64(11+i))
		cfg.Items, cfg.DatasetVersions = 240, 4
		evs := annotation.Generate(cfg).Events
		for j, ev := range evs {
			if i == 2 && ev.Type() == schemas.TypeCoverageTargetSet {
				continue
			}
			if i == 1 && j == len(evs)/2 {
				share, min := 0.5, int64(20)
				ts := &schemas.CoverageTargetSet{DatasetID: run + "-ds", SliceTargets: []schemas.SliceTarget{{Slice: "night", TargetShare: &share}, {Slice: "day", MinCount: &min}},
					EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "blurry", MinCount: 3}}}
				ts.EventID = run + "-new-targets"
				schemas.Stamp(ts, "owner", time.UnixMilli(ev.Meta().OccurredAt+1))
				ts.OccurredAt = ev.Meta().OccurredAt + 1
				out, err := led.Apply(led.NewState(ts.Family().Topic(), 0), runtime.Record{Topic: ts.Family().Topic(), Offset: off, Event: ts})
				if err != nil {
					t.Fatal(err)
				}
				off++
				for _, r := range out.Rows {
					rows[r.Table] = append(rows[r.Table], r.Values)
				}
			}
			out, err := led.Apply(led.NewState(ev.Family().Topic(), 0), runtime.Record{Topic: ev.Family().Topic(), Offset: off, Event: ev})
			if err != nil {
				t.Fatal(err)
			}
			off++
			for _, r := range out.Rows {
				rows[r.Table] = append(rows[r.Table], r.Values)
			}
		}
	}
	return rows
}

// coverageCase is one filter of the API's coverage.
type coverageCase struct{ dataset, project string }

var coverageCases = []coverageCase{{"", ""}, {"covb-ds", ""}, {"", "cova-proj"}, {"covc-ds", "covc-proj"}, {"", "no-such-project"}}

type coverageRow struct {
	ds, ver                string
	items, slices, meeting int64
	tv                     float64
	edges, covered         int64
}

type sliceRow struct {
	ds, slice string
	share     *float64
	min       *int64
	n         int64
	actual    float64
	meets     uint8
}

func (s sliceRow) String() string {
	share, min := "null", "null"
	if s.share != nil {
		share = fmt.Sprint(*s.share)
	}
	if s.min != nil {
		min = fmt.Sprint(*s.min)
	}
	return fmt.Sprintf("%s %s %s %s %d %v %d", s.ds, s.slice, share, min, s.n, s.actual, s.meets)
}

func scanCoverage(t *testing.T, ctx context.Context, conn driver.Conn, q string, args ...any) []coverageRow {
	t.Helper()
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []coverageRow
	for rows.Next() {
		var r coverageRow
		if err := rows.Scan(&r.ds, &r.ver, &r.items, &r.slices, &r.meeting, &r.tv, &r.edges, &r.covered); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func scanSlices(t *testing.T, ctx context.Context, conn driver.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r sliceRow
		if err := rows.Scan(&r.ds, &r.slice, &r.share, &r.min, &r.n, &r.actual, &r.meets); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.String())
	}
	return out
}

// TestCoverageAsTheViews holds kpi.CoverageQuery, kpi.CoverageSlicesQuery and ReadCoverage to
// the API's queries over the views they replace, on the 18.16 server, for every filter: with
// the project pairs copied by migration 0072, kept by its view, and after copies of the
// ledger's rows (a replayed batch).
func TestCoverageAsTheViews(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(ms, func(m clickhouse.Migration) bool { return m.Version >= 72 })
	if _, err := clickhouse.Migrate(ctx, conn, ms[:before], nil); err != nil {
		t.Fatal(err)
	}
	rows := coverageLedger(t)
	led := ledger.New()
	sink := runtime.ClickHouseSink(conn)
	write := func(part func([][]any) [][]any) {
		t.Helper()
		for _, tb := range led.Tables() {
			if rs := part(rows[tb.Name]); len(rs) > 0 {
				if err := sink.Write(ctx, tb, rs); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for _, c := range coverageCases {
			want := scanCoverage(t, ctx, conn, viewCoverageQuery, c.dataset, c.dataset, c.project, c.project)
			got := scanCoverage(t, ctx, conn, kpi.CoverageQuery, kpi.CoverageArgs(c.dataset, c.project)...)
			if !slices.Equal(got, want) {
				t.Errorf("%s: coverage %+v:\n got %+v\nwant %+v", when, c, got, want)
			}
			if when != "with the pairs copied by the migration" && c == (coverageCase{}) && len(want) < 2 {
				t.Errorf("%s: coverage of %d datasets, want those of cova and covb (covc has no targets)", when, len(want))
			}
			wantSlices := scanSlices(t, ctx, conn, viewCoverageSlicesQuery, c.dataset, c.dataset)
			if got := scanSlices(t, ctx, conn, kpi.CoverageSlicesQuery, kpi.CoverageSlicesArgs(c.dataset)...); !slices.Equal(got, wantSlices) {
				t.Errorf("%s: coverage slices %+v:\n got %q\nwant %q", when, c, got, wantSlices)
			}
			read, err := kpi.ReadCoverage(ctx, conn, c.dataset, c.project)
			if err != nil {
				t.Fatal(err)
			}
			if len(read) != len(want) {
				t.Fatalf("%s: ReadCoverage %+v: %d datasets, want %d", when, c, len(read), len(want))
			}
			for i, d := range read {
				w := want[i]
				if d.DatasetID != w.ds || d.Version != w.ver || d.Items != w.items || d.TargetSlices != w.slices || d.SlicesMeeting != w.meeting ||
					d.TVDistance != w.tv || d.EdgeCaseTags != w.edges || d.EdgeCaseTagsCovered != w.covered {
					t.Errorf("%s: ReadCoverage %+v: %+v, want %+v", when, c, d, w)
				}
				var lines []string
				for _, s := range d.Slices {
					m := uint8(0)
					if s.Meets {
						m = 1
					}
					lines = append(lines, sliceRow{d.DatasetID, s.Slice, s.TargetShare, s.MinCount, s.ItemsInSlice, s.ActualShare, m}.String())
				}
				var wl []string
				for _, l := range wantSlices {
					if strings.HasPrefix(l, d.DatasetID+" ") {
						wl = append(wl, l)
					}
				}
				if !slices.Equal(lines, wl) {
					t.Errorf("%s: ReadCoverage %+v slices of %s:\n got %q\nwant %q", when, c, d.DatasetID, lines, wl)
				}
			}
		}
	}
	half := func(rs [][]any) [][]any { return rs[:len(rs)/2] }
	rest := func(rs [][]any) [][]any { return rs[len(rs)/2:] }
	write(half)
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatal(err)
	}
	check("with the pairs copied by the migration")
	write(rest)
	check("through the view")
	write(func(rs [][]any) [][]any { return rs[:len(rs)/3] })
	check("after copies")
}

// TestCoverageOnCurrentClickHouse runs migration 0072 and the coverage reads on a current
// ClickHouse (chdb): over the same ledger rows (and copies of some) they answer what the views
// of migration 0004 answer there.
func TestCoverageOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rows := coverageLedger(t)
	for _, tb := range ledger.New().Tables() {
		for _, part := range [][][]any{rows[tb.Name], rows[tb.Name][:len(rows[tb.Name])/3]} {
			if err := s.Insert(ctx, tb.Name, tb.Columns, part); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(q string, args ...any) string {
		t.Helper()
		sql, err := chdb.Bind(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Query(ctx, sql)
		if err != nil {
			t.Fatalf("ClickHouse %s refused:\n%s\n%v", s.Version, sql, err)
		}
		return out
	}
	for _, c := range coverageCases {
		want := query(viewCoverageQuery, c.dataset, c.dataset, c.project, c.project)
		if got := query(kpi.CoverageQuery, kpi.CoverageArgs(c.dataset, c.project)...); got != want {
			t.Errorf("coverage %+v on ClickHouse %s:\n got %s\nwant %s", c, s.Version, got, want)
		}
		want = query(viewCoverageSlicesQuery, c.dataset, c.dataset)
		if got := query(kpi.CoverageSlicesQuery, kpi.CoverageSlicesArgs(c.dataset)...); got != want || want == "" && c.dataset != "covc-ds" {
			t.Errorf("coverage slices %+v on ClickHouse %s:\n got %s\nwant %s", c, s.Version, got, want)
		}
	}
}
