package avro

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
)

// AvroJSON is what Assay means by ev, written in Avro's JSON encoding of its current schema
// (the specification's "JSON Encoding": a union value as {"<branch>": value}, bytes as a string
// of the code points 0-255, an enum as its symbol), for comparing with what another Avro
// implementation decodes. It is built from the event's Go JSON form (the field names the
// gateway accepts) and the .avsc alone, without goavro or the codec's mapping, so the
// comparison does not check the codec against itself. Numbers stay json.Number.
func AvroJSON(ev schemas.Event) (any, error) {
	s, err := schemas.CurrentSchema(ev.Type())
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	var value, schema any
	if err := decodeJSON([]byte(s.JSON), &schema); err != nil {
		return nil, err
	}
	if err := decodeJSON(js, &value); err != nil {
		return nil, err
	}
	w := writer{named: map[string]map[string]any{}}
	out, err := w.value(schema, value, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ev.Type(), err)
	}
	return out, nil
}

// ParseJSON decodes a JSON text (Check.java's datum) the way AvroJSON builds its values.
func ParseJSON(s string) (any, error) {
	var v any
	err := decodeJSON([]byte(s), &v)
	return v, err
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// writer walks a schema and a Go-JSON value together; named holds the named types defined so
// far by full name, for references.
type writer struct {
	named map[string]map[string]any
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func (w *writer) value(schema, v any, ns string) (any, error) {
	switch s := schema.(type) {
	case string:
		switch s {
		case "null":
			if v != nil {
				return nil, fmt.Errorf("null schema, value %v", v)
			}
			return nil, nil
		case "string", "boolean":
			return v, nil
		case "int", "long", "float", "double":
			if _, ok := v.(json.Number); !ok {
				return nil, fmt.Errorf("%s schema, value %v", s, v)
			}
			return v, nil
		case "bytes":
			if v == nil { // a nil []byte marshals as null, and encodes as empty bytes
				return "", nil
			}
			b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
			if err != nil {
				return nil, fmt.Errorf("bytes: %w", err)
			}
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r), nil
		}
		def, ok := w.named[fullName(s, ns)]
		if !ok {
			def, ok = w.named[s]
		}
		if !ok {
			return nil, fmt.Errorf("unknown type %q", s)
		}
		return w.value(def, v, ns)
	case []any:
		if v == nil && slices.Contains(s, any("null")) {
			return nil, nil
		}
		for _, b := range s {
			if b == "null" {
				continue
			}
			// The contract's unions are ["null", T]: the other branch is the value's.
			inner, err := w.value(b, v, ns)
			if err != nil {
				return nil, err
			}
			return map[string]any{w.branchName(b, ns): inner}, nil
		}
		return nil, fmt.Errorf("union %v has no branch for %v", s, v)
	case map[string]any:
		typ, _ := s["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			full := w.define(s, ns)
			if typ == "enum" {
				return v, nil
			}
			if typ == "fixed" {
				return w.value("bytes", v, ns)
			}
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s, value %v", full, v)
			}
			out := map[string]any{}
			inner := full[:max(0, strings.LastIndexByte(full, '.'))]
			fields, _ := s["fields"].([]any)
			for _, f := range fields {
				fm := f.(map[string]any)
				name := fm["name"].(string)
				fv, present := obj[name]
				if !present {
					def, hasDef := fm["default"]
					if !hasDef {
						return nil, fmt.Errorf("record %s: the Go JSON has no %s", full, name)
					}
					fv = def
				}
				x, err := w.value(fm["type"], fv, inner)
				if err != nil {
					return nil, fmt.Errorf("%s.%w", name, err)
				}
				out[name] = x
			}
			return out, nil
		case "array":
			items, _ := v.([]any) // a nil Go slice marshals as null: no items
			out := make([]any, len(items))
			for i, it := range items {
				x, err := w.value(s["items"], it, ns)
				if err != nil {
					return nil, fmt.Errorf("[%d].%w", i, err)
				}
				out[i] = x
			}
			return out, nil
		case "map":
			obj, _ := v.(map[string]any)
			out := map[string]any{}
			for k, x := range obj {
				y, err := w.value(s["values"], x, ns)
				if err != nil {
					return nil, fmt.Errorf("[%q].%w", k, err)
				}
				out[k] = y
			}
			return out, nil
		}
		return w.value(typ, v, ns) // {"type": "long"} and the like
	}
	return nil, fmt.Errorf("schema element %v", schema)
}

// define registers a named type definition and returns its full name (or, for a name already
// defined, just its full name).
func (w *writer) define(s map[string]any, ns string) string {
	name, _ := s["name"].(string)
	if own, ok := s["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = own
	}
	full := fullName(name, ns)
	w.named[full] = s
	return full
}

// branchName is the name a union branch goes by in Avro's JSON encoding: a primitive's or a
// named type's full name.
func (w *writer) branchName(b any, ns string) string {
	switch x := b.(type) {
	case string:
		if _, named := w.named[fullName(x, ns)]; named {
			return fullName(x, ns)
		}
		return x
	case map[string]any:
		typ, _ := x["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			name, _ := x["name"].(string)
			if own, ok := x["namespace"].(string); ok && !strings.Contains(name, ".") {
				ns = own
			}
			return fullName(name, ns)
		}
		return typ
	}
	return fmt.Sprint(b)
}

// Diff compares two values as ParseJSON and AvroJSON build them, field by field, and lists
// every difference by its path (empty when equal). Numbers are equal when their values are,
// whatever their text (Java writes 1.0E-4 where Go writes 0.0001).
func Diff(want, got any) []string {
	var out []string
	diff("", want, got, &out)
	return out
}

func diff(path string, want, got any, out *[]string) {
	at := func() string {
		if path == "" {
			return "(top)"
		}
		return path
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an object, got %v", at(), got))
			return
		}
		keys := slices.Sorted(maps.Keys(w))
		for _, k := range keys {
			gv, present := g[k]
			if !present {
				*out = append(*out, fmt.Sprintf("%s.%s: missing", at(), k))
				continue
			}
			diff(path+"."+k, w[k], gv, out)
		}
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if _, known := w[k]; !known {
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected (%v)", at(), k, g[k]))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: want %d items %v, got %v", at(), len(w), w, got))
			return
		}
		for i := range w {
			diff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], out)
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok || !sameNumber(w, g) {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", at(), w, got))
		}
	default:
		if want != got {
			*out = append(*out, fmt.Sprintf("%s: want %#v, got %#v", at(), want, got))
		}
	}
}

// sameNumber compares exactly: integers as integers (a long is never rounded through a
// float64), the rest as the float64 both texts denote.
func sameNumber(a, b json.Number) bool {
	x, okx := new(big.Int).SetString(string(a), 10)
	y, oky := new(big.Int).SetString(string(b), 10)
	if okx && oky {
		return x.Cmp(y) == 0
	}
	fa, erra := a.Float64()
	fb, errb := b.Float64()
	return erra == nil && errb == nil && fa == fb
}
