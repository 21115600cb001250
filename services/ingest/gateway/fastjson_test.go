package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
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
			hash, ok := decodeFast(raw, ev.Type(), got)
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
		ev, _, e := decodeEvent(raw)
		want, wantErr := referenceDecode(raw)
		if !reflect.DeepEqual(ev, want) || !reflect.DeepEqual(e, wantErr) {
			t.Errorf("%s: decoded %+v, %+v; the reference %+v, %+v", s, ev, e, want, wantErr)
		}
	}
}
