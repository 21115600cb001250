package gateway

import (
	"testing"

	"github.com/assay-data/assay/services/ingest/wire"
)

// FuzzDecodeRequest feeds arbitrary bodies and content types to the request decoder. It must
// never panic, and its result must be coherent: either a request-level error, or one element
// per event, indexed in order, each with exactly one of an event or an error. The same body
// cut into pieces (as the gateway reads it) must split into the same elements.
func FuzzDecodeRequest(f *testing.F) {
	ok := `{"event_type":"LabelSubmitted","event_id":"e","label_id":"l","item_id":"i","project_id":"p","task_id":"t","question_id":"q","annotator_id":"a","guideline_version":"g","value":{"level":"ordinal","category":"good","rank":2},"time_spent_ms":5,"pre_label":{"model":"m","model_version":"1"}}`
	for _, seed := range []struct{ body, ct string }{
		{ok, wire.MediaJSON},
		{"[" + ok + "," + ok + "]", ""},
		{ok + "\n" + ok + "\r\n\n", wire.MediaNDJSON},
		{`[1,null,"x",{},[]]`, wire.MediaJSON},
		{`{"event_type":"ItemIngested","sha256":7,"slice_tags":[1]}`, wire.MediaJSON},
		{`{"event_type":"EventRejected","original":"!!notbase64"}`, wire.MediaJSON},
		{`{"event_type":"ReviewCompleted","corrected_value":{"level":"multi_label","categories":["a","a"]}}`, wire.MediaNDJSON},
		{`[{"event_type":"LabelSubmitted","value":{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","start":0,"end":11}]}},` +
			`{"event_type":"GoldLabelSet","value":{"level":"boxes","extent":{"unit":"pixels","width":640,"height":480},"boxes":[{"label":"car","x":1,"y":2,"w":3,"h":4,"score":0.5}]}},` +
			`{"event_type":"PreLabelProposed","value":{"level":"preference","preference":{"responses":["a","b"],"choice":"b","shown_first":"a","strength":2}}}]`, wire.MediaJSON},
		{`{"event_type":"LabelSubmitted","value":{"level":"boxes","boxes":[{"label":"car","x":1e400,"y":NaN}]}}`, wire.MediaNDJSON},
		{"[{\"event_type\":\"LabelRetracted\"", "application/json; charset=utf-8"},
		{"\xff\xfe{}", wire.MediaNDJSON},
		{`{"event_type":"DatasetVersionCommitted","members":[{"item_id":"a","label_id":"b"}],"extra":{}}`, "text/csv"},
	} {
		f.Add([]byte(seed.body), seed.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		if err := sameInPieces(body, ct, 64, 1+len(body)%13); err != nil {
			t.Fatal(err)
		}
		out, rerr := DecodeRequest(body, ct, 64, 4096)
		if rerr != nil {
			if out != nil || rerr.Status < 400 || rerr.Code == "" {
				t.Fatalf("incoherent request error %+v with %d elements", rerr, len(out))
			}
			return
		}
		if len(out) == 0 || len(out) > 64 {
			t.Fatalf("%d elements without a request error", len(out))
		}
		for i, d := range out {
			if d.Index != i {
				t.Fatalf("element %d has index %d", i, d.Index)
			}
			if (d.Event == nil) == (d.Err == nil) {
				t.Fatalf("element %d: event %v, error %v", i, d.Event, d.Err)
			}
			if d.Err != nil && (d.Err.Code == "" || d.Err.Index != i) {
				t.Fatalf("element %d: error %+v", i, d.Err)
			}
			if d.Event != nil && !d.Event.Type().Known() {
				t.Fatalf("element %d decoded to unknown type %q", i, d.Event.Type())
			}
		}
	})
}
