package avro

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// TestSchemasMatchApacheAvro: for every embedded .avsc, Apache Avro's Parsing Canonical Form
// and parsingFingerprint64 are Assay's Canonical and Fingerprint; so are they for every case of
// schemas/testdata/canonical-form.json, and Apache Avro refuses the cases marked invalid.
func TestSchemasMatchApacheAvro(t *testing.T) {
	in := ContractSchemas()
	type vector struct {
		Name        string          `json:"name"`
		Schema      json.RawMessage `json:"schema"`
		Canonical   string          `json:"canonical"`
		Fingerprint string          `json:"fingerprint"`
		Invalid     bool            `json:"invalid"`
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "schemas", "testdata", "canonical-form.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []vector
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		in = append(in, Schema{ID: "case: " + v.Name, Text: string(v.Schema)})
	}
	verdict := Run(t, in, nil)

	for _, s := range schemas.Schemas() {
		got := verdict.Schemas[s.Path]
		switch {
		case got.Error != "":
			t.Errorf("%s: Apache Avro refuses it: %s", s.Path, got.Error)
		case got.Fingerprint != s.Fingerprint || got.Canonical != s.Canonical:
			t.Errorf("%s: Apache Avro %016x %s\nAssay %016x %s", s.Path, got.Fingerprint, got.Canonical, s.Fingerprint, s.Canonical)
		case got.Fingerprint == s.LegacyFingerprint:
			t.Errorf("%s: Apache Avro computes the legacy fingerprint", s.Path)
		}
	}
	for _, v := range vectors {
		got := verdict.Schemas["case: "+v.Name]
		switch {
		case v.Invalid && got.Error == "":
			t.Errorf("%s: Apache Avro accepts it (%s)", v.Name, got.Canonical)
		case v.Invalid:
			t.Logf("%s: %s", v.Name, got.Error)
		case got.Error != "":
			t.Errorf("%s: Apache Avro refuses it: %s", v.Name, got.Error)
		case got.Canonical != v.Canonical || fmt.Sprintf("%016x", got.Fingerprint) != v.Fingerprint:
			t.Errorf("%s: Apache Avro %016x %s\nexpected %s %s", v.Name, got.Fingerprint, got.Canonical, v.Fingerprint, v.Canonical)
		}
	}
	t.Logf("Apache Avro %s: %d schema versions and %d canonical-form cases agree", verdict.Avro, len(schemas.Schemas()), len(vectors))
}

// TestGoldenRecordsDecodeWithApacheAvro: a BinaryMessageDecoder with every schema in its
// SchemaStore.Cache finds the writer of every golden record by its header and decodes it to
// what Assay decodes; the records written with the legacy fingerprints are refused by it, which
// is why Assay keeps them as its own aliases only.
func TestGoldenRecordsDecodeWithApacheAvro(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), "schemas", "testdata")
	current, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	legacy, _ := filepath.Glob(filepath.Join(dir, "legacy-fingerprint", "*.bin"))
	if len(current) != len(schemas.Schemas()) || len(legacy) == 0 {
		t.Fatalf("%d golden files for %d schema versions, %d legacy ones", len(current), len(schemas.Schemas()), len(legacy))
	}
	var recs []Record
	for _, p := range append(current, legacy...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ContractRecord(strings.TrimPrefix(p, dir+"/"), b)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	verdict := Run(t, ContractSchemas(), recs)
	for _, r := range recs[:len(current)] {
		checkDecoded(t, verdict, r, nil)
	}
	for _, r := range recs[len(current):] {
		got := verdict.Records[r.ID]
		if !strings.Contains(got.Error, "MissingSchemaException") {
			t.Errorf("%s: Apache Avro did not refuse a legacy fingerprint: %+v", r.ID, got)
		}
	}
	t.Logf("Apache Avro %s decoded %d golden records (spec fingerprints) and refused %d with legacy fingerprints", verdict.Avro, len(current), len(legacy))
}

// TestEncodedEventsDecodeWithApacheAvro: records Assay's codec encodes, for every event type in
// three forms (schematest's fully populated example; the same with every field that has a
// default left out; the same with non-ASCII text in every free-text string), decode with
// Apache Avro to exactly the event encoded, field by field.
func TestEncodedEventsDecodeWithApacheAvro(t *testing.T) {
	var recs []Record
	meant := map[string]schemas.Event{}
	perType := map[schemas.EventType]int{}
	for _, ev := range schematest.Examples() {
		for _, v := range []struct {
			form string
			ev   schemas.Event
		}{{"full", ev}, {"sparse", sparse(t, ev)}, {"unicode", unicode(t, ev)}} {
			b, err := schemas.Encode(v.ev)
			if err != nil {
				t.Fatalf("%s %s: %v", ev.Type(), v.form, err)
			}
			id := fmt.Sprintf("%s/%s", ev.Type(), v.form)
			r, err := ContractRecord(id, b)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			meant[id] = v.ev
			perType[ev.Type()]++
		}
	}
	if len(perType) != len(schemas.EventTypes()) {
		t.Fatalf("records for %d of %d event types", len(perType), len(schemas.EventTypes()))
	}
	// The examples' values are nominal and ordinal; a value of each structured level (issue 21)
	// on each event type that carries a label value.
	score, strength := 0.75, int32(2)
	choice := schemas.Choice("r2", "r1", "r1", "r2", "r3")
	choice.Preference.Strength = &strength
	for i, v := range []schemas.LabelValue{
		schemas.Spans(schemas.UnitCharacters, 120, schemas.Span{Label: "PER", Start: 0, End: 11}, schemas.Span{Label: "LOC", Start: 40, End: 52}),
		schemas.Boxes(640, 480, schemas.Box{Label: "car", X: 1.5, Y: 2, W: 30, H: 40, Score: &score}, schemas.Box{Label: "bus", X: 100, Y: 200, W: 3, H: 4}),
		choice,
		schemas.Spans(schemas.UnitMilliseconds, 30000),
	} {
		label := schematest.Example(schemas.TypeLabelSubmitted).(*schemas.LabelSubmitted)
		gold := schematest.Example(schemas.TypeGoldLabelSet).(*schemas.GoldLabelSet)
		pre := schematest.Example(schemas.TypePreLabelProposed).(*schemas.PreLabelProposed)
		label.Value, gold.Value, pre.Value = v, v, v
		for _, ev := range []schemas.Event{label, gold, pre} {
			b, err := schemas.Encode(ev)
			if err != nil {
				t.Fatalf("%s with %v: %v", ev.Type(), v, err)
			}
			id := fmt.Sprintf("%s/%s-%d", ev.Type(), v.Level, i)
			r, err := ContractRecord(id, b)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			meant[id] = ev
		}
	}
	verdict := Run(t, ContractSchemas(), recs)
	for _, r := range recs {
		checkDecoded(t, verdict, r, meant[r.ID])
	}
	t.Logf("Apache Avro %s decoded %d records of %d event types as encoded", verdict.Avro, len(recs), len(perType))
}

