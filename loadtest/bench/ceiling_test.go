package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/ledger"
)

// TestNativeCeiling runs the clickhouse_native_ceiling baseline alone on the 18.16 server: the
// Native chunks carry exactly the rows rawInsert writes (every table read back from both
// databases and compared whole), in the runner's chunks and order, and the figure is logged
// beside rawInsert's on the same rows. With ASSAY_BENCH_ROUNDS set (e.g. 8000, make bench's
// default) it measures at that size and skips the comparison.
func TestNativeCeiling(t *testing.T) {
	t.Parallel()
	bin := "clickhouse-client"
	if _, err := exec.LookPath(bin); err != nil {
		if testenv.Required() {
			t.Fatalf("%s not found: ops/clickhouse/clickhouse.sh start installs it", bin)
		}
		t.Skipf("%s not found", bin)
	}
	rounds, batch := 60, 300 // 4 chunks a table
	compare := true
	if v := os.Getenv("ASSAY_BENCH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("ASSAY_BENCH_ROUNDS=%q is not a positive number", v)
		}
		rounds, batch, compare = n, 5000, false
	}
	var evs []schemas.Event
	for _, ev := range workload.New("ceiling", 3).Rounds(rounds) {
		if !access.Internal(ev.Type()) {
			schemas.Stamp(ev, "bench", time.Now())
			evs = append(evs, ev)
		}
	}
	rows, nrows, err := ledgerRows(evs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ceilCfg, ceilConn := testenv.MigratedClickHouse(t)
	_, rawConn := testenv.MigratedClickHouse(t)

	start := time.Now()
	chunks, err := prepareNative(ctx, bin, ceilCfg, ceilCfg.Database+"_stage", rows, len(evs), batch)
	if err != nil {
		t.Fatal(err)
	}
	defer chunks.Close()
	t.Logf("%d events, %d rows: %d Native chunks prepared in %s", len(evs), nrows, len(chunks.chunks), time.Since(start).Round(time.Millisecond))
	var exists uint8
	if err := ceilConn.QueryRow(ctx, "SELECT count() > 0 FROM system.databases WHERE name = ?", ceilCfg.Database+"_stage").Scan(&exists); err != nil || exists != 0 {
		t.Errorf("the stage database is left behind (%v)", err)
	}

	// The runner's order: chunk after chunk, each chunk's tables in name order.
	chunksWant := (len(evs) + batch - 1) / batch
	for i, ch := range chunks.chunks {
		if i > 0 && ch.file < chunks.chunks[i-1].file {
			t.Fatalf("chunk %s after %s", ch.file, chunks.chunks[i-1].file)
		}
	}
	if want := chunksWant * len(rows); len(chunks.chunks) != want && compare {
		t.Fatalf("%d chunks, want %d (%d per table)", len(chunks.chunks), want, chunksWant)
	}

	res, err := chunks.insert(ctx, ceilCfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != nrows || res.Inserts != len(chunks.chunks) || res.Query <= 0 || res.Wall < res.Query {
		t.Fatalf("result %+v for %d rows in %d chunks", res, nrows, len(chunks.chunks))
	}
	raw, err := rawInsert(ctx, rawConn, rows, len(evs), batch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clickhouse_native_ceiling %.0f events/s (%.0f rows/s; %d inserts, %.1f MB of Native, query time %s, wall with client start-ups %s); clickhouse_insert (clickhouse-go, columnar) %.0f events/s on the same rows",
		res.EventsPerSecond(len(evs)), float64(res.Rows)/res.Query.Seconds(), res.Inserts, float64(res.Bytes)/1e6,
		res.Query.Round(time.Millisecond), res.Wall.Round(time.Millisecond), raw)
	for name, d := range res.ByTable {
		t.Logf("  %s: %s (%d rows)", name, d.Round(time.Millisecond), len(rows[name]))
	}
	if !compare {
		return
	}
	for name, rs := range rows {
		want, got := tableRows(t, rawConn, name), tableRows(t, ceilConn, name)
		if len(want) != len(rs) {
			t.Fatalf("%s: rawInsert wrote %d rows, want %d", name, len(want), len(rs))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: the Native inserts wrote %d rows that differ from rawInsert's %d", name, len(got), len(want))
		}
	}
}

// tableRows reads every row of table, each printed as JSON, sorted.
func tableRows(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT * FROM "+clickhouse.QuoteIdent(table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		ptrs := make([]any, len(cts))
		for i, ct := range cts {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(ptrs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestNativeChunkStatementsOnCurrentClickHouse: the statements prepareNative and insert send
// also work on a current ClickHouse (chdb): a TinyLog copy of a ledger table, a LIMIT with an
// offset that cuts it in insertion order, the chunk exported as Native INTO OUTFILE, and an
// insert of that Native data (FROM INFILE, standing in for clickhouse-client's stdin).
func TestNativeChunkStatementsOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx := context.Background()
	q := clickhouse.QuoteIdent
	var cols []string
	for _, tb := range ledger.Tables() {
		if tb.Name == ledger.TableItems {
			for _, c := range tb.Columns {
				cols = append(cols, q(c))
			}
		}
	}
	list := strings.Join(cols, ", ")
	staged := q("stage") + "." + q(ledger.TableItems)
	file := filepath.Join(t.TempDir(), "0000-items.native")
	for _, stmt := range []string{
		"CREATE DATABASE stage",
		stageStatement(staged, q("assay")+"."+q(ledger.TableItems)),
		"INSERT INTO " + staged + " (item_id, event_id, kafka_offset) SELECT concat('item-', toString(number)), toString(number), number FROM numbers(10)",
		exportStatement(list, staged, 3, 4, file),
		strings.Replace(insertStatement(q(ledger.TableItems), list), " FORMAT Native", " FROM INFILE "+sqlString(file)+" FORMAT Native", 1),
	} {
		if err := s.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	got, err := s.Query(ctx, "SELECT kafka_offset, item_id FROM items ORDER BY kafka_offset")
	if err != nil {
		t.Fatal(err)
	}
	if want := "3\titem-3\n4\titem-4\n5\titem-5\n6\titem-6\n"; got != want {
		t.Fatalf("items holds %q, want rows 3 to 6 of the stage", got)
	}
	t.Logf("ClickHouse %s", s.Version)
}
