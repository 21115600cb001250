package unitizing_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing"
)

// TestNewStudy: only the items every rater in scope labeled, in byte order of their ids, with
// the raters in byte order; labels of raters outside the scope are ignored; an empty list is
// a label.
func TestNewStudy(t *testing.T) {
	a := spans("A", 1, 3)
	labels := []unitizing.Label{
		{Item: "b", Rater: "y", Length: 10, Spans: a},
		{Item: "b", Rater: "x", Length: 10},
		{Item: "a", Rater: "x", Length: 5, Spans: a},
		{Item: "a", Rater: "y", Length: 5, Spans: a},
		{Item: "c", Rater: "x", Length: 7, Spans: a},
		{Item: "d", Rater: "w", Length: 9, Spans: a},
		{Item: "a", Rater: "w", Length: 5},
	}
	s, err := unitizing.NewStudy(labels, []string{"y", "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := unitizing.Study{Raters: []string{"x", "y"}, Skipped: 1, Items: []unitizing.Item{
		{ID: "a", Length: 5, Spans: [][]unitizing.Span{a, a}},
		{ID: "b", Length: 10, Spans: [][]unitizing.Span{nil, a}},
	}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("study\n%+v, want\n%+v", s, want)
	}
	res := mustAlpha(t, s)
	if res.Items != 2 || res.Skipped != 1 || res.Length != 15 || res.Spans != 3 {
		t.Errorf("evidence %+v", res)
	}

	// Every rater that labeled something: w labeled only a and d, so a alone is complete.
	s, err = unitizing.NewStudy(labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Raters) != 3 || len(s.Items) != 1 || s.Items[0].ID != "a" || s.Skipped != 3 {
		t.Errorf("all raters: %+v", s)
	}

	for _, tc := range []struct {
		name   string
		labels []unitizing.Label
		want   string
	}{
		{"twice", []unitizing.Label{{Item: "a", Rater: "x", Length: 5}, {Item: "a", Rater: "x", Length: 5}}, `rater "x" labeled item "a" twice`},
		{"lengths differ", []unitizing.Label{{Item: "a", Rater: "x", Length: 5}, {Item: "a", Rater: "y", Length: 6}}, "lengths 5 and 6"},
	} {
		if _, err := unitizing.NewStudy(tc.labels, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestItemOrder: gaps join across items, so D_e depends on which items are neighbours while
// D_o does not; NewStudy's id order makes the figure independent of the order labels arrive in.
func TestItemOrder(t *testing.T) {
	labels := []unitizing.Label{
		{Item: "1", Rater: "a", Length: 5, Spans: spans("A", 0, 2)},
		{Item: "1", Rater: "b", Length: 5, Spans: spans("A", 0, 3)},
		{Item: "2", Rater: "a", Length: 5, Spans: spans("A", 3, 5)},
		{Item: "2", Rater: "b", Length: 5, Spans: spans("A", 2, 5)},
		{Item: "3", Rater: "a", Length: 4},
		{Item: "3", Rater: "b", Length: 4, Spans: spans("A", 1, 2)},
	}
	s, err := unitizing.NewStudy(labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := mustAlpha(t, s)
	reversed := slices.Clone(labels)
	slices.Reverse(reversed)
	if s2, err := unitizing.NewStudy(reversed, nil); err != nil || !reflect.DeepEqual(s2, s) {
		t.Fatalf("labels in another order: %+v, %v; want %+v", s2, err, s)
	}

	// Item 1 then 2: rater a's gap after [0, 2) and before [8, 10) is one gap of 6; item 2
	// then 1 makes it two gaps of 3.
	swapped := unitizing.Study{Raters: s.Raters, Items: []unitizing.Item{s.Items[1], s.Items[0], s.Items[2]}}
	other := mustAlpha(t, swapped)
	if *other.Observed != *res.Observed {
		t.Errorf("D_o %v with items swapped, %v before", *other.Observed, *res.Observed)
	}
	if *other.Expected == *res.Expected {
		t.Errorf("D_e %v both ways: the gaps joined across items should differ", *res.Expected)
	}
}
