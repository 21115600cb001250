package detection_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/detection"
)

// TestDeterministicAndValid: equal configs give equal events; the question comes first and
// every event is valid; every label, gold and pre-label value is admitted by the question and
// drawn on its image's own extent, every box inside the image; pre-label boxes carry scores
// and the pre-label's confidence is the lowest of them.
func TestDeterministicAndValid(t *testing.T) {
	cfg := detection.DefaultConfig("t", 3)
	a, b := detection.Generate(cfg), detection.Generate(cfg)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same config, different events")
	}
	if c := detection.Generate(detection.DefaultConfig("t", 4)); reflect.DeepEqual(c.Labels, a.Labels) {
		t.Error("different seeds, same labels")
	}
	q, ok := a.Events[0].(*schemas.QuestionDefined)
	if !ok || q.Level != schemas.LevelBoxes || !reflect.DeepEqual(q.Labels, []string{"car", "pedestrian", "cyclist"}) || q.ProjectID != cfg.Project {
		t.Fatalf("first event %+v, want the boxes question", a.Events[0])
	}
	extent := map[string]schemas.Extent{}
	types := map[schemas.EventType]int{}
	ids := map[string]bool{}
	lowConfidence := 0
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
			if e.Extent == nil || e.Extent.Unit != schemas.UnitPixels || e.Modality != "image" {
				t.Fatalf("item %+v", e)
			}
			extent[e.ItemID] = *e.Extent
			continue
		case *schemas.LabelSubmitted:
			v, item = e.Value, e.ItemID
			if e.ProjectID != cfg.Project || e.QuestionID != q.QuestionID {
				t.Fatalf("label %+v", e)
			}
			for _, b := range v.Boxes {
				if b.Score != nil {
					t.Fatalf("label %s box with a score: only models score boxes", e.LabelID)
				}
			}
		case *schemas.GoldLabelSet:
			v, item = e.Value, e.ItemID
		case *schemas.PreLabelProposed:
			v, item = e.Value, e.ItemID
			lowest := 1.0
			for _, b := range v.Boxes {
				if b.Score == nil {
					t.Fatalf("pre-label of %s: box without a score", item)
				}
				lowest = min(lowest, *b.Score)
			}
			if len(v.Boxes) > 0 && e.Confidence != lowest {
				t.Errorf("pre-label of %s: confidence %v, lowest score %v", item, e.Confidence, lowest)
			}
			if e.Confidence < 0.5 {
				lowConfidence++
			}
			if e.Model != cfg.Detector.Model || e.ModelVersion != cfg.Detector.Version {
				t.Fatalf("pre-label %+v", e)
			}
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
		for i, b := range v.Boxes {
			if b.X < 0 || b.Y < 0 || !(b.W > 0) || !(b.H > 0) || b.X+b.W > *x.Width || b.Y+b.H > *x.Height {
				t.Fatalf("%s on %s: box %d %+v outside %vx%v", ev.Type(), item, i, b, *x.Width, *x.Height)
			}
		}
	}
	for _, ty := range []schemas.EventType{schemas.TypeQuestionDefined, schemas.TypeItemIngested, schemas.TypePreLabelProposed, schemas.TypeLabelSubmitted, schemas.TypeGoldLabelSet} {
		if types[ty] == 0 {
			t.Errorf("no %s", ty)
		}
	}
	if types[schemas.TypePreLabelProposed] != cfg.Items || types[schemas.TypeLabelSubmitted] != cfg.Items*cfg.RatersPerItem {
		t.Errorf("events %v", types)
	}
	if lowConfidence == 0 || lowConfidence > cfg.Items/2 {
		t.Errorf("%d of %d pre-labels below confidence 0.5: want some, not most", lowConfidence, cfg.Items)
	}
	t.Logf("%d of %d pre-labels below confidence 0.5", lowConfidence, cfg.Items)
}

