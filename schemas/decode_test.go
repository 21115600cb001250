package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// TestDecodePlansResolve: every embedded schema version resolves against the current Go struct
// of its type with no field the reader cannot read: the typed decoder never refuses a
// well-formed record of the contract for its types.
func TestDecodePlansResolve(t *testing.T) {
	for _, s := range Schemas() {
		sv := registry.byFP[s.Fingerprint]
		if bad := sv.dec.unresolved(fmt.Sprintf("%s.v%d", s.Type, s.Version)); len(bad) > 0 {
			t.Errorf("unresolved: %v", bad)
		}
	}
}

// sameDecoding decodes body, written with sv, with the typed decoder and with goavro's path,
// and fails unless both refuse it or both give the same event. It reports whether it decoded.
func sameDecoding(t *testing.T, sv *schemaVersion, body []byte) bool {
	t.Helper()
	got, err := decodeTyped(sv, body)
	want, werr := decodeGoavro(sv, body)
	if (err != nil) != (werr != nil) {
		t.Fatalf("%s v%d body %x: typed decoder %v, %v; goavro %v, %v", sv.Type, sv.Version, body, got, err, want, werr)
	}
	if err != nil {
		if got != nil {
			t.Fatalf("%s v%d: typed decoder returned an event and %v", sv.Type, sv.Version, err)
		}
		return false
	}
	if !sameValue(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("%s v%d body %x:\ntyped  %+v\ngoavro %+v", sv.Type, sv.Version, body, got, want)
	}
	return true
}

// sameValue is reflect.DeepEqual with floats compared by their bits (so NaN equals the same
// NaN and -0 differs from 0), which is what decoding the same bytes must give.
func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Uint8:
		return a.Uint() == b.Uint()
	}
	panic("sameValue: unexpected kind " + a.Kind().String())
}

// bodyOf encodes ev with goavro and the schema version sv (an older one drops what it does
// not have: goavro ignores a record's extra keys), or returns nil when goavro refuses it (a
// value older versions cannot hold, such as an enum symbol added later).
func bodyOf(sv *schemaVersion, ev Event) []byte {
	b, err := sv.codec.BinaryFromNative(nil, nativeEvent(registry.plans[sv.Type], ev))
	if err != nil {
		return nil
	}
	return b
}

// corruptions derives bodies from a good one: truncated, extended, and with bytes changed at
// random (lengths, counts, indexes and varints end up anywhere).
func corruptions(rnd *rand.Rand, body []byte) [][]byte {
	var out [][]byte
	if len(body) > 0 {
		out = append(out, body[:rnd.IntN(len(body))])
		for range 4 {
			b := bytes.Clone(body)
			for range 1 + rnd.IntN(3) {
				b[rnd.IntN(len(b))] = byte(rnd.Uint32())
			}
			out = append(out, b)
		}
		b := bytes.Clone(body)
		b[rnd.IntN(len(b))] = 0xff // a varint that goes on, a negative or huge length
		out = append(out, b)
	}
	return append(out, append(bytes.Clone(body), 0), append(bytes.Clone(body), 0x80))
}

