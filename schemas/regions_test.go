package schemas_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// TestRegionValues: spans, boxes and preference values are checked without
// looking anything up, each failure naming the field: regions inside the
// extent the value restates, sizes positive, at most MaxRegions, a choice
// among the responses; and a value of one level carries no other level's
// fields.
func TestRegionValues(t *testing.T) {
	text := func(spans ...schemas.Span) schemas.LabelValue {
		return schemas.Spans(schemas.UnitCharacters, 100, spans...)
	}
	image := func(boxes ...schemas.Box) schemas.LabelValue { return schemas.Boxes(640, 480, boxes...) }
	edit := func(v schemas.LabelValue, f func(*schemas.LabelValue)) schemas.LabelValue { f(&v); return v }
	many := make([]schemas.Span, schemas.MaxRegions+1)
	for i := range many {
		many[i] = schemas.Span{Label: "PER", Start: 0, End: 1}
	}
	strength := func(s int32) schemas.LabelValue {
		v := schemas.Choice("b", "a", "a", "b")
		v.Preference.Strength = &s
		return v
	}
	cases := []struct {
		name  string
		v     schemas.LabelValue
		field string
	}{
		{"spans", text(schemas.Span{Label: "PER", Start: 0, End: 11}, schemas.Span{Label: "LOC", Start: 20, End: 100}), ""},
		{"no spans is an answer", text(), ""},
		{"overlapping spans are allowed", text(schemas.Span{Label: "PER", Start: 0, End: 11}, schemas.Span{Label: "ORG", Start: 5, End: 30}), ""},
		{"span end before start", text(schemas.Span{Label: "PER", Start: 10, End: 10}), "spans[0].end"},
		{"span past the length", text(schemas.Span{Label: "PER", Start: 0, End: 5}, schemas.Span{Label: "PER", Start: 90, End: 101}), "spans[1].end"},
		{"negative start", text(schemas.Span{Label: "PER", Start: -1, End: 5}), "spans[0].start"},
		{"span without label", text(schemas.Span{Start: 0, End: 5}), "spans[0].label"},
		{"too many spans", text(many...), "spans"},
		{"exactly the limit", text(many[:schemas.MaxRegions]...), ""},
		{"spans without extent", edit(text(), func(v *schemas.LabelValue) { v.Extent = nil }), "extent"},
		{"spans on pixels", edit(text(), func(v *schemas.LabelValue) { v.Extent = schemas.Boxes(1, 1).Extent }), "extent.unit"},
		{"zero length", schemas.Spans(schemas.UnitMilliseconds, 0), "extent.length"},
		{"extent with a width", edit(text(), func(v *schemas.LabelValue) { v.Extent.Width = ptr(3.0) }), "extent.width"},
		{"spans with a category", edit(text(), func(v *schemas.LabelValue) { v.Category = "x" }), "category"},
		{"spans on a nominal value", edit(schemas.Nominal("x"), func(v *schemas.LabelValue) { v.Spans = []schemas.Span{{"a", 0, 1}} }), "spans"},
		{"extent on a nominal value", edit(schemas.Nominal("x"), func(v *schemas.LabelValue) { v.Extent = text().Extent }), "extent"},

		{"boxes", image(schemas.Box{Label: "car", X: 0, Y: 0, W: 640, H: 480}, schemas.Box{Label: "car", X: 10.5, Y: 3, W: 1, H: 1, Score: ptr(0.9)}), ""},
		{"no boxes is an answer", image(), ""},
		{"zero width", image(schemas.Box{Label: "car", X: 0, Y: 0, W: 0, H: 4}), "boxes[0].w"},
		{"negative height", image(schemas.Box{Label: "car", X: 0, Y: 0, W: 3, H: -4}), "boxes[0].h"},
		{"left of the image", image(schemas.Box{Label: "car", X: -1, Y: 0, W: 3, H: 4}), "boxes[0]"},
		{"past the right edge", image(schemas.Box{Label: "car", X: 600, Y: 0, W: 41, H: 4}), "boxes[0].w"},
		{"past the bottom edge", image(schemas.Box{Label: "car", X: 0, Y: 470, W: 1, H: 11}), "boxes[0].h"},
		{"NaN corner", image(schemas.Box{Label: "car", X: math.NaN(), Y: 0, W: 1, H: 1}), "boxes[0]"},
		{"infinite size", image(schemas.Box{Label: "car", X: 0, Y: 0, W: math.Inf(1), H: 1}), "boxes[0]"},
		{"score above 1", image(schemas.Box{Label: "car", X: 0, Y: 0, W: 1, H: 1, Score: ptr(1.5)}), "boxes[0].score"},
		{"box without label", image(schemas.Box{X: 0, Y: 0, W: 1, H: 1}), "boxes[0].label"},
		{"normalized image", edit(image(schemas.Box{Label: "car", X: 0.5, Y: 0.5, W: 0.5, H: 0.5}), func(v *schemas.LabelValue) {
			v.Extent = &schemas.Extent{Unit: schemas.UnitNormalized}
		}), ""},
		{"past a normalized image", edit(image(schemas.Box{Label: "car", X: 0.6, Y: 0.5, W: 0.5, H: 0.5}), func(v *schemas.LabelValue) {
			v.Extent = &schemas.Extent{Unit: schemas.UnitNormalized}
		}), "boxes[0].w"},
		{"normalized with a width", edit(image(), func(v *schemas.LabelValue) { v.Extent.Unit = schemas.UnitNormalized }), "extent.unit"},
		{"pixels without height", edit(image(), func(v *schemas.LabelValue) { v.Extent.Height = nil }), "extent.height"},
		{"boxes in characters", edit(image(), func(v *schemas.LabelValue) { v.Extent = text().Extent }), "extent.unit"},
		{"unknown unit", edit(image(), func(v *schemas.LabelValue) { v.Extent.Unit = "inches" }), "extent.unit"},

		{"preference", schemas.Choice("b", "a", "a", "b"), ""},
		{"preference of three", schemas.Choice("c", "b", "a", "b", "c"), ""},
		{"preference with strength", strength(3), ""},
		{"strength 0", strength(0), "preference.strength"},
		{"one response", schemas.Choice("a", "a", "a"), "preference.responses"},
		{"too many responses", schemas.Choice("a", "a", strings.Fields("a b c d e f g h i j k l m n o p q r s t u")...), "preference.responses"},
		{"duplicate response", schemas.Choice("a", "a", "a", "a"), "preference.responses[1]"},
		{"choice not a response", schemas.Choice("c", "a", "a", "b"), "preference.choice"},
		{"shown first not a response", schemas.Choice("a", "z", "a", "b"), "preference.shown_first"},
		{"no choice", schemas.Choice("", "a", "a", "b"), "preference.choice"},
		{"preference missing", schemas.LabelValue{Level: schemas.LevelPreference}, "preference"},
		{"preference with spans", edit(schemas.Choice("a", "a", "a", "b"), func(v *schemas.LabelValue) { v.Spans = text(schemas.Span{"a", 0, 1}).Spans }), "spans"},
		{"preference on spans", edit(text(), func(v *schemas.LabelValue) { v.Preference = schemas.Choice("a", "a", "a", "b").Preference }), "preference"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := schematest.Example(schemas.TypeLabelSubmitted).(*schemas.LabelSubmitted)
			ev.Value = tc.v
			err := ev.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid value refused: %v", err)
				}
				if _, err := schemas.Encode(ev); err != nil {
					t.Fatalf("valid value does not encode: %v", err)
				}
				return
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) || fe.Field != "value."+tc.field {
				t.Fatalf("err = %v, want a FieldError on value.%s", err, tc.field)
			}
		})
	}
}

