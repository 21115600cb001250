package schemas

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"unsafe"
)

// decodeOp is what a decoder does with one encoded value of its writer's type.
type decodeOp uint8

const (
	opFail       decodeOp = iota // the value cannot be read into the reader's type: err
	opString                     // string into a string
	opEventType                  // the top-level event_type: must name the decoder's type
	opSymbol                     // enum into an enum or a string: a symbol, allocating nothing
	opStringEnum                 // string into an enum: must be one of the reader's symbols
	opInt                        // int into an int or a long
	opLong                       // long into a long
	opIntFloat                   // int or long into a float or a double
	opFloat                      // float into a float or a double
	opDouble                     // double into a float or a double
	opBoolean                    // boolean
	opBytes                      // bytes, copied out of the input
	opArray                      // array into a slice: elem per item
	opUnion                      // union: branches[index]; nil is null, which leaves the reader's nil
	opPointer                    // a value into the reader's ["null", T]: a new T, decoded by elem
	opRecord                     // record into a struct: fields in the writer's order
)

// decoder reads one Avro value written with the writer's type w straight into a Go value of
// the reader's plan (the current schema mapped onto the Go struct), resolving the writer's
// schema against the reader's as Avro schema resolution does, and as goavro's native form
// read by fromNative (decode_ref_test.go, the reference) did: record fields are matched by
// name, fields the reader lacks are skipped, fields the writer lacks keep the reader's
// default (always the Go zero value in the contract, so nothing is written), enums are
// matched by symbol, int is promoted to long, and int, long and float to double. Decoders are
// compiled once per schema version at init (compileDecoder); a pair of types that cannot be
// resolved compiles to opFail, which refuses a value only when one is met, as the reference
// does (TestEvolutionRules keeps the contract's versions free of them, TestDecodePlansResolve
// proves it).
//
// A decoder writes the Go value at an address, through the layout compilePlan checked (a
// string field's kind is String, a long's Int64, a list's a slice of the items' type...),
// rather than through reflect.Value setters: reflection's per-field checks cost as much as
// the decoding itself. Every store is typed, so the garbage collector sees each pointer
// written; every address is a field, item or target of memory allocated with its Go type
// (reflect.New, reflect.MakeSlice).
type decoder struct {
	op       decodeOp
	w        *avroType     // the writer's type: the bytes
	goType   reflect.Type  // the reader's Go type, whose kind compilePlan checked
	elemSize uintptr       // opArray: the size of an item
	fields   []decodeField // opRecord, in the writer's order
	elem     *decoder      // opArray items, opPointer's value
	branches []*decoder    // opUnion, by the writer's branch index
	symbols  []string      // opSymbol: the reader's symbol of each writer index, "" when it has none; opStringEnum: the reader's symbols
	typ      EventType     // opEventType
	err      error         // opFail
}

// decodeField is one field of the writer's record: decoded by d into the reader's field at
// offset in the struct, or, when the reader does not have it, skipped (d nil) as a value of
// type skip.
type decodeField struct {
	name   string
	offset uintptr
	d      *decoder
	skip   *avroType
}

// compileDecoder compiles the decoder of the event type typ's top-level record written with w
// into the Go struct of the reader's plan r.
func compileDecoder(w *avroType, r *plan, typ EventType) *decoder {
	d := compileValue(w, r)
	for i := range d.fields {
		if f := &d.fields[i]; f.name == "event_type" && f.d != nil && f.d.op == opString {
			f.d = &decoder{op: opEventType, w: f.d.w, typ: typ}
		}
	}
	return d
}

