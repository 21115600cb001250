package lineage_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

func build(asOf int64, shuffle bool) *lineage.Graph {
	evs := lineagetest.History()
	if shuffle {
		rand.New(rand.NewSource(7)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	}
	g := lineage.New(asOf)
	for _, ev := range evs {
		g.Apply(ev)
	}
	// At-least-once delivery: every event again must change nothing.
	for _, ev := range evs {
		if g.Apply(ev) {
			panic("duplicate applied")
		}
	}
	return g
}

func ref(v string) lineage.VersionRef {
	return lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: v}
}

func TestAuditVersions(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		g := build(0, shuffle)
		tests := []struct {
			version    string
			complete   bool
			missing    map[string][]string // by label id
			cohorts    []string
			annotators []string
			runs       []string
		}{
			{"1", true, map[string][]string{}, []string{"cohort-a", "cohort-b"}, []string{"ann-a", "ann-b"}, []string{}},
			{"2", false, map[string][]string{"l3": {lineage.ReviewRejected}}, []string{"cohort-a", "cohort-b"}, []string{"ann-a", "ann-b", "ann-c"}, []string{"run-1"}},
			{"3", true, map[string][]string{}, []string{"cohort-a", "cohort-b", "cohort-c"}, []string{"ann-a", "ann-b", "ann-c", "ann-d"}, []string{}},
		}
		for _, tc := range tests {
			a, err := g.Audit(ref(tc.version))
			if err != nil {
				t.Fatal(err)
			}
			if a.Complete != tc.complete || !a.ManifestOK {
				t.Errorf("v%s: complete %v manifest ok %v, want %v true", tc.version, a.Complete, a.ManifestOK, tc.complete)
			}
			got := map[string][]string{}
			for _, m := range a.Members {
				if len(m.Missing) > 0 {
					got[m.LabelID] = m.Missing
				}
			}
			if !reflect.DeepEqual(got, tc.missing) {
				t.Errorf("v%s: missing %v, want %v", tc.version, got, tc.missing)
			}
			if !reflect.DeepEqual(a.Cohorts, tc.cohorts) || !reflect.DeepEqual(a.Annotators, tc.annotators) || !reflect.DeepEqual(a.TrainingRuns, tc.runs) {
				t.Errorf("v%s: cohorts %v annotators %v runs %v", tc.version, a.Cohorts, a.Annotators, a.TrainingRuns)
			}
			if a.GoldChecked != 2 || a.GoldMatched != 1 {
				t.Errorf("v%s: gold %d/%d, want 1/2", tc.version, a.GoldMatched, a.GoldChecked)
			}
		}
		a1, _ := g.Audit(ref("1"))
		if a1.Members[0].PreLabelModel != "detector@1.0" || a1.Members[0].Source != "cam-north" || a1.Members[1].Verdict != "correct" {
			t.Errorf("chain of v1: %+v", a1.Members)
		}
	}
}

