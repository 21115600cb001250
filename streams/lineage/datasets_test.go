package lineage_test

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
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// ingests is a log of item ingests over two partitions that moves items between projects and
// datasets: re-ingests later and earlier (by occurred_at) than the one in force, a tie on
// occurred_at broken by event id, copies of events, an item without a dataset, and a
// (project, dataset) every item of which moves away.
func ingests() [][]schemas.Event {
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	ing := func(item, project, dataset string, at time.Duration, id string) *schemas.ItemIngested {
		n++
		e := &schemas.ItemIngested{ItemID: item, Source: "cam", URI: "s3://b/" + item, SHA256: strings.Repeat("a", 64), Modality: "image",
			ProjectID: project, DatasetID: dataset}
		if id == "" {
			id = fmt.Sprintf("ingest-%03d", n)
		}
		e.EventID = id
		e.OccurredAt = base.Add(at).UnixMilli()
		schemas.Stamp(e, "collector", base.Add(at))
		return e
	}
	var p0, p1 []schemas.Event
	for i := range 40 {
		item := fmt.Sprintf("item-%02d", i)
		e := ing(item, fmt.Sprintf("proj-%d", i%3), fmt.Sprintf("ds-%d", i%4), time.Duration(i)*time.Minute, "")
		if i%2 == 0 {
			p0 = append(p0, e)
		} else {
			p1 = append(p1, e)
		}
	}
	p0 = append(p0,
		ing("item-00", "proj-1", "ds-9", time.Hour, ""),               // moves to a new pair
		ing("item-02", "proj-1", "ds-8", -time.Hour, ""),              // earlier than the ingest in force: no move
		ing("item-04", "proj-1", "", time.Hour, ""),                   // no dataset
		ing("item-06", "proj-2", "ds-7", 6*time.Minute, "ingest-zzz"), // same instant, greater event id: moves
		ing("item-08", "proj-2", "ds-6", 8*time.Minute, "ingest-000"), // same instant, smaller event id: no move
		ing("item-00", "proj-0", "ds-0", 2*time.Hour, ""),             // moves back
		ing("item-10", "proj-1", "ds-1", 3*time.Hour, ""),             // the same pair again: no move
	)
	p0 = append(p0, p0[3], p0[len(p0)-2]) // copies
	// Every item of (proj-1, ds-3) moves away: items 7, 19, 31 (i%3 == 1 and i%4 == 3).
	for _, item := range []string{"item-07", "item-19", "item-31"} {
		p1 = append(p1, ing(item, "proj-0", "ds-3", 4*time.Hour, ""))
	}
	return [][]schemas.Event{p0, p1}
}

// datasetsOf is Graph.DatasetsOf over the log, as sorted lines.
func datasetsOf(parts [][]schemas.Event, project string) []string {
	g := lineage.New(0)
	for _, evs := range parts {
		for _, ev := range evs {
			g.Apply(ev)
		}
	}
	return slices.Sorted(maps.Keys(g.DatasetsOf(project)))
}

var datasetProjects = []string{"proj-0", "proj-1", "proj-2", "proj-none"}