// TestNoise: annotators miss objects and draw boxes that are not exact, and the crowd
// vendor's boxes agree less with each other and with the truth than the in-house experts';
// the detector's false positives score lower than its true finds.
func TestNoise(t *testing.T) {
	cfg := detection.DefaultConfig("noise", 1)
	cfg.Items = 1200
	w := detection.Generate(cfg)
	within := map[string][2]int{} // cohort -> 2 x matched pairs, boxes
	byItem := map[string][]detection.Label{}
	for _, l := range w.Labels {
		byItem[l.ItemID] = append(byItem[l.ItemID], l)
	}
	for _, ls := range byItem {
		for i := range ls {
			for j := i + 1; j < len(ls); j++ {
				if ls[i].Cohort == ls[j].Cohort {
					m, _ := matched(ls[i].Boxes, ls[j].Boxes)
					c := within[ls[i].Cohort]
					within[ls[i].Cohort] = [2]int{c[0] + 2*m, c[1] + len(ls[i].Boxes) + len(ls[j].Boxes)}
				}
			}
		}
	}
	f1 := func(c [2]int) float64 { return float64(c[0]) / float64(c[1]) }
	if !(f1(within["crowd"]) < f1(within["experts"])-0.1) {
		t.Errorf("pairwise F1 within experts %.3f, within crowd %.3f: want the crowd clearly lower", f1(within["experts"]), f1(within["crowd"]))
	}
	truth := map[string][2]int{}
	iou := map[string][2]float64{}
	exact := 0
	for _, l := range w.Labels {
		m, sum := matched(l.Boxes, w.Truth[l.ItemID])
		c := truth[l.Cohort]
		truth[l.Cohort] = [2]int{c[0] + 2*m, c[1] + len(l.Boxes) + len(w.Truth[l.ItemID])}
		s := iou[l.Cohort]
		iou[l.Cohort] = [2]float64{s[0] + sum, s[1] + float64(m)}
		if reflect.DeepEqual(l.Boxes, w.Truth[l.ItemID]) && len(l.Boxes) > 0 {
			exact++
		}
	}
	mean := func(s [2]float64) float64 { return s[0] / s[1] }
	if !(f1(truth["crowd"]) < f1(truth["experts"])-0.05) || !(mean(iou["crowd"]) < mean(iou["experts"])) {
		t.Errorf("against the truth: F1 experts %.3f crowd %.3f, mean IoU experts %.3f crowd %.3f",
			f1(truth["experts"]), f1(truth["crowd"]), mean(iou["experts"]), mean(iou["crowd"]))
	}
	if exact > len(w.Labels)/20 {
		t.Errorf("%d of %d labels exactly the truth: annotators' boxes are never pixel-exact that often", exact, len(w.Labels))
	}
	var tp, fp [2]float64
	for _, p := range w.PreLabels {
		for _, b := range p.Boxes {
			_, s := matched([]schemas.Box{b}, w.Truth[p.ItemID])
			if s > 0 {
				tp = [2]float64{tp[0] + *b.Score, tp[1] + 1}
			} else {
				fp = [2]float64{fp[0] + *b.Score, fp[1] + 1}
			}
		}
	}
	if fp[1] == 0 || !(mean(fp) < mean(tp)-0.2) {
		t.Errorf("detector: mean score %.3f over %v true finds, %.3f over %v others", mean(tp), tp[1], mean(fp), fp[1])
	}
	t.Logf("pairwise F1 within cohort: experts %.3f, crowd %.3f; against truth F1 experts %.3f crowd %.3f, mean IoU experts %.3f crowd %.3f; detector mean score %.3f (%v found), %.3f (%v other)",
		f1(within["experts"]), f1(within["crowd"]), f1(truth["experts"]), f1(truth["crowd"]), mean(iou["experts"]), mean(iou["crowd"]), mean(tp), tp[1], mean(fp), fp[1])
}

// matched counts the pairs of a one-to-one matching of same-label boxes with IoU >= 0.5,
// greedily by IoU, and sums their IoU: a rough check of the noise model, not the project's
// definition of region agreement (streams/regions), which maximizes the total IoU.
func matched(a, b []schemas.Box) (int, float64) {
	type pair struct {
		i, j int
		iou  float64
	}
	var ps []pair
	for i, x := range a {
		for j, y := range b {
			w := min(x.X+x.W, y.X+y.W) - max(x.X, y.X)
			h := min(x.Y+x.H, y.Y+y.H) - max(x.Y, y.Y)
			if x.Label != y.Label || w <= 0 || h <= 0 {
				continue
			}
			if iou := w * h / (x.W*x.H + y.W*y.H - w*h); iou >= 0.5 {
				ps = append(ps, pair{i, j, iou})
			}
		}
	}
	sort.Slice(ps, func(p, q int) bool { return ps[p].iou > ps[q].iou })
	ua, ub := map[int]bool{}, map[int]bool{}
	n, sum := 0, 0.0
	for _, p := range ps {
		if !ua[p.i] && !ub[p.j] {
			ua[p.i], ub[p.j] = true, true
			n++
			sum += p.iou
		}
	}
	return n, sum
}
