package regions

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
)

// bio turns one sentence's IOB2 tags into spans over token offsets, half-open: the form the
// published NER examples below are written in.
func bio(tags ...string) []Span {
	var out []Span
	for i, tag := range tags {
		switch {
		case len(tag) > 2 && tag[:2] == "B-":
			out = append(out, Span{Label: tag[2:], Start: int64(i), End: int64(i + 1)})
		case len(tag) > 2 && tag[:2] == "I-" && len(out) > 0 && out[len(out)-1].End == int64(i) && out[len(out)-1].Label == tag[2:]:
			out[len(out)-1].End++
		case len(tag) > 2 && tag[:2] == "I-":
			out = append(out, Span{Label: tag[2:], Start: int64(i), End: int64(i + 1)}) // IOB1-style start, as conlleval reads it
		}
	}
	return out
}

// score sums ScoreSpans over sentences (predicted against gold).
func scoreSentences(t *testing.T, pred, gold [][]Span, th float64) Figures {
	t.Helper()
	var f Figures
	for i := range gold {
		c, err := ScoreSpans(pred[i], gold[i], th)
		if err != nil {
			t.Fatal(err)
		}
		f.Merge(c)
	}
	return f
}

func approx(t *testing.T, what string, got float64, err error, want float64) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v, want %v", what, err, want)
	} else if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestNervaluateExample reproduces the usage example of nervaluate's README (MantisAI/
// nervaluate, README.md "Usage example", commit fce0139): two sentences, "The John Smith who
// works at Google Inc" and "In Paris Marie Curie lived in 1895". Its "strict" scenario (exact
// boundaries and type) is the same-label matching at IoU threshold 1; the README reports
// correct 2, incorrect 3, precision = recall = F1 = 0.40, and per entity type DATE 1.00, LOC
// 0.00, ORG 1.00, PER 0.00. Its "exact" scenario (boundaries regardless of type) is the
// any-label matching at threshold 1: correct 2.
func TestNervaluateExample(t *testing.T) {
	gold := [][]Span{
		bio("O", "B-PER", "I-PER", "O", "O", "O", "B-ORG", "I-ORG"),
		bio("O", "B-LOC", "B-PER", "I-PER", "O", "O", "B-DATE"),
	}
	pred := [][]Span{
		bio("O", "O", "B-PER", "I-PER", "O", "O", "B-ORG", "I-ORG"),
		bio("O", "B-LOC", "I-LOC", "B-PER", "O", "O", "B-DATE"),
	}
	f := scoreSentences(t, pred, gold, 1)
	if f.Matched != 2 || f.RegionsA != 5 || f.RegionsB != 5 {
		t.Fatalf("strict: %+v, want 2 matched of 5 predicted and 5 gold", f.Counts)
	}
	p, err := f.Precision()
	approx(t, "precision", p, err, 0.4)
	r, err := f.Recall()
	approx(t, "recall", r, err, 0.4)
	f1, err := f.F1()
	approx(t, "F1", f1, err, 0.4)
	for label, want := range map[string]float64{"DATE": 1, "LOC": 0, "ORG": 1, "PER": 0} {
		got, err := f.Labels[label].F1()
		approx(t, label+" F1", got, err, want)
	}
	exact := 0
	for i := range gold {
		pairs, err := MatchSpans(pred[i], gold[i], 1, AnyLabel)
		if err != nil {
			t.Fatal(err)
		}
		exact += len(pairs)
	}
	if exact != 2 {
		t.Errorf("exact scenario: %d correct, want 2", exact)
	}
}

// TestSeqevalExample reproduces the first example of seqeval's README (chakki-works/seqeval,
// README.md "Usage", commit cd01b52): f1_score = 0.50, MISC precision/recall/F1 0.00 (gold
// tokens 3-5, predicted 2-5), PER 1.00. seqeval counts exact matches, threshold 1 here. The
// MISC spans have IoU 3/4, so at a threshold of 0.75 they match and F1 is 1.
func TestSeqevalExample(t *testing.T) {
	gold := [][]Span{bio("O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"), bio("B-PER", "I-PER", "O")}
	pred := [][]Span{bio("O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"), bio("B-PER", "I-PER", "O")}
	f := scoreSentences(t, pred, gold, 1)
	f1, err := f.F1()
	approx(t, "F1 at 1", f1, err, 0.5)
	misc, err := f.Labels["MISC"].F1()
	approx(t, "MISC F1", misc, err, 0)
	per, err := f.Labels["PER"].F1()
	approx(t, "PER F1", per, err, 1)

	f = scoreSentences(t, pred, gold, 0.75)
	f1, err = f.F1()
	approx(t, "F1 at 0.75", f1, err, 1)
	iou, err := f.MeanIoU()
	approx(t, "mean IoU at 0.75", iou, err, (1+0.75)/2)
	f = scoreSentences(t, pred, gold, 0.76)
	f1, err = f.F1()
	approx(t, "F1 at 0.76", f1, err, 0.5)
}

