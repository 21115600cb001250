package avro

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
)

// EnvClasspath names the environment variable holding the Java classpath with Apache Avro.
const EnvClasspath = "ASSAY_AVRO_CLASSPATH"

// Classpath returns $ASSAY_AVRO_CLASSPATH, after checking that java is on PATH. Without either
// it skips t, or fails it under ASSAY_INTEGRATION=1, so CI can never pass by skipping (as
// testenv does for the servers and the Python checkers).
func Classpath(t testing.TB) string {
	t.Helper()
	return testenv.JavaClasspath(t, EnvClasspath, "ops/avro/setup.sh", "Apache Avro")
}

// Schema is a schema to hand Apache Avro: ID names it in the verdict (the .avsc's Path for the
// contract's schemas), Text is its JSON.
type Schema struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Record is a single-object encoded message to decode with the schema whose ID is Reader as
// the reader schema; the writer schema must be found by the fingerprint in the header.
type Record struct {
	ID     string `json:"id"`
	Reader string `json:"reader"`
	Bytes  []byte `json:"-"`
}

// SchemaVerdict is what Apache Avro makes of one Schema: its Parsing Canonical Form and
// CRC-64-AVRO fingerprint, or why its parser refuses it (Error).
type SchemaVerdict struct {
	ID          string
	Canonical   string
	Fingerprint uint64
	Error       string
}

// RecordVerdict is what Apache Avro makes of one Record.
type RecordVerdict struct {
	ID string
	// HeaderFingerprint is the fingerprint in the record's header as Java read it.
	HeaderFingerprint uint64
	// Writer is the ID of the schema the store holds for HeaderFingerprint ("" when none).
	Writer string
	// JSON is the decoded datum in Avro's JSON encoding of the reader schema.
	JSON string
	// ReencodedSame: the datum re-encoded with its writer schema by a BinaryMessageEncoder is
	// the record byte for byte.
	ReencodedSame bool
	// Error is why the decoder refused the record ("" when it decoded).
	Error string
}

// Verdict is Check.java's answer.
type Verdict struct {
	// Avro is the Apache Avro version that answered.
	Avro    string
	Schemas map[string]SchemaVerdict
	Records map[string]RecordVerdict
}

// Run hands schemas and records to Check.java (Apache Avro for Java) and returns its verdict;
// it fails t only when the checker cannot run or answers out of protocol, and skips t as
// Classpath does.
func Run(t testing.TB, ss []Schema, rs []Record) Verdict {
	t.Helper()
	cp := Classpath(t)
	type recordIn struct {
		Record
		Hex string `json:"hex"`
	}
	in := struct {
		Schemas []Schema   `json:"schemas"`
		Records []recordIn `json:"records"`
	}{Schemas: ss}
	for _, r := range rs {
		in.Records = append(in.Records, recordIn{r, hex.EncodeToString(r.Bytes)})
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "avro-check.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(testenv.RepoRoot(t), "ops", "avro", "Check.java")
	cmd := exec.Command("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", cp, src, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("Apache Avro check: %v\n%s", err, stderr.String())
	}
	var raw struct {
		Avro    string `json:"avro"`
		Schemas []struct {
			ID, Canonical, Fingerprint, Error string
		} `json:"schemas"`
		Records []struct {
			ID, HeaderFingerprint, Writer, JSON, Error string
			ReencodedSame                              bool
		} `json:"records"`
	}
	if err := json.Unmarshal(out, &raw); err != nil || raw.Avro == "" {
		t.Fatalf("Apache Avro check answered out of protocol: %v\n%.2000s\n%s", err, out, stderr.String())
	}
	v := Verdict{Avro: raw.Avro, Schemas: map[string]SchemaVerdict{}, Records: map[string]RecordVerdict{}}
	parse := func(what, s string) uint64 {
		if s == "" {
			return 0
		}
		fp, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			t.Fatalf("Apache Avro check: %s fingerprint %q: %v", what, s, err)
		}
		return fp
	}
	for _, s := range raw.Schemas {
		v.Schemas[s.ID] = SchemaVerdict{ID: s.ID, Canonical: s.Canonical, Fingerprint: parse(s.ID, s.Fingerprint), Error: s.Error}
	}
	for _, r := range raw.Records {
		v.Records[r.ID] = RecordVerdict{ID: r.ID, HeaderFingerprint: parse(r.ID, r.HeaderFingerprint), Writer: r.Writer,
			JSON: r.JSON, ReencodedSame: r.ReencodedSame, Error: r.Error}
	}
	if len(v.Schemas) != len(ss) || len(v.Records) != len(rs) {
		t.Fatalf("Apache Avro check answered for %d of %d schemas and %d of %d records (ids must be unique)",
			len(v.Schemas), len(ss), len(v.Records), len(rs))
	}
	return v
}

// ContractSchemas is every embedded schema version, its Path as ID.
func ContractSchemas() []Schema {
	var out []Schema
	for _, s := range schemas.Schemas() {
		out = append(out, Schema{ID: s.Path, Text: s.JSON})
	}
	return out
}

// ContractRecord makes a Record of a message of the contract, read with the current schema of
// its event type (as schemas.Decode reads it), which TypeOf finds by the header.
func ContractRecord(id string, b []byte) (Record, error) {
	typ, _, err := schemas.TypeOf(b)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", id, err)
	}
	cur, err := schemas.CurrentSchema(typ)
	if err != nil {
		return Record{}, err
	}
	return Record{ID: id, Reader: cur.Path, Bytes: b}, nil
}
