package readside_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"github.com/assay-data/assay/loadtest/readside"
	"github.com/assay-data/assay/ops/testenv"
)

// TestLoad loads a small program into a fresh database: every processor takes every record
// (none refused), and the ledger holds the program's labels.
func TestLoad(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx := context.Background()
	p := readside.Program{Labels: labelsOf(t), Seed: 1}
	st, err := readside.Load(ctx, conn, p, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events in %v; rows %v", st.Events, st.Duration, st.Rows)
	var labels uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM labels FINAL").Scan(&labels); err != nil {
		t.Fatal(err)
	}
	if want := uint64(labelsOf(t)); labels < want*99/100 || labels > want*101/100 {
		t.Errorf("labels = %d, want about 10,000", labels)
	}
}

func labelsOf(t *testing.T) int {
	if v := os.Getenv("READSIDE_TEST_LABELS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 10_000
}