// TestPairwiseF1 follows the definition for agreement between two annotators on three units:
// F1 = 2·matched / (regions of the first + regions of the second), each summed over the unit
// pairs first (Hripcsak and Rothschild 2005, "Agreement, the F-measure, and reliability in
// information retrieval", JAMIA 12(3): positive specific agreement 2a/(2a+b+c), a the matches,
// b and c the regions only one annotator marked).
func TestPairwiseF1(t *testing.T) {
	units := [][2][]Span{
		{{{"x", 0, 10}, {"y", 20, 30}}, {{"x", 0, 9}, {"y", 20, 30}, {"x", 40, 45}}}, // 2 matched (0.9, 1), 2 + 3 regions
		{{}, {{"x", 0, 5}}},                            // an empty list is a label with no regions: 0 of 0 + 1
		{{{"x", 0, 10}}, {{"y", 0, 10}}},               // label disagreement: 0 of 1 + 1 (label alpha's pair)
		{{}, {}},                                       // both empty: a unit pair that adds nothing else
		{{{"y", 0, 10}}, {{"y", 0, 10}}},               // 1 matched (IoU 1)
		{{{"x", 0, 10}}, {{"x", 0, 10}, {"x", 0, 10}}}, // one to one: 1 matched of 1 + 2
	}
	var a Agreement
	for _, u := range units {
		c, err := CompareSpans(u[0], u[1], DefaultThreshold)
		if err != nil {
			t.Fatal(err)
		}
		a.Merge(c)
	}
	if a.Units != 6 || a.Matched != 4 || a.RegionsA != 5 || a.RegionsB != 8 || a.IoUMicro != 3_900_000 {
		t.Fatalf("tally %+v (%d units), want 6 units, 4 matched, 5 + 8 regions, IoU sum 3.9", a.Counts, a.Units)
	}
	f1, err := a.F1()
	approx(t, "pairwise F1", f1, err, 8.0/13)
	iou, err := a.MeanIoU()
	approx(t, "mean IoU", iou, err, 3.9/4)
	// x: matched 2 (0.9 and 1), regions A 3, B 5; y: matched 2, regions A 2, B 3.
	x, err := a.Labels["x"].F1()
	approx(t, "x F1", x, err, 4.0/8)
	y, err := a.Labels["y"].F1()
	approx(t, "y F1", y, err, 4.0/5)

	// Label alpha: the any-label matching pairs (x,x) 0.9, (y,y), (x,y), (y,y), (x,x): five
	// units of two values; n_x = 5, n_y = 5, one disagreeing pair, so
	// alpha = 1 − (n−1)·(o_xy + o_yx) / (2·n_x·n_y) = 1 − 9·2/50 = 0.64.
	res, err := a.Alpha()
	approx(t, "label alpha", res.Alpha, err, 0.64)
	if res.PairableUnits != 5 {
		t.Errorf("label alpha over %d pairs, want 5", res.PairableUnits)
	}
	rep := a.Report()
	if rep.PairwiseF1 == nil || *rep.PairwiseF1 != f1 || rep.LabelAlpha == nil || rep.LabelAlphaPairs != 5 || len(rep.PerLabelF1) != 2 {
		t.Errorf("report %+v", rep)
	}
}

func TestUndefined(t *testing.T) {
	var a Agreement
	c, err := CompareSpans(nil, nil, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	a.Merge(c)
	if a.Units != 1 {
		t.Errorf("units %d, want 1", a.Units)
	}
	if _, err := a.F1(); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("F1 of nothing: %v", err)
	}
	if _, err := a.MeanIoU(); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("mean IoU of nothing: %v", err)
	}
	if _, err := a.Alpha(); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("alpha of nothing: %v", err)
	}
	rep := a.Report()
	if rep.PairwiseF1 != nil || rep.PairwiseF1Undefined == "" || rep.LabelAlpha != nil || rep.LabelAlphaUndefined == "" {
		t.Errorf("report of nothing %+v", rep)
	}
	// One label throughout: label alpha is undefined (no variation), F1 is not.
	c, _ = CompareSpans([]Span{{"x", 0, 5}}, []Span{{"x", 0, 5}}, 0.5)
	a.Merge(c)
	if _, err := a.Alpha(); !errors.Is(err, agreement.ErrNoVariation) {
		t.Errorf("alpha of one label: %v", err)
	}
	if f1, err := a.F1(); err != nil || f1 != 1 {
		t.Errorf("F1 %v, %v", f1, err)
	}
	acc := Figures{Units: 1, Counts: Counts{RegionsB: 3}}.AccuracyReport()
	if acc.Precision != nil || acc.Recall == nil || *acc.Recall != 0 || acc.F1 == nil || *acc.F1 != 0 {
		t.Errorf("accuracy with nothing predicted: %+v", acc)
	}
}

