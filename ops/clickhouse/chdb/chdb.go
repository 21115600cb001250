// Package chdb runs SQL on a current ClickHouse embedded in Python (chdb), for tests that prove
// the schema and the queries on the newest end of the supported range while the integration
// tests run them on the 18.16 server. AfterMigrations checks a list of statements in one go;
// Session keeps one embedded ClickHouse for a whole test, so Go code that writes (the stream
// runner's insert path, through a Sink built on Session.Insert) meets the server-side limits of
// a current release. ASSAY_CHDB_PYTHON names a python with chdb installed (setup.sh in this
// directory makes one and prints its path; make test sets it).
package chdb

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/ops/testenv"
)

// Query is one statement to run after the migrations; Name says in a failure whose it is.
type Query struct {
	Name string
	SQL  string
}

// Result is what a run applied.
type Result struct {
	// Version is the embedded ClickHouse's version().
	Version string
	// Migrations and Statements count the migrations applied and their DDL statements.
	Migrations, Statements int
}

// AfterMigrations applies every migration, in order, to a fresh embedded ClickHouse and then
// runs queries, failing t with the first statement ClickHouse refuses (named by its query's
// Name, or as a migration statement). Without ASSAY_CHDB_PYTHON it skips t, or fails it under
// ASSAY_INTEGRATION=1, so CI can never pass by skipping (as testenv does for the servers).
func AfterMigrations(t testing.TB, queries []Query) Result {
	t.Helper()
	python := testenv.Python(t, "ASSAY_CHDB_PYTHON", "ops/clickhouse/chdb/setup.sh")
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms {
		stmts = append(stmts, m.Statements...)
	}
	ddl := len(stmts)
	for _, q := range queries {
		stmts = append(stmts, q.SQL)
	}
	// apply.py reads the statements as a JSON list from a file (see its docstring).
	file := filepath.Join(t.TempDir(), "statements.json")
	b, err := json.Marshal(stmts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(testenv.RepoRoot(t), "ops", "clickhouse", "chdb", "apply.py")
	out, err := exec.Command(python, script, file).Output()
	var res struct {
		Version   string `json:"version"`
		Applied   int    `json:"applied"`
		Statement string `json:"statement"`
		Error     string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("chdb: %v (output %q, exit %v)", jerr, out, err)
	}
	if res.Error != "" {
		what := "migration statement " + strconv.Itoa(res.Applied+1)
		if res.Applied >= ddl {
			what = queries[res.Applied-ddl].Name
		}
		t.Fatalf("ClickHouse %s refused %s:\n%s\nerror: %s", res.Version, what, res.Statement, res.Error)
	}
	if res.Applied != len(stmts) {
		t.Fatalf("applied %d of %d statements", res.Applied, len(stmts))
	}
	return Result{Version: res.Version, Migrations: len(ms), Statements: ddl}
}
