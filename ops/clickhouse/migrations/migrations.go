// Package migrations holds Assay's ClickHouse schema: the numbered SQL files beside this one,
// embedded, applied in order by streams/infra/clickhouse's Migrate. The SQL lives in ops/ with
// the deployment it belongs to; the code that connects and migrates lives where the runtime
// can import it (streams/infra/clickhouse).
//
// Every migration must run both on the 18.16 server that Debian ships (used by the local
// scripts and CI) and on current releases (docker-compose, checked with chdb in
// current_test.go); see CONTRIBUTING.md for the SQL subset that satisfies both. A migration
// once applied never changes: the runner refuses an edited one by its checksum.
package migrations

import (
	"embed"

	"github.com/assay-data/assay/streams/infra/clickhouse"
)

//go:embed *.sql
var files embed.FS

// All returns the embedded migrations in version order.
func All() ([]clickhouse.Migration, error) { return clickhouse.LoadMigrations(files, ".") }
