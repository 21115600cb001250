package annotation_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/assay-data/assay/loadtest/annotation"
	"github.com/assay-data/assay/schemas"
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
