package regions

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseSpans(t *testing.T) {
	got, err := ParseSpans([]byte(` [{"label": "PER", "start": 0, "end": 5}, {"end": 12, "start": 7, "label": "ORG"}] `))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Span{{"PER", 0, 5}, {"ORG", 7, 12}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := ParseSpans([]byte(`[]`)); err != nil || len(got) != 0 {
		t.Errorf("empty list: %v, %v", got, err)
	}
}

func TestParseBoxes(t *testing.T) {
	got, err := ParseBoxes([]byte(`[{"label":"car","x":1.5,"y":2,"w":10,"h":20,"score":0.9},{"label":"cat","x":0,"y":0,"w":1e2,"h":3,"score":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (Box{Label: "car", X: 1.5, Y: 2, W: 10, H: 20, Score: got[0].Score}) || got[0].Score == nil || *got[0].Score != 0.9 ||
		got[1].Score != nil || got[1].W != 100 {
		t.Errorf("got %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		boxes bool
		in    string
		want  string
		field string // FieldError.Field, when the error names one region
		index int
	}{
		{in: ``, want: "want a JSON array of regions, got nothing"},
		{in: `{"label":"x"}`, want: "want a JSON array of regions, got an object"},
		{in: `null`, want: "want a JSON array of regions, got null"},
		{in: `[{"label":"x","start":0,"end":1}`, want: "not a JSON array"},
		{in: `[5]`, want: "region 0: is a number, want an object", index: 0},
		{in: `[{"label":"x","start":0,"end":1}, null]`, want: "region 1: is null, want an object", index: 1},
		{in: `[{"start":0,"end":1}]`, want: "region 0: label is missing", field: "label"},
		{in: `[{"label":7,"start":0,"end":1}]`, want: "region 0: label is a number, want a string", field: "label"},
		{in: `[{"label":"x","start":"0","end":1}]`, want: "region 0: start is a string, want an integer", field: "start"},
		{in: `[{"label":"x","start":0,"end":1.5}]`, want: "region 0: end is 1.5, want an integer", field: "end"},
		{in: `[{"label":"x","start":0,"end":1e3}]`, want: "region 0: end is 1e3, want an integer", field: "end"},
		{in: `[{"label":"x","start":0,"end":99999999999999999999}]`, want: "region 0: end is 99999999999999999999, want an integer", field: "end"},
		{in: `[{"label":"x","start":0,"end":1,"Label":"y"}]`, want: `region 0: Label is not a field of a span (label, start, end)`, field: "Label"},
		{in: `[{"label":"x","start":0,"end":1},{"label":"x","start":7,"end":4}]`, want: "region 1: end is 4, not after start 7", field: "end", index: 1},
		{in: `[{"label":"x","start":3,"end":3}]`, want: "region 0: end is 3, not after start 3", field: "end"},
		{in: `[{"label":"x","start":-1,"end":3}]`, want: "region 0: start is -1, negative", field: "start"},
		{in: `[{"label":"","start":0,"end":3}]`, want: "region 0: label is empty", field: "label"},
		{boxes: true, in: `[{"label":"car","x":0,"y":0,"w":0,"h":1}]`, want: "region 0: w is 0, not positive", field: "w"},
		{boxes: true, in: `[{"label":"car","x":0,"y":0,"w":1,"h":-2}]`, want: "region 0: h is -2, not positive", field: "h"},
		{boxes: true, in: `[{"label":"car","x":-1,"y":0,"w":1,"h":2}]`, want: "region 0: x is -1, negative", field: "x"},
		{boxes: true, in: `[{"label":"car","x":0,"w":1,"h":2}]`, want: "region 0: y is missing", field: "y"},
		{boxes: true, in: `[{"label":"car","x":0,"y":1e400,"w":1,"h":2}]`, want: "region 0: y is 1e400, out of range", field: "y"},
		{boxes: true, in: `[{"label":"car","x":0,"y":0,"w":true,"h":2}]`, want: "region 0: w is a boolean, want a number", field: "w"},
		{boxes: true, in: `[{"label":"car","x":0,"y":0,"w":1,"h":2,"score":"high"}]`, want: "region 0: score is a string, want a number", field: "score"},
		{boxes: true, in: `[{"label":"car","x":0,"y":0,"w":1,"h":2,"start":0}]`, want: "region 0: start is not a field of a box (label, x, y, w, h, score)", field: "start"},
	} {
		var err error
		if tc.boxes {
			_, err = ParseBoxes([]byte(tc.in))
		} else {
			_, err = ParseSpans([]byte(tc.in))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
			continue
		}
		var fe *FieldError
		if strings.HasPrefix(tc.want, "region ") {
			if !errors.As(err, &fe) || fe.Field != tc.field || fe.Index != tc.index {
				t.Errorf("%s: error %#v, want a FieldError for region %d field %q", tc.in, err, tc.index, tc.field)
			}
		}
	}
}

func TestParseTooMany(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i <= MaxRegions; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"label":"x","start":%d,"end":%d}`, i, i+1)
	}
	b.WriteString("]")
	if _, err := ParseSpans([]byte(b.String())); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d regions, more than the %d", MaxRegions+1, MaxRegions)) {
		t.Errorf("%d spans: %v", MaxRegions+1, err)
	}
}
