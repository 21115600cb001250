package schemas_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func goldenPath(t schemas.EventType, version int) string {
	return filepath.Join("testdata", fmt.Sprintf("%s.v%d.bin", t, version))
}

// TestRoundTrip: every event, fully populated, survives Encode/Decode and
// keeps its key, family and topic.
func TestRoundTrip(t *testing.T) {
	for _, ev := range schematest.Examples() {
		t.Run(string(ev.Type()), func(t *testing.T) {
			if err := ev.Validate(); err != nil {
				t.Fatalf("example invalid: %v", err)
			}
			b, err := schemas.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := schemas.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ev) {
				t.Fatalf("round trip changed the event\n got %+v\nwant %+v", got, ev)
			}
			if got.Key() == "" || got.Key() != ev.Key() {
				t.Fatalf("key %q, want %q", got.Key(), ev.Key())
			}
			typ, ver, err := schemas.TypeOf(b)
			cur, _ := schemas.CurrentSchema(ev.Type())
			if err != nil || typ != ev.Type() || ver != cur.Version {
				t.Fatalf("TypeOf = %s v%d, %v; want %s v%d", typ, ver, err, ev.Type(), cur.Version)
			}
			body, err := schemas.EncodeBody(ev)
			if err != nil || !bytes.Equal(body, b[schemas.HeaderLen:]) {
				t.Fatalf("EncodeBody differs from the body of Encode (err %v)", err)
			}
		})
	}
}

// TestEncodeFillsEventType: event_type may be left empty by producers; the
// encoded event carries the type anyway, and the caller's value is untouched.
func TestEncodeFillsEventType(t *testing.T) {
	ev := schematest.Example(schemas.TypeLabelRetracted)
	ev.Meta().EventType = ""
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Meta().EventType != "" {
		t.Fatal("Encode modified the event")
	}
	got, err := schemas.Decode(b)
	if err != nil || got.Meta().EventType != schemas.TypeLabelRetracted {
		t.Fatalf("decoded %v, %v", got, err)
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	ev := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested)
	ev.SHA256 = "nothex"
	_, err := schemas.Encode(ev)
	var fe *schemas.FieldError
	if !errors.As(err, &fe) || fe.Field != "sha256" || !errors.Is(err, schemas.ErrInvalid) {
		t.Fatalf("got %v, want a FieldError on sha256", err)
	}
	if _, err := schemas.Encode(nil); err == nil {
		t.Fatal("Encode(nil) succeeded")
	}
	if _, err := schemas.Encode((*schemas.ItemIngested)(nil)); err == nil {
		t.Fatal("Encode of a nil pointer succeeded")
	}
}

// TestGolden pins the bytes of every event type (and every old schema
// version) so framing or schema changes never go unnoticed; the old-version
// files are the compatibility proof: they must decode with the current code.
// Their headers carry the spec's fingerprints (ops/avro proves that Apache
// Avro finds and decodes them). Rewrite with:
// go test ./schemas -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, s := range schemas.Schemas() {
		t.Run(fmt.Sprintf("%s.v%d", s.Type, s.Version), func(t *testing.T) {
			want := schematest.Example(s.Type)
			cur, _ := schemas.CurrentSchema(s.Type)
			var b []byte
			var err error
			if s.Version == cur.Version {
				b, err = schemas.Encode(want)
			} else {
				b, err = schemas.EncodeVersion(want, s.Version)
			}
			if err != nil {
				t.Fatal(err)
			}
			path := goldenPath(s.Type, s.Version)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b, golden) {
				t.Fatalf("encoding changed: %s\n got % x\nwant % x", path, b, golden)
			}
			fp := binary.LittleEndian.Uint64(golden[2:10])
			if golden[0] != 0xC3 || golden[1] != 0x01 || fp != s.Fingerprint {
				t.Fatalf("header % x, want c3 01 + fingerprint %016x", golden[:10], s.Fingerprint)
			}
			got, err := schemas.Decode(golden)
			if err != nil {
				t.Fatalf("golden v%d no longer decodes: %v", s.Version, err)
			}
			if s.Version != cur.Version {
				// Fields the old writer lacked take their defaults.
				stripNewerFields(t, s.Type, s.Version, want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("golden decodes to\n %+v\nwant %+v", got, want)
			}
		})
	}
}

// legacyGoldenDir holds the golden files as Assay wrote them before issue
// 14, with goavro's fingerprints in their headers. They are never rewritten
// (-update leaves them alone): they are the proof that records already in a
// log keep decoding.
const legacyGoldenDir = "testdata/legacy-fingerprint"

