package clickhouse_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/ops/clickhouse"
	"github.com/assay-data/assay/ops/testenv"
)

// TestMigrationsOnCurrentClickHouse applies every migration, in order, to a current ClickHouse
// embedded in Python (chdb), so the DDL is proven on both ends of the supported range: the
// other tests here run it on the 18.16 server. ASSAY_CHDB_PYTHON names a python with chdb
// installed (ops/clickhouse/chdb/setup.sh makes one; make test sets it).
func TestMigrationsOnCurrentClickHouse(t *testing.T) {
	python := os.Getenv("ASSAY_CHDB_PYTHON")
	if python == "" {
		if testenv.Required() {
			t.Fatal("ASSAY_CHDB_PYTHON is not set: run ops/clickhouse/chdb/setup.sh and export its output")
		}
		t.Skip("ASSAY_CHDB_PYTHON not set: current-ClickHouse check skipped")
	}
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms {
		stmts = append(stmts, m.Statements...)
	}
	file := filepath.Join(t.TempDir(), "statements.json")
	b, _ := json.Marshal(stmts)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "chdb/apply.py", file).Output()
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
		t.Fatalf("ClickHouse %s refused statement %d:\n%s\nerror: %s", res.Version, res.Applied+1, res.Statement, res.Error)
	}
	if res.Applied != len(stmts) {
		t.Fatalf("applied %d of %d statements", res.Applied, len(stmts))
	}
	t.Logf("ClickHouse %s (chdb) accepted all %d statements of %d migrations", res.Version, len(stmts), len(ms))
}