// TestRegionValuesRoundTrip: a value of every new level survives Avro and
// decodes as it was sent; an older writer's value (LabelSubmitted v2) has none
// of the new fields.
func TestRegionValuesRoundTrip(t *testing.T) {
	for _, v := range []schemas.LabelValue{
		schemas.Spans(schemas.UnitMilliseconds, 30_000, schemas.Span{Label: "speaker-a", Start: 0, End: 1250}),
		schemas.Boxes(1920, 1080, schemas.Box{Label: "car", X: 1, Y: 2, W: 3, H: 4, Score: ptr(0.25)}, schemas.Box{Label: "bus", X: 5, Y: 6, W: 7, H: 8}),
		schemas.Choice("r2", "r1", "r1", "r2"),
	} {
		ev := schematest.Example(schemas.TypeGoldLabelSet).(*schemas.GoldLabelSet)
		ev.Value = v
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := schemas.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if g := got.(*schemas.GoldLabelSet).Value; g.String() != v.String() || len(g.Boxes) != len(v.Boxes) ||
			len(g.Spans) != len(v.Spans) || (v.Preference != nil) != (g.Preference != nil) {
			t.Fatalf("round trip %v -> %v", v, g)
		}
	}
}

// TestQuestionAdmits: a defined question admits answers of its level whose
// labels are in its set and whose strength is within its scale, naming the
// field it refuses.
func TestQuestionAdmits(t *testing.T) {
	ner := &schemas.QuestionDefined{QuestionID: "q-ner", Level: schemas.LevelSpans, Labels: []string{"PER", "ORG"}}
	det := &schemas.QuestionDefined{QuestionID: "q-det", Level: schemas.LevelBoxes, Labels: []string{"car"}}
	open := &schemas.QuestionDefined{QuestionID: "q-open", Level: schemas.LevelNominal}
	tags := &schemas.QuestionDefined{QuestionID: "q-tags", Level: schemas.LevelMultiLabel, Labels: []string{"a", "b"}}
	pref := &schemas.QuestionDefined{QuestionID: "q-pref", Level: schemas.LevelPreference, StrengthScale: ptr(int32(3))}
	plain := &schemas.QuestionDefined{QuestionID: "q-plain", Level: schemas.LevelPreference}
	withStrength := func(s int32) schemas.LabelValue {
		v := schemas.Choice("b", "a", "a", "b")
		v.Preference.Strength = &s
		return v
	}
	for _, tc := range []struct {
		q     *schemas.QuestionDefined
		v     schemas.LabelValue
		field string
	}{
		{ner, schemas.Spans(schemas.UnitCharacters, 10, schemas.Span{Label: "ORG", Start: 0, End: 3}), ""},
		{ner, schemas.Spans(schemas.UnitCharacters, 10, schemas.Span{Label: "ORG", Start: 0, End: 3}, schemas.Span{Label: "LOC", Start: 4, End: 5}), "spans[1].label"},
		{ner, schemas.Boxes(1, 1), "level"},
		{det, schemas.Boxes(9, 9, schemas.Box{Label: "truck", W: 1, H: 1}), "boxes[0].label"},
		{open, schemas.Nominal("anything"), ""},
		{tags, schemas.MultiLabel("a", "c"), "categories[1]"},
		{pref, withStrength(3), ""},
		{pref, withStrength(4), "preference.strength"},
		{pref, schemas.Choice("b", "a", "a", "b"), ""},
		{plain, withStrength(1), "preference.strength"},
	} {
		err := tc.q.Admits(tc.v)
		var fe *schemas.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s refuses %v: %v", tc.q.QuestionID, tc.v, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s admits %v: %v, want a FieldError on %s", tc.q.QuestionID, tc.v, err, tc.field)
		case tc.field != "" && !strings.Contains(err.Error(), tc.q.QuestionID):
			t.Errorf("%s: %v does not name the question", tc.q.QuestionID, err)
		}
	}
}

