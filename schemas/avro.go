package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// avroKind is the kind of an Avro type in the small schema model this
// package keeps next to goavro's codecs. The typed encoder and decoder
// (encode.go, decode.go) work from the model: mapping to Go structs, field
// defaults for schema resolution, bounds-checking untrusted bytes. goavro's
// codecs are the reference the tests hold them to, and the encoder's answer
// for the values it leaves to goavro.
type avroKind uint8

const (
	kNull avroKind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kEnum
	kFixed
	kRecord
	kArray
	kMap
	kUnion
)

var primitiveKinds = map[string]avroKind{
	"null": kNull, "boolean": kBoolean, "int": kInt, "long": kLong,
	"float": kFloat, "double": kDouble, "bytes": kBytes, "string": kString,
}

// avroType is one node of a parsed schema.
type avroType struct {
	kind     avroKind
	name     string // full name of named types; primitive name otherwise
	symbols  []string
	size     int
	fields   []avroField
	items    *avroType // array items, map values
	branches []*avroType
	minSize  int // fewest bytes an encoded value takes; bounds array counts
}

// avroField is a record field with its JSON default, if any.
type avroField struct {
	name   string
	typ    *avroType
	def    any
	hasDef bool
}

// branchName is the key goavro uses for a union branch in native form.
func (t *avroType) branchName() string { return t.name }

// parseSchema builds the model from a decoded .avsc JSON document.
func parseSchema(doc any) (*avroType, error) {
	return parseType(doc, "", map[string]*avroType{})
}

// definedName is the full name of a named type definition d found in
// namespace enclosing, by the spec's rules (resolveName; canonicalForm has
// validated the names before the model is built).
func definedName(d map[string]any, enclosing string) string {
	name, _ := d["name"].(string)
	namespace, has := d["namespace"]
	full, _ := resolveName(name, namespace, has, enclosing)
	return full
}

func parseType(doc any, ns string, names map[string]*avroType) (*avroType, error) {
	switch d := doc.(type) {
	case string:
		if k, ok := primitiveKinds[d]; ok {
			return &avroType{kind: k, name: d}, nil
		}
		if full, _ := resolveName(d, nil, false, ns); names[full] != nil {
			return names[full], nil
		}
		if t, ok := names[d]; ok {
			return t, nil
		}
		return nil, fmt.Errorf("unknown type name %q", d)
	case []any:
		u := &avroType{kind: kUnion, name: "union"}
		for i, b := range d {
			bt, err := parseType(b, ns, names)
			if err != nil {
				return nil, fmt.Errorf("union branch %d: %w", i, err)
			}
			u.branches = append(u.branches, bt)
		}
		return u, nil
	case map[string]any:
		typ, _ := d["type"].(string)
		switch typ {
		case "record", "error":
			t := &avroType{kind: kRecord, name: definedName(d, ns)}
			names[t.name] = t
			inner := t.name[:max(0, strings.LastIndex(t.name, "."))]
			fields, _ := d["fields"].([]any)
			for _, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("record %s: field is not an object", t.name)
				}
				fname, _ := fm["name"].(string)
				ft, err := parseType(fm["type"], inner, names)
				if err != nil {
					return nil, fmt.Errorf("record %s field %s: %w", t.name, fname, err)
				}
				def, hasDef := fm["default"]
				t.fields = append(t.fields, avroField{name: fname, typ: ft, def: def, hasDef: hasDef})
			}
			return t, nil
		case "enum":
			t := &avroType{kind: kEnum, name: definedName(d, ns)}
			for _, s := range d["symbols"].([]any) {
				t.symbols = append(t.symbols, s.(string))
			}
			names[t.name] = t
			return t, nil
		case "fixed":
			size, _ := d["size"].(float64)
			t := &avroType{kind: kFixed, name: definedName(d, ns), size: int(size)}
			names[t.name] = t
			return t, nil
		case "array":
			it, err := parseType(d["items"], ns, names)
			if err != nil {
				return nil, err
			}
			return &avroType{kind: kArray, name: "array", items: it}, nil
		case "map":
			vt, err := parseType(d["values"], ns, names)
			if err != nil {
				return nil, err
			}
			return &avroType{kind: kMap, name: "map", items: vt}, nil
		default:
			return parseType(d["type"], ns, names)
		}
	}
	return nil, fmt.Errorf("unsupported schema element %T", doc)
}

// computeMinSize fills minSize bottom-up. Named types are visited once
// (seen) so a recursive schema cannot loop; it then counts as 0 bytes,
// which only loosens the bound.
func computeMinSize(t *avroType, seen map[*avroType]bool) int {
	if seen[t] {
		return t.minSize
	}
	seen[t] = true
	switch t.kind {
	case kNull:
		t.minSize = 0
	case kFloat:
		t.minSize = 4
	case kDouble:
		t.minSize = 8
	case kFixed:
		t.minSize = t.size
	case kRecord:
		n := 0
		for _, f := range t.fields {
			n += computeMinSize(f.typ, seen)
		}
		t.minSize = n
	case kArray, kMap:
		computeMinSize(t.items, seen)
		t.minSize = 1
	case kUnion:
		m := math.MaxInt
		for _, b := range t.branches {
			m = min(m, computeMinSize(b, seen))
		}
		t.minSize = 1 + m
	default: // boolean, int, long, bytes, string, enum: at least one byte
		t.minSize = 1
	}
	return t.minSize
}

var errShort = errors.New("unexpected end of data")

// readVarlong reads a zig-zag varint (Avro int/long).
func readVarlong(b []byte) (int64, []byte, error) {
	u, n := binary.Uvarint(b)
	if n == 0 {
		return 0, nil, errShort
	}
	if n < 0 {
		return 0, nil, errors.New("varint overflows 64 bits")
	}
	return int64(u>>1) ^ -int64(u&1), b[n:], nil
}

