package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/regions"
)

// The questions of an answers log.
const (
	qSpans = "q-spans"
	qBoxes = "q-boxes"
	qPref  = "q-pref"
	// prefScale is the strength scale of qPref.
	prefScale = 3
)

// day0 is the first day of an answers log (ms).
const day0 = 1_767_225_600_000 // 2026-01-01T00:00:00Z

// answersAnnotators are the annotators of an answers log: cohort and vendor of each.
var answersAnnotators = []struct{ id, cohort, vendor string }{
	{"ann-0", "experts", "v1"}, {"ann-1", "experts", ""}, {"ann-2", "experts", ""},
	{"ann-3", "crowd", "v1"}, {"ann-4", "crowd", ""},
}

// answersLog generates a log of the labels topic with spans, boxes and preference questions
// of project run: two to four annotators an item (every one of them on half the spans
// items), annotators who err (shifted, dropped,
// relabeled and spurious regions; a wrong choice), some labeling an item twice (the second
// label earlier or later in occurred_at), gold answers and corrected ones, retractions, and,
// with extras, what the processors must refuse or ignore: copies of events delivered again,
// a retraction by another producer, a preference comparing other responses than its item's.
// Items start over five days. Every event validates and encodes. Equal arguments give equal
// logs.
func answersLog(run string, seed uint64, items int, extras bool) []schemas.Event {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := 0
	env := func(at int64, producer string) schemas.Envelope {
		n++
		return schemas.Envelope{EventID: fmt.Sprintf("%s-ev-%d", run, n), OccurredAt: at, RecordedAt: at + 500, Producer: producer}
	}
	producerOf := func(vendor string) string {
		if vendor == "" {
			return "labeler-inhouse"
		}
		return "labeler-" + vendor
	}
	var perItem [][]schemas.Event
	for i := range items {
		for _, q := range []string{qSpans, qBoxes, qPref} {
			item := fmt.Sprintf("%s-item-%d-%s", run, i, q)
			start := day0 + int64(i%5)*86_400_000 + int64(rnd.IntN(80_000_000))
			var evs []schemas.Event
			truth := truthValue(rnd, q, item)
			raters := rnd.Perm(len(answersAnnotators))[:2+rnd.IntN(3)]
			if q == qSpans && rnd.IntN(2) == 0 { // every annotator: an item unitizing alpha covers
				raters = rnd.Perm(len(answersAnnotators))
			}
			type sub struct {
				id, producer string
				at           int64
			}
			var labels []sub
			at := start
			for k, r := range raters {
				a := answersAnnotators[r]
				at += int64(1 + rnd.IntN(3_600_000))
				id := fmt.Sprintf("%s-l-%d", item, k)
				l := &schemas.LabelSubmitted{Envelope: env(at, producerOf(a.vendor)), LabelID: id, ItemID: item, ProjectID: run,
					TaskID: "t", QuestionID: q, AnnotatorID: a.id, Cohort: a.cohort, Vendor: a.vendor, GuidelineVersion: "g1",
					Value: noisy(rnd, q, truth, r)}
				evs = append(evs, l)
				labels = append(labels, sub{id, l.Producer, at})
				if rnd.IntN(8) == 0 { // the same annotator again, later or earlier in occurred_at
					again := at + int64(rnd.IntN(7_200_000)) - 3_600_000
					evs = append(evs, &schemas.LabelSubmitted{Envelope: env(again, producerOf(a.vendor)), LabelID: id + "-again", ItemID: item,
						ProjectID: run, TaskID: "t", QuestionID: q, AnnotatorID: a.id, Cohort: a.cohort, Vendor: a.vendor,
						GuidelineVersion: "g1", Value: noisy(rnd, q, truth, r)})
					labels = append(labels, sub{id + "-again", l.Producer, again})
				}
			}
			if rnd.IntN(10) < 3 {
				g := truth
				corrected := rnd.IntN(4) == 0
				if corrected {
					g = noisy(rnd, q, truth, 3)
				}
				at += 1000
				evs = append(evs, &schemas.GoldLabelSet{Envelope: env(at, "qa-1"), ItemID: item, QuestionID: q, Value: g, SetBy: "qa-1"})
				if corrected {
					at += 1000
					evs = append(evs, &schemas.GoldLabelSet{Envelope: env(at, "qa-1"), ItemID: item, QuestionID: q, Value: truth, SetBy: "qa-1"})
				}
			}
			for _, l := range labels {
				if rnd.IntN(12) == 0 {
					at += 1000
					evs = append(evs, &schemas.LabelRetracted{Envelope: env(at, l.producer), LabelID: l.id, ItemID: item, Reason: "redo"})
				}
			}
			if extras && rnd.IntN(6) == 0 {
				at += 1000
				l := labels[0]
				evs = append(evs, &schemas.LabelRetracted{Envelope: env(at, "labeler-someone-else"), LabelID: l.id, ItemID: item, Reason: "not mine"})
			}
			if extras && q == qPref && rnd.IntN(4) == 0 {
				at += 1000
				bad := &schemas.LabelSubmitted{Envelope: env(at, "labeler-inhouse"), LabelID: item + "-bad", ItemID: item, ProjectID: run,
					TaskID: "t", QuestionID: q, AnnotatorID: "ann-1", Cohort: "experts", GuidelineVersion: "g1", Value: badValue(q, item)}
				evs = append(evs, bad)
			}
			perItem = append(perItem, evs)
		}
	}
	// Interleave the items at random, keeping each item's order.
	var out []schemas.Event
	for len(perItem) > 0 {
		i := rnd.IntN(len(perItem))
		out = append(out, perItem[i][0])
		if perItem[i] = perItem[i][1:]; len(perItem[i]) == 0 {
			perItem = slices.Delete(perItem, i, i+1)
		}
	}
	if extras { // copies, delivered a few records later
		src := slices.Clone(out)
		for i := 0; i < len(src); i += 11 {
			at := min(len(out), i+i/11+4)
			out = slices.Insert(out, at, src[i])
		}
	}
	return out
}

