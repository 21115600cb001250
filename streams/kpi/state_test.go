package kpi_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// stateSizer is the optional interface the runner exports as
// assay_processor_state_keys.
type stateSizer interface{ StateKeys() int }

func keysOf(t *testing.T, f *feed) int {
	t.Helper()
	s, ok := f.state.(stateSizer)
	if !ok {
		t.Fatalf("%T has no StateKeys", f.state)
	}
	return s.StateKeys()
}

// TestStateKeysShrink: the state of labels later retracted keeps only the
// events' keys (the duplicate guard); units, cells, pairs and scores are
// forgotten once they are empty.
func TestStateKeysShrink(t *testing.T) {
	for _, p := range []runtime.Processor{kpi.NewAgreement(), kpi.NewAccuracy()} {
		t.Run(p.Name(), func(t *testing.T) {
			f := newFeed(p, "labels", 0)
			if n := keysOf(t, f); n != 0 {
				t.Fatalf("new state holds %d keys", n)
			}
			f.must(goldSet("i0", schemas.Nominal("c0")))
			base := keysOf(t, f)
			const n = 30
			for i := range n {
				f.must(label(fmt.Sprint("l", i), fmt.Sprint("i", i%5), fmt.Sprint("a", i%4), fmt.Sprint("c", i%2), schemas.Nominal(fmt.Sprint("c", i%3))))
			}
			if k := keysOf(t, f); k <= base+n {
				t.Fatalf("%d labels: %d keys, want more than %d", n, k, base+n)
			}
			for i := range n {
				f.must(retract(fmt.Sprint("l", i), fmt.Sprint("i", i%5)))
			}
			// One key per label event and per retraction.
			if k := keysOf(t, f); k != base+2*n {
				t.Errorf("all labels retracted: %d keys, want %d", k, base+2*n)
			}
		})
	}
	t.Run(kpi.FlowName, func(t *testing.T) {
		f := newFeed(kpi.NewFlow(), "reviews", 0)
		f.must(review("r1", "l1", "i1", schemas.VerdictReject, 1))
		f.must(review("r1", "l1", "i1", schemas.VerdictReject, 1))
		f.must(review("r2", "l1", "i1", schemas.VerdictAccept, 2))
		// Stages first_rework and accepted of i1, label l1, reviews r1 and r2.
		if k := keysOf(t, f); k != 5 {
			t.Errorf("%d keys, want 5", k)
		}
	})
}

// TestStateLimit: at the cap a record that would add keys is refused with
// ErrStateLimit (the runner sends it to the DLQ) and the state is left as it
// was; records that add nothing (a duplicate) or free keys (a retraction)
// still apply, and freed room is used again.
func TestStateLimit(t *testing.T) {
	cat := schemas.Nominal("cat")
	for _, p := range []func(...kpi.Option) runtime.Processor{
		func(o ...kpi.Option) runtime.Processor { return kpi.NewAgreement(o...) },
		func(o ...kpi.Option) runtime.Processor { return kpi.NewAccuracy(o...) },
	} {
		t.Run(p().Name(), func(t *testing.T) {
			f := newFeed(p(kpi.WithMaxStateKeys(20)), "labels", 0)
			f.must(goldSet("i0", cat))
			i := 0
			for keysOf(t, f) < 20 {
				f.must(label(fmt.Sprint("l", i), "i0", fmt.Sprint("a", i), "", cat))
				i++
			}
			full := keysOf(t, f)
			_, err := f.apply(label("over", "i1", "a", "", cat))
			if !errors.Is(err, kpi.ErrStateLimit) || !strings.Contains(err.Error(), "label over not counted") {
				t.Fatalf("label over the cap: %v, want ErrStateLimit naming the label", err)
			}
			if _, err := f.apply(goldSet("i2", cat)); p().Name() == kpi.AccuracyName && !errors.Is(err, kpi.ErrStateLimit) {
				t.Fatalf("gold over the cap: %v", err)
			}
			if k := keysOf(t, f); k != full {
				t.Fatalf("refused records changed the state: %d keys, was %d", k, full)
			}
			if rows := f.must(label("l0", "i0", "a0", "", cat)); len(rows) != 0 {
				t.Fatalf("duplicate at the cap wrote %v", rows)
			}
			f.must(retract("l0", "i0"))
			f.must(retract("l1", "i0"))
			f.must(retract("l2", "i0"))
			before := keysOf(t, f)
			if _, err := f.apply(label("over", "i1", "a", "", cat)); err != nil || keysOf(t, f) <= before {
				t.Fatalf("label after retractions freed room: %v, keys %d then %d", err, before, keysOf(t, f))
			}
		})
		t.Run(p().Name()+" unit", func(t *testing.T) {
			f := newFeed(p(kpi.WithMaxUnitLabels(2)), "labels", 0)
			f.must(label("l1", "i1", "a1", "", cat))
			f.must(label("l2", "i1", "a2", "", cat))
			if _, err := f.apply(label("l3", "i1", "a3", "", cat)); !errors.Is(err, kpi.ErrStateLimit) {
				t.Fatalf("third label of a unit of two: %v", err)
			}
			f.must(label("l3", "i2", "a3", "", cat)) // another unit
			f.must(retract("l1", "i1"))
			l4 := label("l4", "i1", "a3", "", cat)
			f.must(l4)
		})
	}
	t.Run(kpi.FlowName, func(t *testing.T) {
		f := newFeed(kpi.NewFlow(kpi.WithMaxStateKeys(3)), "labels", 0)
		f.must(labelAt("l1", "i1", 100)) // first and last label of i1
		f.must(ingested("i1", 50))
		if _, err := f.apply(labelAt("l2", "i2", 100)); !errors.Is(err, kpi.ErrStateLimit) {
			t.Fatalf("new item over the cap: %v", err)
		}
		// An item the state knows moves without new keys.
		if rows := f.must(labelAt("l3", "i1", 80)); len(rows) != 1 {
			t.Fatalf("earlier label of a known item: %v", rows)
		}
	})
	t.Run("no cap", func(t *testing.T) {
		f := newFeed(kpi.NewAgreement(kpi.WithMaxStateKeys(0), kpi.WithMaxUnitLabels(0)), "labels", 0)
		for i := range 300 {
			f.must(label(fmt.Sprint("l", i), "i1", fmt.Sprint("a", i), "", cat))
		}
	})
}

