package gateway

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
	"github.com/assay-data/assay/services/ingest/wire"
)

// scanSeeds are events the scanner must follow: nested objects and arrays with event_type
// members of their own, strings holding quotes, backslashes, braces and the key's name,
// other spellings and escapes of the key, duplicates, values that are not strings.
var scanSeeds = []string{
	`{"event_type":"LabelSubmitted"}`,
	`{"a":{"event_type":"X"},"event_type":"LabelRetracted","b":[{"event_type":"Y"}]}`,
	`{"note":"\"event_type\":\"X\"","event_type":"LabelRetracted"}`,
	`{"note":"ends in a backslash \\","event_type":"LabelRetracted","x":"\\\""}`,
	`{"s":"}{][,:","event_type" : "ItemIngested" , "n":-1.5e3,"t":true,"f":false,"z":null}`,
	`{"event_type":"LabelSubmitted","event_type":"LabelRetracted"}`,
	`{"event_type":"LabelSubmitted","EVENT_TYPE":"LabelRetracted"}`,
	`{"Event_Type":"LabelRetracted"}`,
	`{"event\u005ftype":"LabelRetracted"}`,
	`{"event_type":"Label\u0053ubmitted"}`,
	`{"event_type":null}`,
	`{"event_type":7}`,
	`{"event_type":{"a":1}}`,
	`{"event_type":["LabelSubmitted"]}`,
	`{"event_type":"LabelSubmitted"} x`,
	`{"event_type":"LabelSubmitted"`,
	`{"a":[1,2,{"b":"c"}],"event_type":"GoldLabelSet"}`,
	"{\n\t\"event_type\":\r\n\"LabelSubmitted\"\n}",
	`{}`,
	`{"event_type":""}`,
	`{"eventtype":"LabelSubmitted","event_typ":"x","event_types":"y"}`,
}

// TestScanEventFindsPlainEventType checks that the scanner is sure of the events clients
// send (a plain event_type among nested values and tricky strings) and of nothing else.
func TestScanEventFindsPlainEventType(t *testing.T) {
	for _, c := range []struct {
		raw  string
		sure bool
		typ  string
	}{
		{scanSeeds[0], true, "LabelSubmitted"},
		{scanSeeds[1], true, "LabelRetracted"},
		{scanSeeds[2], true, "LabelRetracted"},
		{scanSeeds[3], true, "LabelRetracted"},
		{scanSeeds[4], true, "ItemIngested"},
		{scanSeeds[5], false, ""}, // a duplicate: the last one counts
		{scanSeeds[6], false, ""}, // another spelling that encoding/json matches
		{scanSeeds[7], false, ""},
		{scanSeeds[8], false, ""}, // an escaped name
		{scanSeeds[9], false, ""}, // an escaped value
		{scanSeeds[10], false, ""},
		{scanSeeds[11], false, ""},
		{scanSeeds[12], false, ""},
		{scanSeeds[13], false, ""},
		{scanSeeds[14], false, ""}, // trailing data
		{scanSeeds[15], false, ""}, // unterminated
		{scanSeeds[16], true, "GoldLabelSet"},
		{scanSeeds[17], true, "LabelSubmitted"},
		{scanSeeds[18], false, ""},
		{scanSeeds[19], true, ""},
		{scanSeeds[20], false, ""},
	} {
		s := scanEvent([]byte(c.raw))
		if s.sure != c.sure || s.sure && string(s.typ) != c.typ {
			t.Errorf("%s: sure %v, type %q; want %v, %q", c.raw, s.sure, s.typ, c.sure, c.typ)
		}
	}
}