// TestLegacyGolden: every record written with a legacy fingerprint still
// decodes to the event it was written from, is typed by TypeOf and found by
// SchemaByFingerprint, and differs from today's encoding in the header only.
func TestLegacyGolden(t *testing.T) {
	n := 0
	for _, s := range schemas.Schemas() {
		if s.LegacyFingerprint == 0 {
			continue
		}
		n++
		t.Run(fmt.Sprintf("%s.v%d", s.Type, s.Version), func(t *testing.T) {
			old, err := os.ReadFile(filepath.Join(legacyGoldenDir, fmt.Sprintf("%s.v%d.bin", s.Type, s.Version)))
			if err != nil {
				t.Fatal(err)
			}
			fp, body, err := schemas.Header(old)
			if err != nil || fp != s.LegacyFingerprint || fp == s.Fingerprint {
				t.Fatalf("header %016x (%v), want the legacy fingerprint %016x", fp, err, s.LegacyFingerprint)
			}
			cur, err := os.ReadFile(goldenPath(s.Type, s.Version))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, cur[schemas.HeaderLen:]) {
				t.Fatalf("body differs from today's encoding:\n old % x\n new % x", body, cur[schemas.HeaderLen:])
			}
			if typ, ver, err := schemas.TypeOf(old); err != nil || typ != s.Type || ver != s.Version {
				t.Fatalf("TypeOf = %s v%d, %v", typ, ver, err)
			}
			if got, ok := schemas.SchemaByFingerprint(fp); !ok || got.Path != s.Path {
				t.Fatalf("SchemaByFingerprint(%016x) = %s, %v", fp, got.Path, ok)
			}
			got, err := schemas.Decode(old)
			if err != nil {
				t.Fatal(err)
			}
			want := schematest.Example(s.Type)
			if latest, _ := schemas.CurrentSchema(s.Type); s.Version != latest.Version {
				stripNewerFields(t, s.Type, s.Version, want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decodes to\n %+v\nwant %+v", got, want)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(legacyGoldenDir, "*.bin"))
	if n == 0 || len(files) != n {
		t.Fatalf("%d legacy golden files for %d schema versions with a legacy fingerprint", len(files), n)
	}
}

// stripNewerFields zeroes in want the fields added after version, i.e.
// what decoding an old message must produce. Extend it with each new
// schema version.
func stripNewerFields(t *testing.T, typ schemas.EventType, version int, want schemas.Event) {
	switch {
	case typ == schemas.TypeLabelSubmitted && version == 1:
		want.(*schemas.LabelSubmitted).PreLabel = nil
	case typ == schemas.TypeItemIngested && version == 1:
		want.(*schemas.ItemIngested).Extent = nil
	case typ == schemas.TypeLabelSubmitted && version == 2,
		typ == schemas.TypeGoldLabelSet && version == 1,
		typ == schemas.TypePreLabelProposed && version == 1,
		typ == schemas.TypeReviewCompleted && version == 1,
		typ == schemas.TypeQualityTargetsSet && version == 1:
		// The next version added the spans, boxes and preference levels and
		// their fields (issue 21), which the examples' values do not use.
	default:
		t.Fatalf("no expectation for %s v%d: extend stripNewerFields", typ, version)
	}
}

// TestGoldenFilesAreKnown: every file in testdata belongs to an embedded
// schema, so a deleted schema version cannot leave an untested golden.
func TestGoldenFilesAreKnown(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bin")
	if len(files) != len(schemas.Schemas()) {
		t.Fatalf("%d golden files for %d schema versions", len(files), len(schemas.Schemas()))
	}
}

// TestLabelSubmittedV1DecodesWithDefault is the compatibility contract in one
// readable case: a v1 producer's LabelSubmitted, read by today's code.
func TestLabelSubmittedV1DecodesWithDefault(t *testing.T) {
	golden, err := os.ReadFile(goldenPath(schemas.TypeLabelSubmitted, 1))
	if err != nil {
		t.Fatal(err)
	}
	typ, ver, err := schemas.TypeOf(golden)
	if err != nil || typ != schemas.TypeLabelSubmitted || ver != 1 {
		t.Fatalf("TypeOf = %s v%d, %v", typ, ver, err)
	}
	ls, err := schemas.DecodeAs[schemas.LabelSubmitted](golden)
	if err != nil {
		t.Fatal(err)
	}
	want := schematest.Example(schemas.TypeLabelSubmitted).(*schemas.LabelSubmitted)
	want.PreLabel = nil
	if !reflect.DeepEqual(ls, want) {
		t.Fatalf("decoded %+v\nwant %+v", ls, want)
	}
	v2, _ := schemas.Fingerprint(schemas.TypeLabelSubmitted)
	if fp := binary.LittleEndian.Uint64(golden[2:10]); fp == v2 {
		t.Fatal("v1 golden carries the v2 fingerprint")
	}
}

func TestDecodeAsWrongType(t *testing.T) {
	b, _ := schemas.Encode(schematest.Example(schemas.TypeGoldLabelSet))
	if _, err := schemas.DecodeAs[schemas.LabelSubmitted](b); !errors.Is(err, schemas.ErrWrongType) {
		t.Fatalf("got %v, want ErrWrongType", err)
	}
	if g, err := schemas.DecodeAs[schemas.GoldLabelSet](b); err != nil || g.SetBy == "" {
		t.Fatalf("got %v, %v", g, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := schemas.Encode(schematest.Example(schemas.TypeLabelSubmitted))
	unknownFP := append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, good[10:]...)
	wrongType := schemas.Native(schematest.Example(schemas.TypeLabelRetracted))
	wrongType["event_type"] = "GoldLabelSet"
	wrongTypeBytes, err := schemas.EncodeNative(schemas.TypeLabelRetracted, 1, wrongType)
	if err != nil {
		t.Fatal(err)
	}
	badEnum := schemas.Native(schematest.Example(schemas.TypeRoutingDecided))
	badEnumBytes, _ := schemas.EncodeNative(schemas.TypeRoutingDecided, 1, badEnum)
	// route is the first enum after the strings; corrupt its index byte.
	hugeString := append([]byte(nil), good[:10]...)
	hugeString = append(hugeString, 0x02, 'e') // event_id "e"
	hugeString = append(hugeString, 0xfe, 0xff, 0xff, 0xff, 0x0f)
	// slice_tags ["night", ...] is encoded 04 0a "night"...; claim 2^31-1 items.
	ii := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested)
	ii.SliceTags = []string{"night", "rain"}
	item, _ := schemas.Encode(ii)
	at := bytes.Index(item, []byte("\x04\x0anight"))
	hugeArray := append(append(append([]byte(nil), item[:at]...), 0xfe, 0xff, 0xff, 0xff, 0x0f), item[at+1:]...)
	// The same count as math.MinInt64, which has no positive count.
	minCount := append(append(append([]byte(nil), item[:at]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), item[at+1:]...)
	// event_id's length as -1, and as a varint longer than 64 bits.
	negativeLength := append(append([]byte(nil), good[:10]...), 0x01)
	overflow := append(append([]byte(nil), good[:10]...), bytes.Repeat([]byte{0xff}, 11)...)
	// ItemIngested ends with extent, ["null", Extent]: its branch index is the last byte.
	ii.Extent = nil
	noExtent, _ := schemas.Encode(ii)
	unionIndex := func(zigzag byte) []byte {
		out := append([]byte(nil), noExtent...)
		out[len(out)-1] = zigzag
		return out
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, schemas.ErrNotSingleObject},
		{"short", good[:9], schemas.ErrNotSingleObject},
		{"bad marker", append([]byte{0x00, 0x01}, good[2:]...), schemas.ErrNotSingleObject},
		{"unknown fingerprint", unknownFP, schemas.ErrUnknownFingerprint},
		{"header only", good[:10], schemas.ErrMalformed},
		{"truncated", good[:len(good)-1], schemas.ErrMalformed},
		{"trailing bytes", append(append([]byte(nil), good...), 0), schemas.ErrMalformed},
		{"event_type mismatch", wrongTypeBytes, schemas.ErrMalformed},
		{"huge string length", hugeString, schemas.ErrMalformed},
		{"huge array count", hugeArray, schemas.ErrMalformed},
		{"bad enum index", corruptLastEnum(badEnumBytes), schemas.ErrMalformed},
		{"negative enum index", corruptLastEnumTo(badEnumBytes, 1), schemas.ErrMalformed},
		{"block count MinInt64", minCount, schemas.ErrMalformed},
		{"negative string length", negativeLength, schemas.ErrMalformed},
		{"varint overflows 64 bits", overflow, schemas.ErrMalformed},
		{"union index out of range", unionIndex(4), schemas.ErrMalformed},
		{"negative union index", unionIndex(1), schemas.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := schemas.Decode(tc.in)
			if !errors.Is(err, tc.want) || ev != nil {
				t.Fatalf("Decode = %v, %v; want error %v", ev, err, tc.want)
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "decode") {
				t.Fatalf("error lacks context: %v", err)
			}
		})
	}
	if _, _, err := schemas.TypeOf(unknownFP); !errors.Is(err, schemas.ErrUnknownFingerprint) {
		t.Fatalf("TypeOf: %v", err)
	}
}

// corruptLastEnum rewrites RoutingDecided's route, encoded right after the
// question id, to index 9 (there are 4 routes).
func corruptLastEnum(b []byte) []byte { return corruptLastEnumTo(b, 18) } // zig-zag 9

// corruptLastEnumTo rewrites RoutingDecided's route index to the zig-zag byte z.
func corruptLastEnumTo(b []byte, z byte) []byte {
	q := schematest.Example(schemas.TypeRoutingDecided).(*schemas.RoutingDecided).QuestionID
	out := append([]byte(nil), b...)
	i := bytes.Index(out, []byte(q))
	out[i+len(q)] = z
	return out
}

// TestJSONForm: the JSON of an event is its Avro field names, decodes with
// DisallowUnknownFields into New(type), and gives back the same event; the
// gateway relies on this.
func TestJSONForm(t *testing.T) {
	for _, ev := range schematest.Examples() {
		t.Run(string(ev.Type()), func(t *testing.T) {
			js, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := schemas.New(ev.Type())
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ev) {
				t.Fatalf("JSON round trip\n got %+v\nwant %+v", got, ev)
			}
			var top map[string]any
			_ = json.Unmarshal(js, &top)
			s, _ := schemas.CurrentSchema(ev.Type())
			var avsc struct{ Fields []struct{ Name string } }
			_ = json.Unmarshal([]byte(s.JSON), &avsc)
			for _, f := range avsc.Fields {
				if _, ok := top[f.Name]; !ok {
					t.Errorf("JSON lacks Avro field %s", f.Name)
				}
			}
			if len(top) != len(avsc.Fields) {
				t.Errorf("JSON has %d fields, Avro %d", len(top), len(avsc.Fields))
			}
		})
	}
}

// TestClientJSON is what a collector sends: minimal JSON, no envelope
// fields besides event_id/occurred_at; Stamp fills the rest.
func TestClientJSON(t *testing.T) {
	in := `{"event_id":"e-1","occurred_at":1735787045000,"label_id":"l","item_id":"i","project_id":"p",
	"task_id":"t","question_id":"q","annotator_id":"a","guideline_version":"g","value":{"level":"nominal","category":"cat"},
	"time_spent_ms":10}`
	ev, _ := schemas.New(schemas.TypeLabelSubmitted)
	dec := json.NewDecoder(strings.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		t.Fatal(err)
	}
	if err := ev.Validate(); err == nil {
		t.Fatal("unstamped event validated (recorded_at, producer missing)")
	}
	schemas.Stamp(ev, "collector-1", testNow)
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.Meta().OccurredAt != 1735787045000 || ev.Meta().EventID != "e-1" || ev.Meta().Producer != "collector-1" {
		t.Fatalf("Stamp overwrote client fields: %+v", ev.Meta())
	}
	if _, err := schemas.Encode(ev); err != nil {
		t.Fatal(err)
	}
	bad := json.NewDecoder(strings.NewReader(`{"item_id":"i","bogus":1}`))
	bad.DisallowUnknownFields()
	if err := bad.Decode(ev); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// TestDecodeAllocationBounded: a forged length or count is refused before anything is
// allocated for it; decoding a message of a few dozen bytes that claims 2^31 items or
// bytes allocates a few kilobytes at most (the error), never the claim.
func TestDecodeAllocationBounded(t *testing.T) {
	ii := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested)
	ii.SliceTags = []string{"night", "rain"}
	item, _ := schemas.Encode(ii)
	at := bytes.Index(item, []byte("\x04\x0anight"))
	for name, claim := range map[string][]byte{
		"array count":          {0xfe, 0xff, 0xff, 0xff, 0x0f},
		"negative block count": {0xfd, 0xff, 0xff, 0xff, 0x0f, 0x02},
		"string length":        {0x04, 0xfe, 0xff, 0xff, 0xff, 0x0f},
	} {
		msg := append(append(append([]byte(nil), item[:at]...), claim...), item[at+len(claim):]...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ev, err := schemas.Decode(msg)
		runtime.ReadMemStats(&after)
		if err == nil || ev != nil {
			t.Fatalf("%s: decoded %v", name, ev)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: decoding %d bytes allocated %d bytes", name, len(msg), n)
		}
	}
}
