package sim

import (
	"math"
	"testing"

	"github.com/assay-data/assay/schemas"
)

func TestStreamStamps(t *testing.T) {
	s := &Stream{Prefix: "r-x", Producer: "demo/x"}
	s.Emit(&schemas.ItemIngested{ItemID: "i1"}, 5000)
	s.Emit(&schemas.ItemIngested{ItemID: "i2"}, -60_000)
	for i, want := range []struct {
		id string
		at int64
	}{{"r-x-ev-1", BaseMillis + 5000}, {"r-x-ev-2", BaseMillis - 60_000}} {
		m := s.Events[i].Meta()
		if m.EventID != want.id || m.OccurredAt != want.at || m.Producer != "demo/x" || m.Trace.CorrelationID != s.Events[i].Key() ||
			m.EventType != schemas.TypeItemIngested || m.RecordedAt != want.at+100 {
			t.Errorf("event %d: %+v", i, m)
		}
	}
}

func TestPoolAndRaters(t *testing.T) {
	pool := Pool("r", []Team{{Name: "a", Annotators: 2}, {Name: "b", Vendor: "v", Annotators: 3}})
	if len(pool) != 5 || pool[0].ID != "r-a-0" || pool[4] != (Annotator{ID: "r-b-2", Cohort: "b", Vendor: "v", Team: 1, Member: 2}) {
		t.Fatalf("pool %+v", pool)
	}
	rnd := Rand(1, 2)
	for range 100 {
		rs := Raters(rnd, pool, 3)
		if len(rs) != 3 || rs[0] == rs[1] || rs[1] == rs[2] || rs[0] == rs[2] {
			t.Fatalf("raters %+v", rs)
		}
	}
	if len(Raters(rnd, pool, 9)) != 5 {
		t.Error("more raters than the pool")
	}
}

func TestWeighted(t *testing.T) {
	rnd := Rand(7, 1)
	n := [3]int{}
	for range 30_000 {
		n[Weighted(rnd, []float64{0.2, 0, 0.8})]++
	}
	if n[1] != 0 || math.Abs(float64(n[0])/30_000-0.2) > 0.01 {
		t.Errorf("draws %v, want about 20%% / 0 / 80%%", n)
	}
	if a, b := Rand(3, 1).Uint64(), Rand(3, 2).Uint64(); a == b {
		t.Error("two salts, one stream")
	}
}
