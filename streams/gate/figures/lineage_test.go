package figures

import (
	"context"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// TestLineageAsReadVersion holds Read's lineage completeness (chainFactsQuery, reduced to
// lineage.Links) to lineage.ReadVersion's, the chain read model's one reader, for every way a
// chain can break (lineagetest.Breaks: a one-member version each, the version of all of them
// and one whose manifest does not recompute) and for the scripted history's versions, written
// by the lineage processor through the broker into the 18.16 server.
func TestLineageAsReadVersion(t *testing.T) {
	cases, recs, err := lineagetest.Breaks("brk", "proj-brk", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	hist, err := lineagetest.HistoryRecords()
	if err != nil {
		t.Fatal(err)
	}
	e := testenv.Stack(t, 3, testenv.MigratedDatabase)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lineagetest.Produce(ctx, e.Client, e.Kafka, append(recs, hist...)); err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.Replay(ctx, lineage.NewProcessor(), e.Kafka, runtime.ClickHouseSink(e.Conn), time.Time{}); err != nil {
		t.Fatal(err)
	}
	refs := []lineage.VersionRef{{DatasetID: "brk-ds", Version: "all"}, {DatasetID: "brk-ds", Version: "bad-manifest"},
		{DatasetID: lineagetest.Dataset, Version: "1"}, {DatasetID: lineagetest.Dataset, Version: "2"}, {DatasetID: lineagetest.Dataset, Version: "3"}}
	for _, c := range cases {
		refs = append(refs, lineage.VersionRef{DatasetID: "brk-ds", Version: c.Version})
	}
	complete := 0
	for _, ref := range refs {
		v, err := lineage.ReadVersion(ctx, e.Conn, ref)
		if err != nil {
			t.Fatalf("%v: %v", ref, err)
		}
		var want int64
		for _, m := range v.Members {
			if len(m.Missing) == 0 {
				want++
			}
		}
		r := reader{conn: e.Conn, req: Request{DatasetID: ref.DatasetID, Version: ref.Version}}
		var f gate.Figures
		if err := r.lineage(ctx, &f); err != nil {
			t.Fatalf("%v: %v", ref, err)
		}
		if f.LineageComplete != want {
			t.Errorf("%s@%s: %d complete members, lineage.ReadVersion says %d of %d", ref.DatasetID, ref.Version, f.LineageComplete, want, len(v.Members))
		}
		if want > 0 {
			complete++
		}
	}
	// The comparison means something only if both outcomes occur.
	if complete == 0 || complete == len(refs) {
		t.Errorf("%d of %d versions have a complete member", complete, len(refs))
	}
	r := reader{conn: e.Conn, req: Request{DatasetID: "brk-ds", Version: "never-committed"}}
	var f gate.Figures
	if err := r.lineage(ctx, &f); err != nil || f.LineageComplete != 0 {
		t.Errorf("a version never committed: %d complete members, %v", f.LineageComplete, err)
	}
}
