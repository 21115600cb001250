package kpi_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// TestFlowReviewDeliveredTwice: a client retry of an acknowledged review is
// the same event (same event id) in a second Kafka record. It writes no
// rework_counts row and leaves the counts as they were, so the next review
// counts from them.
func TestFlowReviewDeliveredTwice(t *testing.T) {
	f := newFeed(kpi.NewFlow(), "reviews", 0)
	r1 := review("r1", "l1", "i1", schemas.VerdictReject, 10)
	first := rowsOf(f.must(r1), kpi.TableReworkCounts)
	if len(first) != 1 {
		t.Fatalf("first delivery: %d rework rows", len(first))
	}
	if rows := f.must(r1); len(rows) != 0 {
		t.Fatalf("second delivery at offset 1 wrote %v", rows)
	}
	// The same review as a third record, after an unrelated one.
	f.must(ingested("i9", 1))
	if rows := f.must(r1); len(rows) != 0 {
		t.Fatalf("third delivery at offset 3 wrote %v", rows)
	}
	rows := rowsOf(f.must(review("r2", "l2", "i1", schemas.VerdictAccept, 20)), kpi.TableReworkCounts)
	// reviews, rework_reviews, labels_reviewed, labels_reworked
	if got, want := rows[0][2:6], []any{int64(2), int64(1), int64(2), int64(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a review delivered three times and another once: %v, want %v", got, want)
	}
}

// TestDuplicateAfterLaterEvents: a duplicate that arrives after events that
// changed the same key is the case a "same label id" check does not see.
func TestDuplicateAfterLaterEvents(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	t.Run("accuracy: an older gold delivered again does not become the latest", func(t *testing.T) {
		f := newFeed(kpi.NewAccuracy(), "labels", 0)
		old := goldSet("i1", dog)
		f.must(label("l1", "i1", "ann1", "", cat))
		f.must(old)
		f.must(goldSet("i1", cat))
		if rows := f.must(old); len(rows) != 0 {
			t.Fatalf("duplicate of the first gold wrote %v", rows)
		}
		if c, n := f.state.(*kpi.AccuracyState).Score("p", "q", kpi.ScopeAll); c != 1 || n != 1 {
			t.Errorf("score %d/%d, want 1/1 against the latest gold", c, n)
		}
	})
	for _, p := range []runtime.Processor{kpi.NewAgreement(), kpi.NewAccuracy()} {
		t.Run(p.Name()+": a label delivered again after its retraction stays retracted", func(t *testing.T) {
			f := newFeed(p, "labels", 0)
			l1 := label("l1", "i1", "ann1", "", cat)
			f.must(goldSet("i1", cat))
			f.must(label("l0", "i1", "ann0", "", cat))
			f.must(l1)
			f.must(retract("l1", "i1"))
			if rows := f.must(l1); len(rows) != 0 {
				t.Fatalf("duplicate of a retracted label wrote %v", rows)
			}
		})
		t.Run(p.Name()+": a retraction delivered again does not retract the label's id reused", func(t *testing.T) {
			f := newFeed(p, "labels", 0)
			r := retract("l1", "i1")
			f.must(goldSet("i1", cat))
			f.must(label("l0", "i1", "ann0", "", cat))
			f.must(label("l1", "i1", "ann1", "", dog))
			f.must(r)
			again := label("l1", "i1", "ann1", "", cat)
			again.EventID = "ev-l1-resubmitted"
			if rows := f.must(again); len(rows) == 0 {
				t.Fatal("a new event reusing a retracted label id was not counted")
			}
			if rows := f.must(r); len(rows) != 0 {
				t.Fatalf("duplicate of the retraction wrote %v", rows)
			}
		})
	}
}

// tableKeys is how many leading columns of each table form its sorting
// key (migrations 0003, 0005, 0007, 0035, 0036, 0073): the rows of one key replace each other.
var tableKeys = map[string]int{
	kpi.TableAgreementCells:         9,
	kpi.TableAnnotatorPairs:         5,
	kpi.TableAgreementCellsDaily:    10,
	kpi.TablePairCells:              9,
	kpi.TableAgreementProfiles:      8,
	kpi.TableAgreementProfilesTotal: 7,
	kpi.TableAccuracyCounts:         5,
	kpi.TableAccuracyConfusion:      7,
	kpi.TableItemFlow:               2,
	kpi.TableReworkCounts:           2,
}

// finalTotals applies evs to one partition's state and returns what the
// tables hold after them: the last row written under each key, without its
// version (the offset, which duplicates shift).
func finalTotals(t *testing.T, p runtime.Processor, topic string, evs []schemas.Event) map[string]string {
	t.Helper()
	f := newFeed(p, topic, 0)
	last := map[string]string{}
	for _, ev := range evs {
		for _, r := range f.must(ev) {
			n, ok := tableKeys[r.Table]
			if !ok {
				t.Fatalf("no key for table %s", r.Table)
			}
			last[fmt.Sprint(r.Table, r.Values[:n])] = fmt.Sprint(r.Values[n : len(r.Values)-1])
		}
	}
	return last
}

// TestDuplicatesChangeNoFigure: random histories of labels, retractions,
// label ids reused, corrected golds, items and reviews; the same history
// with random events delivered again later (as a client retry or a lost
// acknowledgement produces) leaves every table of every KPI processor with
// the same totals.
func TestDuplicatesChangeNoFigure(t *testing.T) {
	values := []schemas.LabelValue{schemas.Nominal("cat"), schemas.Nominal("dog"), schemas.Nominal("bird")}
	verdicts := []schemas.Verdict{schemas.VerdictAccept, schemas.VerdictReject, schemas.VerdictCorrect}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		var labels, reviews []schemas.Event
		live := map[string]string{} // label -> item
		for i := range 300 {
			item := fmt.Sprint("i", r.IntN(12))
			at := int64(1000 + r.IntN(10_000))
			switch n := r.IntN(10); {
			case n < 5:
				id := fmt.Sprint("l", r.IntN(60)) // ids are reused
				l := label(id, item, fmt.Sprint("a", r.IntN(5)), fmt.Sprint("c", r.IntN(2)), values[r.IntN(len(values))])
				l.EventID = fmt.Sprint("ev-label-", i)
				l.OccurredAt = at
				labels = append(labels, l)
				if _, ok := live[id]; !ok {
					live[id] = item
				}
			case n < 6 && len(live) > 0:
				for id, it := range live {
					rt := retract(id, it)
					rt.EventID = fmt.Sprint("ev-retract-", i)
					labels = append(labels, rt)
					delete(live, id)
					break
				}
			case n < 7:
				g := goldSet(item, values[r.IntN(len(values))])
				g.EventID = fmt.Sprint("ev-gold-", i)
				labels = append(labels, g)
			case n < 8:
				labels = append(labels, ingested(item, at))
			default:
				reviews = append(reviews, review(fmt.Sprint("r", i), fmt.Sprint("l", r.IntN(60)), item, verdicts[r.IntN(len(verdicts))], at))
			}
		}
		for _, c := range []struct {
			p     func() runtime.Processor
			topic string
			evs   []schemas.Event
		}{
			{func() runtime.Processor { return kpi.NewAgreement() }, "labels", labels},
			{func() runtime.Processor { return kpi.NewAccuracy() }, "labels", labels},
			{func() runtime.Processor { return kpi.NewFlow() }, "labels", labels},
			{func() runtime.Processor { return kpi.NewFlow() }, "reviews", reviews},
		} {
			once := finalTotals(t, c.p(), c.topic, c.evs)
			twice := withDuplicates(r, c.evs)
			if got := finalTotals(t, c.p(), c.topic, twice); !reflect.DeepEqual(got, once) {
				for k, v := range once {
					if got[k] != v {
						t.Errorf("seed %d, %s on %s: %s is %s with duplicates, %s without", seed, c.p().Name(), c.topic, k, got[k], v)
					}
				}
				t.FailNow()
			}
		}
	}
}

// withDuplicates returns evs with a third of them delivered a second time,
// each somewhere after its first delivery.
func withDuplicates(r *rand.Rand, evs []schemas.Event) []schemas.Event {
	out := append([]schemas.Event(nil), evs...)
	for range len(evs) / 3 {
		ev := evs[r.IntN(len(evs))]
		first := slices.Index(out, ev) // the same pointer: the first delivery
		j := first + 1 + r.IntN(len(out)-first)
		out = slices.Insert(out, j, ev)
	}
	return out
}
