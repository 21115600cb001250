package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// canonicalCase is one entry of testdata/canonical-form.json: a schema (its
// raw JSON text, escapes and whitespace included), its Parsing Canonical
// Form and fingerprint, or invalid when a parser must refuse it. ops/avro
// holds Apache Avro for Java to the same file.
type canonicalCase struct {
	Name        string          `json:"name"`
	Schema      json.RawMessage `json:"schema"`
	Canonical   string          `json:"canonical"`
	Fingerprint string          `json:"fingerprint"`
	Invalid     bool            `json:"invalid"`
}

func canonicalCases(t *testing.T) []canonicalCase {
	t.Helper()
	b, err := os.ReadFile("testdata/canonical-form.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []canonicalCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCanonicalForm: each of the specification's transformations, and its
// namespace rules, on cases written for them; Apache Avro for Java agrees
// with every expectation (ops/avro).
func TestCanonicalForm(t *testing.T) {
	cases := canonicalCases(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal(c.Schema, &doc); err != nil {
				t.Fatal(err)
			}
			got, err := schemas.CanonicalForm(doc)
			if c.Invalid {
				if err == nil {
					t.Fatalf("accepted, canonical form %s", got)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Canonical {
				t.Fatalf("canonical form\n got %s\nwant %s", got, c.Canonical)
			}
			if fp := fmt.Sprintf("%016x", schemas.Fingerprint64([]byte(got))); fp != c.Fingerprint {
				t.Fatalf("fingerprint %s, want %s", fp, c.Fingerprint)
			}
		})
	}
	if len(cases) < 10 {
		t.Fatalf("only %d cases", len(cases))
	}
}

// TestFingerprint64 pins the CRC-64-AVRO algorithm: no bytes give the
// spec's EMPTY, and "int" (the canonical form of the int schema) gives the
// value in testdata/canonical-form.json.
func TestFingerprint64(t *testing.T) {
	if got := schemas.Fingerprint64(nil); got != 0xc15d213aa4d7a795 {
		t.Fatalf("fingerprint of nothing %016x, want the spec's EMPTY", got)
	}
	if got := schemas.Fingerprint64([]byte(`"int"`)); got != 0x7275d51a3f395c8f {
		t.Fatalf(`fingerprint of "int" %016x`, got)
	}
}

// TestSpecFingerprints: every schema's fingerprint is the CRC-64-AVRO of its
// Parsing Canonical Form, Encode writes it, and the one the issue names is
// what Apache Avro and fastavro compute for CoverageTargetSet.v1. A nested
// type's own namespace is kept, where goavro's form prepended the parent's.
func TestSpecFingerprints(t *testing.T) {
	for _, s := range schemas.Schemas() {
		var doc any
		if err := json.Unmarshal([]byte(s.JSON), &doc); err != nil {
			t.Fatal(err)
		}
		canonical, err := schemas.CanonicalForm(doc)
		if err != nil || canonical != s.Canonical {
			t.Errorf("%s: Canonical is not the canonical form of JSON (%v)", s.Path, err)
		}
		if s.Fingerprint != schemas.Fingerprint64([]byte(s.Canonical)) {
			t.Errorf("%s: Fingerprint is not the CRC-64-AVRO of Canonical", s.Path)
		}
		if !strings.Contains(s.Canonical, `{"name":"io.assay.common.Trace","type":"record"`) ||
			strings.Contains(s.Canonical, ".io.assay.") {
			t.Errorf("%s: Trace is not io.assay.common.Trace in %s", s.Path, s.Canonical)
		}
		if s.LegacyFingerprint == s.Fingerprint {
			t.Errorf("%s: the legacy alias is the spec fingerprint", s.Path)
		}
	}
	s, _ := schemas.CurrentSchema(schemas.TypeCoverageTargetSet)
	if s.Fingerprint != 0x1a3f4f9ac7cb4872 {
		t.Fatalf("CoverageTargetSet.v1 fingerprint %016x, the spec's is 1a3f4f9ac7cb4872", s.Fingerprint)
	}
	b, err := schemas.Encode(schematest.Example(schemas.TypeCoverageTargetSet))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xc3, 0x01, 0x72, 0x48, 0xcb, 0xc7, 0x9a, 0x4f, 0x3f, 0x1a}; !bytes.Equal(b[:schemas.HeaderLen], want) {
		t.Fatalf("header % x, want % x", b[:schemas.HeaderLen], want)
	}
}

// TestAppendKeepsDst: Append writes after what dst holds, and leaves it as
// it was when the event does not encode.
func TestAppendKeepsDst(t *testing.T) {
	dst := []byte("prefix")
	out, err := schemas.Append(dst, schematest.Example(schemas.TypeLabelRetracted))
	if err != nil || !bytes.HasPrefix(out, []byte("prefix\xc3\x01")) {
		t.Fatalf("Append = % x, %v", out, err)
	}
	bad := schematest.Example(schemas.TypeLabelRetracted).(*schemas.LabelRetracted)
	bad.LabelID = ""
	out, err = schemas.Append(dst, bad)
	if err == nil || string(out) != "prefix" {
		t.Fatalf("Append of an invalid event = %q, %v", out, err)
	}
}