// truthValue is an item's true answer.
func truthValue(rnd *rand.Rand, q, item string) schemas.LabelValue {
	switch q {
	case qSpans:
		var spans []schemas.Span
		at := int64(rnd.IntN(10))
		for range 1 + rnd.IntN(4) {
			l := int64(5 + rnd.IntN(20))
			spans = append(spans, schemas.Span{Label: []string{"PER", "ORG", "LOC"}[rnd.IntN(3)], Start: at, End: at + l})
			at += l + 5 + int64(rnd.IntN(15)) // apart enough that no error makes two of a label overlap
		}
		return schemas.Spans(schemas.UnitCharacters, 200, spans...)
	case qBoxes:
		var boxes []schemas.Box
		for range 1 + rnd.IntN(4) {
			boxes = append(boxes, schemas.Box{Label: []string{"car", "person"}[rnd.IntN(2)],
				X: float64(rnd.IntN(500)), Y: float64(rnd.IntN(380)), W: float64(20 + rnd.IntN(100)), H: float64(20 + rnd.IntN(80))})
		}
		return clampBoxes(schemas.Boxes(640, 480, boxes...))
	}
	responses := []string{item + "-r1", item + "-r2"}
	if rnd.IntN(5) == 0 {
		responses = append(responses, item+"-r3")
	}
	v := schemas.Choice(responses[rnd.IntN(len(responses))], responses[0], responses...)
	return v
}

// clampBoxes keeps every box inside the image.
func clampBoxes(v schemas.LabelValue) schemas.LabelValue {
	for i := range v.Boxes {
		b := &v.Boxes[i]
		b.X, b.Y = max(0, min(b.X, 640-b.W)), max(0, min(b.Y, 480-b.H))
	}
	return v
}

