// Package ledgertest holds what the ledger's tests and the processor binary's tests share to
// check the exactly-once invariant: after FINAL, every ledger table holds exactly the rows the
// produced events imply (loadtest/workload.ExpectedRows), however often batches were replayed.
package ledgertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/ledger"
)

// FinalCounts counts the rows of every ledger table after FINAL, so replayed copies that
// ClickHouse has not merged yet do not count twice.
func FinalCounts(t testing.TB, conn driver.Conn) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range ledger.Tables() {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+tb.Name+" FINAL").Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tb.Name, err)
		}
		out[tb.Name] = int(n)
	}
	return out
}

// WaitCounts polls FinalCounts until it equals want (every ledger table, by name), failing t
// with both when timeout passes first: a processor writes asynchronously, so the rows arrive
// some time after the events were produced.
func WaitCounts(t testing.TB, conn driver.Conn, want map[string]int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := FinalCounts(t, conn)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows per table after FINAL:\n got %v\nwant %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