// TestProjectDatasetsAsItems holds lineage.ProjectDatasetsQuery (the processor's totals,
// migration 0071) to the query over every item's ingests it replaces and to
// Graph.DatasetsOf, on the 18.16 server: for ingests written before the migration (its INSERT
// counts them) and after it, with the processor's state rebuilt from the whole log as on a
// restart, and after a replayed batch.
func TestProjectDatasetsAsItems(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(ms, func(m clickhouse.Migration) bool { return m.Version >= 71 })
	if _, err := clickhouse.Migrate(ctx, conn, ms[:before], nil); err != nil {
		t.Fatal(err)
	}
	parts := ingests()
	p := lineage.NewProcessor()
	sink := runtime.ClickHouseSink(conn)
	tables := map[string]runtime.Table{}
	for _, tb := range p.Tables() {
		tables[tb.Name] = tb
	}
	// apply plays parts[i][from:to] on partition i's state and writes the rows of the given
	// tables.
	states := []any{p.NewState("assay.items.v1", 0), p.NewState("assay.items.v1", 1)}
	apply := func(from, to func(i int) int, write ...string) {
		t.Helper()
		rows := map[string][][]any{}
		for i, evs := range parts {
			for o := from(i); o < to(i); o++ {
				out, err := p.Apply(states[i], runtime.Record{Topic: "assay.items.v1", Partition: int32(i), Offset: int64(o), Event: evs[o]})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range out.Rows {
					rows[r.Table] = append(rows[r.Table], r.Values)
				}
			}
		}
		for _, name := range write {
			if err := sink.Write(ctx, tables[name], rows[name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string, upTo func(i int) int) {
		t.Helper()
		var seen [][]schemas.Event
		for i, evs := range parts {
			seen = append(seen, evs[:upTo(i)])
		}
		for _, project := range datasetProjects {
			got := queryStrings(t, ctx, conn, lineage.ProjectDatasetsQuery, project)
			if items := queryStrings(t, ctx, conn, lineage.ProjectDatasetsFromItemsQuery, project); !slices.Equal(got, items) {
				t.Errorf("%s: datasets of %s: %q, from the items %q", when, project, got, items)
			}
			if want := datasetsOf(seen, project); !slices.Equal(got, want) {
				t.Errorf("%s: datasets of %s: %q, the graph says %q", when, project, got, want)
			}
		}
	}
	half := func(i int) int { return len(parts[i]) / 2 }
	all := func(i int) int { return len(parts[i]) }
	zero := func(int) int { return 0 }
	// Before the migration the (older) processor wrote the chain read model only.
	apply(zero, half, lineage.TableItems)
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatal(err)
	}
	check("counted by the migration", half)
	// The processor's states hold the first half (rebuilt from the log); it writes the rest.
	apply(half, all, lineage.TableItems, lineage.TableProjectDatasets)
	check("written by the processor", all)
	// A replayed batch: the same records again, from a state rebuilt up to the batch.
	states = []any{p.NewState("assay.items.v1", 0), p.NewState("assay.items.v1", 1)}
	apply(zero, half)
	apply(half, all, lineage.TableItems, lineage.TableProjectDatasets)
	check("after a replay", all)
}

// queryStrings runs a query of one String column.
func queryStrings(t *testing.T, ctx context.Context, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProjectDatasetsOnCurrentClickHouse runs migration 0071's table and copy statement and
// lineage.ProjectDatasetsQuery on a current ClickHouse (chdb): the processor's totals of the
// log, written twice (a replay), and the migration's copy run over the same items, answer
// Graph.DatasetsOf.
func TestProjectDatasetsOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	parts := ingests()
	p := lineage.NewProcessor()
	rows := map[string][][]any{}
	for copy := range 2 {
		for i, evs := range parts {
			st := p.NewState("assay.items.v1", int32(i))
			for o, ev := range evs {
				out, err := p.Apply(st, runtime.Record{Topic: "assay.items.v1", Partition: int32(i), Offset: int64(o), Event: ev})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range out.Rows {
					if copy == 0 || r.Table == lineage.TableProjectDatasets {
						rows[r.Table] = append(rows[r.Table], r.Values)
					}
				}
			}
		}
	}
	for _, tb := range p.Tables() {
		if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version == 71 {
			if err := s.Exec(ctx, m.Statements[len(m.Statements)-1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, project := range datasetProjects {
		for _, q := range []string{lineage.ProjectDatasetsQuery, lineage.ProjectDatasetsFromItemsQuery} {
			sql, err := chdb.Bind(q, project)
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Query(ctx, sql)
			if err != nil {
				t.Fatalf("ClickHouse %s refused:\n%s\n%v", s.Version, sql, err)
			}
			var got []string
			if out != "" {
				got = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			}
			if want := datasetsOf(parts, project); !slices.Equal(got, want) {
				t.Errorf("datasets of %s on ClickHouse %s: %q, the graph says %q\n%s", project, s.Version, got, want, q)
			}
		}
	}
}

// TestItemsStateSnapshots: an items partition's state restored from a snapshot at any cut
// equals the one the log builds and writes the same totals for the rest of the log.
func TestItemsStateSnapshots(t *testing.T) {
	var evs []schemas.Event
	for _, part := range ingests() {
		evs = append(evs, part...)
	}
	runtimetest.CheckSnapshots(t, lineage.NewProcessor(), runtimetest.Records("p."+schemas.FamilyItems.Topic(), 0, evs), runtimetest.SnapshotCheck{})
}