// noisy is annotator r's answer given the truth: the better annotators (low r) err less.
func noisy(rnd *rand.Rand, q string, truth schemas.LabelValue, r int) schemas.LabelValue {
	p := 0.1 + 0.08*float64(r) // chance of each kind of error
	switch q {
	case qSpans:
		var spans []schemas.Span
		for _, s := range truth.Spans {
			if rnd.Float64() < p/2 {
				continue // missed
			}
			s.Start = max(0, s.Start+int64(rnd.IntN(5))-2)
			s.End = max(s.Start+1, min(200, s.End+int64(rnd.IntN(5))-2))
			if rnd.Float64() < p {
				s.Label = []string{"PER", "ORG", "LOC"}[rnd.IntN(3)]
			}
			spans = append(spans, s)
		}
		if rnd.Float64() < p/2 {
			spans = append(spans, schemas.Span{Label: "MISC", Start: 150, End: 160 + int64(rnd.IntN(30))})
		}
		return schemas.Spans(schemas.UnitCharacters, 200, spans...)
	case qBoxes:
		var boxes []schemas.Box
		for _, b := range truth.Boxes {
			if rnd.Float64() < p/2 {
				continue
			}
			b.X += float64(rnd.IntN(21) - 10)
			b.Y += float64(rnd.IntN(21) - 10)
			b.W = max(5, b.W+float64(rnd.IntN(21)-10))
			if rnd.Float64() < p {
				b.Label = []string{"car", "person"}[rnd.IntN(2)]
			}
			boxes = append(boxes, b)
		}
		return clampBoxes(schemas.Boxes(640, 480, boxes...))
	}
	t := truth.Preference
	choice := t.Choice
	if rnd.Float64() < p*2 {
		choice = t.Responses[rnd.IntN(len(t.Responses))]
	}
	v := schemas.Choice(choice, t.Responses[rnd.IntN(len(t.Responses))], t.Responses...)
	if len(t.Responses) == 2 && rnd.IntN(6) > 0 {
		s := int32(1 + rnd.IntN(prefScale))
		v.Preference.Strength = &s
	}
	return v
}

// badValue is a preference kpi_preference refuses: it compares other responses than its
// item's. (A spans or boxes value above regions.MaxRegions, which kpi_regions refuses, cannot
// be encoded: TestRegionsRefusals covers it.)
func badValue(_, item string) schemas.LabelValue {
	return schemas.Choice(item+"-other", item+"-other", item+"-other", item+"-r1")
}

// offlineLabel is one label of the offline fold.
type offlineLabel struct {
	id, item, project, question, annotator, cohort, vendor, producer, level string
	at                                                                      int64
	value                                                                   schemas.LabelValue
}

// offlineUnit is a unit of the offline fold and the day it started.
type offlineUnit struct {
	project, question, level, item string
	day                            int64
	labels                         map[string]offlineLabel
}

// offlineAnswers folds a log of the labels topic by the rules the processors state (a copy
// of an applied event, a label id submitted again while it counts, a retraction of a label
// not counted change nothing; a retraction by another producer than the label's is refused;
// values the processors refuse are left out; the latest gold answer of an item question
// counts), with no code of theirs: the final labels and gold answers of level, which the
// libraries' figures are computed over.
type offlineAnswers struct {
	units map[string]*offlineUnit // project, question, level, item
	gold  map[string]schemas.LabelValue
	byID  map[string]string // live label id -> unit key
}