// compileValue compiles the decoder of values written with w into the reader's plan r.
func compileValue(w *avroType, r *plan) *decoder {
	d := &decoder{w: w, goType: r.goType}
	fail := func(format string, args ...any) *decoder {
		d.op, d.err = opFail, fmt.Errorf(format, args...)
		return d
	}
	rk := r.t.kind
	if w.kind == kUnion {
		// goavro's native form of a union's value is nil or {branch name: value}, which
		// fromNative unwraps only into the reader's ["null", T] when the names agree or the
		// branch is a primitive: nothing else resolves.
		d.op = opUnion
		for _, b := range w.branches {
			switch {
			case b.kind == kNull && rk == kUnion:
				d.branches = append(d.branches, nil)
			case b.kind == kNull:
				d.branches = append(d.branches, &decoder{op: opFail, w: b, err: fmt.Errorf("null where %s is required", r.t.name)})
			case rk != kUnion:
				d.branches = append(d.branches, &decoder{op: opFail, w: b, err: fmt.Errorf("union branch %s where %s is required", b.name, r.t.name)})
			case b.name != r.branch && !isPrimitive(b):
				d.branches = append(d.branches, &decoder{op: opFail, w: b, err: fmt.Errorf("union branch %s where %s is required", b.name, r.branch)})
			default:
				d.branches = append(d.branches, &decoder{op: opPointer, w: b, goType: r.goType, elem: compileValue(b, r.elem)})
			}
		}
		return d
	}
	if rk == kUnion {
		// A value where the reader has ["null", T]: fromNative reads it as the T.
		d.op, d.elem = opPointer, compileValue(w, r.elem)
		return d
	}
	mismatch := func() *decoder { return fail("%s where %s is required", w.name, r.t.name) }
	switch w.kind {
	case kString:
		switch rk {
		case kString:
			d.op = opString
		case kEnum:
			d.op, d.symbols = opStringEnum, r.t.symbols
		default:
			return mismatch()
		}
	case kEnum:
		if rk != kString && rk != kEnum {
			return mismatch()
		}
		d.op = opSymbol
		for _, s := range w.symbols {
			if rk == kEnum && !slices.Contains(r.t.symbols, s) {
				s = "" // refused when read, as fromNative refuses a symbol the reader lacks
			}
			d.symbols = append(d.symbols, s)
		}
	case kInt, kLong:
		switch {
		case rk == kInt && w.kind == kInt, rk == kLong && w.kind == kInt:
			d.op = opInt
		case rk == kLong:
			d.op = opLong
		case rk == kFloat || rk == kDouble:
			d.op = opIntFloat
		default:
			return mismatch()
		}
	case kFloat, kDouble:
		if rk != kFloat && rk != kDouble {
			return mismatch()
		}
		d.op = opDouble
		if w.kind == kFloat {
			d.op = opFloat
		}
	case kBoolean:
		if rk != kBoolean {
			return mismatch()
		}
		d.op = opBoolean
	case kBytes:
		if rk != kBytes {
			return mismatch()
		}
		d.op = opBytes
	case kArray:
		if rk != kArray {
			return mismatch()
		}
		d.op, d.elem, d.elemSize = opArray, compileValue(w.items, r.elem), r.goType.Elem().Size()
	case kRecord:
		if rk != kRecord {
			return mismatch()
		}
		d.op = opRecord
		reader := map[string]*fieldPlan{}
		for i := range r.fields {
			reader[r.fields[i].name] = &r.fields[i]
		}
		for _, wf := range w.fields {
			f := decodeField{name: wf.name, skip: wf.typ}
			if rf, ok := reader[wf.name]; ok {
				f.offset, f.d = fieldOffset(r.goType, rf.index), compileValue(wf.typ, rf.p)
				delete(reader, wf.name)
			}
			d.fields = append(d.fields, f)
		}
		// The reader's fields the writer lacks keep their defaults. The contract allows only
		// "", null and [], the Go zero value a new struct already holds; any other default, or
		// none, refuses the record when one is met, as fromNative does.
		for _, rf := range r.fields {
			if _, lacked := reader[rf.name]; !lacked {
				continue
			}
			if !rf.hasDef {
				return fail("%s: writer lacks field %s, which has no default", r.t.name, rf.name)
			}
			if !zeroDefault(rf.p.t, rf.def) {
				return fail("%s: default %v of field %s is not the Go zero value", r.t.name, rf.def, rf.name)
			}
		}
	default:
		return fail("%s is outside the contract's Avro subset", w.name)
	}
	return d
}

