package schemas

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// filler sets Go values of a plan's types from a stream of bytes (a fuzzer's, or random
// ones): strings of any bytes, numbers at their edges, nil and empty slices and pointers,
// enum values that are symbols and, rarely, ones that are not.
type filler struct{ b []byte }

func (f *filler) byte() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *filler) uint64() uint64 {
	var x [8]byte
	for i := range x {
		x[i] = f.byte()
	}
	return binary.LittleEndian.Uint64(x[:])
}

func (f *filler) str() string {
	n := int(f.byte() % 40)
	if n > len(f.b) {
		n = len(f.b)
	}
	s := string(f.b[:n])
	f.b = f.b[n:]
	return s
}

func (f *filler) int64() int64 {
	switch f.byte() % 6 {
	case 0:
		return 0
	case 1:
		return math.MaxInt64
	case 2:
		return math.MinInt64
	case 3:
		return -int64(f.byte())
	default:
		return int64(f.uint64())
	}
}

func (f *filler) float64() float64 {
	switch f.byte() % 7 {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.Copysign(0, -1)
	case 4:
		return float64(int8(f.byte())) / 4
	default:
		return math.Float64frombits(f.uint64())
	}
}

func (f *filler) fill(p *plan, v reflect.Value) {
	switch p.t.kind {
	case kString:
		v.SetString(f.str())
	case kEnum:
		if c := f.byte(); c == 255 {
			v.SetString(f.str()) // most likely no symbol: goavro refuses it
		} else {
			v.SetString(p.t.symbols[int(c)%len(p.t.symbols)])
		}
	case kLong:
		v.SetInt(f.int64())
	case kInt:
		v.SetInt(int64(int32(f.int64())))
	case kDouble, kFloat:
		v.SetFloat(f.float64())
	case kBoolean:
		v.SetBool(f.byte()%2 == 1)
	case kBytes:
		switch c := f.byte() % 3; c {
		case 0:
			v.SetZero()
		case 1:
			v.SetBytes([]byte{})
		default:
			v.SetBytes([]byte(f.str()))
		}
	case kArray:
		n := int(f.byte() % 5)
		if n == 0 {
			if f.byte()%2 == 0 {
				v.SetZero()
			} else {
				v.Set(reflect.MakeSlice(p.goType, 0, 0))
			}
			return
		}
		s := reflect.MakeSlice(p.goType, n, n)
		for i := range n {
			f.fill(p.elem, s.Index(i))
		}
		v.Set(s)
	case kUnion:
		if f.byte()%3 == 0 {
			v.SetZero()
			return
		}
		ptr := reflect.New(p.goType.Elem())
		f.fill(p.elem, ptr.Elem())
		v.Set(ptr)
	case kRecord:
		for _, fp := range p.fields {
			f.fill(fp.p, v.FieldByIndex(fp.index))
		}
	}
}

// sameAsGoavro encodes ev with the typed encoder and with goavro from its native form, and
// fails unless both write the same bytes, or both refuse it.
func sameAsGoavro(t *testing.T, ev Event) {
	t.Helper()
	typ := ev.Type()
	sv, p := registry.current[typ], registry.plans[typ]
	got, err := appendEvent([]byte("x"), p, reflect.ValueOf(ev).Elem(), typ)
	want, werr := sv.codec.BinaryFromNative([]byte("x"), nativeEvent(p, ev))
	if (err != nil) != (werr != nil) {
		t.Fatalf("%s %+v: typed encoder error %v, goavro's %v", typ, ev, err, werr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%s %+v:\ntyped  %x\ngoavro %x", typ, ev, got, want)
	}
	// Append falls back to goavro for what the typed encoder leaves to it: its answer is
	// goavro's either way.
	if out, aerr := sv.appendBody([]byte("x"), ev); werr == nil && (aerr != nil || !bytes.Equal(out, want)) || werr != nil && aerr == nil {
		t.Fatalf("%s %+v: appendBody %x, %v; goavro %x, %v", typ, ev, out, aerr, want, werr)
	}
}

// TestTypedEncoderIsGoavro holds the typed encoder to goavro for every event type: its
// example, its zero value, and random values of every field (numbers at their edges, NaN,
// strings of any bytes, nil and empty lists and optional records, enum values that are not
// symbols), with event_type always written from the type.
func TestTypedEncoderIsGoavro(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 17))
	for _, typ := range EventTypes() {
		ex, err := Example(typ, Subject{N: 3})
		if err != nil {
			t.Fatal(err)
		}
		sameAsGoavro(t, ex)
		zero, _ := New(typ)
		sameAsGoavro(t, zero)
		for range 200 {
			b := make([]byte, 400)
			for i := range b {
				b[i] = byte(rnd.Uint32())
			}
			ev, _ := New(typ)
			(&filler{b}).fill(registry.plans[typ], reflect.ValueOf(ev).Elem())
			sameAsGoavro(t, ev)
		}
	}
}

// FuzzTypedEncoder is TestTypedEncoderIsGoavro's random values from the fuzzer's bytes, the
// first choosing the event type.
func FuzzTypedEncoder(f *testing.F) {
	f.Add([]byte{0})
	f.Add(bytes.Repeat([]byte{7, 255, 3}, 100))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 50))
	types := EventTypes()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		typ := types[int(b[0])%len(types)]
		ev, _ := New(typ)
		(&filler{b[1:]}).fill(registry.plans[typ], reflect.ValueOf(ev).Elem())
		sameAsGoavro(t, ev)
	})
}