func foldAnswers(evs []schemas.Event, levels ...schemas.MeasurementLevel) *offlineAnswers {
	o := &offlineAnswers{units: map[string]*offlineUnit{}, gold: map[string]schemas.LabelValue{}, byID: map[string]string{}}
	applied := map[string]bool{}
	responsesOf := func(item, question string) []string { // the item question's responses, if any
		for _, u := range o.units {
			if u.item == item && u.question == question {
				for _, l := range u.labels {
					return l.value.Preference.Responses
				}
			}
		}
		if g, ok := o.gold[item+"\x00"+question]; ok {
			return g.Preference.Responses
		}
		return nil
	}
	admit := func(item, question string, v schemas.LabelValue) bool {
		switch v.Level {
		case schemas.LevelSpans:
			return len(v.Spans) <= regions.MaxRegions
		case schemas.LevelBoxes:
			return len(v.Boxes) <= regions.MaxRegions
		}
		r := responsesOf(item, question)
		return r == nil || slices.Equal(r, v.Preference.Responses)
	}
	for _, ev := range evs {
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			key := "l\x00" + e.ItemID + "\x00" + e.LabelID + "\x00" + e.EventID
			if !slices.Contains(levels, e.Value.Level) || applied[key] {
				continue
			}
			if _, live := o.byID[e.LabelID]; live {
				applied[key] = true
				continue
			}
			if !admit(e.ItemID, e.QuestionID, e.Value) {
				continue
			}
			applied[key] = true
			uk := strings.Join([]string{e.ProjectID, e.QuestionID, string(e.Value.Level), e.ItemID}, "\x00")
			u := o.units[uk]
			if u == nil {
				u = &offlineUnit{project: e.ProjectID, question: e.QuestionID, level: string(e.Value.Level), item: e.ItemID,
					day: floorDay(e.OccurredAt), labels: map[string]offlineLabel{}}
				o.units[uk] = u
			}
			u.labels[e.LabelID] = offlineLabel{id: e.LabelID, item: e.ItemID, project: e.ProjectID, question: e.QuestionID,
				annotator: e.AnnotatorID, cohort: e.Cohort, vendor: e.Vendor, producer: e.Producer, level: string(e.Value.Level),
				at: e.OccurredAt, value: e.Value}
			o.byID[e.LabelID] = uk
		case *schemas.LabelRetracted:
			key := "r\x00" + e.ItemID + "\x00" + e.LabelID + "\x00" + e.EventID
			if applied[key] {
				continue
			}
			uk, live := o.byID[e.LabelID]
			if !live {
				applied[key] = true
				continue
			}
			u := o.units[uk]
			if u.labels[e.LabelID].producer != e.Producer {
				continue // refused
			}
			applied[key] = true
			delete(u.labels, e.LabelID)
			delete(o.byID, e.LabelID)
			if len(u.labels) == 0 {
				delete(o.units, uk)
			}
		case *schemas.GoldLabelSet:
			key := "g\x00" + e.ItemID + "\x00" + e.QuestionID + "\x00" + e.EventID
			if !slices.Contains(levels, e.Value.Level) || applied[key] || !admit(e.ItemID, e.QuestionID, e.Value) {
				continue
			}
			applied[key] = true
			o.gold[e.ItemID+"\x00"+e.QuestionID] = e.Value
		}
	}
	return o
}

func floorDay(ms int64) int64 {
	d := ms / 86_400_000
	if ms%86_400_000 != 0 && ms < 0 {
		d--
	}
	return d
}

// currents returns every annotator's answer on u: their latest label by occurred_at, then
// label id.
func (u *offlineUnit) currents() map[string]offlineLabel {
	out := map[string]offlineLabel{}
	for _, l := range u.labels {
		c, ok := out[l.annotator]
		if !ok || l.at > c.at || (l.at == c.at && l.id > c.id) {
			out[l.annotator] = l
		}
	}
	return out
}

// inScope reports whether an answer counts in scope (all, cohort, vendor).
func (l offlineLabel) inScope(scope string) bool {
	return scope == kpi.ScopeAll || (l.cohort != "" && scope == kpi.CohortScope(l.cohort)) ||
		(l.vendor != "" && scope == kpi.VendorScope(l.vendor))
}

func toSpans(v schemas.LabelValue) []regions.Span {
	var out []regions.Span
	for _, s := range v.Spans {
		out = append(out, regions.Span{Label: s.Label, Start: s.Start, End: s.End})
	}
	return out
}

func toBoxes(v schemas.LabelValue) []regions.Box {
	var out []regions.Box
	for _, b := range v.Boxes {
		out = append(out, regions.Box{Label: b.Label, X: b.X, Y: b.Y, W: b.W, H: b.H, Score: b.Score})
	}
	return out
}

