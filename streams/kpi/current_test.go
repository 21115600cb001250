package kpi_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// TestProfilesAndConfusionOnCurrentClickHouse writes the agreement and accuracy processors'
// rows of a workload, every version of every key as the runner would, into a current
// ClickHouse (chdb), and requires ReadAgreement's profile queries and ReadConfusion's query
// to answer what the processors' states hold: what they rely on of the server (FINAL keeping
// the latest version, GROUP BY and ORDER BY over arrays, Date windows) holds on the newest end
// of the supported range; TestKPIEndToEnd proves the same reads on the 18.16 server.
func TestProfilesAndConfusionOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := annotation.DefaultConfig("chdb", 3)
	cfg.Items = 300
	w := annotation.Generate(cfg)
	agr, acc := kpi.NewAgreement(), kpi.NewAccuracy()
	agrState, accState := agr.NewState("labels", 0), acc.NewState("labels", 0)
	rows := map[string][][]any{}
	for i, ev := range w.Events {
		if ev.Family() != schemas.FamilyLabels {
			continue
		}
		for _, p := range []struct {
			p     runtime.Processor
			state any
		}{{agr, agrState}, {acc, accState}} {
			out, err := p.p.Apply(p.state, runtime.Record{Topic: "labels", Offset: int64(i), Event: ev})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Rows {
				vals := slices.Clone(r.Values)
				for j, v := range vals {
					if d, ok := v.(time.Time); ok { // Date columns: chdb's JSON insert takes the day's text
						vals[j] = d.Format(time.DateOnly)
					}
				}
				rows[r.Table] = append(rows[r.Table], vals)
			}
		}
	}
	for _, tb := range append(agr.Tables(), acc.Tables()...) {
		if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
			t.Fatal(err)
		}
	}
	query := func(q string, args ...any) []string {
		t.Helper()
		sql, err := chdb.Bind(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Query(ctx, sql)
		if err != nil {
			t.Fatalf("ClickHouse %s refused:\n%s\n%v", s.Version, sql, err)
		}
		if out == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	same := func(what string, got, want []string) {
		t.Helper()
		if len(want) == 0 {
			t.Fatalf("%s: nothing to compare", what)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s on ClickHouse %s:\n got %q\nwant %q", what, s.Version, got, want)
		}
	}

	// Profiles, all time and over a window of every day, in the queries' order.
	as := agrState.(*kpi.AgreementState)
	var profiles []string
	for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("crowd"), kpi.CohortScope("experts")} {
		ps, err := as.Profiles(cfg.Project, cfg.Question, "nominal", scope)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps { // sorted by profile key, as the queries order them
			var vals, counts []string
			for i, v := range p.Values {
				if i > 0 && v == p.Values[i-1] {
					n := len(counts) - 1
					var c int
					fmt.Sscan(counts[n], &c)
					counts[n] = fmt.Sprint(c + 1)
					continue
				}
				vals, counts = append(vals, "'"+string(v)+"'"), append(counts, "1")
			}
			profiles = append(profiles, fmt.Sprintf("%s\t%s\tnominal\t%s\t[%s]\t[%s]\t%d", cfg.Project, cfg.Question, scope,
				strings.Join(vals, ","), strings.Join(counts, ","), p.Units))
		}
	}
	slices.SortStableFunc(profiles, func(a, b string) int { // scope, then profile: already so within a scope
		return cmp.Compare(strings.Split(a, "\t")[3], strings.Split(b, "\t")[3])
	})
	where := []any{cfg.Project, cfg.Project, "", "", 1}
	cohortsAndAll := func(lines []string) []string {
		return slices.DeleteFunc(lines, func(l string) bool { s := strings.Split(l, "\t")[3]; return strings.HasPrefix(s, "vendor:") })
	}
	same("profiles, all time", cohortsAndAll(query(kpi.AgreementProfilesQuery, where...)), profiles)
	same("profiles, all time, from the days", cohortsAndAll(query(kpi.AgreementProfilesFromDaysQuery, where...)), profiles)
	same("profiles, every day", cohortsAndAll(query(kpi.AgreementProfilesWindowQuery, append([]any{"2026-01-01", "2105-12-31"}, where...)...)), profiles)
	if got := query(kpi.AgreementProfilesWindowQuery, append([]any{"2030-01-01", "2030-01-02"}, where...)...); len(got) != 0 {
		t.Errorf("profiles of a day without units: %q", got)
	}

	// The confusion of every scope of the question, most labels first.
	cs := accState.(*kpi.AccuracyState)
	type cell struct {
		scope, gold, label string
		n                  int64
	}
	var cells []cell
	for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("crowd"), kpi.CohortScope("experts")} {
		m := cs.Confusion(cfg.Project, cfg.Question, scope)
		for _, k := range slices.SortedFunc(maps.Keys(m), func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }) {
			if m[k] > 0 {
				cells = append(cells, cell{scope, k[0], k[1], m[k]})
			}
		}
	}
	slices.SortStableFunc(cells, func(a, b cell) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.scope, b.scope)) })
	var want, wantErrors []string
	for _, c := range cells {
		isErr := 0
		if c.gold != c.label {
			isErr = 1
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d", cfg.Project, cfg.Question, c.scope, c.gold, c.label, c.n, isErr)
		want = append(want, line)
		if isErr == 1 {
			wantErrors = append(wantErrors, line)
		}
	}
	notAnnotator := func(lines []string) []string {
		return slices.DeleteFunc(lines, func(l string) bool {
			s := strings.Split(l, "\t")[2]
			return strings.HasPrefix(s, "annotator:") || strings.HasPrefix(s, "vendor:")
		})
	}
	same("confusion", notAnnotator(query(kpi.ConfusionQuery, cfg.Project, cfg.Project, cfg.Question, cfg.Question, "", "", 0)), want)
	same("top confusions", notAnnotator(query(kpi.ConfusionQuery, cfg.Project, cfg.Project, cfg.Question, cfg.Question, "", "", 1)), wantErrors)
}
