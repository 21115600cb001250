package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/assay-data/assay/ops/clickhouse"
	"github.com/assay-data/assay/ops/testenv"
)

// TestGrafanaSQLOnCurrentClickHouse runs every ClickHouse query of the Grafana dashboards on
// a current ClickHouse embedded in Python (chdb), after every migration: the compose stack
// pins a current release, and so does the Grafana plugin. Grafana's macros are expanded to
// plain SQL first.
func TestGrafanaSQLOnCurrentClickHouse(t *testing.T) {
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
	ddl := len(stmts)
	timeFilter := regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)
	files, _ := filepath.Glob(filepath.Join(root, "ops/grafana/dashboards/*.json"))
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					RawSQL string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL == "" {
					continue
				}
				stmts = append(stmts, timeFilter.ReplaceAllString(tg.RawSQL, "$1 >= now() - INTERVAL 7 DAY AND $1 <= now()"))
				names = append(names, filepath.Base(f)+": "+p.Title)
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no ClickHouse queries in the dashboards")
	}
	file := filepath.Join(t.TempDir(), "statements.json")
	b, _ := json.Marshal(stmts)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, filepath.Join(root, "ops/clickhouse/chdb/apply.py"), file).Output()
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
		what := "a migration statement"
		if res.Applied >= ddl {
			what = "the query of " + names[res.Applied-ddl]
		}
		t.Fatalf("ClickHouse %s refused %s:\n%s\nerror: %s", res.Version, what, res.Statement, res.Error)
	}
	t.Logf("ClickHouse %s (chdb) ran all %d dashboard queries", res.Version, len(names))
}