// TestQuestionDefinedValidate: the definition's own rules.
func TestQuestionDefinedValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*schemas.QuestionDefined)
		field string
	}{
		{"example", func(*schemas.QuestionDefined) {}, ""},
		{"unknown level", func(q *schemas.QuestionDefined) { q.Level = "polygon" }, "level"},
		{"duplicate label", func(q *schemas.QuestionDefined) { q.Labels = []string{"PER", "PER"} }, "labels[1]"},
		{"iou 0", func(q *schemas.QuestionDefined) { q.IoUThreshold = ptr(0.0) }, "iou_threshold"},
		{"iou above 1", func(q *schemas.QuestionDefined) { q.IoUThreshold = ptr(1.01) }, "iou_threshold"},
		{"iou on a nominal question", func(q *schemas.QuestionDefined) { q.Level = schemas.LevelNominal }, "iou_threshold"},
		{"strength on spans", func(q *schemas.QuestionDefined) { q.StrengthScale = ptr(int32(3)) }, "strength_scale"},
		{"preference with a scale", func(q *schemas.QuestionDefined) {
			q.Level, q.Labels, q.IoUThreshold, q.StrengthScale = schemas.LevelPreference, nil, nil, ptr(int32(5))
		}, ""},
		{"scale 0", func(q *schemas.QuestionDefined) {
			q.Level, q.Labels, q.IoUThreshold, q.StrengthScale = schemas.LevelPreference, nil, nil, ptr(int32(0))
		}, "strength_scale"},
		{"preference with labels", func(q *schemas.QuestionDefined) { q.Level, q.IoUThreshold = schemas.LevelPreference, nil }, "labels"},
	} {
		q := schematest.Example(schemas.TypeQuestionDefined).(*schemas.QuestionDefined)
		tc.edit(q)
		err := q.Validate()
		var fe *schemas.FieldError
		if tc.field == "" && err != nil || tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("%s: %v, want field %q", tc.name, err, tc.field)
		}
	}
	if q := schematest.Example(schemas.TypeQuestionDefined).(*schemas.QuestionDefined); q.IoU() != 0.5 {
		t.Errorf("IoU() = %v", q.IoU())
	} else if q.IoUThreshold = nil; q.IoU() != schemas.DefaultIoUThreshold {
		t.Errorf("default IoU() = %v", q.IoU())
	}
}
