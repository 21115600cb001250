package kpi_test

import (
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// apartValues are one answer of each level measured by kpi_regions and kpi_preference.
func apartValues() map[string]schemas.LabelValue {
	strength := int32(2)
	pref := schemas.Choice("r2", "r1", "r1", "r2")
	pref.Preference.Strength = &strength
	return map[string]schemas.LabelValue{
		"spans":      schemas.Spans(schemas.UnitCharacters, 100, schemas.Span{Label: "PER", Start: 0, End: 5}),
		"no spans":   schemas.Spans(schemas.UnitMilliseconds, 9000),
		"boxes":      schemas.Boxes(640, 480, schemas.Box{Label: "car", X: 1, Y: 2, W: 30, H: 40}),
		"preference": pref,
	}
}

// TestAgreementAndAccuracyIgnoreRegionsAndPreferences: labels and gold answers of levels
// spans, boxes and preference go neither to the DLQ nor into the state of kpi_agreement and
// kpi_accuracy (kpi_regions and kpi_preference measure them), and leave the figures of the
// other levels as they were: a spans gold on an item does not replace its nominal gold.
func TestAgreementAndAccuracyIgnoreRegionsAndPreferences(t *testing.T) {
	for _, p := range []runtime.Processor{kpi.NewAgreement(), kpi.NewAccuracy()} {
		for name, v := range apartValues() {
			t.Run(p.Name()+"/"+name, func(t *testing.T) {
				cat := schemas.Nominal("cat")
				f := newFeed(p, "labels", 0,
					label("n1", "i1", "ann1", "c1", cat), label("n2", "i1", "ann2", "c1", cat), goldSet("i1", cat))
				keys := f.state.(runtime.StateSizer).StateKeys()
				for _, ev := range []schemas.Event{
					label("x1", "i1", "ann1", "c1", v),
					label("x1", "i1", "ann1", "c1", v), // a copy
					label("x2", "i2", "ann2", "", v),
					goldSet("i1", v),
					goldSet("i2", v),
				} {
					rows, err := f.apply(ev)
					if err != nil || len(rows) != 0 {
						t.Fatalf("%s of level %s: %d rows, %v; want none and no error", ev.Type(), v.Level, len(rows), err)
					}
				}
				if got := f.state.(runtime.StateSizer).StateKeys(); got != keys {
					t.Fatalf("state keys %d after the %s events, %d before", got, v.Level, keys)
				}
				// A retraction names no level: like any retraction of a label the partition
				// does not count, it changes nothing and is remembered (one key) so that a
				// copy of it stays ignored.
				if rows, err := f.apply(retract("x1", "i1")); err != nil || len(rows) != 0 {
					t.Fatalf("retraction: %d rows, %v", len(rows), err)
				}
				if got := f.state.(runtime.StateSizer).StateKeys(); got > keys+1 {
					t.Fatalf("state keys %d after the retraction, %d before", got, keys)
				}
				// The nominal figures go on: a third nominal label is scored against the
				// nominal gold and pairs with the other two.
				rows, err := f.apply(label("n3", "i1", "ann3", "c1", cat))
				if err != nil || len(rows) == 0 {
					t.Fatalf("nominal label after them: %d rows, %v", len(rows), err)
				}
				switch s := f.state.(type) {
				case *kpi.AccuracyState:
					if c, n := s.Score("p", "q", kpi.ScopeAll); c != 3 || n != 3 {
						t.Fatalf("accuracy %d/%d, want 3/3: the nominal gold still counts", c, n)
					}
				case *kpi.AgreementState:
					co, err := s.Coincidences("p", "q", "nominal", kpi.ScopeAll)
					if err != nil || co.PairableValues() != 3 {
						t.Fatalf("pairable values %v (%v), want 3", co, err)
					}
				}
			})
		}
	}
}

// TestContractBoundsAreTheLibraries: the contract's bounds on a value (schemas, which the
// gateway enforces) are those of the libraries kpi_regions and kpi_preference hand the
// values to, which refuse larger ones: neither package may import the other, so the equality
// is held here, where both are imported.
func TestContractBoundsAreTheLibraries(t *testing.T) {
	if schemas.MaxRegions != regions.MaxRegions {
		t.Errorf("schemas.MaxRegions = %d, regions.MaxRegions = %d", schemas.MaxRegions, regions.MaxRegions)
	}
	if schemas.MaxResponses != preference.MaxResponses {
		t.Errorf("schemas.MaxResponses = %d, preference.MaxResponses = %d", schemas.MaxResponses, preference.MaxResponses)
	}
	if schemas.DefaultIoUThreshold != regions.DefaultThreshold || kpi.RegionsIoUThreshold != regions.DefaultThreshold {
		t.Errorf("IoU thresholds: schemas %v, regions %v, kpi_regions %v", schemas.DefaultIoUThreshold, regions.DefaultThreshold, kpi.RegionsIoUThreshold)
	}
}
