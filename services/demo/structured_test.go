package demo

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/demo/preference"
)

// TestStructured: the three structured programs beside a main program are deterministic, in
// projects of their own, each opened by its question; every event is valid; every label, gold
// and pre-label value is admitted by its program's question and drawn on its item's own
// extent, every region inside it; event and item ids are unique across all four programs.
func TestStructured(t *testing.T) {
	main := Build("t", "proj", 3, 120)
	ps, qs := BuildStructured("t", "proj", 3, 120), BuildStructured("t", "proj", 3, 120)
	if !reflect.DeepEqual(ps, qs) {
		t.Fatal("equal builds differ")
	}
	if len(ps) != 3 {
		t.Fatalf("%d structured programs", len(ps))
	}
	levels := map[string]schemas.MeasurementLevel{NameNER: schemas.LevelSpans, NameDetection: schemas.LevelBoxes, NamePreference: schemas.LevelPreference}
	ids, items := map[string]bool{}, map[string]bool{}
	for _, ev := range main.Events {
		ids[ev.Meta().EventID] = true
		if e, ok := ev.(*schemas.ItemIngested); ok {
			items[e.ItemID] = true
		}
	}
	for i, p := range ps {
		if want := Projects("proj")[i+1]; p.Project != want || p.Question.ProjectID != want || p.Question.Level != levels[p.Name] {
			t.Fatalf("program %d: %s in %s, question %+v", i, p.Name, p.Project, p.Question)
		}
		if p.Events[0] != schemas.Event(p.Question) {
			t.Errorf("%s: first event %s, want its question", p.Name, p.Events[0].Type())
		}
		extent := map[string]*schemas.Extent{}
		counts := map[schemas.EventType]int{}
		for _, ev := range p.Events {
			if err := ev.Validate(); err != nil {
				t.Fatalf("%s: %s %s invalid: %v", p.Name, ev.Type(), ev.Meta().EventID, err)
			}
			if id := ev.Meta().EventID; ids[id] {
				t.Fatalf("%s: duplicate event id %s", p.Name, id)
			} else {
				ids[id] = true
			}
			counts[ev.Type()]++
			var v schemas.LabelValue
			var item string
			switch e := ev.(type) {
			case *schemas.ItemIngested:
				if items[e.ItemID] || e.ProjectID != p.Project {
					t.Fatalf("%s: item %s again, or in project %s", p.Name, e.ItemID, e.ProjectID)
				}
				items[e.ItemID] = true
				extent[e.ItemID] = e.Extent
				continue
			case *schemas.LabelSubmitted:
				v, item = e.Value, e.ItemID
				if e.ProjectID != p.Project {
					t.Fatalf("%s: label in project %s", p.Name, e.ProjectID)
				}
			case *schemas.GoldLabelSet:
				v, item = e.Value, e.ItemID
			case *schemas.PreLabelProposed:
				v, item = e.Value, e.ItemID
			default:
				continue
			}
			if err := p.Question.Admits(v); err != nil {
				t.Fatalf("%s: %s on %s not admitted: %v", p.Name, ev.Type(), item, err)
			}
			x, ok := extent[item]
			if !ok {
				t.Fatalf("%s: %s on %s before its item", p.Name, ev.Type(), item)
			}
			if !reflect.DeepEqual(v.Extent, x) {
				t.Fatalf("%s: %s on %s drawn on %+v, the item is %+v", p.Name, ev.Type(), item, v.Extent, x)
			}
			if !inside(v) {
				t.Fatalf("%s: %s on %s has a region outside %+v: %+v", p.Name, ev.Type(), item, v.Extent, v)
			}
		}
		want, raters := StructuredItems(120), 3
		if p.Name == NameNER {
			raters = 4 // every annotator of the NER pilot labels every text
		}
		if counts[schemas.TypeItemIngested] != want || counts[schemas.TypeLabelSubmitted] != raters*want || counts[schemas.TypeGoldLabelSet] == 0 {
			t.Errorf("%s: events %v, want %d items, %d labels each, some gold", p.Name, counts, want, raters)
		}
		if p.Name == NameDetection && counts[schemas.TypePreLabelProposed] != want {
			t.Errorf("detection: %d pre-labels, want one an item", counts[schemas.TypePreLabelProposed])
		}
	}
	if s := BuildStructured("t", "proj", 4, 120); reflect.DeepEqual(s[0].Events[5], ps[0].Events[5]) {
		t.Error("different seeds, same events")
	}
}

// inside reports whether every region of v lies inside its extent.
func inside(v schemas.LabelValue) bool {
	if v.Extent == nil {
		return len(v.Spans) == 0 && len(v.Boxes) == 0
	}
	w, h := v.Extent.Size()
	for _, s := range v.Spans {
		if s.Start < 0 || s.End <= s.Start || float64(s.End) > w {
			return false
		}
	}
	for _, b := range v.Boxes {
		if b.X < 0 || b.Y < 0 || !(b.W > 0 && b.H > 0) || b.X+b.W > w || b.Y+b.H > h {
			return false
		}
	}
	return true
}

