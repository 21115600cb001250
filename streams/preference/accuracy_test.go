package preference

import (
	"errors"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
)

func TestAccuracy(t *testing.T) {
	gold := pair("b", "a", strength(3))
	var c AccuracyCounts
	for _, l := range []Label{
		pair("b", "b", strength(1)), // correct: strength and display order do not matter
		pair("b", "a", nil),         // correct
		pair("a", "a", strength(3)), // wrong
	} {
		lc, err := AccuracyOf(l, gold)
		if err != nil {
			t.Fatal(err)
		}
		c = c.Add(lc)
	}
	if c != (AccuracyCounts{Correct: 2, Labels: 3}) {
		t.Fatalf("counts %+v", c)
	}
	a, err := c.Accuracy(0.95)
	if err != nil {
		t.Fatal(err)
	}
	iv, _ := Wilson(2, 3, 0.95)
	if a.Accuracy != 2.0/3 || a.Interval != iv || a.Correct != 2 || a.Labels != 3 {
		t.Errorf("accuracy %+v", a)
	}
	lc, _ := AccuracyOf(pair("a", "a", nil), gold)
	if c.Sub(lc) != (AccuracyCounts{Correct: 2, Labels: 2}) {
		t.Errorf("subtracting a wrong label: %+v", c.Sub(lc))
	}
	if _, err := (AccuracyCounts{}).Accuracy(0.95); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("no labels: %v, want ErrUndefined", err)
	}

	_, err = AccuracyOf(Label{Responses: []string{"b", "a"}, Choice: "b", ShownFirst: "a"}, gold)
	wantField(t, err, "responses", "differs from the gold preference's")
	_, err = AccuracyOf(pair("c", "a", nil), gold)
	wantField(t, err, "choice", "not one of responses")
	_, err = AccuracyOf(pair("a", "a", nil), pair("", "a", nil))
	wantField(t, err, "choice", "required")
}
