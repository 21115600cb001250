package clickhouse_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/clickhouse"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "CREATE TABLE a (x UInt8) ENGINE = Memory;\n", []string{"CREATE TABLE a (x UInt8) ENGINE = Memory"}},
		{"comments and blanks", "-- why\n\nSELECT 1;\n-- tail\n", []string{"SELECT 1"}},
		{"multi-line and last without semicolon", "SELECT\n 1;\nSELECT 2", []string{"SELECT\n 1", "SELECT 2"}},
		{"semicolon inside a line is kept", "SELECT 'a;b';\n", []string{"SELECT 'a;b'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clickhouse.SplitStatements(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"bad name":          {"m/1_x.sql": {Data: []byte("SELECT 1;")}},
		"duplicate version": {"m/0001_a.sql": {Data: []byte("SELECT 1;")}, "m/0001_b.sql": {Data: []byte("SELECT 1;")}},
		"empty":             {"m/0001_a.sql": {Data: []byte("-- nothing\n")}},
	}
	for name, fsys := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := clickhouse.LoadMigrations(fsys, "m"); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("want migrations starting at 0001, got %d", len(ms))
	}
}

// TestMigrateTwice applies every migration to the real server, then again: the second run must
// apply nothing and leave the tables as they were.
func TestMigrateTwice(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx := context.Background()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	first, err := clickhouse.Migrate(ctx, conn, ms, nil)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if len(first.Applied) != len(ms) || first.Skipped != 0 {
		t.Fatalf("first run applied %d skipped %d, want %d and 0", len(first.Applied), first.Skipped, len(ms))
	}
	tablesBefore := tables(t, ctx, conn)
	second, err := clickhouse.Migrate(ctx, conn, ms, nil)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(second.Applied) != 0 || second.Skipped != len(ms) {
		t.Fatalf("second run applied %d skipped %d, want 0 and %d", len(second.Applied), second.Skipped, len(ms))
	}
	if after := tables(t, ctx, conn); !reflect.DeepEqual(tablesBefore, after) {
		t.Fatalf("tables changed: %v -> %v", tablesBefore, after)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

// TestMigrateRefusesEditedMigration: a migration changed after it was applied must be refused
// with a message that says so, not silently skipped.
func TestMigrateRefusesEditedMigration(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx := context.Background()
	v1 := fstest.MapFS{"m/0001_t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = Memory;\n")}}
	ms, err := clickhouse.LoadMigrations(v1, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatal(err)
	}
	v1["m/0001_t.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS t (x UInt16) ENGINE = Memory;\n")}
	edited, err := clickhouse.LoadMigrations(v1, "m")
	if err != nil {
		t.Fatal(err)
	}
	_, err = clickhouse.Migrate(ctx, conn, edited, nil)
	if err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
		t.Fatalf("want a changed-migration error, got %v", err)
	}
}

func tables(t *testing.T, ctx context.Context, conn interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
}) []string {
	t.Helper()
	var names []string
	var rows []struct {
		Name string `ch:"name"`
	}
	if err := conn.Select(ctx, &rows, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		names = append(names, r.Name)
	}
	return names
}