// fieldOffset is the offset in the struct rt of the field at index, a path through embedded
// structs (never pointers: jsonFields flattens only embedded structs).
func fieldOffset(rt reflect.Type, index []int) uintptr {
	var off uintptr
	for _, i := range index {
		f := rt.Field(i)
		off += f.Offset
		rt = f.Type
	}
	return off
}

// isPrimitive reports whether t is one of Avro's primitive types.
func isPrimitive(t *avroType) bool {
	_, ok := primitiveKinds[t.name]
	return ok
}

// zeroDefault reports whether def, the default of a field of type t in goavro's native form
// (defaultNative), is what fromNative stores as the Go zero value: null for ["null", T], ""
// for a string, [] for an array (an enum's "" it refuses, as it is no symbol).
func zeroDefault(t *avroType, def any) bool {
	switch x := def.(type) {
	case nil:
		return t.kind == kUnion
	case string:
		return x == "" && t.kind == kString
	case []any:
		return len(x) == 0 && t.kind == kArray
	}
	return false
}

// unresolved lists the opFail nodes of d that a value can reach, as paths, for
// TestDecodePlansResolve.
func (d *decoder) unresolved(path string) []string {
	var out []string
	switch d.op {
	case opFail:
		out = append(out, fmt.Sprintf("%s: %v", path, d.err))
	case opRecord:
		for _, f := range d.fields {
			if f.d != nil {
				out = append(out, f.d.unresolved(path+"."+f.name)...)
			}
		}
	case opArray, opPointer:
		out = append(out, d.elem.unresolved(path)...)
	case opUnion:
		for i, b := range d.branches {
			if b != nil {
				out = append(out, b.unresolved(fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

// decodeTyped decodes the body of a record written with sv into a new event of sv's type, with
// sv's compiled decoder: no goavro native form, one allocation for the struct and one for each
// string, byte slice, list and optional record. It checks the bytes as skipValue does (every
// length and count against what is left, varints that overflow, enum and union indexes, int
// range, boolean bytes) and refuses trailing bytes; TestTypedDecoderIsGoavro and
// FuzzTypedDecoder hold it to goavro's path (decodeGoavro): the same event or an error. Its
// recursion is as deep as the writer's schema, which is never recursive (compilePlan could
// not map one), so it needs no depth bound.
func decodeTyped(sv *schemaVersion, body []byte) (Event, error) {
	ev := sv.newEvent()
	rest, err := sv.dec.decode(body, reflect.ValueOf(ev).UnsafePointer())
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(rest))
	}
	if got := ev.Meta().EventType; got != sv.Type { // opEventType checked it; a writer without event_type did not
		return nil, fmt.Errorf("event_type is %q", got)
	}
	return ev, nil
}

// decode reads one value from b into the Go value at p and returns the bytes after it. p holds
// the zero value of the reader's Go type (a new struct's field, a new slice's item, a new
// pointer's target).
func (d *decoder) decode(b []byte, p unsafe.Pointer) ([]byte, error) {
	switch d.op {
	case opString, opEventType, opStringEnum:
		s, rest, err := readBytes(b, d.w)
		if err != nil {
			return nil, err
		}
		switch d.op {
		case opString:
			*(*string)(p) = string(s)
		case opEventType:
			if string(s) != string(d.typ) {
				return nil, fmt.Errorf("event_type is %q", s)
			}
			*(*EventType)(p) = d.typ
		default:
			i := slices.IndexFunc(d.symbols, func(sym string) bool { return sym == string(s) })
			if i < 0 {
				return nil, fmt.Errorf("symbol %q is not in enum %s", s, d.goType)
			}
			*(*string)(p) = d.symbols[i]
		}
		return rest, nil
	case opSymbol:
		i, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(d.symbols)) {
			return nil, fmt.Errorf("enum %s index %d out of range", d.w.name, i)
		}
		if d.symbols[i] == "" {
			return nil, fmt.Errorf("symbol %q is not in the reader's enum %s", d.w.symbols[i], d.w.name)
		}
		*(*string)(p) = d.symbols[i]
		return rest, nil
	case opInt, opLong, opIntFloat:
		n, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if d.w.kind == kInt && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, fmt.Errorf("int %d out of range", n)
		}
		switch d.goType.Kind() {
		case reflect.Int64:
			*(*int64)(p) = n
		case reflect.Int32:
			*(*int32)(p) = int32(n)
		case reflect.Float64:
			*(*float64)(p) = float64(n)
		default:
			*(*float32)(p) = float32(n)
		}
		return rest, nil
	case opFloat, opDouble:
		var f float64
		if d.op == opFloat {
			if len(b) < 4 {
				return nil, errShort
			}
			f, b = float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), b[4:]
		} else {
			if len(b) < 8 {
				return nil, errShort
			}
			f, b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
		}
		if d.goType.Kind() == reflect.Float64 {
			*(*float64)(p) = f
		} else {
			*(*float32)(p) = float32(f)
		}
		return b, nil
	case opBoolean:
		if len(b) < 1 {
			return nil, errShort
		}
		if b[0] > 1 {
			return nil, fmt.Errorf("boolean byte %#x", b[0])
		}
		*(*bool)(p) = b[0] == 1
		return b[1:], nil
	case opBytes:
		s, rest, err := readBytes(b, d.w)
		if err != nil {
			return nil, err
		}
		*(*[]byte)(p) = append(make([]byte, 0, len(s)), s...) // never nil, as goavro's
		return rest, nil
	case opArray:
		return d.decodeArray(b, p)
	case opUnion:
		i, rest, err := readVarlong(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(d.branches)) {
			return nil, fmt.Errorf("union index %d out of range", i)
		}
		if d.branches[i] == nil {
			return rest, nil // null: the reader's pointer stays nil
		}
		return d.branches[i].decode(rest, p)
	case opPointer:
		target := reflect.New(d.goType.Elem()).UnsafePointer()
		rest, err := d.elem.decode(b, target)
		if err != nil {
			return nil, err
		}
		*(*unsafe.Pointer)(p) = target
		return rest, nil
	case opRecord:
		for i := range d.fields {
			f := &d.fields[i]
			var err error
			if f.d == nil {
				b, err = skipValue(f.skip, b, 0)
			} else {
				b, err = f.d.decode(b, unsafe.Add(p, f.offset))
			}
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", d.w.name, f.name, err)
			}
		}
		return b, nil
	case opFail:
		return nil, d.err
	}
	return nil, fmt.Errorf("decoder op %d", d.op) // unreachable: compileValue sets one of the above
}

