package migrations_test

import (
	"testing"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
)

// TestMigrationsOnCurrentClickHouse applies every migration, in order, to a current ClickHouse
// embedded in Python (chdb), so the DDL is proven on both ends of the supported range: the
// other tests here run it on the 18.16 server.
func TestMigrationsOnCurrentClickHouse(t *testing.T) {
	res := chdb.AfterMigrations(t, nil)
	t.Logf("ClickHouse %s (chdb) accepted all %d statements of %d migrations", res.Version, res.Statements, res.Migrations)
}
