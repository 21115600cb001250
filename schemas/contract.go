package schemas

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// checkContract enforces the subset of Avro the contract uses (doc.go,
// "The Avro subset") on one .avsc document of event type typ in family
// fam. The rules are what the schemas have always used, written down: each
// keeps the Go mapping (native.go) total, the encoding deterministic, and
// the canonical form and names unambiguous for every Avro library, so a
// schema outside it fails at package init (and in every test run) instead of
// surprising a consumer. It reports every violation, not just the first.
func checkContract(fam Family, typ EventType, doc any) error {
	c := &contractChecker{family: fam, defined: map[string]string{}}
	top, ok := doc.(map[string]any)
	if !ok || top["type"] != "record" {
		return errors.New("contract: the top-level schema must be a record")
	}
	if top["name"] != string(typ) || top["namespace"] != "io.assay."+string(fam) {
		c.fail("", "the top-level record must be named %q with namespace %q, is %v in %v",
			typ, "io.assay."+string(fam), top["name"], top["namespace"])
	}
	c.named(top, "", string(typ))
	if len(c.errs) > 0 {
		return fmt.Errorf("contract: %w", errors.Join(c.errs...))
	}
	return nil
}

// Type names are UpperCamelCase, field names and enum symbols lower
// snake_case, so a field is never named like a type: goavro's CanonicalSchema,
// which Go consumers may still use, is non-deterministic when one is
// (linkedin/goavro issues 224 and 307).
var (
	typeNameRule  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	lowerNameRule = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// contractPrimitives are the primitive types the contract uses; null only
// as the first branch of an optional field. A boolean is never optional nor
// an array's items and has no default: a flag that a new version adds is an
// optional record or a long, so that "not set" is stated.
var contractPrimitives = []string{"string", "long", "int", "double", "boolean", "bytes"}

type contractChecker struct {
	family  Family
	defined map[string]string // full name of each named type -> "record" or "enum"
	errs    []error
}

func (c *contractChecker) fail(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	c.errs = append(c.errs, errors.New(msg))
}

// onlyKeys reports the attributes of x outside allowed (aliases, order,
// logicalType, custom properties...).
func (c *contractChecker) onlyKeys(path string, x map[string]any, allowed ...string) {
	var extra []string
	for k := range x {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		c.fail(path, "attribute %q is outside the contract's subset (allowed: %s)", k, strings.Join(allowed, ", "))
	}
	if d, ok := x["doc"]; ok {
		if _, isString := d.(string); !isString {
			c.fail(path, "doc is not a string")
		}
	}
}

// named checks a record or enum definition found in namespace enclosing and
// returns its kind.
func (c *contractChecker) named(x map[string]any, enclosing, path string) string {
	kind, _ := x["type"].(string)
	name, _ := x["name"].(string)
	if !typeNameRule.MatchString(name) {
		c.fail(path, "type name %q must be UpperCamelCase and short (the namespace goes in \"namespace\")", name)
	}
	ns := enclosing
	if v, has := x["namespace"]; has {
		s, _ := v.(string)
		if s != "io.assay.common" && s != "io.assay."+string(c.family) {
			c.fail(path, "namespace %q: a type is in io.assay.common (shared) or io.assay.%s (its family), never the null namespace", v, c.family)
		}
		ns = s
	}
	full := name
	if ns != "" {
		full = ns + "." + name
	}
	if _, dup := c.defined[full]; dup {
		c.fail(path, "type %s is defined twice: define it once, refer to it by its full name afterwards", full)
	}
	switch kind {
	case "record":
		c.defined[full] = kind
		c.onlyKeys(path, x, "type", "name", "namespace", "doc", "fields")
		fields, _ := x["fields"].([]any)
		if len(fields) == 0 {
			c.fail(path, "record %s has no fields", full)
		}
		for i, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				c.fail(path, "field %d is not an object", i)
				continue
			}
			c.field(fm, ns, path)
		}
	case "enum":
		c.defined[full] = kind
		c.onlyKeys(path, x, "type", "name", "namespace", "doc", "symbols")
		symbols, _ := x["symbols"].([]any)
		if len(symbols) == 0 {
			c.fail(path, "enum %s has no symbols", full)
		}
		for _, s := range symbols {
			if sym, _ := s.(string); !lowerNameRule.MatchString(sym) {
				c.fail(path, "enum symbol %v must be lower snake_case", s)
			}
		}
	default:
		c.fail(path, "named type %q is outside the contract's subset (record and enum only)", kind)
	}
	return kind
}

