package ledger_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/ledger/ledgertest"
	"github.com/assay-data/assay/streams/runtime"
)

// TestTablesMatchMigrations checks that Apply fills exactly the columns the
// migrations create, in a real ClickHouse.
func TestTablesMatchMigrations(t *testing.T) {
	// system.columns lists columns in definition order (18.16 has no
	// position column to sort by).
	cfg, conn := testenv.MigratedClickHouse(t)
	for _, tb := range ledger.Tables() {
		rows, err := conn.Query(context.Background(), "SELECT name FROM system.columns WHERE database = ? AND table = ?", cfg.Database, tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		rows.Close()
		if !slices.Equal(cols, tb.Columns) {
			t.Errorf("table %s:\n migration %v\n    ledger %v", tb.Name, cols, tb.Columns)
		}
	}
}

// TestLedgerEndToEnd: N events of every type in, exactly the expected rows
// per table out; then a full replay into the same tables and a client
// duplicate collapse instead of adding rows.
func TestLedgerEndToEnd(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	cfg, conn := testenv.MigratedClickHouse(t)
	cl := testenv.KafkaClient(t, k)
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
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	_, conn := testenv.MigratedClickHouse(t)
	cl := testenv.KafkaClient(t, k)
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
