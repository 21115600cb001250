package schemas_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

var testNow = schematest.T0.Add(time.Hour)

type avscField struct {
	Name    string          `json:"name"`
	Type    json.RawMessage `json:"type"`
	Default json.RawMessage `json:"default"`
	Doc     string          `json:"doc"`
}

type avscRecord struct {
	Name      string      `json:"name"`
	Namespace string      `json:"namespace"`
	Fields    []avscField `json:"fields"`
}

func parseAvsc(t *testing.T, s schemas.Schema) avscRecord {
	t.Helper()
	var r avscRecord
	if err := json.Unmarshal([]byte(s.JSON), &r); err != nil {
		t.Fatalf("%s: %v", s.Path, err)
	}
	return r
}

// envelopeFields are the envelope, in order, as every schema must start.
var envelopeFields = []string{"event_id", "event_type", "occurred_at", "recorded_at", "producer", "trace"}

// TestEnvelopeIdentical: every schema version starts with the same envelope,
// byte for byte in its JSON definition (docs included), so consumers and
// ClickHouse tables can treat the envelope uniformly.
func TestEnvelopeIdentical(t *testing.T) {
	var ref []avscField
	var refPath string
	for _, s := range schemas.Schemas() {
		r := parseAvsc(t, s)
		if len(r.Fields) < len(envelopeFields) {
			t.Fatalf("%s: only %d fields", s.Path, len(r.Fields))
		}
		env := r.Fields[:len(envelopeFields)]
		for i, f := range env {
			if f.Name != envelopeFields[i] {
				t.Fatalf("%s: field %d is %s, want %s", s.Path, i, f.Name, envelopeFields[i])
			}
		}
		if ref == nil {
			ref, refPath = env, s.Path
			continue
		}
		a, _ := json.Marshal(env)
		b, _ := json.Marshal(ref)
		if string(a) != string(b) {
			t.Errorf("%s: envelope differs from %s\n%s\n%s", s.Path, refPath, a, b)
		}
	}
	// The Go side: the Envelope struct has exactly these fields.
	var goNames []string
	rt := reflect.TypeOf(schemas.Envelope{})
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		goNames = append(goNames, name)
	}
	if !slices.Equal(goNames, envelopeFields) {
		t.Fatalf("Go Envelope fields %v, want %v", goNames, envelopeFields)
	}
}

// TestSharedTypesIdentical: named types in io.assay.common (LabelValue,
// MeasurementLevel, Trace, ...) are defined identically wherever they appear
// in the current schemas, so a LabelValue means the same thing on every
// topic. Older versions carry the generation of a shared type they were
// written with (LabelValue before spans, boxes and preference);
// TestEvolutionRules keeps each of them readable by the current one.
func TestSharedTypesIdentical(t *testing.T) {
	defs := map[string]string{}
	where := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ns, _ := x["namespace"].(string); ns == "io.assay.common" {
				name := x["name"].(string)
				js, _ := json.Marshal(x)
				if prev, ok := defs[name]; ok && prev != string(js) {
					t.Errorf("%s: %s differs from the one in %s", path, name, where[name])
				}
				defs[name], where[name] = string(js), path
			}
			for _, c := range x {
				walk(path, c)
			}
		case []any:
			for _, c := range x {
				walk(path, c)
			}
		}
	}
	for _, s := range schemas.Schemas() {
		if cur, _ := schemas.CurrentSchema(s.Type); cur.Version != s.Version {
			continue
		}
		var doc any
		_ = json.Unmarshal([]byte(s.JSON), &doc)
		walk(s.Path, doc)
	}
	for _, n := range []string{"Trace", "LabelValue", "MeasurementLevel", "Extent", "ExtentUnit", "Span", "Box", "Preference"} {
		if _, ok := defs[n]; !ok {
			t.Errorf("io.assay.common.%s is not defined anywhere", n)
		}
	}
}

