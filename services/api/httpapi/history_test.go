package httpapi

import (
	"testing"
	"time"
)

func TestHistoryViews(t *testing.T) {
	h := newHistory(3, 3, time.Minute)
	now := time.Unix(1000, 0)
	all := Filter{WindowText: "all"}
	a := Filter{Project: "a", WindowText: "all"}
	b := Filter{Project: "b", WindowText: "all"}
	c := Filter{Project: "c", WindowText: "all"}

	// Only the unfiltered view is sampled until a client asks for another.
	if due := h.due(now); len(due) != 1 || due[0] != all {
		t.Fatalf("due at start: %+v", due)
	}
	h.want(a, 0, now)
	if due := h.due(now); len(due) != 2 {
		t.Fatalf("due after asking for a: %+v", due)
	}
	// The ring keeps the last max samples; since filters them.
	for i := int64(1); i <= 5; i++ {
		h.add(a, Sample{AtMillis: i})
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
	if _, ok := h.views[a.Key()]; ok {
		t.Error("view a should have been evicted")
	}
	if _, ok := h.views[all.Key()]; !ok || len(h.views) != 3 {
		t.Errorf("views after eviction: %d", len(h.views))
	}
	// Samples for an evicted view are dropped, not resurrecting it.
	h.add(a, Sample{AtMillis: 9})
	if _, ok := h.views[a.Key()]; ok {
		t.Error("add resurrected an evicted view")
	}
}
