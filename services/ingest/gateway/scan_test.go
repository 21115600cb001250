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

// scanSeeds are events firstEventType must follow: nested objects and arrays with event_type
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

// TestFirstEventType checks the guess of an event's type: the first top-level member named
// exactly event_type, with a plain string value, found among nested values and tricky
// strings; whatever follows it (a duplicate, another spelling, trailing data) is the fast
// decoder's to refuse.
func TestFirstEventType(t *testing.T) {
	for _, c := range []struct {
		raw string
		ok  bool
		typ string
	}{
		{scanSeeds[0], true, "LabelSubmitted"},
		{scanSeeds[1], true, "LabelRetracted"},
		{scanSeeds[2], true, "LabelRetracted"},
		{scanSeeds[3], true, "LabelRetracted"},
		{scanSeeds[4], true, "ItemIngested"},
		{scanSeeds[5], true, "LabelSubmitted"}, // the duplicate is the decoder's
		{scanSeeds[6], true, "LabelSubmitted"},
		{scanSeeds[7], false, ""}, // another spelling
		{scanSeeds[8], false, ""}, // an escaped name
		{scanSeeds[9], false, ""}, // an escaped value
		{scanSeeds[10], false, ""},
		{scanSeeds[11], false, ""},
		{scanSeeds[12], false, ""},
		{scanSeeds[13], false, ""},
		{scanSeeds[14], true, "LabelSubmitted"}, // the trailing data is the decoder's
		{scanSeeds[15], true, "LabelSubmitted"},
		{scanSeeds[16], true, "GoldLabelSet"},
		{scanSeeds[17], true, "LabelSubmitted"},
		{scanSeeds[18], false, ""},
		{scanSeeds[19], true, ""},
		{scanSeeds[20], false, ""},
		{`{"event_type":"\xa9"}`, false, ""},
		{`{"a":[{"b":"}"}],"c":"]","event_type":"LabelRetracted"}`, true, "LabelRetracted"},
	} {
		typ, ok := firstEventType([]byte(c.raw))
		if ok != c.ok || string(typ) != c.typ {
			t.Errorf("%s: %q, %v; want %q, %v", c.raw, typ, ok, c.typ, c.ok)
		}
	}
}

// FuzzContentHash holds contentHash to json.Compact: on valid JSON it is the hash of what
// json.Compact makes of it.
func FuzzContentHash(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.TrimSpace(raw)
		if !json.Valid(raw) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			t.Fatal(err)
		}
		if got, want := contentHash(raw), maphash.Bytes(hashSeed, compact.Bytes()); got != want {
			t.Fatalf("content hash %x, want %x, the hash of %s", got, want, compact.Bytes())
		}
	})
}

// TestContentHashIgnoresOnlyWhitespace checks what counts as the same content for the
// recent-ids window: the same JSON however indented, and not JSON that differs in anything
// else (whitespace inside a string, key order, escapes, number spelling).
func TestContentHashIgnoresOnlyWhitespace(t *testing.T) {
	base := `{"event_type":"LabelRetracted","event_id":"e 1","reason":"a b","n":[1,{"x":null}]}`
	hash := func(raw string) uint64 { return contentHash([]byte(raw)) }
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

// FuzzDecodeEvent holds the request's decoder (firstEventType, the fast decoder) to the
// reference, decodeSlow: the same event or the same error for any input; and the hash of an
// event it decodes is contentHash's.
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
		ev, hash, e, _, _ := decodeEvent(raw, nil)
		want, wantErr := referenceDecode(raw)
		if !reflect.DeepEqual(ev, want) || !reflect.DeepEqual(e, wantErr) {
			t.Fatalf("%q: decoded %#v, %+v; the reference %#v, %+v", raw, ev, e, want, wantErr)
		}
		if e == nil && hash != contentHash(bytes.TrimSpace(raw)) {
			t.Fatalf("%q: hash %x, contentHash %x", raw, hash, contentHash(bytes.TrimSpace(raw)))
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
