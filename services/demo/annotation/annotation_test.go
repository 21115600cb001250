package annotation_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/agreement"
)

func TestDeterministicAndValid(t *testing.T) {
	cfg := annotation.DefaultConfig("det", 3)
	cfg.Items = 200
	a, b := annotation.Generate(cfg), annotation.Generate(cfg)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same config, different events")
	}
	types := map[schemas.EventType]int{}
	for _, ev := range a.Events {
		if err := ev.Validate(); err != nil {
			t.Fatalf("%s %s: %v", ev.Type(), ev.Meta().EventID, err)
		}
		types[ev.Type()]++
	}
	for _, ty := range []schemas.EventType{schemas.TypeItemIngested, schemas.TypeLabelSubmitted, schemas.TypeLabelRetracted,
		schemas.TypeGoldLabelSet, schemas.TypeReviewCompleted, schemas.TypeCoverageTargetSet, schemas.TypeDatasetVersionCommitted} {
		if types[ty] == 0 {
			t.Errorf("no %s generated", ty)
		}
	}
	if c := annotation.Generate(annotation.DefaultConfig("det", 4)); reflect.DeepEqual(c.Labels, a.Labels) {
		t.Error("different seeds, same labels")
	}
}

func TestExpectedMatchesLargeSample(t *testing.T) {
	cfg := annotation.DefaultConfig("big", 1)
	cfg.Items = 20000
	w := annotation.Generate(cfg)
	alpha, err := w.ExactCoincidences("").Alpha(agreement.Nominal)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(alpha.Alpha - cfg.ExpectedAlpha()); d > 0.02 {
		t.Errorf("alpha %v, model %v", alpha.Alpha, cfg.ExpectedAlpha())
	}
	for _, c := range []string{"", "experts", "crowd"} {
		correct, total := w.ExactAccuracy(c)
		got := float64(correct) / float64(total)
		if d := math.Abs(got - cfg.ExpectedAccuracy(c)); d > 0.02 {
			t.Errorf("accuracy %q %v (%d/%d), model %v", c, got, correct, total, cfg.ExpectedAccuracy(c))
		}
	}
	for _, c := range []string{"experts", "crowd"} {
		a, err := w.ExactCoincidences(c).Alpha(agreement.Nominal)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(a.Alpha - cfg.ExpectedCohortAlpha(c)); d > 0.03 {
			t.Errorf("cohort %s alpha %v, model %v", c, a.Alpha, cfg.ExpectedCohortAlpha(c))
		}
	}
	t.Logf("alpha %.4f model %.4f", alpha.Alpha, cfg.ExpectedAlpha())
}

// TestPreLabelsAreSeparate: the pre-labels add events and change none of the others, so
// every figure of the labels (agreement, accuracy, coverage, cycle time) is what it was
// without them.
func TestPreLabelsAreSeparate(t *testing.T) {
	cfg := annotation.DefaultConfig("pre", 5)
	cfg.Items = 300
	with := annotation.Generate(cfg)
	cfg.PreLabelers = nil
	without := annotation.Generate(cfg)
	var rest []schemas.Event
	for _, ev := range with.Events {
		if ev.Type() != schemas.TypePreLabelProposed {
			rest = append(rest, ev)
		}
	}
	if !reflect.DeepEqual(rest, without.Events) || !reflect.DeepEqual(with.Labels, without.Labels) {
		t.Fatal("the pre-labels changed other events of the workload")
	}
	if len(without.PreLabels) != 0 || len(with.Events)-len(without.Events) != cfg.Items || len(with.PreLabels) != cfg.Items {
		t.Fatalf("%d pre-label events, %d pre-labels; want one per item (%d)", len(with.Events)-len(without.Events), len(with.PreLabels), cfg.Items)
	}
}

// TestPreLabels: one per item, valid, deterministic, from each model version in turn, right
// as often as the version's accuracy says, and confident where right: under the router's
// default threshold (0.9) a clear share is auto-acceptable and a clear share goes to humans.
func TestPreLabels(t *testing.T) {
	cfg := annotation.DefaultConfig("pre", 9)
	cfg.Items = 4000
	w := annotation.Generate(cfg)
	if !reflect.DeepEqual(w.PreLabels, annotation.Generate(cfg).PreLabels) {
		t.Fatal("same config, different pre-labels")
	}
	type tally struct{ n, right, confident, confidentWrong int }
	by := map[string]*tally{}
	seen := map[string]bool{}
	for i, ev := range w.Events {
		e, ok := ev.(*schemas.PreLabelProposed)
		if !ok {
			continue
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("pre-label %s: %v", e.EventID, err)
		}
		if seen[e.ItemID] {
			t.Fatalf("item %s pre-labeled twice", e.ItemID)
		}
		seen[e.ItemID] = true
		if prev, ok := w.Events[i-1].(*schemas.ItemIngested); !ok || prev.ItemID != e.ItemID || e.OccurredAt <= prev.OccurredAt {
			t.Fatalf("pre-label %s does not follow its item's ingest", e.EventID)
		}
		if e.Confidence < 0.45 || e.Confidence >= 1 {
			t.Fatalf("confidence %v out of range", e.Confidence)
		}
		tl := by[e.ModelVersion]
		if tl == nil {
			tl = &tally{}
			by[e.ModelVersion] = tl
		}
		tl.n++
		right := e.Value.Category == w.Truth[e.ItemID]
		if right {
			tl.right++
		}
		if e.Confidence >= 0.9 {
			tl.confident++
			if !right {
				tl.confidentWrong++
			}
		}
	}
	if len(seen) != cfg.Items || len(w.PreLabels) != cfg.Items {
		t.Fatalf("%d items pre-labeled, want %d", len(seen), cfg.Items)
	}
	for _, m := range cfg.PreLabelers {
		tl := by[m.Version]
		if tl == nil || tl.n != cfg.Items/len(cfg.PreLabelers) {
			t.Fatalf("version %s: %+v, want %d pre-labels", m.Version, tl, cfg.Items/len(cfg.PreLabelers))
		}
		acc := float64(tl.right) / float64(tl.n)
		if math.Abs(acc-m.Accuracy) > 0.03 {
			t.Errorf("version %s right %.3f, want %.2f", m.Version, acc, m.Accuracy)
		}
		// Expected share at or above 0.9: 3/4 of the right ones, 1/10 of the wrong ones.
		wantConfident := 0.75*m.Accuracy + 0.1*(1-m.Accuracy)
		if got := float64(tl.confident) / float64(tl.n); math.Abs(got-wantConfident) > 0.03 {
			t.Errorf("version %s confident share %.3f, want %.3f", m.Version, got, wantConfident)
		}
		if tl.confidentWrong == 0 || tl.confidentWrong*10 > tl.confident {
			t.Errorf("version %s: %d of %d confident pre-labels wrong, want a few (the audit has something to find)", m.Version, tl.confidentWrong, tl.confident)
		}
	}
}
