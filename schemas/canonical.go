package schemas

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// This file computes schema fingerprints exactly as the Avro specification
// defines them ("Parsing Canonical Form for Schemas" and "Schema
// Fingerprints"), so that any Avro library finds a record's writer schema by
// the fingerprint in its single-object header. goavro's CanonicalSchema is not
// used: v2.15 prepends the enclosing namespace to a nested named type that
// declares a namespace of its own (io.assay.common.Trace inside
// io.assay.datasets.CoverageTargetSet became
// io.assay.datasets.io.assay.common.Trace), so its Rabin fingerprint is not
// the spec's. The fingerprints Assay wrote with it are kept as decode-only
// aliases (legacy.go).

// canonicalForm returns the Parsing Canonical Form of a schema given as its
// decoded JSON document (encoding/json's any), applying the spec's
// transformations:
//
//   - PRIMITIVES: {"type":"int"} becomes "int";
//   - FULLNAMES: every named type is written with its full name, derived by
//     the spec's namespace rules (a dotted name is already full; otherwise
//     the type's own "namespace", where "" means the null namespace;
//     otherwise the namespace of the most tightly enclosing named type), and
//     namespace attributes disappear; a reference to a type defined earlier
//     is written as its quoted full name;
//   - STRIP and ORDER: only name, type, fields, symbols, items, values and
//     size are kept, in that order;
//   - STRINGS, INTEGERS, WHITESPACE: names and symbols are checked against
//     the spec's name grammar (so no string needs escaping), size is a plain
//     integer, and nothing is written between tokens.
//
// It also refuses what makes a schema invalid for parsing (unknown type
// names, a named type defined twice, a malformed name), so the form exists
// only for valid schemas, as in Apache Avro's SchemaNormalization.
func canonicalForm(doc any) (string, error) {
	c := canonicalizer{defined: map[string]bool{}}
	if err := c.schema(doc, ""); err != nil {
		return "", err
	}
	return c.out.String(), nil
}

type canonicalizer struct {
	out     strings.Builder
	defined map[string]bool // full names of the named types seen so far
}

var primitiveNames = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// avroName is the spec's grammar for names, field names and enum symbols.
var avroName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validFullName reports whether s is a name or a dotted sequence of names.
func validFullName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !avroName.MatchString(part) {
			return false
		}
	}
	return true
}

// namespaceOf is the namespace part of a full name ("" for the null namespace).
func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

// resolveName gives the full name of a named type definition: its name when
// dotted; else its own namespace attribute when present ("" is the null
// namespace); else the enclosing namespace.
func resolveName(name string, namespace any, hasNamespace bool, enclosing string) (string, error) {
	if !validFullName(name) {
		return "", fmt.Errorf("invalid name %q", name)
	}
	if strings.Contains(name, ".") {
		return name, nil
	}
	ns := enclosing
	if hasNamespace {
		s, ok := namespace.(string)
		if !ok {
			return "", fmt.Errorf("%s: namespace is not a string", name)
		}
		if s != "" && !validFullName(s) {
			return "", fmt.Errorf("%s: invalid namespace %q", name, s)
		}
		ns = s
	}
	if ns == "" {
		return name, nil
	}
	return ns + "." + name, nil
}

func (c *canonicalizer) quoted(s string) {
	c.out.WriteByte('"')
	c.out.WriteString(s)
	c.out.WriteByte('"')
}

// schema writes the canonical form of v, found in namespace ns.
func (c *canonicalizer) schema(v any, ns string) error {
	switch x := v.(type) {
	case string:
		return c.reference(x, ns)
	case []any:
		c.out.WriteByte('[')
		for i, b := range x {
			if i > 0 {
				c.out.WriteByte(',')
			}
			if _, nested := b.([]any); nested {
				return fmt.Errorf("union branch %d is a union", i)
			}
			if err := c.schema(b, ns); err != nil {
				return fmt.Errorf("union branch %d: %w", i, err)
			}
		}
		c.out.WriteByte(']')
		return nil
	case map[string]any:
		typ, ok := x["type"].(string)
		if !ok {
			return fmt.Errorf("schema object without a string \"type\": %v", x["type"])
		}
		switch typ {
		case "record", "error", "enum", "fixed":
			return c.named(typ, x, ns)
		case "array":
			c.out.WriteString(`{"type":"array","items":`)
			if err := c.schema(x["items"], ns); err != nil {
				return fmt.Errorf("array items: %w", err)
			}
			c.out.WriteByte('}')
			return nil
		case "map":
			c.out.WriteString(`{"type":"map","values":`)
			if err := c.schema(x["values"], ns); err != nil {
				return fmt.Errorf("map values: %w", err)
			}
			c.out.WriteByte('}')
			return nil
		}
		// {"type":"long"} (logicalType and other attributes stripped), or
		// {"type":"Name"} referring to a named type.
		return c.reference(typ, ns)
	case nil:
		return fmt.Errorf("missing schema")
	}
	return fmt.Errorf("schema element of JSON type %T", v)
}

