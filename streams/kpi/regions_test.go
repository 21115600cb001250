package kpi_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// spans is a spans value on a text of 100 characters.
func spans(ss ...schemas.Span) schemas.LabelValue {
	return schemas.Spans(schemas.UnitCharacters, 100, ss...)
}

func per(start, end int64) schemas.Span { return schemas.Span{Label: "PER", Start: start, End: end} }
func org(start, end int64) schemas.Span { return schemas.Span{Label: "ORG", Start: start, End: end} }

// goldAs is a GoldLabelSet of question q with event id id.
func goldAs(id, item string, v schemas.LabelValue) *schemas.GoldLabelSet {
	return &schemas.GoldLabelSet{Envelope: schemas.Envelope{EventID: id}, ItemID: item, QuestionID: "q", Value: v, SetBy: "lead"}
}

// at sets a label's occurred_at (ms) and returns it.
func at(l *schemas.LabelSubmitted, ms int64) *schemas.LabelSubmitted {
	l.OccurredAt = ms
	return l
}

// regionRows renders kpi_regions rows as "table scope day label counts...", one a row.
func regionRows(rows []runtime.Row) []string {
	var out []string
	for _, r := range rows {
		v := r.Values
		day := v[4].(time.Time).Format(time.DateOnly)
		if v[5] != kpi.RegionsIoUThreshold {
			return []string{fmt.Sprintf("iou_threshold %v", v[5])}
		}
		switch r.Table {
		case kpi.TableRegionLabelCells:
			out = append(out, fmt.Sprintf("cells %s %s %v %v %v %v", v[3], day, v[8], v[9], v[10], v[11]))
		default:
			name := map[string]string{kpi.TableRegionPairs: "pairs", kpi.TableRegionGold: "gold"}[r.Table]
			out = append(out, fmt.Sprintf("%s %s %s %q %v %v %v %v %v", name, v[3], day, v[8], v[9], v[10], v[11], v[12], v[13]))
		}
	}
	return out
}

