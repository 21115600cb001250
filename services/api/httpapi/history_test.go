package httpapi

import (
	"testing"
	"time"

	"github.com/assay-data/assay/schemas/access"
)

func TestHistoryViews(t *testing.T) {
	h := newHistory(3, 3, time.Minute)
	now := time.Unix(1000, 0)
	all := unfiltered()
	a := EveryFigure(Filter{Project: "a", WindowText: "all"})
	b := EveryFigure(Filter{Project: "b", WindowText: "all"})
	c := EveryFigure(Filter{Project: "c", WindowText: "all"})

	// Only the unfiltered view is sampled until a client asks for another.
	if due := h.due(now); len(due) != 1 || due[0].key != all.key() || due[0].filter != all.Filter {
		t.Fatalf("due at start: %+v", due)
	}
	h.want(a, 0, now)
	if due := h.due(now); len(due) != 2 {
		t.Fatalf("due after asking for a: %+v", due)
	}
	// The ring keeps the last max samples; since filters them.
	for i := int64(1); i <= 5; i++ {
		h.add(a.key(), Sample{AtMillis: i})
	}
	if got, _ := h.want(a, 0, now); len(got) != 3 || got[0].AtMillis != 3 || got[2].AtMillis != 5 {
		t.Fatalf("ring: %+v", got)
	}
	if got, _ := h.want(a, 4, now); len(got) != 1 || got[0].AtMillis != 5 {
		t.Fatalf("since 4: %+v", got)
	}
	// A view nobody asked for within idle is no longer sampled.
	if due := h.due(now.Add(2 * time.Minute)); len(due) != 1 {
		t.Fatalf("due after idle: %+v", due)
	}
	// Past maxViews, the least recently wanted filtered view goes, never the unfiltered one.
	h.want(b, 0, now.Add(time.Second))
	h.want(c, 0, now.Add(2*time.Second))
	if _, ok := h.views[a.key()]; ok {
		t.Error("view a should have been evicted")
	}
	if _, ok := h.views[all.key()]; !ok || len(h.views) != 3 {
		t.Errorf("views after eviction: %d", len(h.views))
	}
	// Samples for an evicted view are dropped, not resurrecting it.
	h.add(a.key(), Sample{AtMillis: 9})
	if _, ok := h.views[a.key()]; ok {
		t.Error("add resurrected an evicted view")
	}
}

func scopeOf(t *testing.T, line string) access.ReadScope {
	t.Helper()
	r, err := access.Parse("test", line)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.Principals()[0].ReadScope()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestHistoryViewPerScope: readers share a sampled view when their scopes read the same
// figures of the same filter, whoever they are; a vendor's view is never an analyst's nor
// another vendor's, so the sampling costs one summary per distinct scope and a reader is
// served only samples taken in its own scope.
func TestHistoryViewPerScope(t *testing.T) {
	f := Filter{Project: "p", WindowText: "all"}
	key := func(line string) string { return scopeKey(f, scopeOf(t, line)) }
	analyst := key("ann - role=analyst projects=*")
	owner := key("olga - role=owner projects=*")
	analystOfP := key("pat - role=analyst projects=p")
	qaOfPQ := key("quinn - role=qa projects=p,q")
	acme := key("acme-1 - role=vendor projects=p vendor=acme")
	acme2 := key("acme-2 - role=vendor projects=p,q vendor=acme")
	acmeCrowd := key("acme-3 - role=vendor projects=p vendor=acme cohorts=crowd")
	globex := key("globex - role=vendor projects=p vendor=globex")
	if analyst != owner || analystOfP != qaOfPQ || acme != acme2 {
		t.Errorf("readers of one scope do not share a view:\n%s\n%s\n%s\n%s\n%s\n%s", analyst, owner, analystOfP, qaOfPQ, acme, acme2)
	}
	distinct := map[string]bool{}
	for _, k := range []string{analyst, analystOfP, acme, acmeCrowd, globex} {
		distinct[k] = true
	}
	if len(distinct) != 5 {
		t.Errorf("scopes that read different figures share a view: %v", distinct)
	}
	if analyst != EveryFigure(f).key() {
		t.Errorf("an analyst of every project does not share Assay's own view: %s vs %s", analyst, EveryFigure(f).key())
	}
}
