package preference_test

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/preference"
)

// TestDeterministicAndValid: equal configs give equal events; the question comes first and
// every event is valid; every label and gold value is admitted by the question (strength
// within its scale) and lists the pair's responses in the item's own order.
func TestDeterministicAndValid(t *testing.T) {
	cfg := preference.DefaultConfig("t", 3)
	a, b := preference.Generate(cfg), preference.Generate(cfg)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same config, different events")
	}
	if c := preference.Generate(preference.DefaultConfig("t", 4)); reflect.DeepEqual(c.Labels, a.Labels) {
		t.Error("different seeds, same labels")
	}
	q, ok := a.Events[0].(*schemas.QuestionDefined)
	if !ok || q.Level != schemas.LevelPreference || q.StrengthScale == nil || *q.StrengthScale != 3 || q.ProjectID != cfg.Project {
		t.Fatalf("first event %+v, want the preference question with scale 3", a.Events[0])
	}
	types := map[schemas.EventType]int{}
	ids := map[string]bool{}
	for _, ev := range a.Events {
		if err := ev.Validate(); err != nil {
			t.Fatalf("%s %s: %v", ev.Type(), ev.Meta().EventID, err)
		}
		if ids[ev.Meta().EventID] {
			t.Fatalf("duplicate event id %s", ev.Meta().EventID)
		}
		ids[ev.Meta().EventID] = true
		types[ev.Type()]++
		var v schemas.LabelValue
		var item string
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			v, item = e.Value, e.ItemID
			if e.ProjectID != cfg.Project || e.QuestionID != q.QuestionID {
				t.Fatalf("label %+v", e)
			}
		case *schemas.GoldLabelSet:
			v, item = e.Value, e.ItemID
			if p := a.Truth[item]; v.Preference.Choice != p.Preferred || *v.Preference.Strength != p.Margin {
				t.Fatalf("gold of %s %+v, truth %+v", item, v.Preference, p)
			}
		default:
			continue
		}
		if err := q.Admits(v); err != nil {
			t.Fatalf("%s on %s not admitted: %v", ev.Type(), item, err)
		}
		if p := v.Preference; !slices.Equal(p.Responses, a.Truth[item].Responses) || p.Strength == nil {
			t.Fatalf("%s on %s: %+v, item's responses %v", ev.Type(), item, p, a.Truth[item].Responses)
		}
	}
	if types[schemas.TypeItemIngested] != cfg.Items || types[schemas.TypeLabelSubmitted] != cfg.Items*cfg.RatersPerItem || types[schemas.TypeGoldLabelSet] == 0 {
		t.Errorf("events %v", types)
	}
}

// TestPositionBias: in the program as the demo plays it, the biased annotator chooses the
// first-shown response clearly more than half the time (the lower bound of its 95% Wilson
// interval is above one half), while the others together choose it half the time up to
// sampling; the display order is drawn per annotator, so annotators of one pair see it in
// different orders.
func TestPositionBias(t *testing.T) {
	cfg := preference.DefaultConfig("bias", 1)
	w := preference.Generate(cfg)
	if w.Biased == "" {
		t.Fatal("no biased annotator")
	}
	var firstB, nB, firstO, nO, itemOrder int
	orders := map[string]map[string]bool{}
	for _, l := range w.Labels {
		first := l.Choice == l.ShownFirst
		if l.Annotator == w.Biased {
			nB++
			if first {
				firstB++
			}
		} else {
			nO++
			if first {
				firstO++
			}
		}
		if l.ShownFirst == w.Truth[l.ItemID].Responses[0] {
			itemOrder++
		}
		if orders[l.ItemID] == nil {
			orders[l.ItemID] = map[string]bool{}
		}
		orders[l.ItemID][l.ShownFirst] = true
	}
	lo, hi := wilson(firstB, nB)
	if !(lo > 0.5) {
		t.Errorf("biased annotator %s: %d of %d first-shown choices, interval [%.3f, %.3f]: want clearly above one half", w.Biased, firstB, nB, lo, hi)
	}
	if share := float64(firstO) / float64(nO); math.Abs(share-0.5) > 0.06 {
		t.Errorf("the others choose the first shown %.3f of the time (%d of %d), want about one half", share, firstO, nO)
	}
	if share := float64(itemOrder) / float64(len(w.Labels)); math.Abs(share-0.5) > 0.06 {
		t.Errorf("the item's first response is shown first %.3f of the time, want the order drawn at random", share)
	}
	mixed := 0
	for _, o := range orders {
		if len(o) == 2 {
			mixed++
		}
	}
	if mixed < len(orders)/2 {
		t.Errorf("only %d of %d pairs seen in both orders", mixed, len(orders))
	}
	t.Logf("biased %s: %d of %d first shown [%.3f, %.3f]; others %d of %d; %d of %d pairs seen in both orders", w.Biased, firstB, nB, lo, hi, firstO, nO, mixed, len(orders))
}

// TestSkill: the experts agree with the truth more than the crowd, everyone more on pairs of
// a larger margin, and wrong choices come with lower strengths than right ones.
func TestSkill(t *testing.T) {
	cfg := preference.DefaultConfig("skill", 2)
	cfg.Items = 3000
	w := preference.Generate(cfg)
	right := map[string][2]int{}
	byMargin := map[int32][2]int{}
	var sRight, sWrong [2]float64
	for _, l := range w.Labels {
		p := w.Truth[l.ItemID]
		ok := l.Choice == p.Preferred
		add := func(c [2]int) [2]int {
			if ok {
				c[0]++
			}
			c[1]++
			return c
		}
		right[l.Cohort] = add(right[l.Cohort])
		byMargin[p.Margin] = add(byMargin[p.Margin])
		if ok {
			sRight = [2]float64{sRight[0] + float64(l.Strength), sRight[1] + 1}
		} else {
			sWrong = [2]float64{sWrong[0] + float64(l.Strength), sWrong[1] + 1}
		}
	}
	rate := func(c [2]int) float64 { return float64(c[0]) / float64(c[1]) }
	if !(rate(right["crowd"]) < rate(right["experts"])-0.05) {
		t.Errorf("accuracy experts %.3f, crowd %.3f", rate(right["experts"]), rate(right["crowd"]))
	}
	if !(rate(byMargin[1]) < rate(byMargin[2]) && rate(byMargin[2]) < rate(byMargin[3])) {
		t.Errorf("accuracy by margin %.3f %.3f %.3f: want it growing", rate(byMargin[1]), rate(byMargin[2]), rate(byMargin[3]))
	}
	if !(sWrong[0]/sWrong[1] < sRight[0]/sRight[1]) {
		t.Errorf("mean strength right %.2f, wrong %.2f", sRight[0]/sRight[1], sWrong[0]/sWrong[1])
	}
	t.Logf("accuracy experts %.3f crowd %.3f; by margin %.3f %.3f %.3f; mean strength right %.2f wrong %.2f",
		rate(right["experts"]), rate(right["crowd"]), rate(byMargin[1]), rate(byMargin[2]), rate(byMargin[3]), sRight[0]/sRight[1], sWrong[0]/sWrong[1])
}

// wilson is the 95% Wilson score interval of k successes in n.
func wilson(k, n int) (float64, float64) {
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	c := (p + z*z/(2*nf)) / (1 + z*z/nf)
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / (1 + z*z/nf)
	return c - h, c + h
}