// reference writes a primitive type name, or the full name of a named type
// defined earlier. A short name resolves in the enclosing namespace first,
// then in the null namespace, as Apache Avro's parser does.
func (c *canonicalizer) reference(name, ns string) error {
	if primitiveNames[name] {
		c.quoted(name)
		return nil
	}
	if !validFullName(name) {
		return fmt.Errorf("invalid type name %q", name)
	}
	full := name
	if !strings.Contains(name, ".") && ns != "" && c.defined[ns+"."+name] {
		full = ns + "." + name
	}
	if !c.defined[full] {
		return fmt.Errorf("unknown type %q", name)
	}
	c.quoted(full)
	return nil
}

// named writes the definition of a record, enum or fixed type.
func (c *canonicalizer) named(typ string, x map[string]any, enclosing string) error {
	name, _ := x["name"].(string)
	namespace, hasNamespace := x["namespace"]
	full, err := resolveName(name, namespace, hasNamespace, enclosing)
	if err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	if primitiveNames[full] {
		return fmt.Errorf("%s: a named type cannot be called %q", typ, full)
	}
	if c.defined[full] {
		return fmt.Errorf("%s %s is defined twice", typ, full)
	}
	c.defined[full] = true
	c.out.WriteString(`{"name":`)
	c.quoted(full)
	if typ == "error" { // an error is a record (Apache Avro writes "record" too)
		typ = "record"
	}
	c.out.WriteString(`,"type":`)
	c.quoted(typ)
	switch typ {
	case "record":
		fields, ok := x["fields"].([]any)
		if !ok {
			return fmt.Errorf("record %s: fields is not an array", full)
		}
		c.out.WriteString(`,"fields":[`)
		seen := map[string]bool{}
		for i, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("record %s: field %d is not an object", full, i)
			}
			fname, _ := fm["name"].(string)
			if !avroName.MatchString(fname) {
				return fmt.Errorf("record %s: field %d has invalid name %q", full, i, fname)
			}
			if seen[fname] {
				return fmt.Errorf("record %s: field %s appears twice", full, fname)
			}
			seen[fname] = true
			if i > 0 {
				c.out.WriteByte(',')
			}
			c.out.WriteString(`{"name":`)
			c.quoted(fname)
			c.out.WriteString(`,"type":`)
			if err := c.schema(fm["type"], namespaceOf(full)); err != nil {
				return fmt.Errorf("record %s field %s: %w", full, fname, err)
			}
			c.out.WriteByte('}')
		}
		c.out.WriteByte(']')
	case "enum":
		symbols, ok := x["symbols"].([]any)
		if !ok {
			return fmt.Errorf("enum %s: symbols is not an array", full)
		}
		c.out.WriteString(`,"symbols":[`)
		seen := map[string]bool{}
		for i, s := range symbols {
			sym, _ := s.(string)
			if !avroName.MatchString(sym) || seen[sym] {
				return fmt.Errorf("enum %s: symbol %d (%v) is invalid or repeated", full, i, s)
			}
			seen[sym] = true
			if i > 0 {
				c.out.WriteByte(',')
			}
			c.quoted(sym)
		}
		c.out.WriteByte(']')
	case "fixed":
		size, ok := x["size"].(float64)
		if !ok || size < 0 || size != math.Trunc(size) || size > math.MaxInt32 {
			return fmt.Errorf("fixed %s: size %v is not a non-negative integer", full, x["size"])
		}
		fmt.Fprintf(&c.out, `,"size":%d`, int64(size))
	}
	c.out.WriteByte('}')
	return nil
}

// fingerprint64 is CRC-64-AVRO, the 64-bit Rabin fingerprint the Avro
// specification defines ("Schema Fingerprints") and single-object encoding
// carries: the spec's reference algorithm, table-driven, with the one bit
// prepended through the initial value.
func fingerprint64(b []byte) uint64 {
	fp := fpEmpty
	for _, c := range b {
		fp = (fp >> 8) ^ fpTable[byte(fp)^c]
	}
	return fp
}

// fpEmpty is the spec's EMPTY, the fingerprint of no bytes and the
// polynomial of the table.
const fpEmpty uint64 = 0xc15d213aa4d7a795

var fpTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (fpEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()