// checkDecoded requires Apache Avro to have found r's writer by its header (the current-schema
// writer for what Encode wrote), decoded it to what Assay means by it (ev; nil: what Assay's
// own Decode makes of the bytes), and re-encoded it to the same bytes.
func checkDecoded(t *testing.T, verdict Verdict, r Record, ev schemas.Event) {
	t.Helper()
	got := verdict.Records[r.ID]
	if got.Error != "" {
		t.Errorf("%s: Apache Avro refuses it: %s", r.ID, got.Error)
		return
	}
	fp, _, _ := schemas.Header(r.Bytes)
	writer, ok := schemas.SchemaByFingerprint(fp)
	if !ok || got.Writer != writer.Path || got.HeaderFingerprint != fp || writer.Fingerprint != fp {
		t.Errorf("%s: header %016x, Apache Avro's writer %q (it read %016x), Assay's %q", r.ID, fp, got.Writer, got.HeaderFingerprint, writer.Path)
	}
	if !got.ReencodedSame {
		t.Errorf("%s: Apache Avro re-encodes it to other bytes", r.ID)
	}
	if ev == nil {
		var err error
		if ev, err = schemas.Decode(r.Bytes); err != nil {
			t.Errorf("%s: Assay does not decode it: %v", r.ID, err)
			return
		}
	}
	want, err := AvroJSON(ev)
	if err != nil {
		t.Fatalf("%s: %v", r.ID, err)
	}
	decoded, err := ParseJSON(got.JSON)
	if err != nil {
		t.Fatalf("%s: Apache Avro's JSON: %v\n%s", r.ID, err, got.JSON)
	}
	if d := Diff(want, decoded); len(d) > 0 {
		t.Errorf("%s: Apache Avro decodes another datum:\n  %s", r.ID, strings.Join(d, "\n  "))
	}
}

// sparse returns ev with every string, optional value and list emptied wherever Validate
// still accepts it (the fields with defaults all are, as the contract gives them the zero
// value as default): the smallest event of its type.
func sparse(t *testing.T, ev schemas.Event) schemas.Event {
	t.Helper()
	return mutate(t, ev, func(v reflect.Value) bool {
		if v.IsZero() {
			return false
		}
		v.Set(reflect.Zero(v.Type()))
		return true
	})
}

// unicode returns ev with text beyond ASCII appended to every string Validate lets hold it
// (ids, names, reasons, nested ones included), so multi-byte UTF-8 is checked too, and the
// bytes 0x00, 0x80 and 0xff to every byte string (JSON-encoded by Avro as code points).
func unicode(t *testing.T, ev schemas.Event) schemas.Event {
	t.Helper()
	return mutate(t, ev, func(v reflect.Value) bool {
		switch {
		case v.Kind() == reflect.String && v.String() != "":
			v.SetString(v.String() + " — Zürich 東京 🚗")
			return true
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
			v.SetBytes(append(v.Bytes(), 0x00, 0x80, 0xff))
			return true
		}
		return false
	})
}

// mutate applies change to each string, pointer and slice of a copy of ev (outer ones before
// the ones inside them), one at a time, keeping a change only when the event still validates.
// event_type is left alone: it names the type.
func mutate(t *testing.T, ev schemas.Event, change func(v reflect.Value) bool) schemas.Event {
	t.Helper()
	js, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := schemas.New(ev.Type())
	if err := json.Unmarshal(js, cp); err != nil {
		t.Fatal(err)
	}
	var vs []reflect.Value
	leaves(reflect.ValueOf(cp).Elem(), &vs)
	for _, v := range vs {
		old := reflect.New(v.Type()).Elem()
		old.Set(v)
		if change(v) && cp.Validate() != nil {
			v.Set(old)
		}
	}
	return cp
}

// leaves lists the settable strings, pointers and slices under v, depth first: the fields of
// structs (embedded ones flattened), what pointers point to, the elements of slices.
func leaves(v reflect.Value, out *[]reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ","); name == "event_type" {
				continue
			}
			leaves(v.Field(i), out)
		}
	case reflect.String:
		*out = append(*out, v)
	case reflect.Pointer:
		*out = append(*out, v)
		if !v.IsNil() {
			leaves(v.Elem(), out)
		}
	case reflect.Slice:
		*out = append(*out, v)
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				leaves(v.Index(i), out)
			}
		}
	}
}