// TestTypedDecoderIsGoavro holds the typed decoder to goavro's path for every schema version:
// the golden files (with spec and legacy fingerprints), every type's example and zero value,
// and random events (encode_test.go's filler: numbers at their edges, NaN, strings of any
// bytes, nil and empty lists and optional records), each written with every version of its
// type that can hold it, and corrupted copies of all of them: the same event, or both refuse.
func TestTypedDecoderIsGoavro(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 6))
	var same, refused int
	sameDecoding := func(t *testing.T, sv *schemaVersion, body []byte) bool {
		t.Helper()
		ok := sameDecoding(t, sv, body)
		if ok {
			same++
		} else {
			refused++
		}
		return ok
	}
	for _, dir := range []string{"testdata", filepath.Join("testdata", "legacy-fingerprint")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
		if len(files) == 0 {
			t.Fatalf("no golden files in %s", dir)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fp, body, err := Header(b)
			if err != nil {
				t.Fatal(err)
			}
			sv := registry.byFP[fp]
			if sv == nil {
				t.Fatalf("%s: unknown fingerprint %016x", p, fp)
			}
			if !sameDecoding(t, sv, body) {
				t.Fatalf("%s does not decode", p)
			}
			for _, c := range corruptions(rnd, body) {
				sameDecoding(t, sv, c)
			}
		}
	}
	for _, typ := range EventTypes() {
		decoded := map[int]int{}
		check := func(ev Event) {
			for _, sv := range registry.versions[typ] {
				body := bodyOf(sv, ev)
				if body == nil {
					continue
				}
				if sameDecoding(t, sv, body) {
					decoded[sv.Version]++
				}
				for _, c := range corruptions(rnd, body) {
					sameDecoding(t, sv, c)
				}
			}
		}
		ex, err := Example(typ, Subject{N: 3})
		if err != nil {
			t.Fatal(err)
		}
		check(ex)
		zero, _ := New(typ)
		check(zero)
		for range 300 {
			b := make([]byte, 600)
			for i := range b {
				b[i] = byte(rnd.Uint32())
			}
			ev, _ := New(typ)
			(&filler{b}).fill(registry.plans[typ], reflect.ValueOf(ev).Elem())
			check(ev)
		}
		for _, sv := range registry.versions[typ] {
			if decoded[sv.Version] < 50 {
				t.Errorf("%s v%d: only %d random events decoded", typ, sv.Version, decoded[sv.Version])
			}
		}
	}
	t.Logf("%d bodies decoded to the same event by both, %d refused by both", same, refused)
}

// FuzzTypedDecoder feeds arbitrary bodies to the typed decoder and to goavro's path, the first
// byte choosing the schema version: both refuse, or both give the same event. Seeds are the
// golden files' bodies.
//
//	go test -run='^$' -fuzz=FuzzTypedDecoder -fuzztime=60s ./schemas/
func FuzzTypedDecoder(f *testing.F) {
	var versions []*schemaVersion
	for _, s := range Schemas() {
		versions = append(versions, registry.byFP[s.Fingerprint])
	}
	for i, sv := range versions {
		b, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("%s.v%d.bin", sv.Type, sv.Version)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, b[HeaderLen:]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		sameDecoding(t, versions[int(b[0])%len(versions)], b[1:])
	})
}

// resolvedReader is the reader's Go struct of TestTypedDecoderResolves.
type resolvedReader struct {
	A int64           `json:"a"`
	B float64         `json:"b"`
	C float64         `json:"c"`
	D string          `json:"d"`
	E string          `json:"e"`
	F string          `json:"f"`
	G *int64          `json:"g"`
	I []string        `json:"i"`
	J *int64          `json:"j"`
	K float32         `json:"k"`
	L int32           `json:"l"`
	M *resolvedNested `json:"m"`
}

type resolvedNested struct {
	N int64  `json:"n"`
	O string `json:"o"`
}

// compileTestSchema parses an .avsc text into the package's model.
func compileTestSchema(t *testing.T, text string) (*avroType, *goavro.Codec) {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	at, err := parseSchema(doc)
	if err != nil {
		t.Fatal(err)
	}
	computeMinSize(at, map[*avroType]bool{})
	codec, err := goavro.NewCodec(text)
	if err != nil {
		t.Fatal(err)
	}
	return at, codec
}