// TestAddSubtractRestores: a stream processor adds unit pairs' contributions and takes them
// out again in any order; the tally must come back exactly (integers), equal to the tally of
// what remains, and Subtract must refuse what was never added.
func TestAddSubtractRestores(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	labels := "xyz"
	var parts []Agreement
	for c := 0; c < 400; c++ {
		var (
			part Agreement
			err  error
		)
		if c%2 == 0 {
			ents := spanEntities(rng, 1+rng.IntN(4), labels)
			part, err = CompareSpans(randomSpans(rng, rng.IntN(6), ents, 2, labels), randomSpans(rng, rng.IntN(6), ents, 2, labels), 0.5)
		} else {
			ents := boxEntities(rng, 1+rng.IntN(4), labels)
			part, err = CompareBoxes(randomBoxes(rng, rng.IntN(6), ents, 1, labels), randomBoxes(rng, rng.IntN(6), ents, 1, labels), 0.5)
		}
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
	}
	var all Agreement
	for _, p := range parts {
		all.Merge(p)
	}
	before := all.Clone()
	// Take out a random half in random order; the rest, merged afresh, must equal what is left.
	perm := rng.Perm(len(parts))
	out, keep := perm[:len(perm)/2], perm[len(perm)/2:]
	for _, k := range out {
		if err := all.Subtract(parts[k]); err != nil {
			t.Fatal(err)
		}
	}
	var rest Agreement
	for _, k := range keep {
		rest.Merge(parts[k])
	}
	if !all.Equal(rest) {
		t.Fatalf("after subtracting half: %+v\nwant %+v", all.Figures, rest.Figures)
	}
	for _, k := range out {
		all.Merge(parts[k])
	}
	if !all.Equal(before) {
		t.Fatal("adding the half back does not restore the tally")
	}
	for _, k := range perm {
		if err := all.Subtract(parts[k]); err != nil {
			t.Fatal(err)
		}
	}
	if !all.Equal(Agreement{}) || all.Labels != nil {
		t.Fatalf("subtracting everything leaves %+v", all.Figures)
	}
	if err := all.Subtract(parts[0]); err == nil {
		t.Error("subtracting from an empty tally succeeded")
	}
	if !all.Equal(Agreement{}) {
		t.Error("a refused Subtract changed the tally")
	}
}

// TestSwapSymmetric: agreement does not depend on which annotator is first: swapping the
// lists swaps the region counts and keeps matched pairs, IoU and label alpha.
func TestSwapSymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 5))
	for c := 0; c < 300; c++ {
		ents := spanEntities(rng, 1+rng.IntN(4), "xy")
		a, b := randomSpans(rng, rng.IntN(7), ents, 2, "xy"), randomSpans(rng, rng.IntN(7), ents, 2, "xy")
		ab, err := CompareSpans(a, b, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		ba, err := CompareSpans(b, a, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if ab.Matched != ba.Matched || ab.IoUMicro != ba.IoUMicro || ab.RegionsA != ba.RegionsB || ab.RegionsB != ba.RegionsA {
			t.Fatalf("%v vs %v: %+v, swapped %+v", a, b, ab.Counts, ba.Counts)
		}
		if !(Agreement{LabelAlpha: ab.LabelAlpha}).Equal(Agreement{LabelAlpha: ba.LabelAlpha}) {
			t.Fatalf("%v vs %v: label alpha differs when swapped", a, b)
		}
	}
}

func TestCompareUnit(t *testing.T) {
	values := map[string][]Span{
		"ann": {{"x", 0, 10}},
		"bob": {{"x", 0, 10}},
		"cat": {},
	}
	u, err := CompareUnitSpans(values, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// Pairs (ann, bob): 1 of 1 + 1; (ann, cat): 0 of 1 + 0; (bob, cat): 0 of 1 + 0.
	if u.Units != 3 || u.Matched != 1 || u.RegionsA != 3 || u.RegionsB != 1 {
		t.Errorf("unit tally %+v (%d units)", u.Counts, u.Units)
	}
	single, err := CompareUnitSpans(map[string][]Span{"ann": {{"x", 0, 1}}}, 0.5)
	if err != nil || !single.Equal(Agreement{}) {
		t.Errorf("one annotator: %+v, %v", single, err)
	}
}