func TestRegionsApplyRows(t *testing.T) {
	const d0 = "1970-01-01"
	tests := []struct {
		name string
		pre  []schemas.Event
		ev   schemas.Event
		rows []string // pairs/gold: scope day label units matched regions_a regions_b iou_micro; cells: scope day size a b count
	}{
		{
			name: "first label of a unit: no pair, nothing written",
			ev:   label("l1", "i1", "a1", "", spans(per(0, 10))),
		},
		{
			name: "a second annotator pairs the unit: all and both annotators' scopes, micro and per label",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10)))},
			ev:   label("l2", "i1", "a2", "", spans(per(0, 8), org(20, 30))),
			rows: []string{
				`pairs all ` + d0 + ` "" 1 1 1 2 800000`,
				`pairs all ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs all ` + d0 + ` "PER" 0 1 1 1 800000`,
				`pairs annotator:a1 ` + d0 + ` "" 1 1 1 2 800000`,
				`pairs annotator:a1 ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 1 1 1 800000`,
				`pairs annotator:a2 ` + d0 + ` "" 1 1 1 2 800000`,
				`pairs annotator:a2 ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 1 1 1 800000`,
				`cells all ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a1 ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a2 ` + d0 + ` 2 PER PER 2`,
			},
		},
		{
			name: "a region matched across labels counts in label alpha's cells only",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10)))},
			ev:   label("l2", "i1", "a2", "", spans(org(0, 10))),
			rows: []string{
				`pairs all ` + d0 + ` "" 1 0 1 1 0`,
				`pairs all ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs all ` + d0 + ` "PER" 0 0 1 0 0`,
				`pairs annotator:a1 ` + d0 + ` "" 1 0 1 1 0`,
				`pairs annotator:a1 ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 0 1 0 0`,
				`pairs annotator:a2 ` + d0 + ` "" 1 0 1 1 0`,
				`pairs annotator:a2 ` + d0 + ` "ORG" 0 0 0 1 0`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 0 1 0 0`,
				`cells all ` + d0 + ` 2 ORG PER 1`,
				`cells annotator:a1 ` + d0 + ` 2 ORG PER 1`,
				`cells annotator:a2 ` + d0 + ` 2 ORG PER 1`,
			},
		},
		{
			name: "a cohort's scope holds the pairs of two of its annotators (a vendor of one has none); the first label's day is the unit's",
			pre: []schemas.Event{at(label("l1", "i1", "a1", "c1", spans(per(0, 10))), 1000),
				at(label("l2", "i1", "a2", "c2", spans(per(0, 10))), 90_000_000)},
			ev: func() schemas.Event {
				l := at(label("l3", "i1", "a3", "c1", spans()), 100_000_000)
				l.Vendor = "v"
				return l
			}(),
			rows: []string{ // the totals: l1-l2 before, l1-l3 and l2-l3 now (a3 sorts last: its regions are b)
				`pairs all ` + d0 + ` "" 3 1 3 1 1000000`,
				`pairs all ` + d0 + ` "PER" 0 1 3 1 1000000`,
				`pairs annotator:a1 ` + d0 + ` "" 2 1 2 1 1000000`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 1 2 1 1000000`,
				`pairs annotator:a2 ` + d0 + ` "" 2 1 2 1 1000000`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 1 2 1 1000000`,
				`pairs annotator:a3 ` + d0 + ` "" 2 0 2 0 0`,
				`pairs annotator:a3 ` + d0 + ` "PER" 0 0 2 0 0`,
				`pairs cohort:c1 ` + d0 + ` "" 1 0 1 0 0`,
				`pairs cohort:c1 ` + d0 + ` "PER" 0 0 1 0 0`,
			},
		},
		{
			name: "an annotator's later label replaces their answer: its pairs go out as they were and in as they are",
			pre:  []schemas.Event{at(label("l1", "i1", "a1", "", spans(per(0, 10))), 1000), label("l2", "i1", "a2", "", spans(per(0, 10)))},
			ev:   at(label("l1b", "i1", "a1", "", spans(per(0, 20))), 2000),
			rows: []string{
				`pairs all ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs all ` + d0 + ` "PER" 0 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 1 1 1 500000`,
				`cells all ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a1 ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a2 ` + d0 + ` 2 PER PER 2`,
			},
		},
		{
			name: "an annotator's earlier label (by occurred_at) arriving late is not their answer: nothing moves",
			pre:  []schemas.Event{at(label("l1", "i1", "a1", "", spans(per(0, 10))), 5000), label("l2", "i1", "a2", "", spans(per(0, 10)))},
			ev:   at(label("l1b", "i1", "a1", "", spans(per(0, 20))), 2000),
		},
		{
			name: "retracting an annotator's latest label makes the one before it their answer again",
			pre: []schemas.Event{at(label("l1", "i1", "a1", "", spans(per(0, 10))), 1000), label("l2", "i1", "a2", "", spans(per(0, 20))),
				at(label("l1b", "i1", "a1", "", spans(per(0, 20))), 2000)},
			ev: retract("l1b", "i1"),
			rows: []string{
				`pairs all ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs all ` + d0 + ` "PER" 0 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 1 1 1 500000`,
				`cells all ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a1 ` + d0 + ` 2 PER PER 2`,
				`cells annotator:a2 ` + d0 + ` 2 PER PER 2`,
			},
		},
		{
			name: "retraction undoes exactly: totals written as zeros",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10))), label("l2", "i1", "a2", "", spans(per(0, 10)))},
			ev:   retract("l2", "i1"),
			rows: []string{
				`pairs all ` + d0 + ` "" 0 0 0 0 0`,
				`pairs all ` + d0 + ` "PER" 0 0 0 0 0`,
				`pairs annotator:a1 ` + d0 + ` "" 0 0 0 0 0`,
				`pairs annotator:a1 ` + d0 + ` "PER" 0 0 0 0 0`,
				`pairs annotator:a2 ` + d0 + ` "" 0 0 0 0 0`,
				`pairs annotator:a2 ` + d0 + ` "PER" 0 0 0 0 0`,
				`cells all ` + d0 + ` 2 PER PER 0`,
				`cells annotator:a1 ` + d0 + ` 2 PER PER 0`,
				`cells annotator:a2 ` + d0 + ` 2 PER PER 0`,
			},
		},
		{
			name: "gold after labels scores every answer in its scopes",
			pre:  []schemas.Event{label("l1", "i1", "a1", "c1", spans(per(0, 10))), label("l2", "i1", "a2", "c1", spans(org(0, 10)))},
			ev:   goldSet("i1", spans(per(0, 10))),
			rows: []string{
				`gold all ` + d0 + ` "" 2 1 2 2 1000000`,
				`gold all ` + d0 + ` "ORG" 0 0 1 0 0`,
				`gold all ` + d0 + ` "PER" 0 1 1 2 1000000`,
				`gold annotator:a1 ` + d0 + ` "" 1 1 1 1 1000000`,
				`gold annotator:a1 ` + d0 + ` "PER" 0 1 1 1 1000000`,
				`gold annotator:a2 ` + d0 + ` "" 1 0 1 1 0`,
				`gold annotator:a2 ` + d0 + ` "ORG" 0 0 1 0 0`,
				`gold annotator:a2 ` + d0 + ` "PER" 0 0 0 1 0`,
				`gold cohort:c1 ` + d0 + ` "" 2 1 2 2 1000000`,
				`gold cohort:c1 ` + d0 + ` "ORG" 0 0 1 0 0`,
				`gold cohort:c1 ` + d0 + ` "PER" 0 1 1 2 1000000`,
			},
		},
		{
			name: "a label after gold is scored on arrival",
			pre:  []schemas.Event{goldSet("i1", spans(per(0, 10)))},
			ev:   label("l1", "i1", "a1", "", spans(per(0, 10))),
			rows: []string{
				`gold all ` + d0 + ` "" 1 1 1 1 1000000`,
				`gold all ` + d0 + ` "PER" 0 1 1 1 1000000`,
				`gold annotator:a1 ` + d0 + ` "" 1 1 1 1 1000000`,
				`gold annotator:a1 ` + d0 + ` "PER" 0 1 1 1 1000000`,
			},
		},
		{
			name: "a corrected gold re-scores",
			pre:  []schemas.Event{goldAs("g1", "i1", spans(org(0, 10))), label("l1", "i1", "a1", "", spans(per(0, 10)))},
			ev:   goldAs("g2", "i1", spans(per(0, 10))),
			rows: []string{
				`gold all ` + d0 + ` "" 1 1 1 1 1000000`,
				`gold all ` + d0 + ` "ORG" 0 0 0 0 0`,
				`gold all ` + d0 + ` "PER" 0 1 1 1 1000000`,
				`gold annotator:a1 ` + d0 + ` "" 1 1 1 1 1000000`,
				`gold annotator:a1 ` + d0 + ` "ORG" 0 0 0 0 0`,
				`gold annotator:a1 ` + d0 + ` "PER" 0 1 1 1 1000000`,
			},
		},
		{
			name: "the same gold again changes nothing",
			pre:  []schemas.Event{goldSet("i1", spans(per(0, 10))), label("l1", "i1", "a1", "", spans(per(0, 10)))},
			ev: func() schemas.Event {
				g := goldSet("i1", spans(per(0, 10)))
				g.EventID += "-again"
				return g
			}(),
		},
		{
			name: "a copy of a label changes nothing",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10))), label("l2", "i1", "a2", "", spans(per(0, 10)))},
			ev:   label("l2", "i1", "a2", "", spans(per(0, 10))),
		},
		{
			name: "a label id submitted again under a new event id while it counts is ignored",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10))), label("l2", "i1", "a2", "", spans(per(0, 10)))},
			ev: func() schemas.Event {
				l := label("l2", "i1", "a2", "", spans(per(50, 60)))
				l.EventID = "other"
				return l
			}(),
		},
		{
			name: "a retraction of a label never counted changes nothing",
			ev:   retract("nope", "i1"),
		},
		{
			name: "boxes: IoU of areas",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", schemas.Boxes(100, 100, schemas.Box{Label: "car", X: 0, Y: 0, W: 10, H: 10}))},
			ev:   label("l2", "i1", "a2", "", schemas.Boxes(100, 100, schemas.Box{Label: "car", X: 0, Y: 0, W: 10, H: 5})),
			rows: []string{
				`pairs all ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs all ` + d0 + ` "car" 0 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a1 ` + d0 + ` "car" 0 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "" 1 1 1 1 500000`,
				`pairs annotator:a2 ` + d0 + ` "car" 0 1 1 1 500000`,
				`cells all ` + d0 + ` 2 car car 2`,
				`cells annotator:a1 ` + d0 + ` 2 car car 2`,
				`cells annotator:a2 ` + d0 + ` 2 car car 2`,
			},
		},
		{
			name: "spans and boxes of one question are two units: nothing pairs",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", spans(per(0, 10)))},
			ev:   label("l2", "i1", "a2", "", schemas.Boxes(100, 100, schemas.Box{Label: "car", X: 0, Y: 0, W: 10, H: 10})),
		},
		{
			name: "other levels are not kpi_regions' business",
			pre:  []schemas.Event{label("l1", "i1", "a1", "", schemas.Nominal("cat"))},
			ev:   label("l2", "i1", "a2", "", schemas.Nominal("cat")),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed(kpi.NewRegions(), "labels", 0, tc.pre...)
			rows, err := f.apply(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := regionRows(rows); !slices.Equal(got, tc.rows) {
				t.Errorf("rows:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.rows, "\n     "))
			}
		})
	}
}

// TestRegionsWindowDays: a unit counts on the day of its first label, whatever the day of
// the labels that pair with it; once every label of a unit is retracted it starts afresh.
func TestRegionsWindowDays(t *testing.T) {
	const day = 86_400_000
	f := newFeed(kpi.NewRegions(), "labels", 0,
		at(label("l1", "i1", "a1", "", spans(per(0, 10))), 3*day+5))
	rows := regionRows(f.must(at(label("l2", "i1", "a2", "", spans(per(0, 10))), 5*day+5)))
	if len(rows) == 0 || !strings.Contains(rows[0], "1970-01-04") {
		t.Fatalf("a unit started on day 3 counts there: %q", rows)
	}
	f.must(retract("l1", "i1"))
	f.must(retract("l2", "i1"))
	f.must(at(label("l3", "i1", "a1", "", spans(per(0, 10))), 9*day))
	rows = regionRows(f.must(at(label("l4", "i1", "a2", "", spans(per(0, 10))), 9*day+1)))
	if len(rows) == 0 || !strings.Contains(rows[0], "1970-01-10") {
		t.Fatalf("a unit started afresh on day 9 counts there: %q", rows)
	}
}

// TestRegionsRefusals: what goes to the DLQ, with the reason, and changes nothing.
func TestRegionsRefusals(t *testing.T) {
	many := make([]schemas.Span, regions.MaxRegions+1)
	for i := range many {
		many[i] = per(int64(i), int64(i+1))
	}
	mine := label("l1", "i1", "a1", "", spans(per(0, 10)))
	mine.Producer = "tool"
	f := newFeed(kpi.NewRegions(), "labels", 0, mine)
	keys := f.state.(runtime.StateSizer).StateKeys()
	if _, err := f.apply(label("l2", "i1", "a2", "", schemas.Spans(schemas.UnitCharacters, 1000, many...))); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("251 spans, more than the %d", regions.MaxRegions)) {
		t.Fatalf("a value of %d spans: %v", len(many), err)
	}
	g := goldSet("i1", schemas.Spans(schemas.UnitCharacters, 1000, many...))
	if _, err := f.apply(g); err == nil || !strings.Contains(err.Error(), "gold of i1/q") {
		t.Fatalf("a gold of %d spans: %v", len(many), err)
	}
	r := retract("l1", "i1")
	r.Producer = "someone-else"
	out, err := f.p.Apply(f.state, runtime.Record{Topic: "labels", Offset: 9, Event: r})
	runtimetest.Refused(t, "retraction by another producer", out, err, access.RuleOwnLabels)
	if got := f.state.(runtime.StateSizer).StateKeys(); got != keys {
		t.Fatalf("state keys %d after refusals, %d before", got, keys)
	}

	// Caps: the unit's and the partition's.
	capped := newFeed(kpi.NewRegions(kpi.WithMaxUnitLabels(2)), "labels", 0,
		label("l1", "i1", "a1", "", spans()), label("l2", "i1", "a2", "", spans()))
	if _, err := capped.apply(label("l3", "i1", "a3", "", spans())); !errors.Is(err, kpi.ErrStateLimit) {
		t.Fatalf("a third label of a unit capped at 2: %v", err)
	}
	// The annotators compared in a unit: a third annotator is refused, an annotator already
	// compared may change their answer; the default is DefaultMaxRegionAnnotators.
	duo := newFeed(kpi.NewRegions(kpi.WithMaxRegionAnnotators(2)), "labels", 0,
		label("l1", "i1", "a1", "", spans()), label("l2", "i1", "a2", "", spans()))
	if _, err := duo.apply(label("l3", "i1", "a3", "", spans())); !errors.Is(err, kpi.ErrStateLimit) || !strings.Contains(err.Error(), "2 annotators") {
		t.Fatalf("a third annotator of a unit capped at 2: %v", err)
	}
	if _, err := duo.apply(at(label("l4", "i1", "a2", "", spans(per(0, 3))), 9_000)); err != nil {
		t.Fatalf("a compared annotator's new answer: %v", err)
	}
	wide := newFeed(kpi.NewRegions(), "labels", 0)
	for i := range kpi.DefaultMaxRegionAnnotators {
		if _, err := wide.apply(label(fmt.Sprintf("w%d", i), "i1", fmt.Sprintf("a%d", i), "", spans())); err != nil {
			t.Fatalf("annotator %d of the default cap: %v", i, err)
		}
	}
	if _, err := wide.apply(label("w-last", "i1", "a-last", "", spans())); !errors.Is(err, kpi.ErrStateLimit) {
		t.Fatalf("annotator %d past the default cap: %v", kpi.DefaultMaxRegionAnnotators+1, err)
	}
	full := newFeed(kpi.NewRegions(kpi.WithMaxStateKeys(3)), "labels", 0, label("l1", "i1", "a1", "", spans()))
	if _, err := full.apply(label("l2", "i2", "a1", "", spans())); !errors.Is(err, kpi.ErrStateLimit) {
		t.Fatalf("a label past the state cap: %v", err)
	}
	if _, err := full.apply(retract("l1", "i1")); err != nil {
		t.Fatalf("a retraction at the cap frees keys and applies: %v", err)
	}
	// Every region held counts as a key: one label of 50 spans fills a cap of 40.
	heavy := newFeed(kpi.NewRegions(kpi.WithMaxStateKeys(40)), "labels", 0, label("l1", "i1", "a1", "", spans(many[:50]...)))
	if k := heavy.state.(runtime.StateSizer).StateKeys(); k < 50 {
		t.Fatalf("a label of 50 spans: %d state keys", k)
	}
	if _, err := heavy.apply(label("l2", "i2", "a1", "", spans())); !errors.Is(err, kpi.ErrStateLimit) {
		t.Fatalf("a label after 50 regions held under a cap of 40: %v", err)
	}
}

// TestRegionsMatchesLibrary: after the events of a log, in any order, the processor's totals
// of every scope are streams/regions' figures over the labels the order leaves (the latest
// answer of each annotator on each unit, the latest gold), computed by the library from
// scratch; and so are the totals of each day.
func TestRegionsMatchesLibrary(t *testing.T) {
	evs := answersLog("p", 5, 40, true)
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		order := slices.Clone(evs)
		if round > 0 { // the log's own order first, then shuffles
			rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		p := kpi.NewRegions()
		s := p.NewState("labels", 0).(*kpi.RegionsState)
		tables := finalRows{}
		for i, ev := range order {
			out, _ := p.Apply(s, runtime.Record{Topic: "labels", Offset: int64(i), Event: ev})
			tables.add(p, out.Rows)
		}
		o := foldAnswers(order, schemas.LevelSpans, schemas.LevelBoxes)
		// The rows, as ClickHouse keeps them (the latest of each key), hold each day's
		// figures.
		for _, level := range []string{"spans", "boxes"} {
			q := map[string]string{"spans": qSpans, "boxes": qBoxes}[level]
			for d := range int64(5) {
				day := day0/86_400_000 + d
				for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("crowd"), kpi.AnnotatorScope("ann-2")} {
					wantAgree, wantGold := o.regionFigures(t, "p", q, level, scope, &day)
					gotAgree, gotGold := tables.regionFigures(t, q, level, scope, day)
					if !gotAgree.Equal(wantAgree) || !gotGold.Equal(wantGold) {
						t.Fatalf("round %d, %s %s, day %d: rows hold %+v and %+v\nthe library over the final labels of the day's units: %+v and %+v",
							round, level, scope, d, gotAgree, gotGold, wantAgree, wantGold)
					}
				}
			}
		}
		for _, level := range []string{"spans", "boxes"} {
			q := map[string]string{"spans": qSpans, "boxes": qBoxes}[level]
			for _, scope := range answerScopes() {
				wantAgree, wantGold := o.regionFigures(t, "p", q, level, scope, nil)
				got, err := s.Agreement("p", q, level, scope)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(wantAgree) {
					t.Fatalf("round %d, %s %s: agreement %+v\nthe library over the final labels: %+v", round, level, scope, got, wantAgree)
				}
				if g := s.Gold("p", q, level, scope); !g.Equal(wantGold) {
					t.Fatalf("round %d, %s %s: gold %+v\nthe library over the final labels: %+v", round, level, scope, g, wantGold)
				}
				if round == 0 && scope == kpi.ScopeAll {
					r := wantAgree.Report()
					t.Logf("%s: %d unit pairs, pairwise F1 %.3f, mean IoU %.3f, label alpha %v; gold F1 over %d values %v",
						level, r.UnitPairs, *r.PairwiseF1, *r.MeanIoU, deref(r.LabelAlpha), wantGold.Units, deref(wantGold.AccuracyReport().F1))
				}
			}
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return "undefined"
	}
	return fmt.Sprintf("%.3f", *p)
}

// finalRows keeps the latest row of every key of a processor's tables, as ClickHouse's
// ReplacingMergeTree read with FINAL does: the key is every column but the counts and the
// version.
type finalRows map[string]map[string][]any

func (f finalRows) add(p runtime.Processor, rows []runtime.Row) {
	counts := map[string]bool{"unit_pairs": true, "matched": true, "regions_a": true, "regions_b": true, "iou_micro": true,
		"values_scored": true, "true_positives": true, "predicted": true, "gold": true, "count": true, "units": true,
		"first_chosen": true, "labels": true, "expected_scaled": true, "correct": true, "version": true, "values": true, "counts": true}
	for _, r := range rows {
		i := slices.IndexFunc(p.Tables(), func(t runtime.Table) bool { return t.Name == r.Table })
		var key []string
		for j, c := range p.Tables()[i].Columns {
			if !counts[c] {
				key = append(key, fmt.Sprint(r.Values[j]))
			}
		}
		if f[r.Table] == nil {
			f[r.Table] = map[string][]any{}
		}
		f[r.Table][strings.Join(key, "|")] = r.Values
	}
}

// regionFigures sums the rows of one (question, level, scope, day) of kpi_regions' tables
// back into the libraries' tallies.
func (f finalRows) regionFigures(t *testing.T, question, level, scope string, day int64) (regions.Agreement, regions.Figures) {
	t.Helper()
	var agree regions.Agreement
	var gold regions.Figures
	for table, rows := range f {
		for _, v := range rows {
			if v[1] != question || v[2] != level || v[3] != scope || v[4].(time.Time).Unix()/86400 != day {
				continue
			}
			switch table {
			case kpi.TableRegionLabelCells:
				co, err := agreement.CoincidencesFromCells([]agreement.Cell{{UnitSize: 2, A: agreement.Value(v[9].(string)), B: agreement.Value(v[10].(string)), Count: v[11].(int64)}})
				if err != nil {
					t.Fatal(err)
				}
				agree.Merge(regions.Agreement{LabelAlpha: co})
			default:
				c := regions.Counts{Matched: v[10].(int64), RegionsA: v[11].(int64), RegionsB: v[12].(int64), IoUMicro: v[13].(int64)}
				fig := regions.Figures{Units: v[9].(int64), Counts: c}
				if l := v[8].(string); l != "" {
					fig = regions.Figures{Labels: map[string]regions.Counts{l: c}}
				}
				if table == kpi.TableRegionPairs {
					agree.Merge(regions.Agreement{Figures: fig})
				} else {
					gold.Merge(fig)
				}
			}
		}
	}
	if agree.LabelAlpha != nil && len(agree.LabelAlpha.Cells()) == 0 {
		agree.LabelAlpha = nil
	}
	return agree, gold
}