// field checks one record field: its name, type and default.
func (c *contractChecker) field(f map[string]any, ns, recordPath string) {
	name, _ := f["name"].(string)
	path := recordPath + "." + name
	if !lowerNameRule.MatchString(name) {
		c.fail(path, "field name %q must be lower snake_case (it is the JSON name too)", name)
	}
	c.onlyKeys(path, f, "name", "type", "default", "doc")
	kind := c.fieldType(f["type"], ns, path)
	def, hasDef := f["default"]
	switch kind {
	case "string":
		if hasDef && def != "" {
			c.fail(path, "a string's default is \"\" (not set), not %v", def)
		}
	case "optional":
		if !hasDef || def != nil {
			c.fail(path, "an optional field [\"null\", T] must have the default null")
		}
	case "array":
		if d, ok := def.([]any); !hasDef || !ok || len(d) != 0 {
			c.fail(path, "an array field must have the default []")
		}
	case "":
		// The type was refused already.
	default:
		if hasDef {
			c.fail(path, "a %s field has no default in the contract (a new one is optional: [\"null\", T] with default null)", kind)
		}
	}
}

// fieldType checks the type of a field and returns its kind: a primitive's
// name, "record", "enum", "array", "optional", or "" when refused.
func (c *contractChecker) fieldType(t any, ns, path string) string {
	switch x := t.(type) {
	case string:
		return c.reference(x, path, append([]string{"record", "enum"}, contractPrimitives...)...)
	case []any:
		if len(x) != 2 || x[0] != "null" {
			c.fail(path, "the only union is [\"null\", T] (an optional field)")
			return ""
		}
		switch b := x[1].(type) {
		case string:
			if c.reference(b, path, "long", "int", "double", "record") == "" {
				return ""
			}
		case map[string]any:
			if b["type"] != "record" {
				c.fail(path, "an optional field is long, int, double or a record; strings are \"\" when not set, arrays []")
				return ""
			}
			c.named(b, ns, path)
		default:
			c.fail(path, "invalid union branch %v", x[1])
			return ""
		}
		return "optional"
	case map[string]any:
		switch x["type"] {
		case "record", "enum":
			return c.named(x, ns, path)
		case "array":
			c.onlyKeys(path, x, "type", "items")
			switch it := x["items"].(type) {
			case string:
				if c.reference(it, path, "string", "record") == "" {
					return ""
				}
			case map[string]any:
				if it["type"] != "record" {
					c.fail(path, "array items are strings or records")
					return ""
				}
				c.named(it, ns, path)
			default:
				c.fail(path, "array items are strings or records")
				return ""
			}
			return "array"
		}
		c.fail(path, "type %v is outside the contract's subset (records, enums, arrays, [\"null\", T] and the primitives %s, each primitive written as a plain name)",
			x["type"], strings.Join(contractPrimitives, ", "))
		return ""
	}
	c.fail(path, "invalid type %v", t)
	return ""
}

// reference checks a type written as a name: a primitive, or a named type
// defined earlier in the file, referred to by its full name. It returns the
// kind, or "" when refused or not among allowed.
func (c *contractChecker) reference(name, path string, allowed ...string) string {
	kind := name
	if !primitiveNames[name] {
		if !strings.Contains(name, ".") {
			c.fail(path, "type %q: refer to a named type by its full name (io.assay....), so no namespace rule is involved", name)
			return ""
		}
		k, ok := c.defined[name]
		if !ok {
			c.fail(path, "type %s is not defined earlier in the file", name)
			return ""
		}
		kind = k
	}
	if !slices.Contains(allowed, kind) {
		c.fail(path, "type %s is not allowed here (allowed: %s)", name, strings.Join(allowed, ", "))
		return ""
	}
	return kind
}