// FuzzScanEvent holds the scanner to encoding/json on valid JSON: whenever it is sure of an
// event's event_type, encoding/json reads the same string as event_type (the probe the slow
// path decodes), and its content hash is the hash of json.Compact's output.
func FuzzScanEvent(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
			return
		}
		s := scanEvent(raw)
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		if want := maphash.Bytes(hashSeed, compact.Bytes()); s.hash != want {
			t.Fatalf("content hash %x, want %x, the hash of %s", s.hash, want, compact.Bytes())
		}
		if !s.sure {
			return
		}
		var probe struct {
			EventType json.RawMessage `json:"event_type"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Fatalf("valid JSON does not decode: %v", err)
		}
		var name string
		if err := json.Unmarshal(probe.EventType, &name); err != nil || name != string(s.typ) {
			t.Fatalf("scanner read event_type %q, encoding/json %s (%v)", s.typ, probe.EventType, err)
		}
	})
}

// TestContentHashIgnoresOnlyWhitespace checks what counts as the same content for the
// recent-ids window: the same JSON however indented, and not JSON that differs in anything
// else (whitespace inside a string, key order, escapes, number spelling).
func TestContentHashIgnoresOnlyWhitespace(t *testing.T) {
	base := `{"event_type":"LabelRetracted","event_id":"e 1","reason":"a b","n":[1,{"x":null}]}`
	hash := func(raw string) uint64 { return scanEvent([]byte(raw)).hash }
	for _, same := range []string{
		"{ \"event_type\" : \"LabelRetracted\",\n\t\"event_id\":\"e 1\",\r\n \"reason\": \"a b\", \"n\": [ 1 , { \"x\" : null } ] }",
	} {
		if hash(same) != hash(base) {
			t.Errorf("%s: another hash than %s", same, base)
		}
	}
	// Every example of the contract, indented, hashes as sent compact.
	for _, ev := range schematest.Examples() {
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, " ", "\t"); err != nil {
			t.Fatal(err)
		}
		if hash(indented.String()) != hash(string(raw)) || hash(string(raw)) != maphash.Bytes(hashSeed, raw) {
			t.Errorf("%s: indented, another hash", ev.Type())
		}
	}
	for _, other := range []string{
		`{"event_type":"LabelRetracted","event_id":"e  1","reason":"a b","n":[1,{"x":null}]}`,
		`{"event_id":"e 1","event_type":"LabelRetracted","reason":"a b","n":[1,{"x":null}]}`,
		`{"event_type":"LabelRetracted","event_id":"e\u00201","reason":"a b","n":[1,{"x":null}]}`,
		`{"event_type":"LabelRetracted","event_id":"e 1","reason":"a b","n":[1.0,{"x":null}]}`,
		`{"event_type":"LabelRetracted","event_id":"e 1","reason":"a b","n":[1,{}]}`,
	} {
		if hash(other) == hash(base) {
			t.Errorf("%s: the same hash as %s", other, base)
		}
	}
}

// FuzzDecodeEvent holds the request's decoder (scanner, fast decoder) to the reference,
// decodeSlow: the same event or the same error for any input.
func FuzzDecodeEvent(f *testing.F) {
	ok := `{"event_type":"LabelSubmitted","event_id":"e","label_id":"l","item_id":"i","project_id":"p","task_id":"t","question_id":"q","annotator_id":"a","guideline_version":"g","value":{"level":"ordinal","category":"good","rank":2},"time_spent_ms":5,"pre_label":{"model":"m","model_version":"1"}}`
	f.Add([]byte(ok))
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, _, e := decodeEvent(raw)
		want, wantErr := referenceDecode(raw)
		if !reflect.DeepEqual(ev, want) || !reflect.DeepEqual(e, wantErr) {
			t.Fatalf("%q: decoded %#v, %+v; the reference %#v, %+v", raw, ev, e, want, wantErr)
		}
	})
}

// referenceDecode is DecodeEvent as it was before the scanner: the checks of the first bytes,
// then decodeSlow.
func referenceDecode(raw []byte) (schemas.Event, *wire.EventError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		if !json.Valid(raw) {
			return nil, &wire.EventError{Code: wire.CodeMalformedJSON, Reason: describeSyntax(raw)}
		}
		return nil, &wire.EventError{Code: wire.CodeNotObject, Reason: "an event must be a JSON object"}
	}
	return decodeSlow(raw)
}
