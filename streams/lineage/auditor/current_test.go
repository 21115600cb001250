package auditor_test

import (
	"testing"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

// TestLedgerGateQueriesOnCurrentClickHouse runs the audit's queries of the ledger's gate tables
// on a current ClickHouse (chdb) after every migration; the audit's stack test
// (services/assay) runs them on the 18.16 server.
func TestLedgerGateQueriesOnCurrentClickHouse(t *testing.T) {
	var qs []chdb.Query
	for name, q := range map[string]string{"verdicts": auditor.LedgerVerdictsQuery, "overrides": auditor.LedgerOverridesQuery} {
		sql, err := chdb.Bind(q, "ds", "v1")
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, chdb.Query{Name: name, SQL: sql})
	}
	chdb.AfterMigrations(t, qs)
}