// TestEvolutionRules: between consecutive versions fields are only added,
// every added field has a default, and kept fields keep their type or evolve
// it by the same rules (a nested record adds defaulted fields, an enum
// appends symbols), so each new reader decodes every old writer (Avro
// backward compatibility).
func TestEvolutionRules(t *testing.T) {
	byType := map[schemas.EventType][]schemas.Schema{}
	for _, s := range schemas.Schemas() {
		byType[s.Type] = append(byType[s.Type], s)
	}
	multi := 0
	for typ, vs := range byType {
		for i := 1; i < len(vs); i++ {
			multi++
			old, cur := parseAvsc(t, vs[i-1]), parseAvsc(t, vs[i])
			oldF := map[string]avscField{}
			for _, f := range old.Fields {
				oldF[f.Name] = f
			}
			for _, f := range cur.Fields {
				o, existed := oldF[f.Name]
				if !existed && f.Default == nil {
					t.Errorf("%s v%d: new field %s has no default", typ, vs[i].Version, f.Name)
				}
				if existed && string(stripDocs(t, o.Type)) != string(stripDocs(t, f.Type)) {
					var ot, nt any
					_ = json.Unmarshal(stripDocs(t, o.Type), &ot)
					_ = json.Unmarshal(stripDocs(t, f.Type), &nt)
					if err := evolves(ot, nt); err != nil {
						t.Errorf("%s v%d: field %s changed type: %v", typ, vs[i].Version, f.Name, err)
					}
				}
				delete(oldF, f.Name)
			}
			for name := range oldF {
				t.Errorf("%s v%d: field %s was removed", typ, vs[i].Version, name)
			}
		}
	}
	if multi == 0 {
		t.Fatal("no event type has two versions; the compatibility path is untested")
	}
}

