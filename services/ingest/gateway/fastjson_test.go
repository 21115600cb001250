package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// fastSeeds are events the fast decoder must read exactly as encoding/json, or give up on:
// escapes, other scripts, nulls of every kind of field, empty and null lists, numbers at
// their edges and in every spelling, whitespace everywhere, and what it must refuse.
var fastSeeds = []string{
	`{"event_type":"LabelSubmitted","event_id":"e\u00e9\n\"q\"","label_id":"l\/x","item_id":"日本","value":{"level":"ordinal","category":"a","rank":-0},"time_spent_ms":-9223372036854775808,"pre_label":null}`,
	`{"event_type":"LabelSubmitted","value":{"level":"ratio","number":-1.5e-3,"categories":[]},"time_spent_ms":9223372036854775807}`,
	`{"event_type":"LabelSubmitted","value":{"level":"ratio","number":1E+2,"categories":null,"rank":2147483647}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"ratio","rank":2147483648}}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":9223372036854775808}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":1.0}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":1e2}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":01}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":-}`,
	`{"event_type":"LabelSubmitted","time_spent_ms":"5"}`,
	`{"event_type":"LabelSubmitted","value":{"number":1e400}}`,
	`{"event_type":"LabelSubmitted","value":{"number":.5}}`,
	`{"event_type":"LabelSubmitted","value":{"number":5.}}`,
	`{"event_type":"LabelSubmitted","value":null,"label_id":null,"time_spent_ms":null}`,
	`{"event_type":"LabelSubmitted","value":{"categories":["a","b",null]}}`,
	`{"event_type":"LabelSubmitted","value":{"categories":["a",]}}`,
	`{"event_type":"LabelSubmitted","value":{"categories":[,"a"]}}`,
	`{"event_type":"LabelSubmitted","label_id":"a","label_id":"b"}`,
	`{"event_type":"LabelSubmitted","Label_ID":"a"}`,
	`{"event_type":"LabelSubmitted","label\u005fid":"a"}`,
	`{"event_type":"LabelSubmitted","label_id":"\xff"}`,
	`{"event_type":"LabelSubmitted","label_id":"\ud800"}`,
	`{"event_type":"LabelSubmitted","label_id":"a` + "\t" + `b"}`,
	`{"event_type":"LabelSubmitted","pre_label":{"model":"m"},"trace":{"correlation_id":"c"}}`,
	`{"event_type":"LabelSubmitted","pre_label":[]}`,
	`{"event_type":"LabelSubmitted","trace":null}`,
	`{"event_type":"LabelSubmitted",}`,
	`{"event_type":"LabelSubmitted" "x":1}`,
	`{"event_type":"LabelSubmitted","label_id":tru}`,
	`{"event_type":"ItemIngested","slice_tags":["a", "b"] , "edge_case_tags" : [ ] }`,
	"{ \"event_type\" : \"ItemIngested\" ,\n\t\"slice_tags\" :\r\n[\"a\"\n]\n}",
	`{"event_type":"ItemIngested","slice_tags":[true]}`,
	`{"event_type":"CoverageTargetSet","slice_targets":[{"slice":"s","target_share":0.5},{}],"edge_case_minimums":[{"tag":"t","min_count":3}]}`,
	`{"event_type":"CoverageTargetSet","slice_targets":[{"slice":"s","slice":"t"}]}`,
	`{"event_type":"ReviewCompleted","corrected_value":{"level":"nominal","category":"x"},"verdict":"accepted"}`,
	`{"event_type":"EventRejected","original":"aGk="}`,

	// Region and preference values (issue 21): every field of Span, Box, Extent and
	// Preference, at the edges of its type, null, missing, misspelled, repeated, out of range.
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","start":0,"end":11},{"label":"P\u0045R","start":-0,"end":9223372036854775807}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":{"unit":"milliseconds","length":1,"width":null,"height":null},"spans":[]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":null,"spans":null,"boxes":null,"preference":null}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":0,"end":11,"start":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","Start":0,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":"0","end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":0.0,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":1e1,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":9223372036854775808,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","start":-9223372036854775809,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"PER","begin":0,"end":11}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":null,"start":null,"end":null},{}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":{"label":"PER","start":0,"end":11}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[["PER",0,11]]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","spans":[{"label":"` + "\xff" + `","start":0,"end":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":{"unit":"characters","length":1.5}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":{"unit":"characters","length":"120"}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"spans","extent":[]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","extent":{"unit":"pixels","width":640,"height":480.5},"boxes":[{"label":"car","x":10,"y":20.25,"w":100,"h":50,"score":0.91},{"label":"person","x":-0,"y":1e-320,"w":1.7976931348623157e308,"h":5e-324,"score":null}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","extent":{"unit":"normalized"},"boxes":[{"label":"car","x":0.1,"y":0.2,"w":0.3E0,"h":4e-1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":1e400,"y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":-1e309,"y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":NaN,"y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":Infinity,"y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":"1","y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":1,"y":0,"w":1,"h":1,"score":true}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":01,"y":0,"w":1,"h":1}]}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1","r2","r3"],"choice":"r2","shown_first":"r1","strength":2}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":[],"choice":"","shown_first":"","strength":null}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":null,"choice":null}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1","r2"],"choice":"r1","shown_first":"r2","strength":2147483647}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1","r2"],"choice":"r1","shown_first":"r2","strength":2147483648}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1","r2"],"choice":"r1","shown_first":"r2","strength":-2147483649}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1",2],"choice":"r1"}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":{"responses":["r1","r2"],"Choice":"r1"}}}`,
	`{"event_type":"LabelSubmitted","value":{"level":"preference","preference":"r1"}}`,
	`{"event_type":"GoldLabelSet","value":{"level":"spans","extent":{"unit":"characters","length":5},"spans":[{"label":"A","start":0,"end":5}]}}`,
	`{"event_type":"PreLabelProposed","value":{"level":"boxes","extent":{"unit":"pixels","width":1920,"height":1080},"boxes":[{"label":"car","x":0,"y":0,"w":1,"h":1,"score":1}]}}`,
	`{"event_type":"ReviewCompleted","corrected_value":{"level":"preference","preference":{"responses":["a","b"],"choice":"b","shown_first":"a"}}}`,
	`{"event_type":"ItemIngested","extent":{"unit":"pixels","width":1920,"height":1080}}`,
	`{"event_type":"ItemIngested","extent":{"unit":"characters","length":-1,"length":2}}`,
	`{"event_type":"QuestionDefined","question_id":"q","level":"spans","labels":["PER","ORG"],"strength_scale":null,"iou_threshold":0.5}`,
	`{"event_type":"QuestionDefined","level":"preference","strength_scale":3,"iou_threshold":null,"labels":null}`,
	`{"event_type":"QuestionDefined","level":"preference","strength_scale":3.0}`,
	`{"event_type":"QualityTargetsSet","agreement":{"level":"boxes","min_alpha":0.5,"min_pairable_values":2}}`,
}

// TestFastDecoderIsEncodingJSON checks that the fast decoder reads the events clients send
// (every example of the contract, compact and indented) itself, and exactly as encoding/json
// does, and that it can read every type a caller may send.
func TestFastDecoderIsEncodingJSON(t *testing.T) {
	for _, typ := range schemas.EventTypes() {
		if fastTypes[typ] == nil && typ != schemas.TypeEventRejected {
			t.Errorf("%s: the fast decoder cannot read it", typ)
		}
	}
	for _, ev := range schematest.Examples() {
		if ev.Type() == schemas.TypeEventRejected {
			continue // []byte: left to encoding/json
		}
		ev.Meta().EventType = ev.Type()
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		for _, raw := range [][]byte{raw, indented.Bytes()} {
			got, _ := schemas.New(ev.Type())
			hash, ok, _, _ := decodeFast(raw, ev.Type(), got, nil)
			if !ok {
				t.Errorf("%s: the fast decoder gave up on %s", ev.Type(), raw)
				continue
			}
			if hash != contentHash(raw) {
				t.Errorf("%s: the fast decoder's hash is not contentHash's", ev.Type())
			}
			want, werr := decodeSlow(raw)
			if werr != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: fast %+v, encoding/json %+v (%v)", ev.Type(), got, want, werr)
			}
		}
	}
	for _, s := range fastSeeds {
		raw := []byte(s)
		ev, _, e, _, _ := decodeEvent(raw, nil)
		want, wantErr := referenceDecode(raw)
		if !reflect.DeepEqual(ev, want) || !reflect.DeepEqual(e, wantErr) {
			t.Errorf("%s: decoded %+v, %+v; the reference %+v, %+v", s, ev, e, want, wantErr)
		}
	}
}

// regionValues are the region and preference values the fast decoder must read itself, and
// exactly as encoding/json does: every field of Span, Box, Extent and Preference set, at the
// edges of its type, in each event type that carries a value.
func regionValues() []schemas.LabelValue {
	score, zero := 0.91, 0.0
	s := int32(5)
	return []schemas.LabelValue{
		schemas.Spans(schemas.UnitCharacters, 120, schemas.Span{Label: "PER", Start: 0, End: 11}, schemas.Span{Label: "日本", Start: 11, End: math.MaxInt64}),
		schemas.Spans(schemas.UnitMilliseconds, 60_000),
		schemas.Boxes(1920, 1080.5, schemas.Box{Label: "car", X: 10, Y: 20.25, W: 100, H: 50, Score: &score},
			schemas.Box{Label: "person", X: 0, Y: 5e-324, W: math.MaxFloat64, H: 1e-7, Score: &zero}),
		{Level: schemas.LevelBoxes, Extent: &schemas.Extent{Unit: schemas.UnitNormalized}, Boxes: []schemas.Box{{Label: "car", X: 0.1, Y: 0.2, W: 0.3, H: 0.4}}},
		schemas.Choice("r2", "r1", "r1", "r2", "r3"),
		{Level: schemas.LevelPreference, Preference: &schemas.Preference{Responses: []string{"a", "b"}, Choice: "a", ShownFirst: "b", Strength: &s}},
	}
}

// example is the contract's example of type typ about subject n.
func example(t *testing.T, typ schemas.EventType, n int) schemas.Event {
	t.Helper()
	ev, err := schemas.Example(typ, schemas.Subject{N: n})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestFastDecoderReadsRegionValues: labels, gold labels, pre-labels and reviews carrying
// region and preference values, compact and indented, are read by the fast decoder itself
// (it does not give up on them) into what encoding/json makes of them.
func TestFastDecoderReadsRegionValues(t *testing.T) {
	var evs []schemas.Event
	for i, v := range regionValues() {
		l := example(t, schemas.TypeLabelSubmitted, i).(*schemas.LabelSubmitted)
		l.Value = v
		g := example(t, schemas.TypeGoldLabelSet, i).(*schemas.GoldLabelSet)
		g.Value = v
		p := example(t, schemas.TypePreLabelProposed, i).(*schemas.PreLabelProposed)
		p.Value = v
		r := example(t, schemas.TypeReviewCompleted, i).(*schemas.ReviewCompleted)
		r.CorrectedValue = &v
		evs = append(evs, l, g, p, r)
	}
	item := example(t, schemas.TypeItemIngested, 1).(*schemas.ItemIngested)
	length := int64(4096)
	item.Extent = &schemas.Extent{Unit: schemas.UnitCharacters, Length: &length}
	scale := int32(7)
	q := example(t, schemas.TypeQuestionDefined, 1).(*schemas.QuestionDefined)
	pq := &schemas.QuestionDefined{Envelope: q.Envelope, ProjectID: q.ProjectID, QuestionID: "q-pref", Level: schemas.LevelPreference, StrengthScale: &scale}
	evs = append(evs, item, q, pq)
	for _, ev := range evs {
		ev.Meta().EventType = ev.Type()
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, "", "\t"); err != nil {
			t.Fatal(err)
		}
		for _, raw := range [][]byte{raw, indented.Bytes()} {
			got, _ := schemas.New(ev.Type())
			hash, ok, _, _ := decodeFast(raw, ev.Type(), got, nil)
			if !ok {
				t.Errorf("%s: the fast decoder gave up on %s", ev.Type(), raw)
				continue
			}
			want, werr := decodeSlow(raw)
			if werr != nil || !reflect.DeepEqual(got, want) || hash != contentHash(raw) {
				t.Errorf("%s: fast %+v, encoding/json %+v (%v)", ev.Type(), got, want, werr)
			}
		}
	}
}

// jsonElements counts the elements of the arrays in raw (valid JSON) from encoding/json's
// tokens: every value, or opening of one, whose container is an array.
func jsonElements(t *testing.T, raw []byte) int {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []json.Delim
	n, key := 0, false // key: the next string of an object is a member name
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			key = len(stack) > 0 && stack[len(stack)-1] == '{'
			continue
		}
		inObject := len(stack) > 0 && stack[len(stack)-1] == '{'
		if inObject && key {
			key = false // a member name
			continue
		}
		if len(stack) > 0 && stack[len(stack)-1] == '[' {
			n++
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, d)
			key = d == '{'
			continue
		}
		key = inObject
	}
}

// FuzzListElements holds the counts the charge of lists rests on to encoding/json: on valid
// JSON, listElements is the number of elements of all its arrays, and elementsAt the length
// of an array; on anything else they do not panic.
func FuzzListElements(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`[]`, `[ ]`, `[[],[[]],{}]`, `["]","[",",",{"a":[1,2]}]`, `[1,"\"",2]`, `[` + strings.Repeat("[", 70) + `1,2` + strings.Repeat("]", 70) + `]`, `[1,`, `["\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n := listElements(raw)
		for i, c := range raw {
			if c == '[' {
				elementsAt(raw, i)
			}
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		if want := jsonElements(t, raw); n != want {
			t.Fatalf("%s: listElements %d, encoding/json %d", raw, n, want)
		}
		if a, ok := v.([]any); ok {
			if got := elementsAt(raw, bytes.IndexByte(raw, '[')); got != len(a) {
				t.Fatalf("%s: elementsAt %d, encoding/json %d", raw, got, len(a))
			}
		}
	})
}
