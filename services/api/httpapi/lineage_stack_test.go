package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// produceBreaks writes lineagetest.Breaks for project straight to the stack's broker (some of
// its events are ones the gateway refuses, as an older producer could have written them) and
// returns the cases.
func produceBreaks(t *testing.T, s *stack, prefix, project string) []lineagetest.Break {
	t.Helper()
	cases, recs, err := lineagetest.Breaks(prefix, project, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lineagetest.Produce(ctx, testenv.KafkaClient(t, s.k), s.k, recs); err != nil {
		t.Fatal(err)
	}
	return cases
}

// auditVersion audits a version as assay audit does (the graph replayed from the stack's log,
// compared with the ledger and lineage tables) and returns the lineage it judged and whether
// the audit passes.
func auditVersion(t *testing.T, ctx context.Context, s *stack, g *lineage.Graph, ref lineage.VersionRef) (lineage.VersionLineage, auditor.Report) {
	t.Helper()
	a, err := g.Audit(ref)
	if err != nil {
		t.Fatalf("audit %s@%s: %v", ref.DatasetID, ref.Version, err)
	}
	drift, err := auditor.CompareLedger(ctx, s.conn, g, ref)
	if err != nil {
		t.Fatal(err)
	}
	lin, err := auditor.CompareLineage(ctx, s.conn, g, ref)
	if err != nil {
		t.Fatal(err)
	}
	rep := auditor.NewReport(a, "", 0, true, append(drift, lin...))
	v := a.VersionLineage
	for i := range v.Members {
		v.Members[i].Gold = nil // the audit's own
	}
	return v, rep
}

// TestLineageBreaksOverPipeline runs every way a chain can break (lineagetest.Breaks) through
// the real broker, the ledger and lineage processors and ClickHouse, and requires the API to
// give each version the verdict the audit gives it on the same log: the same chains and
// missing links in /v1/lineage, a version complete in the API exactly when assay audit passes
// it, and lineage completeness in /v1/kpis equal to the audit's count. The same cases run
// against the graph alone (streams/lineage TestChainBreaks).
func TestLineageBreaksOverPipeline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	const project = "proj-breaks"
	cases := produceBreaks(t, s, "apib", project)
	want := lineagetest.BreakCompleteness(cases)
	var sum httpapi.Summary
	waitFor(t, 2*time.Minute, "every break case in the lineage tables", func() (bool, string) {
		get(t, s.api.URL, "/v1/kpis"+q("project", project), &sum)
		l := sum.Lineage
		return l != nil && l.Completeness == want, fmt.Sprintf("%+v, want %+v", l, want)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, _, err := auditor.Rebuild(ctx, s.k, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Completeness(project); got != sum.Lineage.Completeness {
		t.Errorf("completeness: API %+v, audit's replay %+v", sum.Lineage.Completeness, got)
	}

	versions := []string{"all", "bad-manifest"}
	for _, c := range cases {
		versions = append(versions, c.Version)
	}
	passing := 0
	for _, v := range versions {
		ref := lineage.VersionRef{DatasetID: "apib-ds", Version: v}
		var lin httpapi.Lineage
		if code := get(t, s.api.URL, "/v1/lineage/"+url.PathEscape(ref.DatasetID)+"/"+url.PathEscape(v), &lin); code != 200 {
			t.Fatalf("lineage of %s: %d", v, code)
		}
		audited, rep := auditVersion(t, ctx, s, g, ref)
		if !reflect.DeepEqual(lin.VersionLineage, audited) {
			t.Errorf("%s: API\n %+v\naudit\n %+v", v, lin.VersionLineage, audited)
		}
		if lin.Complete != rep.Pass {
			t.Errorf("%s: complete in the API %v, audit passes %v (drift %v)", v, lin.Complete, rep.Pass, rep.Drift)
		}
		if rep.Pass {
			passing++
		}
		if i := slices.IndexFunc(cases, func(c lineagetest.Break) bool { return c.Version == v }); i >= 0 {
			if len(lin.Members) != 1 || !slices.Equal(lin.Members[0].Missing, cases[i].Missing) {
				t.Errorf("%s: members %+v, want one missing %q", v, lin.Members, cases[i].Missing)
			}
		}
	}
	if passing != sum.Lineage.CompleteVersions || sum.Lineage.Versions != len(versions) {
		t.Errorf("the audit passes %d of %d versions; /v1/kpis counts %d of %d complete", passing, len(versions), sum.Lineage.CompleteVersions, sum.Lineage.Versions)
	}
	t.Logf("lineage completeness %+v: %d of %d versions pass the audit", sum.Lineage.Completeness, passing, len(versions))
}