// TestLimitCollectors: each KPI processor exports its cap, and the three
// share one registry as they do in services/processor.
func TestLimitCollectors(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, p := range []runtime.Instrumented{kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewFlow(kpi.WithMaxStateKeys(7))} {
		for _, c := range p.Collectors() {
			if err := reg.Register(c); err != nil {
				t.Fatalf("%s: %v", p.Name(), err)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "assay_kpi_state_keys_limit" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				got[l.GetName()+"="+l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"processor=kpi_agreement": kpi.DefaultMaxStateKeys,
		"processor=kpi_accuracy":  kpi.DefaultMaxStateKeys,
		"processor=kpi_flow":      7,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assay_kpi_state_keys_limit: %v, want %v", got, want)
	}
}

// TestStateIsAFunctionOfTheLog: the same records applied to two fresh
// states, with both caps reached, refuse the same records and write the same
// rows: the state the runner rebuilds from the log on assignment is the one
// it had live.
func TestStateIsAFunctionOfTheLog(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var evs []schemas.Event
	for i := range 600 {
		item := fmt.Sprint("i", r.IntN(20))
		switch r.IntN(6) {
		case 0:
			evs = append(evs, retract(fmt.Sprint("l", r.IntN(i+1)), item))
		case 1:
			g := goldSet(item, schemas.Nominal(fmt.Sprint("v", r.IntN(3))))
			g.EventID = fmt.Sprint("ev-gold-", i)
			evs = append(evs, g)
		default:
			evs = append(evs, label(fmt.Sprint("l", i), item, fmt.Sprint("a", r.IntN(7)), "", schemas.Nominal(fmt.Sprint("v", r.IntN(3)))))
		}
	}
	for _, p := range []func() runtime.Processor{
		func() runtime.Processor { return kpi.NewAgreement(kpi.WithMaxStateKeys(400), kpi.WithMaxUnitLabels(6)) },
		func() runtime.Processor { return kpi.NewAccuracy(kpi.WithMaxStateKeys(300), kpi.WithMaxUnitLabels(6)) },
		func() runtime.Processor { return kpi.NewFlow(kpi.WithMaxStateKeys(30)) },
	} {
		live, rebuilt := newFeed(p(), "labels", 0), newFeed(p(), "labels", 0)
		refused := 0
		for i, ev := range evs {
			a, errA := live.apply(ev)
			b, errB := rebuilt.apply(ev)
			if fmt.Sprint(errA) != fmt.Sprint(errB) || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s, record %d: %v %v, then %v %v", p().Name(), i, a, errA, b, errB)
			}
			if errors.Is(errA, kpi.ErrStateLimit) {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("%s: no record reached a cap", p().Name())
		}
		if keysOf(t, live) != keysOf(t, rebuilt) {
			t.Errorf("%s: %d keys live, %d rebuilt", p().Name(), keysOf(t, live), keysOf(t, rebuilt))
		}
	}
}

// TestConfig: a zero Config is the defaults, a field set is applied, and a
// negative one is an error naming it.
func TestConfig(t *testing.T) {
	opts, err := kpi.Config{}.Options()
	if err != nil || len(opts) != 0 {
		t.Fatalf("zero Config: %d options, %v", len(opts), err)
	}
	opts, err = kpi.Config{MaxStateKeys: 5, MaxUnitLabels: 1}.Options()
	if err != nil {
		t.Fatal(err)
	}
	f := newFeed(kpi.NewAgreement(opts...), "labels", 0)
	f.must(label("l1", "i1", "a1", "", schemas.Nominal("cat")))
	if _, err := f.apply(label("l2", "i1", "a2", "", schemas.Nominal("cat"))); !errors.Is(err, kpi.ErrStateLimit) || !strings.Contains(err.Error(), "limit 1") {
		t.Fatalf("second label of a unit capped at 1: %v", err)
	}
	opts, err = kpi.Config{MaxRegionAnnotators: 1}.Options()
	if err != nil {
		t.Fatal(err)
	}
	r := newFeed(kpi.NewRegions(opts...), "labels", 0)
	r.must(label("l1", "i1", "a1", "", schemas.Spans(schemas.UnitCharacters, 10)))
	if _, err := r.apply(label("l2", "i1", "a2", "", schemas.Spans(schemas.UnitCharacters, 10))); !errors.Is(err, kpi.ErrStateLimit) || !strings.Contains(err.Error(), "limit 1") {
		t.Fatalf("second annotator of a regions unit capped at 1: %v", err)
	}
	_, err = kpi.Config{MaxStateKeys: -1, MaxUnitLabels: -2, MaxRegionAnnotators: -3}.Options()
	if err == nil || !strings.Contains(err.Error(), "max state keys must not be negative, got -1") || !strings.Contains(err.Error(), "max unit labels must not be negative, got -2") ||
		!strings.Contains(err.Error(), "max region annotators must not be negative, got -3") {
		t.Fatalf("negative limits: %v", err)
	}
}
