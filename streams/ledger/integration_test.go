package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/ledger/ledgertest"
	"github.com/assay-data/assay/streams/runtime"
)

// TestTablesMatchMigrations checks every column of every ledger table, by name and by the
// ClickHouse type its Go field maps to (ledger.ColumnTypes), against system.columns of the
// migrated database on the 18.16 server and on current ClickHouse (chdb): no column is
// missing on either side and none has another type. On current ClickHouse the rows Apply makes
// of a round of every event type are inserted too, as the runner would, counted back, and
// README's ledger queries run on them (TestReadmeQueries runs them on 18.16).
func TestTablesMatchMigrations(t *testing.T) {
	want := map[string]string{} // "table.column" -> type
	var names []string
	for _, tb := range ledger.Tables() {
		names = append(names, "'"+tb.Name+"'")
	}
	for _, c := range ledger.ColumnTypes() {
		want[c.Table+"."+c.Column] = c.Type
	}
	query := "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN (" + strings.Join(names, ", ") + ")"
	compare := func(t *testing.T, got map[string]string) {
		t.Helper()
		for col, typ := range want {
			if got[col] != typ {
				t.Errorf("%s: the ledger writes %s, the migrated table has %q", col, typ, got[col])
			}
		}
		for col, typ := range got {
			if _, ok := want[col]; !ok {
				t.Errorf("%s %s: in the migrated table, not written by the ledger", col, typ)
			}
		}
	}
	t.Run("18.16", func(t *testing.T) {
		_, conn := testenv.MigratedClickHouse(t)
		rows, err := conn.Query(context.Background(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var table, name, typ string
			if err := rows.Scan(&table, &name, &typ); err != nil {
				t.Fatal(err)
			}
			got[table+"."+name] = typ
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		compare(t, got)
	})
	t.Run("current", func(t *testing.T) {
		s := chdb.Start(t)
		ctx := context.Background()
		out, err := s.Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for line := range strings.Lines(out) {
			f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
			if len(f) != 3 {
				t.Fatalf("system.columns line %q", line)
			}
			got[f[0]+"."+f[1]] = f[2]
		}
		compare(t, got)

		rows := map[string][][]any{}
		for i, ev := range workload.New("chdb", 1).Round(0) {
			out, err := ledger.New().Apply(nil, record(t, ev, int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Rows {
				rows[r.Table] = append(rows[r.Table], r.Values)
			}
		}
		for _, tb := range ledger.Tables() {
			if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
				t.Fatalf("ClickHouse %s: %v", s.Version, err)
			}
		}
		for tb, n := range workload.ExpectedRows(1) {
			if got, err := s.Query(ctx, "SELECT count() FROM "+tb+" FINAL"); err != nil || strings.TrimSpace(got) != fmt.Sprint(n) {
				t.Errorf("%s holds %q rows (%v), want %d", tb, got, err, n)
			}
		}
		blocks := testenv.ReadmeBlocks(t, "Querying the ledger", "sql")
		for i, q := range blocks {
			if got, err := s.Query(ctx, strings.TrimSuffix(strings.TrimSpace(q), ";")); err != nil || strings.TrimSpace(got) == "" {
				t.Errorf("README query %d on ClickHouse %s: %q, %v\n%s", i+1, s.Version, got, err, q)
			}
		}
		t.Logf("ClickHouse %s (chdb): %d columns of %d tables checked, a round's rows inserted, %d README queries answered",
			s.Version, len(want), len(names), len(blocks))
	})
}

// TestLedgerEndToEnd: N events of every type in, exactly the expected rows
// per table out; then a full replay into the same tables and a client
// duplicate collapse instead of adding rows.
func TestLedgerEndToEnd(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const rounds = 200
	gen := workload.New("e2e", 1)
	evs := gen.Rounds(rounds)
	if err := workload.Produce(ctx, cl, k, evs); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	r, err := runtime.New(ledger.New(), k, runtime.ClickHouseSink(conn), runtime.WithBatchSize(500), runtime.WithFlushInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	want := workload.ExpectedRows(rounds)
	ledgertest.WaitCounts(t, conn, want, 2*time.Minute)

	// A client retry: the same event (same event_id) accepted again, so it
	// sits at a second offset. Typed tables collapse it; events shows both.
	if err := workload.Produce(ctx, cl, k, evs[3:4]); err != nil { // a LabelSubmitted
		t.Fatal(err)
	}
	want["events"]++
	ledgertest.WaitCounts(t, conn, want, time.Minute)
	var copies uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events FINAL WHERE event_id = ?", evs[3].Meta().EventID).Scan(&copies); err != nil || copies != 2 {
		t.Fatalf("events keeps %d copies of the duplicate (%v), want 2", copies, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Replaying everything into the same tables is a replay of every batch:
	// the rows are written again and collapse.
	stats, err := runtime.Replay(ctx, ledger.New(), k, runtime.ClickHouseSink(conn), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != len(evs)+1 {
		t.Fatalf("replay read %d records, want %d", stats.Records, len(evs)+1)
	}
	var raw uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM labels").Scan(&raw); err != nil || raw < uint64(rounds) {
		t.Fatalf("labels without FINAL: %d (%v)", raw, err)
	}
	ledgertest.WaitCounts(t, conn, want, time.Minute)
	_ = cfg
}

// TestReadmeQueries runs every SQL block of README.md's "Querying the
// ledger" section against a ledger filled by the processor, so the examples
// analysts copy are known to work on the server the tests use.
func TestReadmeQueries(t *testing.T) {
	t.Parallel()
	blocks := testenv.ReadmeBlocks(t, "Querying the ledger", "sql")
	if len(blocks) < 5 {
		t.Fatalf("found %d sql blocks in the section, want at least 5", len(blocks))
	}
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := workload.Produce(ctx, cl, k, workload.New("readme", 2).Rounds(20)); err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.Replay(ctx, ledger.New(), k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
		t.Fatal(err)
	}
	testenv.RunReadmeQueries(ctx, t, conn, blocks)
}
