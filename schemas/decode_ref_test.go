package schemas

import (
	"fmt"
	"reflect"
	"slices"
)

// decodeGoavro is how Decode read a body before the typed decoder, kept as its reference:
// skipValue bounds the untrusted bytes, goavro decodes them into its native form with the
// writer's schema, fromNative stores that into the current Go struct (schema resolution by
// field name, defaults for fields the writer lacked), and event_type must name the type.
func decodeGoavro(sv *schemaVersion, body []byte) (ev Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	rest, err := skipValue(sv.avro, body, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(rest))
	}
	native, _, err := sv.codec.NativeFromBinary(body)
	if err != nil {
		return nil, err
	}
	ev, _ = New(sv.Type)
	if err := fromNative(registry.plans[sv.Type], native, reflect.ValueOf(ev).Elem()); err != nil {
		return nil, err
	}
	if got := ev.Meta().EventType; got != sv.Type {
		return nil, fmt.Errorf("event_type is %q", got)
	}
	return ev, nil
}

// fromNative stores goavro's native form x into v. x was decoded with the
// writer's schema, which may be older than p's: missing record fields take
// p's defaults, extra ones are ignored, and numeric promotions (int to long,
// to double) are accepted, per Avro schema resolution.
func fromNative(p *plan, x any, v reflect.Value) error {
	switch p.t.kind {
	case kString, kEnum:
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("want string, got %T", x)
		}
		if p.t.kind == kEnum && !slices.Contains(p.t.symbols, s) {
			return fmt.Errorf("symbol %q is not in enum %s", s, p.t.name)
		}
		v.SetString(s)
	case kInt, kLong:
		switch n := x.(type) {
		case int32:
			v.SetInt(int64(n))
		case int64:
			if p.t.kind == kInt {
				return fmt.Errorf("want int, got long")
			}
			v.SetInt(n)
		default:
			return fmt.Errorf("want integer, got %T", x)
		}
	case kFloat, kDouble:
		switch n := x.(type) {
		case float64:
			v.SetFloat(n)
		case float32:
			v.SetFloat(float64(n))
		case int64:
			v.SetFloat(float64(n))
		case int32:
			v.SetFloat(float64(n))
		default:
			return fmt.Errorf("want number, got %T", x)
		}
	case kBoolean:
		b, ok := x.(bool)
		if !ok {
			return fmt.Errorf("want boolean, got %T", x)
		}
		v.SetBool(b)
	case kBytes:
		b, ok := x.([]byte)
		if !ok {
			return fmt.Errorf("want bytes, got %T", x)
		}
		v.SetBytes(slices.Clone(b)) // goavro aliases the input buffer
	case kArray:
		xs, ok := x.([]any)
		if !ok {
			return fmt.Errorf("want array, got %T", x)
		}
		if len(xs) == 0 {
			v.SetZero() // nil, so empty lists compare equal to unset ones
			return nil
		}
		s := reflect.MakeSlice(p.goType, len(xs), len(xs))
		for i, e := range xs {
			if err := fromNative(p.elem, e, s.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		v.Set(s)
	case kUnion:
		if x == nil {
			v.SetZero()
			return nil
		}
		if m, ok := x.(map[string]any); ok && len(m) == 1 {
			for k, inner := range m {
				if _, primitive := primitiveKinds[k]; k == p.branch || primitive {
					x = inner
				}
			}
		}
		ptr := reflect.New(p.goType.Elem())
		if err := fromNative(p.elem, x, ptr.Elem()); err != nil {
			return err
		}
		v.Set(ptr)
	case kRecord:
		m, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("want record %s, got %T", p.t.name, x)
		}
		for _, f := range p.fields {
			fx, present := m[f.name]
			if !present {
				if !f.hasDef {
					return fmt.Errorf("%s: writer lacks field %s, which has no default", p.t.name, f.name)
				}
				fx = f.def
			}
			if err := fromNative(f.p, fx, v.FieldByIndex(f.index)); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
	default:
		return fmt.Errorf("unmapped kind %s", p.t.name)
	}
	return nil
}
