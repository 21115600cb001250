package schemas

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// plan maps one Avro type onto one Go type. Plans are compiled once per
// event type from the current schema and the Go struct (by json tag), so a
// field that exists on one side only fails at package init (and in tests),
// never silently at run time.
type plan struct {
	t      *avroType
	goType reflect.Type
	fields []fieldPlan // record
	elem   *plan       // array items, or the non-null branch of a nullable union
	branch string      // nullable union: goavro's key for the non-null branch
}

type fieldPlan struct {
	name   string
	index  []int
	p      *plan
	def    any // native default, for writers that lacked the field
	hasDef bool
}

// jsonFields lists the json-tagged fields of a struct, flattening embedded
// structs the way encoding/json does, with their index paths.
func jsonFields(rt reflect.Type, prefix []int, out map[string][]int) {
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		idx := append(slices.Clone(prefix), i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, idx, out)
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = idx
	}
}

// compilePlan pairs an Avro type with a Go type.
func compilePlan(t *avroType, rt reflect.Type) (*plan, error) {
	p := &plan{t: t, goType: rt}
	want := func(kinds ...reflect.Kind) error {
		if slices.Contains(kinds, rt.Kind()) {
			return nil
		}
		return fmt.Errorf("avro %s needs Go kind %v, have %s", t.name, kinds, rt)
	}
	switch t.kind {
	case kString, kEnum:
		return p, want(reflect.String)
	case kLong:
		return p, want(reflect.Int64)
	case kInt:
		return p, want(reflect.Int32)
	case kDouble:
		return p, want(reflect.Float64)
	case kFloat:
		return p, want(reflect.Float32)
	case kBoolean:
		return p, want(reflect.Bool)
	case kBytes:
		if rt.Kind() != reflect.Slice || rt.Elem().Kind() != reflect.Uint8 {
			return nil, fmt.Errorf("avro bytes needs []byte, have %s", rt)
		}
		return p, nil
	case kArray:
		if err := want(reflect.Slice); err != nil {
			return nil, err
		}
		e, err := compilePlan(t.items, rt.Elem())
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		p.elem = e
		return p, nil
	case kUnion:
		if len(t.branches) != 2 || t.branches[0].kind != kNull || rt.Kind() != reflect.Pointer {
			return nil, fmt.Errorf("only [\"null\", T] unions map to Go pointers; have %s for %s", rt, t.name)
		}
		e, err := compilePlan(t.branches[1], rt.Elem())
		if err != nil {
			return nil, err
		}
		p.elem, p.branch = e, t.branches[1].branchName()
		return p, nil
	case kRecord:
		if err := want(reflect.Struct); err != nil {
			return nil, err
		}
		goFields := map[string][]int{}
		jsonFields(rt, nil, goFields)
		for _, f := range t.fields {
			idx, ok := goFields[f.name]
			if !ok {
				return nil, fmt.Errorf("%s: Avro field %s has no Go field in %s", t.name, f.name, rt)
			}
			delete(goFields, f.name)
			fp, err := compilePlan(f.typ, rt.FieldByIndex(idx).Type)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.name, f.name, err)
			}
			fpl := fieldPlan{name: f.name, index: idx, p: fp, hasDef: f.hasDef}
			if f.hasDef {
				if fpl.def, err = defaultNative(f.typ, f.def); err != nil {
					return nil, fmt.Errorf("%s.%s default: %w", t.name, f.name, err)
				}
			}
			p.fields = append(p.fields, fpl)
		}
		for name := range goFields {
			return nil, fmt.Errorf("%s: Go field %s of %s is not in the Avro schema", t.name, name, rt)
		}
		return p, nil
	}
	return nil, fmt.Errorf("avro kind %s is not mapped to Go", t.name)
}

// toNative converts a Go value into goavro's native form.
func toNative(p *plan, v reflect.Value) any {
	switch p.t.kind {
	case kString, kEnum:
		return v.String()
	case kLong:
		return v.Int()
	case kInt:
		return int32(v.Int())
	case kDouble:
		return v.Float()
	case kFloat:
		return float32(v.Float())
	case kBoolean:
		return v.Bool()
	case kBytes:
		if v.IsNil() {
			return []byte{}
		}
		return v.Bytes()
	case kArray:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toNative(p.elem, v.Index(i))
		}
		return out
	case kUnion:
		if v.IsNil() {
			return nil
		}
		return map[string]any{p.branch: toNative(p.elem, v.Elem())}
	case kRecord:
		out := make(map[string]any, len(p.fields))
		for _, f := range p.fields {
			out[f.name] = toNative(f.p, v.FieldByIndex(f.index))
		}
		return out
	}
	panic("schemas: unmapped kind " + p.t.name) // unreachable: compilePlan rejects it
}