// decodeArray reads an array's blocks into the slice at p. A block's count is checked against
// the bytes left before anything is allocated (an item takes at least its type's minSize
// bytes), so a forged count cannot allocate beyond what the input can hold; blocks after the
// first grow the slice as append does. An empty array leaves the slice nil, as fromNative
// does.
func (d *decoder) decodeArray(b []byte, p unsafe.Pointer) ([]byte, error) {
	per := d.w.items.minSize
	n := 0
	var s reflect.Value // the slice at p, once there is one
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
		if (per > 0 && count > int64(len(b)/per)) || (per == 0 && count > maxZeroSizeItems) {
			return nil, fmt.Errorf("%s block of %d items with %d bytes left", d.w.name, count, len(b))
		}
		if n == 0 {
			s = reflect.NewAt(d.goType, p).Elem()
			s.Set(reflect.MakeSlice(d.goType, int(count), int(count)))
		} else {
			s.Grow(int(count))
			s.SetLen(n + int(count))
		}
		items := s.UnsafePointer()
		for i := n; i < n+int(count); i++ {
			if b, err = d.elem.decode(b, unsafe.Add(items, uintptr(i)*d.elemSize)); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		n += int(count)
	}
}

// readBytes reads the length and the bytes of a string or bytes value of type t, the length
// checked against what is left.
func readBytes(b []byte, t *avroType) (s, rest []byte, err error) {
	n, rest, err := readVarlong(b)
	if err != nil {
		return nil, nil, err
	}
	if n < 0 || n > int64(len(rest)) {
		return nil, nil, fmt.Errorf("%s length %d with %d bytes left", t.name, n, len(rest))
	}
	return rest[:n], rest[n:], nil
}
