package lineage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// TestChainReadModelOnCurrentClickHouse writes the processor's rows of every way a chain can
// break (lineagetest.Breaks) and of the scripted history into a current ClickHouse (chdb),
// each event twice, and requires the chain read model's queries to answer what the graph
// replayed from the same events holds. So what the reads rely on of the server (argMax and
// argMin over (occurred_at_ms, event_id) tuples, the defaults an ANY LEFT JOIN gives a side
// without a row, tuple IN) holds on the newest end of the supported range;
// TestChainBreaksInClickHouse proves the same reads on the 18.16 server.
func TestChainReadModelOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, recs, err := lineagetest.Breaks("brk", "proj-brk", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var evs []schemas.Event
	for _, r := range recs {
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	evs = append(evs, lineagetest.History()...)
	evs = append(evs, lineagetest.Gate()...)

	p := lineage.NewProcessor()
	g := lineage.New(0)
	rows := map[string][][]any{}
	// The items partition's state keeps the datasets of the projects; the write rules of the
	// labels and findings states are TestVerdictsOnlyFromTheGate's and the processor tests'.
	items := p.NewState(schemas.FamilyItems.Topic(), 0)
	for copy := range 2 {
		for i, ev := range evs {
			g.Apply(ev)
			var st any
			if ev.Family() == schemas.FamilyItems {
				st = items
			}
			out, err := p.Apply(st, runtime.Record{Topic: "t", Partition: 0, Offset: int64(copy*len(evs) + i), Event: ev})
			if ev.Meta().Producer == lineagetest.Forger {
				continue // refused (TestVerdictsOnlyFromTheGate)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Rows {
				rows[r.Table] = append(rows[r.Table], r.Values)
			}
		}
	}
	for _, tb := range p.Tables() {
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
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out == "" {
			lines = nil
		}
		slices.Sort(lines)
		return lines
	}
	sorted := func(lines []string) []string { slices.Sort(lines); return lines }
	num := func(f *float64) string {
		if f == nil {
			return "nil"
		}
		return fmt.Sprint(*f)
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	same := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s on ClickHouse %s:\n got %q\nwant %q", what, s.Version, got, want)
		}
	}

	// Every version's members, counted by the facts of their chains.
	counts := map[string]int{}
	var status []string
	for ref, v := range g.Versions {
		for _, m := range v.Members {
			l := g.Links(m)
			counts[fmt.Sprintf("%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d", ref.DatasetID, ref.Version, b(l.Ingested), b(l.Source), b(l.Hash),
				b(l.Labeled), b(l.Annotator), b(l.OfItem), b(l.Retracted), b(l.Reviewed), b(l.Rejected))]++
		}
		a, _ := g.Audit(ref)
		status = append(status, fmt.Sprintf("%s\t%s\t%d", ref.DatasetID, ref.Version, b(a.ManifestOK)))
	}
	var facts []string
	for k, n := range counts {
		facts = append(facts, fmt.Sprintf("%s\t%d", k, n))
	}
	same("chain facts", query(lineage.ChainFactsQuery), sorted(facts))
	same("version manifests", query(lineage.VersionStatusQuery), sorted(status))

	var runs []string
	for id, r := range g.Runs {
		for _, v := range r.Versions {
			runs = append(runs, id+"\t"+lineage.VersionID(v.DatasetID, v.Version))
		}
	}
	same("training runs", query(lineage.RunsQuery), sorted(runs))
	same("runs using ds-cars@2", query(lineage.RunsUsingQuery, "ds-cars@2"), []string{"run-1"})
	same("fixes of ds-cars@3", query(lineage.FixesQuery, "ds-cars@3"), []string{"f1"})
	same("datasets of proj-brk", query(lineage.ProjectDatasetsQuery, "proj-brk"), []string{"brk-ds"})
	same("datasets of proj-brk from the items", query(lineage.ProjectDatasetsFromItemsQuery, "proj-brk"), []string{"brk-ds"})

	// The gate's word on each version: verdicts (every check), overrides, runs at registration.
	for _, ref := range []lineage.VersionRef{{DatasetID: "ds-cars", Version: "1"}, {DatasetID: "ds-cars", Version: "2"}, {DatasetID: "ds-cars", Version: "3"}} {
		gt := g.Gate(ref)
		var verdicts, overrides, runs []string
		for _, v := range gt.Verdicts {
			var cols [9][]string
			for _, c := range v.Checks {
				for i, s := range []string{c.Target, c.Scope, fmt.Sprint(c.Threshold), num(c.Figure), num(c.Low), num(c.High), fmt.Sprint(c.Evidence), string(c.Status), c.Detail} {
					cols[i] = append(cols[i], s)
				}
			}
			line := fmt.Sprintf("%s\t%d\t%d\t%s\t%s\t%s\t%s", v.EventID, b(v.Certified), v.Sequence, v.Supersedes, v.ProjectID, strings.Join(v.TargetsVersions, ","), v.Reason)
			for _, c := range cols {
				line += "\t" + strings.Join(c, ",")
			}
			verdicts = append(verdicts, fmt.Sprintf("%s\t%d\t%d", line, v.OccurredAt, v.RecordedAt))
		}
		for _, o := range gt.Overrides {
			overrides = append(overrides, fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%d", o.EventID, o.ProjectID, o.Reason, o.Producer, o.OccurredAt, o.RecordedAt))
		}
		for _, r := range gt.Runs {
			runs = append(runs, fmt.Sprintf("%s\t%d", r.RunID, r.RegisteredAt))
		}
		got := query(`SELECT event_id, v_certified, v_sequence, v_supersedes, v_project_id, arrayStringConcat(v_targets_versions, ','), v_reason,
       arrayStringConcat(v_target, ','), arrayStringConcat(v_scope, ','), arrayStringConcat(arrayMap(x -> toString(x), v_threshold), ','),
       arrayStringConcat(arrayMap(x -> ifNull(toString(x), 'nil'), v_figure), ','), arrayStringConcat(arrayMap(x -> ifNull(toString(x), 'nil'), v_low), ','),
       arrayStringConcat(arrayMap(x -> ifNull(toString(x), 'nil'), v_high), ','), arrayStringConcat(arrayMap(x -> toString(x), v_evidence), ','),
       arrayStringConcat(v_status, ','), arrayStringConcat(v_detail, ','), v_occurred_at_ms, v_recorded_at_ms
FROM (`+lineage.VerdictsQuery+`)`, ref.DatasetID, ref.Version)
		same("verdicts on "+ref.Version, got, sorted(verdicts))
		same("overrides of "+ref.Version, query(lineage.OverridesQuery, ref.DatasetID, ref.Version), sorted(overrides))
		same("runs registered on "+ref.Version, query(lineage.RunsRegisteredQuery, lineage.VersionID(ref.DatasetID, ref.Version), ref.DatasetID, ref.Version), sorted(runs))
	}

	// One version's head and chains, the latter as the columns the verdict is read from.
	for _, ref := range []lineage.VersionRef{{DatasetID: "brk-ds", Version: "all"}, {DatasetID: "ds-cars", Version: "2"}, {DatasetID: "brk-ds", Version: "never-committed"}} {
		v, ok := g.Versions[ref]
		head := "0\t\t0\t"
		if ok {
			head = fmt.Sprintf("1\t%s\t%d\t%s", v.Parent, v.OccurredAt, v.ManifestDigest)
		}
		same("head of "+ref.Version, query(lineage.VersionHeadQuery, ref.DatasetID, ref.Version), []string{head})
		var chains []string
		if ok {
			for _, m := range v.Members {
				// The columns as SQL reads them: the review side is joined by label id, so a
				// review of a label never submitted shows (chainOf then ignores it).
				var sha, labelItem, annotator, verdict string
				var retracted bool
				it, l, r := g.Items[m.ItemID], g.Labels[m.LabelID], g.LatestReview(m.LabelID)
				if it != nil {
					sha = it.SHA256
				}
				if l != nil {
					labelItem, annotator, retracted = l.ItemID, l.AnnotatorID, l.Retracted
				}
				if r != nil {
					verdict = string(r.Verdict)
				}
				chains = append(chains, fmt.Sprintf("%s\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%d\t%s", m.ItemID, m.LabelID, b(it != nil), sha,
					b(l != nil), labelItem, annotator, b(retracted), b(r != nil), verdict))
			}
		}
		got := query(`SELECT item_id, label_id, ingested, item_sha256, labeled, label_item_id, label_annotator, is_retracted, reviewed, latest_verdict
FROM (`+lineage.VersionChainsQuery+`)`, ref.DatasetID, ref.Version, ref.DatasetID, ref.Version, ref.DatasetID, ref.Version, ref.DatasetID, ref.Version,
			ref.DatasetID, ref.Version, ref.DatasetID, ref.Version, ref.DatasetID, ref.Version, ref.DatasetID, ref.Version)
		same("chains of "+ref.Version, got, sorted(chains))
	}
}