// TestTypedDecoderResolves holds the typed decoder to goavro's path for the resolutions the
// contract's versions do not use yet but Avro's rules and fromNative allow (int to long, long
// and float to double, double to float, enum to string, string to enum, enum symbols the
// reader lacks, a value into ["null", T], a union branch promoted, a writer's field the reader
// lacks skipped, a reader's field the writer lacks defaulted, in a nested record too), and for
// pairs that do not resolve: both refuse the value when one is met.
func TestTypedDecoderResolves(t *testing.T) {
	reader := `{"type":"record","name":"R","namespace":"io.assay.test","fields":[
		{"name":"a","type":"long"},
		{"name":"b","type":"double"},
		{"name":"c","type":"double"},
		{"name":"d","type":"string"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["x","y"]}},
		{"name":"f","type":{"type":"enum","name":"F","symbols":["p","q","r"]}},
		{"name":"g","type":["null","long"],"default":null},
		{"name":"i","type":{"type":"array","items":"string"},"default":[]},
		{"name":"j","type":["null","long"],"default":null},
		{"name":"k","type":"float"},
		{"name":"l","type":"int"},
		{"name":"m","type":["null",{"type":"record","name":"M","fields":[
			{"name":"n","type":"long"},{"name":"o","type":"string","default":""}]}],"default":null}]}`
	writer := `{"type":"record","name":"R","namespace":"io.assay.test","fields":[
		{"name":"a","type":"int"},
		{"name":"b","type":"long"},
		{"name":"c","type":"float"},
		{"name":"d","type":{"type":"enum","name":"D","symbols":["u","v"]}},
		{"name":"x","type":{"type":"array","items":{"type":"record","name":"X","fields":[{"name":"s","type":"string"}]}}},
		{"name":"e","type":"string"},
		{"name":"f","type":{"type":"enum","name":"F","symbols":["p","q","z"]}},
		{"name":"g","type":"long"},
		{"name":"j","type":["null","int"]},
		{"name":"k","type":"double"},
		{"name":"l","type":"int"},
		{"name":"m","type":["null",{"type":"record","name":"M","fields":[{"name":"n","type":"int"}]}]}]}`
	rt, _ := compileTestSchema(t, reader)
	p, err := compilePlan(rt, reflect.TypeFor[resolvedReader]())
	if err != nil {
		t.Fatal(err)
	}
	wt, wc := compileTestSchema(t, writer)
	d := compileValue(wt, p)
	if bad := d.unresolved("R"); len(bad) > 0 {
		t.Fatalf("unresolved: %v", bad)
	}
	base := map[string]any{
		"a": int32(-7), "b": int64(1) << 60, "c": float32(1.5), "d": "v",
		"x": []any{map[string]any{"s": "skipped"}, map[string]any{"s": ""}},
		"e": "y", "f": "q", "g": int64(-1), "j": nil, "k": 0.1, "l": int32(math.MinInt32), "m": nil,
	}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(base)
		m[k] = v
		return m
	}
	decoded := 0
	for i, native := range []map[string]any{
		base,
		with("j", goavro.Union("int", int32(3))),
		with("m", goavro.Union("io.assay.test.M", map[string]any{"n": int32(9)})),
		with("c", float32(math.NaN())),
		with("k", math.Inf(-1)),
		with("x", []any{}),
		with("f", "z"), // a symbol the reader lacks
		with("e", "w"), // not a symbol of the reader's enum
	} {
		body, err := wc.BinaryFromNative(nil, native)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		v := reflect.New(p.goType).Elem()
		_, err = d.decode(body, v.Addr().UnsafePointer())
		ref := reflect.New(p.goType).Elem()
		wn, _, werr := wc.NativeFromBinary(body)
		if werr == nil {
			werr = fromNative(p, wn, ref)
		}
		if (err != nil) != (werr != nil) || err == nil && !sameValue(v, ref) {
			t.Fatalf("%d: typed %+v, %v; goavro %+v, %v", i, v, err, ref, werr)
		}
		if err == nil {
			decoded++
		}
	}
	if decoded != 6 {
		t.Fatalf("%d of 6 resolvable values decoded", decoded)
	}

	// A default fromNative refuses (an enum's "", which is no symbol) refuses the record.
	var doc any
	_ = json.Unmarshal([]byte(`{"type":"record","name":"R","namespace":"io.assay.test","fields":[
		{"name":"a","type":"long"},
		{"name":"b","type":{"type":"enum","name":"B","symbols":["x"]},"default":""}]}`), &doc)
	enumReader, err := parseSchema(doc)
	if err != nil {
		t.Fatal(err)
	}
	type withEnum struct {
		A int64  `json:"a"`
		B string `json:"b"`
	}
	ep, err := compilePlan(enumReader, reflect.TypeFor[withEnum]())
	if err != nil {
		t.Fatal(err)
	}
	lw, lc := compileTestSchema(t, `{"type":"record","name":"R","namespace":"io.assay.test","fields":[{"name":"a","type":"long"}]}`)
	body, _ := lc.BinaryFromNative(nil, map[string]any{"a": int64(5)})
	_, err = compileValue(lw, ep).decode(body, reflect.New(ep.goType).UnsafePointer())
	wn, _, werr := lc.NativeFromBinary(body)
	if werr == nil {
		werr = fromNative(ep, wn, reflect.New(ep.goType).Elem())
	}
	if err == nil || werr == nil {
		t.Errorf("enum default \"\": typed %v, goavro %v", err, werr)
	}

	// Pairs that do not resolve: refused when a value is met, whatever its branch.
	type one struct {
		A int32 `json:"a"`
	}
	type opt struct {
		A *resolvedNested `json:"a"`
	}
	for _, tc := range []struct {
		writer, reader string
		goType         reflect.Type
		natives        []any
	}{
		{`["null","long"]`, `"int"`, reflect.TypeFor[one](), []any{nil, goavro.Union("long", int64(1))}},
		{`"long"`, `"int"`, reflect.TypeFor[one](), []any{int64(1)}},
		{`"string"`, `"int"`, reflect.TypeFor[one](), []any{"1"}},
		{`{"type":"record","name":"N","fields":[{"name":"n","type":"long"}]}`, `"int"`, reflect.TypeFor[one](), []any{map[string]any{"n": int64(1)}}},
		{`["null",{"type":"record","name":"Other","fields":[{"name":"n","type":"long"},{"name":"o","type":"string"}]}]`,
			`["null",{"type":"record","name":"M","fields":[{"name":"n","type":"long"},{"name":"o","type":"string"}]}]`,
			reflect.TypeFor[opt](), []any{goavro.Union("io.assay.test.Other", map[string]any{"n": int64(1), "o": ""})}},
		{`["null",{"type":"record","name":"M","fields":[{"name":"n","type":"long"}]}]`,
			`["null",{"type":"record","name":"M","fields":[{"name":"n","type":"long"},{"name":"o","type":"string"}]}]`,
			reflect.TypeFor[opt](), []any{goavro.Union("io.assay.test.M", map[string]any{"n": int64(1)})}},
	} {
		record := `{"type":"record","name":"R","namespace":"io.assay.test","fields":[{"name":"a","type":%s}]}`
		rt, _ := compileTestSchema(t, fmt.Sprintf(record, tc.reader))
		p, err := compilePlan(rt, tc.goType)
		if err != nil {
			t.Fatal(err)
		}
		wt, wc := compileTestSchema(t, fmt.Sprintf(record, tc.writer))
		d := compileValue(wt, p)
		if len(d.unresolved("R")) == 0 {
			t.Errorf("%s into %s resolves", tc.writer, tc.reader)
		}
		for _, x := range tc.natives {
			body, err := wc.BinaryFromNative(nil, map[string]any{"a": x})
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.decode(body, reflect.New(p.goType).UnsafePointer())
			wn, _, werr := wc.NativeFromBinary(body)
			if werr == nil {
				werr = fromNative(p, wn, reflect.New(p.goType).Elem())
			}
			if err == nil || werr == nil {
				t.Errorf("%s into %s, %v: typed %v, goavro %v", tc.writer, tc.reader, x, err, werr)
			}
		}
	}
}
