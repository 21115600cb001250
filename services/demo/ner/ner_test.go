package ner_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/ner"
)

// TestDeterministicAndValid: equal configs give equal events; the question comes first and
// every event is valid; every label and gold value is admitted by the question and drawn on
// its text's own extent, its spans inside the text, sorted and never overlapping.
func TestDeterministicAndValid(t *testing.T) {
	cfg := ner.DefaultConfig("t", 3)
	a, b := ner.Generate(cfg), ner.Generate(cfg)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same config, different events")
	}
	if c := ner.Generate(ner.DefaultConfig("t", 4)); reflect.DeepEqual(c.Labels, a.Labels) {
		t.Error("different seeds, same labels")
	}
	q, ok := a.Events[0].(*schemas.QuestionDefined)
	if !ok || q.Level != schemas.LevelSpans || !reflect.DeepEqual(q.Labels, []string{"PER", "ORG", "LOC", "MISC"}) || q.ProjectID != cfg.Project {
		t.Fatalf("first event %+v, want the spans question", a.Events[0])
	}
	extent := map[string]schemas.Extent{}
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
		case *schemas.ItemIngested:
			if e.Extent == nil || e.Extent.Unit != schemas.UnitCharacters || e.Modality != "text" {
				t.Fatalf("item %+v", e)
			}
			extent[e.ItemID] = *e.Extent
			continue
		case *schemas.LabelSubmitted:
			v, item = e.Value, e.ItemID
			if e.ProjectID != cfg.Project || e.QuestionID != q.QuestionID || e.Vendor == "" {
				t.Fatalf("label %+v", e)
			}
		case *schemas.GoldLabelSet:
			v, item = e.Value, e.ItemID
		default:
			continue
		}
		if err := q.Admits(v); err != nil {
			t.Fatalf("%s on %s not admitted: %v", ev.Type(), item, err)
		}
		x, ok := extent[item]
		if !ok || !reflect.DeepEqual(*v.Extent, x) {
			t.Fatalf("%s on %s drawn on %+v, item's extent %+v", ev.Type(), item, v.Extent, x)
		}
		for i, s := range v.Spans {
			if s.Start < 0 || s.End <= s.Start || s.End > *x.Length || i > 0 && s.Start < v.Spans[i-1].End {
				t.Fatalf("%s on %s: span %d %+v of %v (length %d)", ev.Type(), item, i, s, v.Spans, *x.Length)
			}
		}
	}
	for _, ty := range []schemas.EventType{schemas.TypeQuestionDefined, schemas.TypeItemIngested, schemas.TypeLabelSubmitted, schemas.TypeGoldLabelSet} {
		if types[ty] == 0 {
			t.Errorf("no %s", ty)
		}
	}
	if types[schemas.TypeItemIngested] != cfg.Items || types[schemas.TypeLabelSubmitted] != cfg.Items*cfg.RatersPerItem {
		t.Errorf("events %v", types)
	}
}

// TestNoise: each kind of noise happens (a missed entity, a moved boundary, a wrong type, a
// spurious span), and the crowd vendor's spans agree less with each other and with the truth
// than the specialist vendor's.
func TestNoise(t *testing.T) {
	cfg := ner.DefaultConfig("noise", 1)
	cfg.Items = 1500
	w := ner.Generate(cfg)
	var missed, moved, confused, spurious int
	for _, l := range w.Labels {
		tr := w.Truth[l.ItemID]
		for _, e := range tr {
			found := false
			for _, s := range l.Spans {
				if s.Start < e.End && e.Start < s.End {
					found = true
					if s.Label != e.Label {
						confused++
					}
					if s.Start != e.Start || s.End != e.End {
						moved++
					}
				}
			}
			if !found {
				missed++
			}
		}
		for _, s := range l.Spans {
			hit := false
			for _, e := range tr {
				hit = hit || s.Start < e.End && e.Start < s.End
			}
			if !hit {
				spurious++
			}
		}
	}
	if missed == 0 || moved == 0 || confused == 0 || spurious == 0 {
		t.Errorf("missed %d, moved %d, confused %d, spurious %d: want each kind of noise", missed, moved, confused, spurious)
	}
	within := map[string][2]int{} // vendor -> matched pairs x2, regions
	byItem := map[string][]ner.Label{}
	for _, l := range w.Labels {
		byItem[l.ItemID] = append(byItem[l.ItemID], l)
	}
	for _, ls := range byItem {
		for i := range ls {
			for j := i + 1; j < len(ls); j++ {
				if ls[i].Vendor != ls[j].Vendor {
					continue
				}
				m := matched(ls[i].Spans, ls[j].Spans)
				c := within[ls[i].Vendor]
				within[ls[i].Vendor] = [2]int{c[0] + 2*m, c[1] + len(ls[i].Spans) + len(ls[j].Spans)}
			}
		}
	}
	f1 := func(c [2]int) float64 { return float64(c[0]) / float64(c[1]) }
	strong, weak := f1(within["lexica"]), f1(within["acme"])
	if !(weak < strong-0.1) {
		t.Errorf("pairwise F1 within lexica %.3f, within acme %.3f: want the crowd vendor clearly lower", strong, weak)
	}
	truth := map[string][2]int{}
	for _, l := range w.Labels {
		m := matched(l.Spans, w.Truth[l.ItemID])
		c := truth[l.Vendor]
		truth[l.Vendor] = [2]int{c[0] + 2*m, c[1] + len(l.Spans) + len(w.Truth[l.ItemID])}
	}
	if !(f1(truth["acme"]) < f1(truth["lexica"])-0.05) {
		t.Errorf("F1 against the truth: lexica %.3f, acme %.3f", f1(truth["lexica"]), f1(truth["acme"]))
	}
	t.Logf("pairwise F1 within vendor: lexica %.3f, acme %.3f; against truth: lexica %.3f, acme %.3f; missed %d, moved %d, confused %d, spurious %d",
		strong, weak, f1(truth["lexica"]), f1(truth["acme"]), missed, moved, confused, spurious)
}

// matched counts the pairs of a one-to-one matching of same-label spans with IoU >= 0.5,
// greedily by IoU: a rough check of the noise model, not the project's definition of region
// agreement (streams/regions), which maximizes the total IoU.
func matched(a, b []schemas.Span) int {
	type pair struct {
		i, j int
		iou  float64
	}
	var ps []pair
	for i, x := range a {
		for j, y := range b {
			inter := min(x.End, y.End) - max(x.Start, y.Start)
			if x.Label != y.Label || inter <= 0 {
				continue
			}
			if iou := float64(inter) / float64(max(x.End, y.End)-min(x.Start, y.Start)); iou >= 0.5 {
				ps = append(ps, pair{i, j, iou})
			}
		}
	}
	sort.Slice(ps, func(p, q int) bool { return ps[p].iou > ps[q].iou })
	ua, ub := map[int]bool{}, map[int]bool{}
	n := 0
	for _, p := range ps {
		if !ua[p.i] && !ub[p.j] {
			ua[p.i], ub[p.j] = true, true
			n++
		}
	}
	return n
}