// TestStructuredPrincipals: scoped to Projects, the demo's principals write every event of the
// four programs, each by the role that writes its type: the owner the questions, the model
// the detector's pre-labels, each vendor's labeler its cohorts' labels.
func TestStructuredPrincipals(t *testing.T) {
	ps := Principals(Projects("proj")...)
	var text strings.Builder
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		text.WriteString(p.Line(access.HashToken(fmt.Sprint("token-", i))) + "\n")
	}
	reg, err := access.Parse("demo principals", text.String())
	if err != nil {
		t.Fatal(err)
	}
	w := access.NewWriters(reg)
	evs := [][]schemas.Event{Build("t", "proj", 1, 120).Events}
	for _, s := range BuildStructured("t", "proj", 1, 120) {
		evs = append(evs, s.Events)
	}
	used := map[string]int{}
	for _, ev := range Merge(evs...) {
		p, err := w.Pick(ev)
		if err != nil {
			t.Fatalf("%s %s: no principal: %v", ev.Type(), ev.Meta().EventID, err)
		}
		used[p.ID]++
		switch e := ev.(type) {
		case *schemas.QuestionDefined:
			if p.ID != "demo-owner" {
				t.Errorf("question %s sent by %s", e.QuestionID, p.ID)
			}
		case *schemas.PreLabelProposed:
			if p.ID != "demo-prelabeler" {
				t.Errorf("pre-label by %s", p.ID)
			}
		case *schemas.LabelSubmitted:
			want := "demo-labelers-inhouse"
			if e.Vendor != "" {
				want = "demo-labelers-" + e.Vendor
			}
			if p.ID != want {
				t.Errorf("label of vendor %q cohort %q sent by %s", e.Vendor, e.Cohort, p.ID)
			}
		}
	}
	for _, p := range ps {
		if p.Role.Writes() && used[p.ID] == 0 {
			t.Errorf("%s writes nothing", p.ID)
		}
	}
	for _, id := range []string{"demo-labelers-lexica", "demo-vendor-lexica"} {
		if _, ok := reg.Principal(id); !ok {
			t.Errorf("no principal %s for the named-entity program's vendor", id)
		}
	}
	t.Logf("events per principal: %v", used)
}

// TestStructuredAsPlayed: as `assay demo` plays a round (each program shifted to end now,
// then merged), every program keeps its order and is spread over the whole round, each
// question is played before its project's items, and in the preference program the biased
// annotator chooses the first-shown response clearly more than half the time (the lower bound
// of its 95% Wilson interval above one half) at the demo's default size.
func TestStructuredAsPlayed(t *testing.T) {
	const items = 600 // assay demo's default
	end := time.UnixMilli(1_900_000_000_000)
	main := Build("demo1", "demo", 1, items)
	Shift(main.Events, end)
	lists := [][]schemas.Event{main.Events}
	for _, s := range BuildStructured("demo1", "demo", 1, items) {
		Shift(s.Events, end)
		if _, last := Span(s.Events); last != end.UnixMilli() {
			t.Errorf("%s ends at %d, want %d", s.Name, last, end.UnixMilli())
		}
		lists = append(lists, s.Events)
	}
	played := Merge(lists...)
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if len(played) != n {
		t.Fatalf("merged %d of %d events", len(played), n)
	}
	pos := map[string]int{}
	for i, ev := range played {
		pos[ev.Meta().EventID] = i
	}
	for k, l := range lists {
		for i := 1; i < len(l); i++ {
			if pos[l[i-1].Meta().EventID] > pos[l[i].Meta().EventID] {
				t.Fatalf("%s played after %s: a program's order is kept", l[i-1].Meta().EventID, l[i].Meta().EventID)
			}
		}
		// Spread over the round: the program's first event among the round's first events, its
		// fifth in the round's first 2%, its last in the round's last 2%.
		if first, fifth, last := pos[l[0].Meta().EventID], pos[l[4].Meta().EventID], pos[l[len(l)-1].Meta().EventID]; first >= len(lists) || fifth > n/50 || last < n-n/50 {
			t.Errorf("program %d played at %d (first), %d (fifth) and %d (last) of %d", k, first, fifth, last, n)
		}
	}
	defined := map[string]bool{}
	for _, ev := range played {
		switch e := ev.(type) {
		case *schemas.QuestionDefined:
			defined[e.ProjectID] = true
		case *schemas.ItemIngested:
			if e.ProjectID != "demo" && !defined[e.ProjectID] {
				t.Fatalf("item %s of %s played before its question", e.ItemID, e.ProjectID)
			}
		}
	}

	w := preference.Generate(PreferenceConfig("demo1", "demo", 1, items))
	first, total := 0, 0
	for _, l := range w.Labels {
		if l.Annotator == w.Biased {
			total++
			if l.Choice == l.ShownFirst {
				first++
			}
		}
	}
	const z = 1.959963984540054
	p, nf := float64(first)/float64(total), float64(total)
	lo := ((p + z*z/(2*nf)) - z*math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))) / (1 + z*z/nf)
	if !(lo > 0.5) {
		t.Errorf("biased annotator %s: %d of %d first-shown choices, Wilson lower bound %.3f", w.Biased, first, total, lo)
	}
	t.Logf("%d events played; biased annotator %s: %d of %d first-shown choices (lower bound %.3f)", n, w.Biased, first, total, lo)
}
