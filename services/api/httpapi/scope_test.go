package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/lineage"
)

// TestParties: a vendor sees an annotator or a cohort only when every label behind it is its
// party's; one that also labeled for another vendor or in house, or that has no labels, is
// not its.
func TestParties(t *testing.T) {
	ps := &parties{annotators: map[string][]party{}, cohorts: map[string][]party{}}
	add := func(annotator, vendor, cohort string) {
		p := party{vendor: vendor, cohort: cohort}
		ps.annotators[annotator] = append(ps.annotators[annotator], p)
		if !slices.Contains(ps.cohorts[cohort], p) {
			ps.cohorts[cohort] = append(ps.cohorts[cohort], p)
		}
	}
	add("a1", "acme", "crowd")
	add("a2", "acme", "crowd")
	add("a2", "acme", "night")
	add("g1", "globex", "g-crowd")
	add("m1", "acme", "mixed")
	add("m2", "globex", "mixed")
	add("x1", "acme", "crowd")
	add("x1", "globex", "g-crowd") // one annotator id under two vendors
	add("h1", "", "experts")
	add("h2", "", "crowd") // an in-house label in acme's cohort name
	acme := scopeOf(t, "acme - role=vendor projects=p vendor=acme")
	acmeCrowd := scopeOf(t, "acme-crowd - role=vendor projects=p vendor=acme cohorts=crowd")
	globex := scopeOf(t, "globex - role=vendor projects=p vendor=globex")
	check := func(name string, seen func(string) bool, all, want []string) {
		t.Helper()
		var got []string
		for _, x := range all {
			if seen(x) {
				got = append(got, x)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", name, got, want)
		}
	}
	annotators := []string{"a1", "a2", "g1", "m1", "m2", "x1", "h1", "h2", "nobody"}
	cohorts := []string{"crowd", "night", "g-crowd", "mixed", "experts", "none"}
	check("acme's annotators", func(a string) bool { return ps.seesAnnotator(acme, a) }, annotators, []string{"a1", "a2", "m1"})
	check("acme's cohorts", func(c string) bool { return ps.seesCohort(acme, c) }, cohorts, []string{"night"})
	check("acme-crowd's annotators", func(a string) bool { return ps.seesAnnotator(acmeCrowd, a) }, annotators, []string{"a1"})
	check("acme-crowd's cohorts", func(c string) bool { return ps.seesCohort(acmeCrowd, c) }, cohorts, nil)
	check("globex's annotators", func(a string) bool { return ps.seesAnnotator(globex, a) }, annotators, []string{"g1", "m2"})
	check("globex's cohorts", func(c string) bool { return ps.seesCohort(globex, c) }, cohorts, []string{"g-crowd"})
	var none *parties
	if none.seesAnnotator(acme, "a1") || none.seesCohort(acme, "crowd") {
		t.Error("no parties read: a vendor sees something")
	}
}

// TestOwnParty: a vendor's lineage keeps the member chains of its own labels, without gold,
// and lists only their cohorts, annotators and reviewers; the counts stay the version's.
func TestOwnParty(t *testing.T) {
	v := lineage.VersionLineage{
		Members: []lineage.MemberChain{
			{ItemID: "i1", LabelID: "l1", AnnotatorID: "a1", Cohort: "crowd", Vendor: "acme", ReviewerID: "r1", Gold: &lineage.GoldCheck{}},
			{ItemID: "i2", LabelID: "l2", AnnotatorID: "g1", Cohort: "g-crowd", Vendor: "globex", ReviewerID: "r2"},
			{ItemID: "i3", LabelID: "l3", AnnotatorID: "h1", Cohort: "experts", ReviewerID: "r3"},
			{ItemID: "i4", LabelID: "l4", Missing: []string{lineage.MissingLabel}},
			{ItemID: "i5", LabelID: "l5", AnnotatorID: "a2", Cohort: "night", Vendor: "acme"},
		},
		MemberCount: 5, CompleteCount: 3,
		Cohorts:    []string{"crowd", "experts", "g-crowd", "night"},
		Annotators: []string{"a1", "a2", "g1", "h1"},
		Reviewers:  []string{"r1", "r2", "r3"},
	}
	ownParty(&v, scopeOf(t, "acme - role=vendor projects=p vendor=acme"))
	var labels []string
	for _, m := range v.Members {
		labels = append(labels, m.LabelID)
		if m.Gold != nil {
			t.Errorf("member %s keeps its gold", m.LabelID)
		}
	}
	if !slices.Equal(labels, []string{"l1", "l5"}) || !slices.Equal(v.Cohorts, []string{"crowd", "night"}) || !slices.Equal(v.Annotators, []string{"a1", "a2"}) ||
		!slices.Equal(v.Reviewers, []string{"r1"}) || v.MemberCount != 5 || v.CompleteCount != 3 {
		t.Errorf("acme's lineage: members %v, cohorts %v, annotators %v, reviewers %v, counts %d/%d", labels, v.Cohorts, v.Annotators, v.Reviewers, v.CompleteCount, v.MemberCount)
	}
}

// fakeConn answers partiesQuery with one row per call and counts the calls; every other method
// of driver.Conn is left nil (unused here).
type fakeConn struct {
	driver.Conn
	queries map[string]int
}

func (c *fakeConn) Query(_ context.Context, _ string, args ...any) (driver.Rows, error) {
	project := args[0].(string)
	c.queries[project]++
	return &fakeRows{row: []string{"a-" + project, "crowd", "acme"}}, nil
}

type fakeRows struct {
	driver.Rows
	row  []string
	done bool
}

func (r *fakeRows) Next() bool {
	next := !r.done
	r.done = true
	return next
}

func (r *fakeRows) Scan(dest ...any) error {
	for i, d := range dest {
		*d.(*string) = r.row[i]
	}
	return nil
}

func (r *fakeRows) Err() error   { return nil }
func (r *fakeRows) Close() error { return nil }

// TestPartyCache: a project's parties are read once per ttl, however many views ask, and
// anew once it has passed; without a ttl, every time.
func TestPartyCache(t *testing.T) {
	conn := &fakeConn{queries: map[string]int{}}
	now := time.Unix(1000, 0)
	r := NewReader(conn, nil)
	r.now = func() time.Time { return now }
	r.parties.ttl = 2 * time.Second
	acme := scopeOf(t, "acme - role=vendor projects=p,q vendor=acme")
	ask := func(project string) {
		t.Helper()
		v, err := r.View(context.Background(), Filter{Project: project, WindowText: "all"}, acme)
		if err != nil || !v.seesAnnotator("a-"+project) {
			t.Fatalf("view of %s: %v, sees a-%s %v", project, err, project, err == nil && v.seesAnnotator("a-"+project))
		}
	}
	for range 5 {
		ask("p")
	}
	ask("q")
	now = now.Add(1900 * time.Millisecond)
	ask("p")
	if conn.queries["p"] != 1 || conn.queries["q"] != 1 {
		t.Fatalf("reads within the ttl: %v, want one per project", conn.queries)
	}
	now = now.Add(200 * time.Millisecond)
	ask("p")
	if conn.queries["p"] != 2 || len(r.parties.m) != 1 {
		t.Fatalf("after the ttl: %v reads, %d cached (q's entry expired too)", conn.queries, len(r.parties.m))
	}
	r.parties.ttl = 0
	ask("p")
	ask("p")
	if conn.queries["p"] != 4 {
		t.Errorf("without a ttl: %d reads of p, want every time", conn.queries["p"])
	}
}

// TestConfusionScope: a vendor reads the confusion of the project ("all") and of its own
// cohorts, vendor and annotators; another party's scope is refused (scope.party) before any
// confusion is read, as is a scope that names nothing.
func TestConfusionScope(t *testing.T) {
	conn := &fakeConn{queries: map[string]int{}}
	store := access.NewStore(mustRegistry(t, "acme "+access.HashToken("tok-acme")+" role=vendor projects=p vendor=acme\n"))
	srv, err := New(Config{Conn: conn, Principals: store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	// The fake's parties of p: annotator a-p, in cohort crowd of vendor acme.
	for _, scope := range []string{"cohort:night", "vendor:globex", "annotator:someone-else", "cohort:"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/confusion?"+url.Values{"scope": {scope}}.Encode(), nil)
		req.Header.Set("Authorization", "Bearer tok-acme")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var p Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		want, rule := http.StatusForbidden, RuleParty
		if scope == "cohort:" {
			want, rule = http.StatusBadRequest, ""
		}
		if rec.Code != want || p.Rule != rule {
			t.Errorf("scope %s as acme: %d %+v, want %d %q", scope, rec.Code, p, want, rule)
		}
	}
	if conn.queries["p"] == 0 {
		t.Error("the refusals were decided without reading p's parties")
	}
}

func mustRegistry(t *testing.T, text string) *access.Registry {
	t.Helper()
	r, err := access.Parse("test", text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