func TestAuditAsOf(t *testing.T) {
	// Minute 35: version 2 is committed but l4 was not reviewed yet; version 3 does not exist.
	g := build(lineagetest.At(35), false)
	a, err := g.Audit(ref("2"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"l3": {lineage.ReviewRejected}, "l4": {lineage.MissingReview}}
	got := map[string][]string{}
	for _, m := range a.Members {
		if len(m.Missing) > 0 {
			got[m.LabelID] = m.Missing
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("missing as of minute 35: %v, want %v", got, want)
	}
	var nf lineage.ErrVersionNotFound
	if _, err := g.Audit(ref("3")); !errors.As(err, &nf) {
		t.Errorf("v3 as of minute 35: %v, want ErrVersionNotFound", err)
	}
}

func TestMissingLinks(t *testing.T) {
	g := lineage.New(0)
	g.Apply(&schemas.LabelSubmitted{Envelope: schemas.Envelope{EventID: "e1", OccurredAt: 1}, LabelID: "lx", ItemID: "other", QuestionID: "q"})
	g.Apply(&schemas.LabelRetracted{Envelope: schemas.Envelope{EventID: "e2", OccurredAt: 2}, LabelID: "lx", ItemID: "other", Reason: "typo"})
	c := g.Chain(schemas.Member{ItemID: "ix", LabelID: "lx"})
	want := []string{lineage.MissingItem, lineage.MissingAnnotator, lineage.LabelOtherItem, lineage.LabelRetracted, lineage.MissingReview}
	if !reflect.DeepEqual(c.Missing, want) {
		t.Errorf("missing %v, want %v", c.Missing, want)
	}
	c = g.Chain(schemas.Member{ItemID: "iy", LabelID: "ly"})
	if want := []string{lineage.MissingItem, lineage.MissingLabel, lineage.MissingReview}; !reflect.DeepEqual(c.Missing, want) {
		t.Errorf("missing %v, want %v", c.Missing, want)
	}
}

func h(s string) []byte { x := sha256.Sum256([]byte(s)); return x[:] }

func cat(a, b []byte) []byte { return append(append([]byte{}, a...), b...) }

func TestMerkleRootDefinition(t *testing.T) {
	hexOf := func(b []byte) string { return "sha256:" + hex.EncodeToString(b) }
	a, b, c := "aa\tl1", "bb\tl2", "cc\tl3"
	tests := []struct {
		name   string
		leaves []lineage.Leaf
		want   string
	}{
		{"empty", nil, hexOf(h(""))},
		{"one", []lineage.Leaf{{"aa", "l1"}}, hexOf(h(a))},
		{"two, order free", []lineage.Leaf{{"bb", "l2"}, {"aa", "l1"}}, hexOf(h(string(cat(h(a), h(b)))))},
		{"three: odd promoted", []lineage.Leaf{{"cc", "l3"}, {"aa", "l1"}, {"bb", "l2"}}, hexOf(h(string(cat(h(string(cat(h(a), h(b)))), h(c)))))},
		{"duplicates collapse", []lineage.Leaf{{"aa", "l1"}, {"aa", "l1"}}, hexOf(h(a))},
	}
	for _, tc := range tests {
		if got := lineage.MerkleRoot(tc.leaves); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Version 1 of the history, recomputed by hand from the definition.
	g := build(0, false)
	a1, _ := g.Audit(ref("1"))
	l1, l2 := lineagetest.SHA("i1")+"\tl1", lineagetest.SHA("i2")+"\tl2"
	if l2 < l1 {
		l1, l2 = l2, l1
	}
	if want := hexOf(h(string(cat(h(l1), h(l2))))); a1.MerkleRoot != want {
		t.Errorf("v1 root %s, want %s", a1.MerkleRoot, want)
	}
}

func TestFindingImpactAndRemediation(t *testing.T) {
	g := build(0, true)
	now := lineagetest.At(100)
	f1, err := g.Impact("f1", now)
	if err != nil {
		t.Fatal(err)
	}
	want := lineage.FindingImpact{FindingID: "f1", Severity: "high", Run: "run-1", Versions: []string{"ds-cars@2"},
		Cohorts: []string{"cohort-a", "cohort-b"}, Annotators: []string{"ann-a", "ann-c"}, ReportedAt: lineagetest.At(50),
		ShippedAt: lineagetest.At(65), Fix: "ds-cars@3", RemediationMS: 15 * 60 * 1000}
	if !reflect.DeepEqual(f1, want) {
		t.Errorf("f1 impact\n got %+v\nwant %+v", f1, want)
	}
	open := g.OpenFindings(now)
	if len(open) != 1 || open[0].FindingID != "f2" || open[0].OpenAgeMS != 30*60*1000 || open[0].RemediationMS != -1 ||
		!reflect.DeepEqual(open[0].Versions, []string{"ds-cars@1", "ds-cars@2", "ds-cars@3"}) || !reflect.DeepEqual(open[0].Cohorts, []string{"cohort-b"}) {
		t.Errorf("open findings: %+v", open)
	}
	// Before the shipment, f1 is open.
	g = build(lineagetest.At(60), false)
	if open := g.OpenFindings(lineagetest.At(60)); len(open) != 1 || open[0].FindingID != "f1" || open[0].OpenAgeMS != 10*60*1000 {
		t.Errorf("open findings as of minute 60: %+v", open)
	}
	if _, err := g.Impact("nope", now); err == nil {
		t.Error("unknown finding: no error")
	}
}

func TestConflictingFactsResolveIndependentlyOfOrder(t *testing.T) {
	first := &schemas.DatasetVersionCommitted{Envelope: schemas.Envelope{EventID: "a", OccurredAt: 10}, DatasetID: "d", Version: "1",
		Members: []schemas.Member{{ItemID: "i1", LabelID: "l1"}}}
	second := &schemas.DatasetVersionCommitted{Envelope: schemas.Envelope{EventID: "b", OccurredAt: 20}, DatasetID: "d", Version: "1",
		Members: []schemas.Member{{ItemID: "i2", LabelID: "l2"}}}
	oldLabel := &schemas.LabelSubmitted{Envelope: schemas.Envelope{EventID: "c", OccurredAt: 10}, LabelID: "l1", ItemID: "i1", AnnotatorID: "old"}
	newLabel := &schemas.LabelSubmitted{Envelope: schemas.Envelope{EventID: "d", OccurredAt: 20}, LabelID: "l1", ItemID: "i1", AnnotatorID: "new"}
	for _, order := range [][]schemas.Event{{first, second, oldLabel, newLabel}, {second, first, newLabel, oldLabel}} {
		g := lineage.New(0)
		for _, ev := range order {
			g.Apply(ev)
		}
		v := g.Versions[lineage.VersionRef{DatasetID: "d", Version: "1"}]
		if v.EventID != "a" || g.Labels["l1"].AnnotatorID != "new" {
			t.Errorf("order %v: version from %s, annotator %s; want the earliest commit and the latest label", order, v.EventID, g.Labels["l1"].AnnotatorID)
		}
	}
}

func TestAuditFindingsAndCompleteness(t *testing.T) {
	g := build(0, true)
	a2, _ := g.Audit(ref("2"))
	var ids []string
	for _, f := range a2.Findings {
		ids = append(ids, f.FindingID)
	}
	if !reflect.DeepEqual(ids, []string{"f1", "f2"}) || a2.Findings[1].OpenAgeMS != 0 || len(a2.Fixes) != 0 {
		t.Errorf("v2 findings %v (f2 age %d at the log's end), fixes %v", ids, a2.Findings[1].OpenAgeMS, a2.Fixes)
	}
	a3, _ := g.Audit(ref("3"))
	if !reflect.DeepEqual(a3.Fixes, []string{"f1"}) {
		t.Errorf("v3 fixes %v, want [f1]", a3.Fixes)
	}
	// Members: 2 of v1, 4 of v2 (l3 rejected), 4 of v3.
	want := lineage.Completeness{Versions: 3, CompleteVersions: 2, Members: 10, CompleteMembers: 9, Runs: 1, CompleteRuns: 0}
	if got := g.Completeness(""); got != want {
		t.Errorf("completeness %+v, want %+v", got, want)
	}
	if g.Now() != lineagetest.At(70) || build(lineagetest.At(35), false).Now() != lineagetest.At(35) {
		t.Errorf("Now %d", g.Now())
	}
}
