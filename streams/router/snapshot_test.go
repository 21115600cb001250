package router

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// comparableState returns what a state's behaviour depends on: an items state's pending queue
// without the entries taken out of the set and not pruned yet, a labels state's held queue without
// its stale entries (memory, which a snapshot does not keep).
func comparableState(s any) any {
	if ls, ok := s.(*labelsState); ok {
		c := *ls
		c.held.queue = nil
		for _, e := range ls.held.queue {
			if _, ql := ls.question(e); ql != nil {
				c.held.queue = append(c.held.queue, e)
			}
		}
		return &c
	}
	st, ok := s.(*itemsState)
	if !ok {
		return s
	}
	c := *st
	c.pending.queue = nil
	for _, p := range st.pending.queue {
		if !p.gone {
			c.pending.queue = append(c.pending.queue, p)
		}
	}
	return &c
}

func equalStates(a, b any) error {
	if !reflect.DeepEqual(comparableState(a), comparableState(b)) {
		return errors.New("states differ (reflect.DeepEqual of their live entries)")
	}
	return nil
}

// TestSnapshotsRestoreTheRebuiltState: the items and labels states restored from a snapshot at
// any cut of a log with expiries, evictions, decisions read back and escalations equal the state
// the log builds (TestRebuildEqualsLive's) and emit and write the same for the rest of the log;
// damaged, foreign and outdated snapshots are refused.
func TestSnapshotsRestoreTheRebuiltState(t *testing.T) {
	cfg := Config{Rules: NewRuleSet(testRules()), PendingTTL: 30 * time.Minute, MaxPending: 100, MaxHeldRegions: MinMaxHeldRegions}
	live := newClocked(t, cfg)
	for _, e := range mixedLog(3000, 7) {
		live.at(e.at).apply(e.ev)
	}
	st := live.items()
	if st.expired == 0 || st.evicted == 0 {
		t.Fatalf("the log expired %d and evicted %d pending pre-labels: both must happen for the test to prove anything", st.expired, st.evicted)
	}
	checkRegionsHappened(t, live)
	for _, fam := range []schemas.Family{schemas.FamilyItems, schemas.FamilyLabels} {
		topic := "pfx." + fam.Topic()
		var recs []runtime.Record
		for _, rec := range live.log {
			if rec.Topic == topic {
				recs = append(recs, rec)
			}
		}
		if fam == schemas.FamilyLabels {
			// A label id reused by a second annotator, the first annotator's relabel (the id
			// stays the second's answer but no longer finds its question), its retraction, and
			// a retraction by another producer (refused).
			foreign := retract("l-x-2", "x1")
			foreign.Producer = "someone-else"
			for _, ev := range []schemas.Event{
				label("l-x-1", "x1", "q-vehicle", "ann-0", "car"), label("l-x-1", "x1", "q-vehicle", "ann-1", "bus"),
				label("l-x-2", "x1", "q-vehicle", "ann-0", "car"), retract("l-x-1", "x1"), foreign,
				label("l-x-3", "x1", "q-other", "ann-2", "car"),
			} {
				recs = append(recs, runtime.Record{Topic: topic, Family: fam, Offset: int64(len(recs)), Timestamp: base, Event: ev})
			}
		}
		runtimetest.CheckSnapshots(t, live.r, recs, runtimetest.SnapshotCheck{Equal: equalStates})
	}
}
