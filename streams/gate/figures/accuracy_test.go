package figures

import (
	"maps"
	"testing"

	"github.com/assay-data/assay/schemas"
)

// TestFinalAfterReview covers each rule of the denominator final_after_review on one gold
// item and question at a time.
func TestFinalAfterReview(t *testing.T) {
	nominal := schemas.Nominal
	at := func(ms int64, ev string) stated { return stated{at: ms, event: ev} }
	gold := func(item string, ms int64, v schemas.LabelValue) goldRow {
		return goldRow{item: item, question: "q", stated: at(ms, "ev-gold-"+item+"-"+v.Category), value: v}
	}
	label := func(id, item string, ms int64, v schemas.LabelValue) labelRow {
		return labelRow{label: id, item: item, question: "q", stated: at(ms, "ev-"+id), value: v}
	}
	review := func(id string, ms int64, verdict schemas.Verdict, corrected schemas.LabelValue) reviewRow {
		return reviewRow{label: id, stated: at(ms, "ev-review-"+id), verdict: verdict, corrected: corrected}
	}
	none := schemas.LabelValue{}
	for _, c := range []struct {
		name      string
		gold      []goldRow
		labels    []labelRow
		reviews   []reviewRow
		retracted []string
		members   map[string][]string
		want      map[string]score
	}{
		{name: "no gold", labels: []labelRow{label("l1", "i1", 1, nominal("car"))}, want: map[string]score{}},
		{name: "an unreviewed label stands as submitted",
			gold: []goldRow{gold("i1", 1, nominal("car"))}, labels: []labelRow{label("l1", "i1", 2, nominal("car"))},
			want: map[string]score{"q": {1, 1}}},
		{name: "the latest gold counts, not the first (a corrected gold)",
			gold:   []goldRow{gold("i1", 5, nominal("car")), gold("i1", 1, nominal("truck"))},
			labels: []labelRow{label("l1", "i1", 2, nominal("car"))}, want: map[string]score{"q": {1, 1}}},
		{name: "gold at the same instant: the later event id",
			gold:   []goldRow{gold("i1", 5, nominal("truck")), gold("i1", 5, nominal("car"))},
			labels: []labelRow{label("l1", "i1", 2, nominal("truck"))}, want: map[string]score{"q": {1, 1}}},
		{name: "a correcting review's value stands",
			gold: []goldRow{gold("i1", 1, nominal("truck"))}, labels: []labelRow{label("l1", "i1", 2, nominal("car"))},
			reviews: []reviewRow{review("l1", 3, schemas.VerdictCorrect, nominal("truck"))}, want: map[string]score{"q": {1, 1}}},
		{name: "only the latest review decides",
			gold: []goldRow{gold("i1", 1, nominal("truck"))}, labels: []labelRow{label("l1", "i1", 2, nominal("car"))},
			reviews: []reviewRow{review("l1", 3, schemas.VerdictCorrect, nominal("truck")), {label: "l1", stated: at(4, "ev-accept"), verdict: schemas.VerdictAccept}},
			want:    map[string]score{"q": {0, 1}}},
		{name: "a rejected label does not stand: the item does not count",
			gold: []goldRow{gold("i1", 1, nominal("car"))}, labels: []labelRow{label("l1", "i1", 2, nominal("car"))},
			reviews: []reviewRow{review("l1", 3, schemas.VerdictReject, none)}, want: map[string]score{}},
		{name: "a retracted label does not stand",
			gold: []goldRow{gold("i1", 1, nominal("car"))}, labels: []labelRow{label("l1", "i1", 2, nominal("car"))},
			retracted: []string{"l1"}, want: map[string]score{}},
		{name: "the latest label that stands counts, once per item",
			gold: []goldRow{gold("i1", 1, nominal("car"))},
			labels: []labelRow{label("l1", "i1", 2, nominal("car")), label("l2", "i1", 3, nominal("truck")),
				label("l3", "i1", 4, nominal("bus")), label("l4", "i1", 5, nominal("van"))},
			reviews:   []reviewRow{review("l3", 6, schemas.VerdictReject, none)},
			retracted: []string{"l4"}, want: map[string]score{"q": {0, 1}}},
		{name: "the version's member label counts rather than the latest",
			gold:    []goldRow{gold("i1", 1, nominal("car"))},
			labels:  []labelRow{label("l1", "i1", 2, nominal("car")), label("l2", "i1", 3, nominal("truck"))},
			members: map[string][]string{"i1": {"l1"}}, want: map[string]score{"q": {1, 1}}},
		{name: "a member label that does not stand leaves the item out, whatever else stands",
			gold:    []goldRow{gold("i1", 1, nominal("car"))},
			labels:  []labelRow{label("l1", "i1", 2, nominal("car")), label("l2", "i1", 3, nominal("car"))},
			reviews: []reviewRow{review("l1", 4, schemas.VerdictReject, none)},
			members: map[string][]string{"i1": {"l1"}}, want: map[string]score{}},
		{name: "a member label of another question does not stand for this one",
			gold: []goldRow{gold("i1", 1, nominal("car"))},
			labels: []labelRow{label("l1", "i1", 2, nominal("car")),
				{label: "l9", item: "i1", question: "q9", stated: at(3, "ev-l9"), value: nominal("car")}},
			members: map[string][]string{"i1": {"l9"}}, want: map[string]score{"q": {1, 1}}},
		{name: "a label resubmitted: its latest statement counts",
			gold:   []goldRow{gold("i1", 1, nominal("car"))},
			labels: []labelRow{label("l1", "i1", 2, nominal("car")), {label: "l1", item: "i1", question: "q", stated: at(5, "ev-again"), value: nominal("bus")}},
			want:   map[string]score{"q": {0, 1}}},
		{name: "copies of one event change nothing",
			gold:    []goldRow{gold("i1", 1, nominal("car")), gold("i1", 1, nominal("car"))},
			labels:  []labelRow{label("l1", "i1", 2, nominal("car")), label("l1", "i1", 2, nominal("car"))},
			reviews: []reviewRow{review("l1", 3, schemas.VerdictAccept, none), review("l1", 3, schemas.VerdictAccept, none)},
			want:    map[string]score{"q": {1, 1}}},
		{name: "canonical forms: sets ignore order and duplicates, numbers their spelling, levels must match",
			gold: []goldRow{
				{item: "s", question: "q", stated: at(1, "g1"), value: schemas.MultiLabel("a", "b")},
				{item: "n", question: "q", stated: at(1, "g2"), value: schemas.Interval(1)},
				{item: "o", question: "q", stated: at(1, "g3"), value: schemas.Ordinal("good", 2)},
				{item: "x", question: "q", stated: at(1, "g4"), value: schemas.Ratio(3)}},
			labels: []labelRow{
				{label: "ls", item: "s", question: "q", stated: at(2, "l1"), value: schemas.MultiLabel("b", "a", "b")},
				{label: "ln", item: "n", question: "q", stated: at(2, "l2"), value: schemas.Interval(1.0)},
				{label: "lo", item: "o", question: "q", stated: at(2, "l3"), value: schemas.Ordinal("fine", 2)},
				{label: "lx", item: "x", question: "q", stated: at(2, "l4"), value: schemas.Interval(3)}},
			want: map[string]score{"q": {3, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			retracted := map[string]bool{}
			for _, l := range c.retracted {
				retracted[l] = true
			}
			got, err := finalAfterReview(c.gold, c.labels, c.reviews, retracted, c.members)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestFinalAfterReviewLeavesStructuredGold: gold spans, boxes and preferences are not judged
// by the accuracy target (kpi_regions and kpi_preference measure them); they count nowhere
// and break nothing.
func TestFinalAfterReviewLeavesStructuredGold(t *testing.T) {
	spans := schemas.Spans(schemas.UnitCharacters, 10, schemas.Span{Label: "PER", Start: 0, End: 3})
	pref := schemas.Choice("a", "a", "a", "b")
	gold := []goldRow{
		{item: "i", question: "q-ner", stated: stated{1, "g1"}, value: spans},
		{item: "i", question: "q-pref", stated: stated{1, "g2"}, value: pref},
		{item: "i", question: "q", stated: stated{1, "g3"}, value: schemas.Nominal("car")},
	}
	labels := []labelRow{
		{label: "l1", item: "i", question: "q-ner", stated: stated{2, "l1"}, value: spans},
		{label: "l2", item: "i", question: "q-pref", stated: stated{2, "l2"}, value: pref},
		{label: "l3", item: "i", question: "q", stated: stated{2, "l3"}, value: schemas.Nominal("car")},
	}
	got, err := finalAfterReview(gold, labels, nil, nil, nil)
	if err != nil || len(got) != 1 || got["q"] != (score{1, 1}) {
		t.Fatalf("scores %v, %v; want only q's 1 of 1", got, err)
	}
}

// TestFinalAfterReviewRefusesBrokenValues: a value without the field its level needs is an
// error, not a silent mismatch.
func TestFinalAfterReviewRefusesBrokenValues(t *testing.T) {
	gold := []goldRow{{item: "i", question: "q", stated: stated{1, "g"}, value: schemas.LabelValue{Level: schemas.LevelOrdinal, Category: "good"}}}
	labels := []labelRow{{label: "l", item: "i", question: "q", stated: stated{2, "l"}, value: schemas.Ordinal("good", 1)}}
	if _, err := finalAfterReview(gold, labels, nil, nil, nil); err == nil {
		t.Error("an ordinal gold without a rank was compared")
	}
}