// maxZeroSizeItems bounds the count of array items that take no bytes at all
// (e.g. nulls), which the remaining length cannot bound; none of Assay's
// schemas has such arrays.
const maxZeroSizeItems = 1 << 16

// skipValue walks one encoded value of type t without allocating and
// returns the bytes after it: the typed decoder skips with it the fields a
// writer has and the reader does not. Every length and count is checked
// against what is left of the buffer, the checks the typed decoder makes
// (decode.go); goavro's path, the tests' reference, runs it before goavro
// sees untrusted bytes, since goavro pre-allocates arrays by the declared
// block count, so a garbled count could otherwise ask for gigabytes.
func skipValue(t *avroType, b []byte, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, errors.New("nesting deeper than 64")
	}
	switch t.kind {
	case kNull:
		return b, nil
	case kBoolean:
		if len(b) < 1 {
			return nil, errShort
		}
		if b[0] > 1 {
			return nil, fmt.Errorf("boolean byte %#x", b[0])
		}
		return b[1:], nil
	case kInt, kLong:
		v, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if t.kind == kInt && (v < math.MinInt32 || v > math.MaxInt32) {
			return nil, fmt.Errorf("int %d out of range", v)
		}
		return rest, nil
	case kFloat, kDouble, kFixed:
		n := t.minSize
		if len(b) < n {
			return nil, errShort
		}
		return b[n:], nil
	case kBytes, kString:
		n, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > int64(len(rest)) {
			return nil, fmt.Errorf("%s length %d with %d bytes left", t.name, n, len(rest))
		}
		return rest[n:], nil
	case kEnum:
		i, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.symbols)) {
			return nil, fmt.Errorf("enum %s index %d out of range", t.name, i)
		}
		return rest, nil
	case kUnion:
		i, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(t.branches)) {
			return nil, fmt.Errorf("union index %d out of range", i)
		}
		return skipValue(t.branches[i], rest, depth+1)
	case kRecord:
		var err error
		for _, f := range t.fields {
			if b, err = skipValue(f.typ, b, depth+1); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.name, f.name, err)
			}
		}
		return b, nil
	case kArray, kMap:
		for {
			count, rest, err := readVarlong(b)
			if err != nil {
				return nil, err
			}
			b = rest
			if count == 0 {
				return b, nil
			}
			if count < 0 {
				if count == math.MinInt64 {
					return nil, fmt.Errorf("block count %d", count)
				}
				count = -count
				if _, b, err = readVarlong(b); err != nil { // block size in bytes, unused
					return nil, err
				}
			}
			per := t.items.minSize
			if t.kind == kMap {
				per++ // key string length
			}
			if (per > 0 && count > int64(len(b)/per)) || (per == 0 && count > maxZeroSizeItems) {
				return nil, fmt.Errorf("%s block of %d items with %d bytes left", t.name, count, len(b))
			}
			for i := int64(0); i < count; i++ {
				if t.kind == kMap {
					if b, err = skipValue(&avroType{kind: kString, name: "string"}, b, depth+1); err != nil {
						return nil, err
					}
				}
				if b, err = skipValue(t.items, b, depth+1); err != nil {
					return nil, fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
	}
	return nil, fmt.Errorf("unsupported kind %d", t.kind)
}

// defaultNative converts a field's JSON default into goavro's native form
// for type t, so a reader can fill fields an older writer did not have.
func defaultNative(t *avroType, def any) (any, error) {
	switch t.kind {
	case kNull:
		return nil, nil
	case kBoolean:
		v, ok := def.(bool)
		if !ok {
			return nil, fmt.Errorf("default %v is not a boolean", def)
		}
		return v, nil
	case kInt, kLong, kFloat, kDouble:
		v, ok := def.(float64)
		if !ok {
			return nil, fmt.Errorf("default %v is not a number", def)
		}
		switch t.kind {
		case kInt:
			return int32(v), nil
		case kLong:
			return int64(v), nil
		case kFloat:
			return float32(v), nil
		}
		return v, nil
	case kString, kEnum:
		v, ok := def.(string)
		if !ok {
			return nil, fmt.Errorf("default %v is not a string", def)
		}
		return v, nil
	case kBytes, kFixed:
		v, ok := def.(string)
		if !ok {
			return nil, fmt.Errorf("default %v is not a string", def)
		}
		out := make([]byte, 0, len(v))
		for _, r := range v { // Avro: code points 0-255 map to bytes
			out = append(out, byte(r))
		}
		return out, nil
	case kArray:
		vs, ok := def.([]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not an array", def)
		}
		out := make([]any, len(vs))
		for i, v := range vs {
			n, err := defaultNative(t.items, v)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case kMap:
		vs, ok := def.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not an object", def)
		}
		out := make(map[string]any, len(vs))
		for k, v := range vs {
			n, err := defaultNative(t.items, v)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case kRecord:
		vs, ok := def.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not an object", def)
		}
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			v, present := vs[f.name]
			if !present {
				if !f.hasDef {
					return nil, fmt.Errorf("default lacks field %s", f.name)
				}
				v = f.def
			}
			n, err := defaultNative(f.typ, v)
			if err != nil {
				return nil, err
			}
			out[f.name] = n
		}
		return out, nil
	case kUnion: // the default belongs to the first branch
		first := t.branches[0]
		n, err := defaultNative(first, def)
		if err != nil || first.kind == kNull {
			return nil, err
		}
		return map[string]any{first.branchName(): n}, nil
	}
	return nil, fmt.Errorf("unsupported kind %d", t.kind)
}