// compareUnit is streams/regions' figure of one unit over the answers given.
func compareUnit(t testing.TB, level string, answers map[string]offlineLabel) regions.Agreement {
	t.Helper()
	var a regions.Agreement
	var err error
	if level == string(schemas.LevelBoxes) {
		m := map[string][]regions.Box{}
		for ann, l := range answers {
			m[ann] = toBoxes(l.value)
		}
		a, err = regions.CompareUnitBoxes(m, regions.DefaultThreshold)
	} else {
		m := map[string][]regions.Span{}
		for ann, l := range answers {
			m[ann] = toSpans(l.value)
		}
		a, err = regions.CompareUnitSpans(m, regions.DefaultThreshold)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// regionFigures are the libraries' figures over the final answers of a fold, for one
// (project, question, level, scope) and, when day is not nil, the units that started on it.
func (o *offlineAnswers) regionFigures(t testing.TB, project, question, level, scope string, day *int64) (regions.Agreement, regions.Figures) {
	t.Helper()
	var agree regions.Agreement
	var gold regions.Figures
	for _, u := range o.units {
		if u.project != project || u.question != question || u.level != level || (day != nil && u.day != *day) {
			continue
		}
		cur := u.currents()
		if a, ok := strings.CutPrefix(scope, "annotator:"); ok {
			if mine, ok := cur[a]; ok {
				for b, other := range cur {
					if b != a {
						agree.Merge(compareUnit(t, level, map[string]offlineLabel{a: mine, b: other}))
					}
				}
			}
		} else {
			in := maps.Clone(cur)
			maps.DeleteFunc(in, func(_ string, l offlineLabel) bool { return !l.inScope(scope) })
			agree.Merge(compareUnit(t, level, in))
		}
		g, ok := o.gold[u.item+"\x00"+u.question]
		if !ok || string(g.Level) != level {
			continue
		}
		for ann, l := range cur {
			if !(l.inScope(scope) || scope == kpi.AnnotatorScope(ann)) {
				continue
			}
			var f regions.Figures
			var err error
			if level == string(schemas.LevelBoxes) {
				f, err = regions.ScoreBoxes(toBoxes(l.value), toBoxes(g), regions.DefaultThreshold)
			} else {
				f, err = regions.ScoreSpans(toSpans(l.value), toSpans(g), regions.DefaultThreshold)
			}
			if err != nil {
				t.Fatal(err)
			}
			gold.Merge(f)
		}
	}
	return agree, gold
}

func toLabel(v schemas.LabelValue) preference.Label {
	p := v.Preference
	return preference.Label{Responses: p.Responses, Choice: p.Choice, ShownFirst: p.ShownFirst, Strength: p.Strength}
}

// preferenceFigures are streams/preference's additive figures over the final answers of a
// fold, for one (project, question, scope): nominal and ordinal coincidences (the ordinal
// coded with preference.OrdinalValues on the question's scale), their profiles, and the
// position-bias and accuracy counts.
type preferenceFigures struct {
	nominal, ordinal                 *agreement.Coincidences
	nominalProfiles, ordinalProfiles []agreement.UnitProfile
	bias                             preference.BiasCounts
	accuracy                         preference.AccuracyCounts
}

func (o *offlineAnswers) preferenceFigures(t testing.TB, project, question, scope string, day *int64) preferenceFigures {
	t.Helper()
	f := preferenceFigures{nominal: agreement.NewCoincidences(), ordinal: agreement.NewCoincidences()}
	var nominal, ordinal [][]agreement.Value
	for _, u := range o.units {
		if u.project != project || u.question != question || (day != nil && u.day != *day) {
			continue
		}
		cur := u.currents()
		var in []preference.Label
		for _, ann := range slices.Sorted(maps.Keys(cur)) {
			l := cur[ann]
			if l.inScope(scope) {
				in = append(in, toLabel(l.value))
			}
			if !(l.inScope(scope) || scope == kpi.AnnotatorScope(ann)) {
				continue
			}
			b, err := preference.BiasOf(toLabel(l.value))
			if err != nil {
				t.Fatal(err)
			}
			f.bias = f.bias.Add(b)
			if g, ok := o.gold[u.item+"\x00"+u.question]; ok {
				a, err := preference.AccuracyOf(toLabel(l.value), toLabel(g))
				if err != nil {
					t.Fatal(err)
				}
				f.accuracy = f.accuracy.Add(a)
			}
		}
		nv, err := preference.NominalValues(in)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := preference.OrdinalValues(in, prefScale)
		if err != nil {
			t.Fatal(err)
		}
		f.nominal.AddUnit(nv)
		f.ordinal.AddUnit(ov)
		if len(nv) >= 2 {
			nominal = append(nominal, nv)
		}
		if len(ov) >= 2 {
			ordinal = append(ordinal, ov)
		}
	}
	f.nominalProfiles, f.ordinalProfiles = agreement.Profiles(nominal), agreement.Profiles(ordinal)
	return f
}

// answerScopes lists the scopes of an answers log's figures.
func answerScopes() []string {
	out := []string{kpi.ScopeAll, kpi.CohortScope("experts"), kpi.CohortScope("crowd"), kpi.VendorScope("v1")}
	for _, a := range answersAnnotators {
		out = append(out, kpi.AnnotatorScope(a.id))
	}
	return out
}