// evolves reports whether a reader with Avro type cur reads data written with
// old under the contract's rules: the same type, or a record with the same
// name whose kept fields evolve and whose new fields have defaults, or an
// enum with the same name whose symbols start with the old ones, or an array
// or ["null", T] union whose items or branch evolve.
func evolves(old, cur any) error {
	om, ok1 := old.(map[string]any)
	cm, ok2 := cur.(map[string]any)
	if ol, ok := old.([]any); ok {
		cl, ok := cur.([]any)
		if !ok || len(ol) != len(cl) {
			return fmt.Errorf("union %v became %v", old, cur)
		}
		for i := range ol {
			if err := evolves(ol[i], cl[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !ok1 || !ok2 {
		if reflect.DeepEqual(old, cur) {
			return nil
		}
		return fmt.Errorf("%v became %v", old, cur)
	}
	if om["type"] != cm["type"] || om["name"] != cm["name"] {
		return fmt.Errorf("%v %v became %v %v", om["type"], om["name"], cm["type"], cm["name"])
	}
	switch om["type"] {
	case "array":
		return evolves(om["items"], cm["items"])
	case "enum":
		os, cs := om["symbols"].([]any), cm["symbols"].([]any)
		if len(cs) < len(os) || !reflect.DeepEqual(os, cs[:len(os)]) {
			return fmt.Errorf("enum %v: symbols %v became %v (only appending keeps old data readable)", om["name"], os, cs)
		}
		return nil
	case "record":
		of := map[string]map[string]any{}
		for _, f := range om["fields"].([]any) {
			fm := f.(map[string]any)
			of[fm["name"].(string)] = fm
		}
		for _, f := range cm["fields"].([]any) {
			fm := f.(map[string]any)
			o, existed := of[fm["name"].(string)]
			if !existed {
				if _, ok := fm["default"]; !ok {
					return fmt.Errorf("record %v: new field %v has no default", om["name"], fm["name"])
				}
				continue
			}
			if err := evolves(o["type"], fm["type"]); err != nil {
				return fmt.Errorf("record %v field %v: %w", om["name"], fm["name"], err)
			}
			delete(of, fm["name"].(string))
		}
		for name := range of {
			return fmt.Errorf("record %v: field %s was removed", om["name"], name)
		}
		return nil
	}
	if reflect.DeepEqual(om, cm) {
		return nil
	}
	return fmt.Errorf("%v became %v", old, cur)
}

func stripDocs(t *testing.T, raw json.RawMessage) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "doc")
			for _, c := range x {
				strip(c)
			}
		case []any:
			for _, c := range x {
				strip(c)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return out
}

// TestGoEnumsMatchAvro: the Go constants and the Avro enum symbols agree,
// in order, so Validate and the codec accept the same values.
func TestGoEnumsMatchAvro(t *testing.T) {
	symbols := func(typ schemas.EventType, field string) []string {
		s, _ := schemas.CurrentSchema(typ)
		var doc map[string]any
		_ = json.Unmarshal([]byte(s.JSON), &doc)
		var find func(any) []string
		find = func(v any) []string {
			switch x := v.(type) {
			case map[string]any:
				if x["type"] == "enum" && x["name"] == field {
					var out []string
					for _, s := range x["symbols"].([]any) {
						out = append(out, s.(string))
					}
					return out
				}
				for _, c := range x {
					if r := find(c); r != nil {
						return r
					}
				}
			case []any:
				for _, c := range x {
					if r := find(c); r != nil {
						return r
					}
				}
			}
			return nil
		}
		return find(doc)
	}
	strs := func(vs ...string) []string { return vs }
	check := func(name string, got, want []string, valid func(string) bool) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: Avro symbols %v, Go %v", name, got, want)
		}
		for _, s := range want {
			if !valid(s) {
				t.Errorf("%s: Go says %q is invalid", name, s)
			}
		}
		if valid("nope") {
			t.Errorf("%s: accepts nope", name)
		}
	}
	var levels []string
	for _, l := range schemas.Levels() {
		levels = append(levels, string(l))
	}
	check("MeasurementLevel", symbols(schemas.TypeLabelSubmitted, "MeasurementLevel"), levels,
		func(s string) bool { return schemas.MeasurementLevel(s).Valid() })
	check("Route", symbols(schemas.TypeRoutingDecided, "Route"),
		strs(string(schemas.RouteAutoAccept), string(schemas.RouteHumanLabel), string(schemas.RouteHumanReview), string(schemas.RouteExpertReview)),
		func(s string) bool { return schemas.Route(s).Valid() })
	check("Verdict", symbols(schemas.TypeReviewCompleted, "Verdict"),
		strs(string(schemas.VerdictAccept), string(schemas.VerdictReject), string(schemas.VerdictCorrect)),
		func(s string) bool { return schemas.Verdict(s).Valid() })
	severities := strs(string(schemas.SeverityLow), string(schemas.SeverityMedium), string(schemas.SeverityHigh), string(schemas.SeverityCritical))
	check("Severity", symbols(schemas.TypeEvalFindingReported, "Severity"), severities,
		func(s string) bool { return schemas.Severity(s).Valid() })
	check("Severity (QualityTargetsSet)", symbols(schemas.TypeQualityTargetsSet, "Severity"), severities,
		func(s string) bool { return schemas.Severity(s).Valid() })
	check("MeasurementLevel (QualityTargetsSet)", symbols(schemas.TypeQualityTargetsSet, "MeasurementLevel"), levels,
		func(s string) bool { return schemas.MeasurementLevel(s).Valid() })
	check("AccuracyDenominator", symbols(schemas.TypeQualityTargetsSet, "AccuracyDenominator"),
		strs(string(schemas.DenominatorAllSubmitted), string(schemas.DenominatorFinalAfterReview)),
		func(s string) bool { return schemas.AccuracyDenominator(s).Valid() })
	for _, typ := range []schemas.EventType{schemas.TypeDatasetVersionCertified, schemas.TypeDatasetVersionRejected} {
		check("CheckStatus ("+string(typ)+")", symbols(typ, "CheckStatus"),
			strs(string(schemas.CheckPass), string(schemas.CheckFail), string(schemas.CheckNotEnoughData)),
			func(s string) bool { return schemas.CheckStatus(s).Valid() })
	}
}

// TestFamiliesAndKeys: topics follow DESIGN.md, every type belongs to a
// family, and Key() is the value of the family's key field.
func TestFamiliesAndKeys(t *testing.T) {
	topics := map[schemas.Family]string{
		schemas.FamilyItems: "assay.items.v1", schemas.FamilyLabels: "assay.labels.v1",
		schemas.FamilyReviews: "assay.reviews.v1", schemas.FamilyDatasets: "assay.datasets.v1",
		schemas.FamilyFindings: "assay.findings.v1", schemas.FamilyProjects: "assay.projects.v1",
		schemas.FamilyDLQ: "assay.dlq.v1",
	}
	if len(schemas.Families()) != len(topics) {
		t.Fatalf("Families() = %v", schemas.Families())
	}
	total := 0
	for _, f := range schemas.Families() {
		if f.Topic() != topics[f] {
			t.Errorf("%s topic %s, want %s", f, f.Topic(), topics[f])
		}
		if got, ok := schemas.FamilyOfTopic("test42.", "test42."+f.Topic()); !ok || got != f {
			t.Errorf("FamilyOfTopic(%s) = %s, %v", f.Topic(), got, ok)
		}
		total += len(f.EventTypes())
	}
	if total != len(schemas.EventTypes()) {
		t.Errorf("families cover %d of %d types", total, len(schemas.EventTypes()))
	}
	if _, ok := schemas.FamilyOfTopic("", "assay.nope.v1"); ok {
		t.Error("unknown topic mapped to a family")
	}
	if _, ok := schemas.FamilyOfTopic("p.", "assay.items.v1"); ok {
		t.Error("topic without the prefix mapped to a family")
	}
	for _, ev := range schematest.Examples() {
		if ev.Family() != ev.Type().Family() {
			t.Errorf("%s: Family() %s, Type().Family() %s", ev.Type(), ev.Family(), ev.Type().Family())
		}
		var m map[string]any
		js, _ := json.Marshal(ev)
		_ = json.Unmarshal(js, &m)
		if want := m[ev.Family().KeyField()]; ev.Key() != want {
			t.Errorf("%s: Key() %q, %s is %v", ev.Type(), ev.Key(), ev.Family().KeyField(), want)
		}
		if n, err := schemas.New(ev.Type()); err != nil || reflect.TypeOf(n) != reflect.TypeOf(ev) {
			t.Errorf("New(%s) = %T, %v", ev.Type(), n, err)
		}
	}
	if _, err := schemas.New("Nope"); err == nil || schemas.EventType("Nope").Known() {
		t.Error("New accepted an unknown type")
	}
}

func TestSchemaLookups(t *testing.T) {
	for _, s := range schemas.Schemas() {
		got, ok := schemas.SchemaByFingerprint(s.Fingerprint)
		if !ok || got.Path != s.Path {
			t.Errorf("SchemaByFingerprint(%016x) = %v, %v", s.Fingerprint, got.Path, ok)
		}
		if !strings.HasPrefix(s.Canonical, `{"name":"io.assay.`) {
			t.Errorf("%s canonical form %.40s", s.Path, s.Canonical)
		}
	}
	if _, err := schemas.Fingerprint("Nope"); err == nil {
		t.Error("Fingerprint of an unknown type")
	}
}

func TestStamp(t *testing.T) {
	ev := &schemas.LabelRetracted{LabelID: "l", ItemID: "i", Reason: "r"}
	ev.Producer = "client-claim"
	schemas.Stamp(ev, "auth-id", testNow)
	m := ev.Meta()
	if m.EventType != schemas.TypeLabelRetracted || m.RecordedAt != testNow.UnixMilli() ||
		m.OccurredAt != m.RecordedAt || m.Producer != "auth-id" || len(m.EventID) != 36 {
		t.Fatalf("stamped %+v", m)
	}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	// UUIDv7: version nibble 7, time-ordered prefix.
	a, b := schemas.NewEventID(testNow), schemas.NewEventID(testNow.Add(time.Millisecond))
	if a[14] != '7' || a >= b || a == schemas.NewEventID(testNow) {
		t.Fatalf("event ids %s %s", a, b)
	}
}

func TestManifestDigest(t *testing.T) {
	a := []schemas.Member{{ItemID: "i2", LabelID: "l2"}, {ItemID: "i1", LabelID: "l1"}}
	b := []schemas.Member{{ItemID: "i1", LabelID: "l1"}, {ItemID: "i2", LabelID: "l2"}}
	// printf 'i1\tl1\ni2\tl2\n' | sha256sum
	const manifestDigestShell = "sha256:b3d6c101184e417f6debe0d9a7086a94f8a072c7c6542759f686e38064819449"
	if schemas.ManifestDigest(a) != schemas.ManifestDigest(b) {
		t.Fatal("digest depends on member order")
	}
	if got := schemas.ManifestDigest(a); got != manifestDigestShell {
		t.Fatalf("digest %s, sha256sum says %s", got, manifestDigestShell)
	}
}

// TestContractRules: every .avsc keeps to the Avro subset the contract uses
// (doc.go), and each rule refuses what it is there to refuse. The registry
// applies the same check at init, so a schema outside the subset never
// ships; this test names every violation of every file at once.
func TestContractRules(t *testing.T) {
	for _, s := range schemas.Schemas() {
		var doc any
		if err := json.Unmarshal([]byte(s.JSON), &doc); err != nil {
			t.Fatal(err)
		}
		if err := schemas.CheckContract(s.Type.Family(), s.Type, doc); err != nil {
			t.Errorf("%s: %v", s.Path, err)
		}
	}

	// Each case is one field added to an otherwise valid LabelRetracted
	// record (or, with top, the record itself).
	for _, tc := range []struct {
		name, field, want string
		top               string
	}{
		{name: "map", field: `{"name":"m","type":{"type":"map","values":"string"}}`, want: "outside the contract's subset"},
		{name: "fixed", field: `{"name":"f","type":{"type":"fixed","name":"Hash","size":32}}`, want: "outside the contract's subset"},
		{name: "optional boolean", field: `{"name":"b","type":["null","boolean"],"default":null}`, want: "not allowed here"},
		{name: "boolean default", field: `{"name":"b","type":"boolean","default":false}`, want: "a boolean field has no default"},
		{name: "array of booleans", field: `{"name":"a","type":{"type":"array","items":"boolean"},"default":[]}`, want: "not allowed here"},
		{name: "float", field: `{"name":"f","type":"float"}`, want: "not allowed here"},
		{name: "null alone", field: `{"name":"n","type":"null"}`, want: "not allowed here"},
		{name: "object form of a primitive", field: `{"name":"s","type":{"type":"string"}}`, want: "outside the contract's subset"},
		{name: "logical type", field: `{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}`, want: "outside the contract's subset"},
		{name: "union of two types", field: `{"name":"u","type":["string","long"]}`, want: `the only union is ["null", T]`},
		{name: "union of three", field: `{"name":"u","type":["null","long","double"],"default":null}`, want: `the only union is ["null", T]`},
		{name: "optional string", field: `{"name":"s","type":["null","string"],"default":null}`, want: "not allowed here"},
		{name: "optional array", field: `{"name":"a","type":["null",{"type":"array","items":"string"}],"default":null}`, want: "an optional field is long, int, double or a record"},
		{name: "optional without default", field: `{"name":"n","type":["null","long"]}`, want: "must have the default null"},
		{name: "string default", field: `{"name":"s","type":"string","default":"x"}`, want: `a string's default is ""`},
		{name: "array without default", field: `{"name":"a","type":{"type":"array","items":"string"}}`, want: "must have the default []"},
		{name: "array default not empty", field: `{"name":"a","type":{"type":"array","items":"string"},"default":["x"]}`, want: "must have the default []"},
		{name: "long default", field: `{"name":"n","type":"long","default":0}`, want: "a long field has no default"},
		{name: "array of longs", field: `{"name":"a","type":{"type":"array","items":"long"},"default":[]}`, want: "not allowed here"},
		{name: "array of arrays", field: `{"name":"a","type":{"type":"array","items":{"type":"array","items":"string"}},"default":[]}`, want: "array items are strings or records"},
		{name: "aliases", field: `{"name":"s","type":"string","aliases":["t"]}`, want: `attribute "aliases"`},
		{name: "order", field: `{"name":"s","type":"string","order":"descending"}`, want: `attribute "order"`},
		{name: "custom attribute", field: `{"name":"r","type":{"type":"record","name":"R","fields":[{"name":"v","type":"long"}],"java-class":"x"}}`, want: `attribute "java-class"`},
		{name: "field name not snake_case", field: `{"name":"camelCase","type":"string"}`, want: "lower snake_case"},
		{name: "field named like a type", field: `{"name":"Trace","type":"string"}`, want: "lower snake_case"},
		{name: "type name not UpperCamelCase", field: `{"name":"r","type":{"type":"record","name":"r_ecord","fields":[{"name":"v","type":"long"}]}}`, want: "UpperCamelCase"},
		{name: "dotted type name", field: `{"name":"r","type":{"type":"record","name":"io.assay.labels.R","fields":[{"name":"v","type":"long"}]}}`, want: "UpperCamelCase and short"},
		{name: "foreign namespace", field: `{"name":"r","type":{"type":"record","name":"R","namespace":"com.example","fields":[{"name":"v","type":"long"}]}}`, want: "namespace"},
		{name: "another family's namespace", field: `{"name":"r","type":{"type":"record","name":"R","namespace":"io.assay.items","fields":[{"name":"v","type":"long"}]}}`, want: "namespace"},
		{name: "null namespace", field: `{"name":"r","type":{"type":"record","name":"R","namespace":"","fields":[{"name":"v","type":"long"}]}}`, want: "never the null namespace"},
		{name: "enum symbol", field: `{"name":"e","type":{"type":"enum","name":"E","symbols":["Low"]}}`, want: "lower snake_case"},
		{name: "empty record", field: `{"name":"r","type":{"type":"record","name":"R","fields":[]}}`, want: "has no fields"},
		{name: "type defined twice", field: `{"name":"a","type":{"type":"enum","name":"E","symbols":["x"]}},{"name":"b","type":{"type":"enum","name":"E","symbols":["x"]}}`, want: "defined twice"},
		{name: "shared type defined twice", field: `{"name":"again","type":{"type":"record","name":"Trace","namespace":"io.assay.common","fields":[{"name":"v","type":"long"}]}}`, want: "io.assay.common.Trace is defined twice"},
		{name: "short reference", field: `{"name":"a","type":{"type":"enum","name":"E","symbols":["x"]}},{"name":"b","type":"E"}`, want: "by its full name"},
		{name: "unknown reference", field: `{"name":"b","type":"io.assay.labels.Nope"}`, want: "not defined earlier"},
		{name: "reference to an enum where a record must be", field: `{"name":"a","type":{"type":"enum","name":"E","symbols":["x"]}},{"name":"b","type":{"type":"array","items":"io.assay.labels.E"},"default":[]}`, want: "not allowed here"},
		{name: "top-level name", top: `{"type":"record","name":"Other","namespace":"io.assay.labels","fields":[{"name":"v","type":"long"}]}`, want: "must be named"},
		{name: "top-level namespace", top: `{"type":"record","name":"LabelRetracted","namespace":"io.assay.items","fields":[{"name":"v","type":"long"}]}`, want: "must be named"},
		{name: "top-level enum", top: `{"type":"enum","name":"LabelRetracted","symbols":["a"]}`, want: "must be a record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.top
			if text == "" {
				s, _ := schemas.CurrentSchema(schemas.TypeLabelRetracted)
				text = strings.Replace(s.JSON, `"fields": [`, `"fields": [`+tc.field+`,`, 1)
			}
			var doc any
			if err := json.Unmarshal([]byte(text), &doc); err != nil {
				t.Fatal(err)
			}
			err := schemas.CheckContract(schemas.FamilyLabels, schemas.TypeLabelRetracted, doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The valid forms of the subset, references by full name included.
	ok := `{"name":"level","type":{"type":"enum","name":"Level","symbols":["low","high"]}},
		{"name":"levels","type":{"type":"array","items":{"type":"record","name":"Pair","fields":[{"name":"at","type":"io.assay.labels.Level"}]}},"default":[]},
		{"name":"again","type":["null","io.assay.labels.Pair"],"default":null},
		{"name":"more","type":{"type":"array","items":"io.assay.labels.Pair"},"default":[]},
		{"name":"n","type":["null","int"],"default":null},{"name":"x","type":"double"},{"name":"raw","type":"bytes"},
		{"name":"flag","type":"boolean"}`
	s, _ := schemas.CurrentSchema(schemas.TypeLabelRetracted)
	var doc any
	if err := json.Unmarshal([]byte(strings.Replace(s.JSON, `"fields": [`, `"fields": [`+ok+`,`, 1)), &doc); err != nil {
		t.Fatal(err)
	}
	if err := schemas.CheckContract(schemas.FamilyLabels, schemas.TypeLabelRetracted, doc); err != nil {
		t.Fatalf("refuses the subset: %v", err)
	}
}
