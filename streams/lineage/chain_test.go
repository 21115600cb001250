package lineage_test

import (
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// breakGraph folds the records of lineagetest.Breaks into a graph, decoded as the audit's
// replay decodes them, in a shuffled order and twice (at-least-once delivery).
func breakGraph(t *testing.T, seed int64) ([]lineagetest.Break, *lineage.Graph) {
	t.Helper()
	cases, recs, err := lineagetest.Breaks("brk", "proj-brk", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rand.New(rand.NewSource(seed)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	g := lineage.New(0)
	for range 2 {
		for _, r := range recs {
			ev, err := schemas.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			g.Apply(ev)
		}
	}
	return cases, g
}

// TestChainBreaks: every way a chain can break, judged by the in-memory model. The same
// cases run against the ClickHouse read model (TestChainBreaksInClickHouse) and the API over
// the real stack (services/api/httpapi TestLineageBreaksOverPipeline).
func TestChainBreaks(t *testing.T) {
	for seed := range int64(3) {
		cases, g := breakGraph(t, seed)
		for _, c := range cases {
			a, err := g.Audit(lineage.VersionRef{DatasetID: "brk-ds", Version: c.Version})
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if len(a.Members) != 1 || a.Members[0].ItemID != c.Member.ItemID || !reflect.DeepEqual(a.Members[0].Missing, c.Missing) {
				t.Errorf("seed %d, %s: chain %+v, want missing %q", seed, c.Name, a.Members, c.Missing)
			}
			if a.Complete != (len(c.Missing) == 0) || !a.ManifestOK {
				t.Errorf("seed %d, %s: complete %v manifest %v", seed, c.Name, a.Complete, a.ManifestOK)
			}
		}
		bad, err := g.Audit(lineage.VersionRef{DatasetID: "brk-ds", Version: "bad-manifest"})
		if err != nil || bad.ManifestOK || bad.Complete || bad.CompleteCount != 1 {
			t.Errorf("bad manifest: ok %v complete %v (%d of 1 members), %v; want an incomplete version of a complete member", bad.ManifestOK, bad.Complete, bad.CompleteCount, err)
		}
		want := lineagetest.BreakCompleteness(cases)
		if got := g.Completeness(""); got != want {
			t.Errorf("seed %d: completeness %+v, want %+v", seed, got, want)
		}
		if got := g.Completeness("proj-brk"); got != want {
			t.Errorf("seed %d: completeness of the project %+v, want %+v", seed, got, want)
		}
		if got := g.Completeness("another-project"); got != (lineage.Completeness{}) {
			t.Errorf("seed %d: completeness of another project %+v, want nothing", seed, got)
		}
	}
}

// TestLinksMissing: the rule itself, link by link.
func TestLinksMissing(t *testing.T) {
	full := lineage.Links{Ingested: true, Source: true, Hash: true, Labeled: true, Annotator: true, OfItem: true, Reviewed: true}
	tests := []struct {
		name string
		edit func(*lineage.Links)
		want []string
	}{
		{"full chain", func(*lineage.Links) {}, nil},
		{"no ingest", func(l *lineage.Links) { l.Ingested, l.Source, l.Hash = false, false, false }, []string{lineage.MissingItem}},
		{"no source", func(l *lineage.Links) { l.Source = false }, []string{lineage.MissingSource}},
		{"no hash", func(l *lineage.Links) { l.Hash = false }, []string{lineage.MissingHash}},
		{"no label", func(l *lineage.Links) { *l = lineage.Links{Ingested: true, Source: true, Hash: true, Reviewed: true} }, []string{lineage.MissingLabel, lineage.MissingReview}},
		{"unknown annotator", func(l *lineage.Links) { l.Annotator = false }, []string{lineage.MissingAnnotator}},
		{"label of another item", func(l *lineage.Links) { l.OfItem = false }, []string{lineage.LabelOtherItem}},
		{"retracted", func(l *lineage.Links) { l.Retracted = true }, []string{lineage.LabelRetracted}},
		{"no review", func(l *lineage.Links) { l.Reviewed = false }, []string{lineage.MissingReview}},
		{"rejected", func(l *lineage.Links) { l.Rejected = true }, []string{lineage.ReviewRejected}},
		{"everything", func(l *lineage.Links) {
			*l = lineage.Links{Labeled: true, Retracted: true, Reviewed: true, Rejected: true}
		},
			[]string{lineage.MissingItem, lineage.MissingAnnotator, lineage.LabelOtherItem, lineage.LabelRetracted, lineage.ReviewRejected}},
	}
	for _, tc := range tests {
		l := full
		tc.edit(&l)
		if got := l.Missing(); !reflect.DeepEqual(got, tc.want) || l.Complete() != (tc.want == nil) {
			t.Errorf("%s: missing %q (complete %v), want %q", tc.name, got, l.Complete(), tc.want)
		}
	}
}
