package preference

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		scale Scale
		want  Label
	}{
		{"pair", `{"responses":["a","b"],"choice":"b","shown_first":"a"}`, NoScale, pair("b", "a", nil)},
		{"strength", `{"responses":["a","b"],"choice":"a","shown_first":"b","strength":2}`, 3, pair("a", "b", strength(2))},
		{"null strength", `{"responses":["a","b"],"choice":"a","shown_first":"b","strength":null}`, 3, pair("a", "b", nil)},
		{"keys in any order, spaces", ` { "shown_first" : "b", "choice":"a",  "responses":["a","b"] } `, NoScale, pair("a", "b", nil)},
		{"three", `{"responses":["x","y","z"],"choice":"z","shown_first":"y"}`, NoScale,
			Label{Responses: []string{"x", "y", "z"}, Choice: "z", ShownFirst: "y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tc.in), tc.scale)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		scale         Scale
		field, reason string
	}{
		{"not JSON", `{"responses":`, NoScale, "", "must be a JSON object"},
		{"array", `["a","b"]`, NoScale, "", "got a JSON array"},
		{"string", `"a"`, NoScale, "", "got a JSON string"},
		{"null", `null`, NoScale, "", "got null"},
		{"trailing data", `{"responses":["a","b"],"choice":"a","shown_first":"a"} {}`, NoScale, "", "must be a JSON object"},
		{"unknown key", `{"responses":["a","b"],"choice":"a","shownFirst":"a"}`, NoScale, "shownFirst", "unknown field"},
		{"no responses", `{"choice":"a","shown_first":"a"}`, NoScale, "responses", "required"},
		{"null responses", `{"responses":null,"choice":"a","shown_first":"a"}`, NoScale, "responses", "required"},
		{"responses not an array", `{"responses":"a,b","choice":"a","shown_first":"a"}`, NoScale, "responses", "must be an array"},
		{"response not a string", `{"responses":["a",2],"choice":"a","shown_first":"a"}`, NoScale, "responses[1]", "must be a string"},
		{"response null", `{"responses":["a",null],"choice":"a","shown_first":"a"}`, NoScale, "responses[1]", "must be a string"},
		{"one response", `{"responses":["a"],"choice":"a","shown_first":"a"}`, NoScale, "responses", "at least 2"},
		{"repeated response", `{"responses":["a","a"],"choice":"a","shown_first":"a"}`, NoScale, "responses[1]", "repeats"},
		{"no choice", `{"responses":["a","b"],"shown_first":"a"}`, NoScale, "choice", "required"},
		{"choice a number", `{"responses":["a","b"],"choice":0,"shown_first":"a"}`, NoScale, "choice", "must be a string"},
		{"choice elsewhere", `{"responses":["a","b"],"choice":"c","shown_first":"a"}`, NoScale, "choice", "not one of responses"},
		{"no shown_first", `{"responses":["a","b"],"choice":"a"}`, NoScale, "shown_first", "required"},
		{"shown_first elsewhere", `{"responses":["a","b"],"choice":"a","shown_first":"c"}`, NoScale, "shown_first", "not one of responses"},
		{"strength fraction", `{"responses":["a","b"],"choice":"a","shown_first":"a","strength":1.5}`, 3, "strength", "whole number"},
		{"strength string", `{"responses":["a","b"],"choice":"a","shown_first":"a","strength":"2"}`, 3, "strength", "whole number"},
		{"strength overflow", `{"responses":["a","b"],"choice":"a","shown_first":"a","strength":4294967296}`, 3, "strength", "whole number"},
		{"strength above scale", `{"responses":["a","b"],"choice":"a","shown_first":"a","strength":4}`, 3, "strength", "from 1 to 3"},
		{"strength without scale", `{"responses":["a","b"],"choice":"a","shown_first":"a","strength":1}`, NoScale, "strength", "no strength scale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tc.in), tc.scale)
			wantField(t, err, tc.field, tc.reason)
		})
	}
}

// TestLabelJSONRoundTrip: a Label marshals to the object ParseJSON reads.
func TestLabelJSONRoundTrip(t *testing.T) {
	for _, l := range []Label{pair("b", "a", nil), pair("a", "b", strength(2))} {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseJSON(b, 3)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, l) {
			t.Errorf("%s read back as %+v", b, got)
		}
	}
}
