package schemas

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
)

// errNotTyped: the typed encoder met a value it leaves to goavro (an enum value that is not
// a symbol), so that goavro's error is the one returned.
var errNotTyped = errors.New("schemas: value left to goavro")

// appendEvent appends the Avro binary body of the event v (the struct behind an Event) with
// the plan p of its current schema, writing typ as its event_type: exactly the bytes goavro's
// BinaryFromNative writes for prepare's native form (toNative), without building it. The
// fields are read from the struct by the plan (reflection, no allocation), numbers written
// as Avro's zig-zag varints and little-endian IEEE 754, arrays as one block and the end
// marker, ["null", T] unions as their branch index and value. TestTypedEncoderIsGoavro and
// FuzzTypedEncoder hold it to goavro.
func appendEvent(dst []byte, p *plan, v reflect.Value, typ EventType) ([]byte, error) {
	for i := range p.fields {
		f := &p.fields[i]
		if f.name == "event_type" {
			dst = appendAvroString(dst, string(typ))
			continue
		}
		var err error
		if dst, err = appendTyped(dst, f.p, v.FieldByIndex(f.index)); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendTyped appends the Avro binary encoding of v with plan p.
func appendTyped(dst []byte, p *plan, v reflect.Value) ([]byte, error) {
	switch p.t.kind {
	case kString:
		return appendAvroString(dst, v.String()), nil
	case kEnum:
		s := v.String()
		for i, sym := range p.t.symbols {
			if sym == s {
				return appendAvroLong(dst, int64(i)), nil
			}
		}
		return dst, errNotTyped
	case kLong, kInt:
		return appendAvroLong(dst, v.Int()), nil
	case kDouble:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float())), nil
	case kFloat:
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float()))), nil
	case kBoolean:
		if v.Bool() {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case kBytes:
		b := v.Bytes()
		dst = appendAvroLong(dst, int64(len(b)))
		return append(dst, b...), nil
	case kArray:
		n := v.Len()
		if n > 0 {
			// One block of every item: goavro splits blocks only past math.MaxInt32 items.
			dst = appendAvroLong(dst, int64(n))
			for i := 0; i < n; i++ {
				var err error
				if dst, err = appendTyped(dst, p.elem, v.Index(i)); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case kUnion:
		// ["null", T]: branch 0 for nil, 1 and the value for the rest.
		if v.IsNil() {
			return append(dst, 0), nil
		}
		return appendTyped(append(dst, 2), p.elem, v.Elem())
	case kRecord:
		for i := range p.fields {
			f := &p.fields[i]
			var err error
			if dst, err = appendTyped(dst, f.p, v.FieldByIndex(f.index)); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, errNotTyped // unreachable: compilePlan maps no other kind
}

// appendAvroLong appends n as Avro writes an int or a long: zig-zag, then a varint.
func appendAvroLong(dst []byte, n int64) []byte {
	return binary.AppendUvarint(dst, uint64(n<<1)^uint64(n>>63))
}

// appendAvroString appends s as Avro writes a string: its length, then its bytes.
func appendAvroString(dst []byte, s string) []byte {
	return append(appendAvroLong(dst, int64(len(s))), s...)
}
