package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
)

// TestGrafanaSQLOnCurrentClickHouse runs every ClickHouse query of the Grafana dashboards on
// a current ClickHouse embedded in Python (chdb), after every migration: the compose stack
// pins a current release, and so does the Grafana plugin. Grafana's macros are expanded to
// plain SQL first.
func TestGrafanaSQLOnCurrentClickHouse(t *testing.T) {
	var queries []chdb.Query
	timeFilter := regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)
	files, _ := filepath.Glob(filepath.Join(root, "ops/grafana/dashboards/*.json"))
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
				queries = append(queries, chdb.Query{
					Name: "the query of " + filepath.Base(f) + ": " + p.Title,
					SQL:  timeFilter.ReplaceAllString(tg.RawSQL, "$1 >= now() - INTERVAL 7 DAY AND $1 <= now()"),
				})
			}
		}
	}
	if len(queries) == 0 {
		t.Fatal("no ClickHouse queries in the dashboards")
	}
	res := chdb.AfterMigrations(t, queries)
	t.Logf("ClickHouse %s (chdb) ran all %d dashboard queries", res.Version, len(queries))
}
