package gateway

import (
	"encoding/json"
	"hash/maphash"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/assay-data/assay/schemas"
)

// The fast decoder: one pass over an event's JSON straight into the struct of its type, for
// the events clients send. It accepts a strict subset of what encoding/json accepts, and
// within it stores exactly what encoding/json would (FuzzDecodeEvent and
// TestFastDecoderIsEncodingJSON hold it to that): every member name spelled as its field's
// JSON name and given once, values of the field's JSON type, numbers an integer field takes
// as they are. Anything else (an unknown or differently spelled name, a duplicate, a wrong
// type, a number out of range, a syntax error, a string with invalid UTF-8) makes it give
// up, and the event is decoded again by encoding/json (decodeSlow), whose answer, errors
// included, is the only one ever given. So its errors need no wording, and it never has to
// skip a value it does not know.

// fastType is how the fast decoder fills one Go type.
type fastType struct {
	kind reflect.Kind
	typ  reflect.Type
	// elem is a slice's element or a pointer's target.
	elem *fastType
	// fields are a struct's fields in order, embedded structs' fields flattened, as
	// encoding/json finds them, and byName their positions by JSON name.
	fields []fastField
	byName map[string]int
}

type fastField struct {
	name  string
	index []int
	t     *fastType
}

// fastTypes are the fast decoder's plans of the event types it can decode; a type it cannot
// (one with a field it does not handle: []byte, a map, an interface, a custom unmarshaler, a
// ,string option, two fields of one name) is absent and always decoded by encoding/json.
var fastTypes = func() map[schemas.EventType]*fastType {
	m := map[schemas.EventType]*fastType{}
	for _, t := range schemas.EventTypes() {
		ev, err := schemas.New(t)
		if err != nil {
			continue
		}
		if ft, ok := fastTypeOf(reflect.TypeOf(ev).Elem(), 0); ok {
			m[t] = ft
		}
	}
	return m
}()

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// fastTypeOf plans t, or reports that the fast decoder leaves it to encoding/json.
func fastTypeOf(t reflect.Type, depth int) (*fastType, bool) {
	if depth > 16 || t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil, false
	}
	ft := &fastType{kind: t.Kind(), typ: t}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float32, reflect.Float64:
		return ft, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, false // base64
		}
		e, ok := fastTypeOf(t.Elem(), depth+1)
		ft.elem = e
		return ft, ok
	case reflect.Pointer:
		e, ok := fastTypeOf(t.Elem(), depth+1)
		ft.elem = e
		return ft, ok && t.Elem().Kind() != reflect.Pointer
	case reflect.Struct:
		ft.byName = map[string]int{}
		if !addFields(ft, t, nil, depth) || len(ft.fields) > 64 {
			return nil, false // more fields than the set of given ones holds
		}
		return ft, true
	}
	return nil, false
}

// addFields adds the JSON fields of struct t, at index path prefix, to ft, the way
// encoding/json finds them (exported fields by their tag's name or their own, the fields of
// embedded structs without a tag name flattened), refusing what it does not follow: a name
// given twice (or two that encoding/json would match to the same member name, ignoring
// case), a ,string option, a name encoding/json would not take as a tag.
func addFields(ft *fastType, t reflect.Type, prefix []int, depth int) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",string,") {
			return false
		}
		if f.Anonymous {
			if name == "" && f.Type.Kind() == reflect.Struct {
				if !addFields(ft, f.Type, index, depth+1) {
					return false
				}
				continue
			}
			if f.Type.Kind() == reflect.Pointer || name == "" {
				return false // embedded pointers, and other embedded types: not in the contract
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
		for _, other := range ft.fields {
			if strings.EqualFold(other.name, name) {
				return false
			}
		}
		sub, ok := fastTypeOf(f.Type, depth+1)
		if !ok {
			return false
		}
		ft.byName[name] = len(ft.fields)
		ft.fields = append(ft.fields, fastField{name: name, index: index, t: sub})
	}
	return true
}

// decodeFast decodes raw (trimmed, an object) into ev, of type t, and reports whether it
// did, with the event's content hash (contentHash's, computed on the way); when it did not,
// ev is half filled and must be dropped. Each list is counted before it is decoded, its
// backing array made at its exact size, and, with h set, charged to h first: its elements'
// Go size plus elementWork each (what checking an element may hold besides it). charged is
// what it charged, to be given back by the caller, whatever the outcome; err is h's
// refusal: the decoder stopped, and ev must be dropped.
func decodeFast(raw []byte, t schemas.EventType, ev schemas.Event, h *hold) (hash uint64, ok bool, charged int64, err error) {
	ft := fastTypes[t]
	if ft == nil {
		return 0, false, 0, nil
	}
	d := fastDecoder{b: raw, hold: h}
	d.h.SetSeed(hashSeed)
	if !d.value(ft, reflect.ValueOf(ev).Elem()) {
		return 0, false, d.charged, d.err
	}
	d.space()
	if d.i != len(d.b) || ev.Meta().EventType != t {
		return 0, false, d.charged, nil
	}
	d.h.Write(d.b[d.run:])
	return d.h.Sum64(), true, d.charged, nil
}

// maxElementBytes is the Go size of the largest element of any list of the contract's
// events (104 bytes at this writing: the gate's TargetCheck; a Box is 56), for the charge
// of a list decoded by encoding/json, whose element types the gateway does not follow.
var maxElementBytes = func() int64 {
	var largest int64
	var walk func(t *fastType, depth int)
	walk = func(t *fastType, depth int) {
		if t == nil || depth > 16 {
			return
		}
		if t.kind == reflect.Slice {
			largest = max(largest, int64(t.elem.typ.Size()))
		}
		walk(t.elem, depth+1)
		for _, f := range t.fields {
			walk(f.t, depth+1)
		}
	}
	for _, ft := range fastTypes {
		walk(ft, 0)
	}
	return largest
}()

// fastDecoder reads one JSON value from b at i. It hashes what it reads without the
// whitespace between tokens into h (see contentHash): run is where the bytes not yet hashed
// start.
type fastDecoder struct {
	b   []byte
	i   int
	h   maphash.Hash
	run int
	// hold, when set, is charged the memory of each list before it is made: charged in all,
	// err its refusal.
	hold    *hold
	charged int64
	err     error
}

// space skips whitespace, hashing the run of bytes before it.
func (d *fastDecoder) space() {
	if d.i == len(d.b) || !isSpace(d.b[d.i]) {
		return
	}
	d.h.Write(d.b[d.run:d.i])
	for d.i++; d.i < len(d.b) && isSpace(d.b[d.i]); d.i++ {
	}
	d.run = d.i
}

// literal consumes s if it is next.
func (d *fastDecoder) literal(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// value stores the next JSON value into v, of type t.
func (d *fastDecoder) value(t *fastType, v reflect.Value) bool {
	d.space()
	if d.i == len(d.b) {
		return false
	}
	c := d.b[d.i]
	if c == 'n' {
		if !d.literal("null") {
			return false
		}
		// As encoding/json: null empties a pointer or a slice, and leaves anything else.
		if t.kind == reflect.Pointer || t.kind == reflect.Slice {
			v.SetZero()
		}
		return true
	}
	switch t.kind {
	case reflect.String:
		s, ok := d.str()
		if ok {
			v.SetString(s)
		}
		return ok
	case reflect.Bool:
		switch {
		case d.literal("true"):
			v.SetBool(true)
		case d.literal("false"):
			v.SetBool(false)
		default:
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := d.integer()
		if !ok || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	case reflect.Float32, reflect.Float64:
		num, ok := d.number()
		if !ok {
			return false
		}
		// unsafe.String: strconv keeps no reference to a number it parsed.
		f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), t.typ.Bits())
		if err != nil || v.OverflowFloat(f) {
			return false
		}
		v.SetFloat(f)
		return true
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.typ.Elem()))
		}
		return d.value(t.elem, v.Elem())
	case reflect.Slice:
		return d.array(t, v)
	case reflect.Struct:
		return d.object(t, v)
	}
	return false
}

// array stores a JSON array into the slice v, as encoding/json does: an empty array is an
// empty slice, not nil. Its elements are counted first, and the slice is made (and charged)
// at that size: growing it as encoding/json does (by about a quarter at a time once large)
// would allocate some five times its final size over the way, and a list of empty objects
// ("boxes":[{},{},...], three bytes a Box of 56) would make a 512 KiB event allocate tens
// of megabytes.
func (d *fastDecoder) array(t *fastType, v reflect.Value) bool {
	if d.b[d.i] != '[' {
		return false
	}
	count := elementsAt(d.b, d.i)
	if count < 0 {
		return false // not closed: not JSON
	}
	if count > v.Cap() {
		if d.hold != nil {
			n := int64(count-v.Len()) * (int64(t.elem.typ.Size()) + elementWork)
			if err := d.hold.alloc(n); err != nil {
				d.err = err
				return false
			}
			d.charged += n
		}
		v.Grow(count - v.Len())
	}
	d.i++
	n := 0
	for {
		d.space()
		if d.i == len(d.b) {
			return false
		}
		if d.b[d.i] == ']' && n == 0 {
			d.i++
			break
		}
		if n >= v.Cap() {
			// Room for a few items at once: the lists of an event are short.
			v.Grow(max(4-n, 1))
		}
		if n >= v.Len() {
			v.SetLen(n + 1)
		}
		if !d.value(t.elem, v.Index(n)) {
			return false
		}
		n++
		d.space()
		if d.i == len(d.b) {
			return false
		}
		if c := d.b[d.i]; c == ']' {
			d.i++
			break
		} else if c != ',' {
			return false
		}
		d.i++
	}
	if n < v.Len() {
		v.SetLen(n)
	}
	if n == 0 {
		v.Set(reflect.MakeSlice(t.typ, 0, 0))
	}
	return true
}

// object stores a JSON object into the struct v, each of its members once, by exact name.
func (d *fastDecoder) object(t *fastType, v reflect.Value) bool {
	if d.b[d.i] != '{' {
		return false
	}
	d.i++
	var given uint64 // the fields given, by position
	next := 0        // the field expected next
	for first := true; ; first = false {
		d.space()
		if d.i == len(d.b) {
			return false
		}
		if d.b[d.i] == '}' && first {
			d.i++
			return true
		}
		if d.b[d.i] != '"' {
			return false
		}
		end := stringEnd(d.b, d.i)
		if end < 0 {
			return false
		}
		// Members usually come in the struct's order (every encoder of a struct writes
		// them so): try the field after the last one first.
		name := d.b[d.i+1 : end-1]
		if next >= len(t.fields) || t.fields[next].name != string(name) {
			var ok bool
			if next, ok = t.byName[string(name)]; !ok {
				return false // unknown, or spelled otherwise (escapes and case included)
			}
		}
		if given&(1<<next) != 0 {
			return false // given twice
		}
		given |= 1 << next
		f := &t.fields[next]
		next++
		d.i = end
		d.space()
		if d.i == len(d.b) || d.b[d.i] != ':' {
			return false
		}
		d.i++
		if !d.value(f.t, v.FieldByIndex(f.index)) {
			return false
		}
		d.space()
		if d.i == len(d.b) {
			return false
		}
		if c := d.b[d.i]; c == '}' {
			d.i++
			return true
		} else if c != ',' {
			return false
		}
		d.i++
	}
}

// str reads a JSON string. One with escapes is unquoted by encoding/json itself; one with
// bytes that are not UTF-8 is given up (encoding/json replaces them one by one).
func (d *fastDecoder) str() (string, bool) {
	if d.b[d.i] != '"' {
		return "", false
	}
	end := stringEnd(d.b, d.i)
	if end < 0 {
		return "", false
	}
	s := d.b[d.i+1 : end-1]
	escaped, ascii := false, true
	for _, c := range s {
		switch {
		case c < 0x20:
			return "", false // not JSON
		case c == '\\':
			escaped = true
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	var out string
	switch {
	case escaped:
		// Declared here, so that only an escaped string pays for its escape to the heap.
		var unquoted string
		if json.Unmarshal(d.b[d.i:end], &unquoted) != nil {
			return "", false
		}
		out = unquoted
	case !ascii && !utf8.Valid(s):
		return "", false
	default:
		out = string(s)
	}
	d.i = end
	return out, true
}

// elementsAt counts the elements of the JSON array that starts at b[i] ('['), reading to its
// closing bracket past nested values and strings, or returns -1 when b ends first. It is
// exact for a valid array, and an upper bound of what decoding a broken one can make.
func elementsAt(b []byte, i int) int {
	n, depth, empty := 0, 0, true
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			empty = false
		case '[', '{':
			if depth++; depth > 1 {
				empty = false
			}
		case ']', '}':
			if depth--; depth == 0 {
				if !empty {
					n++
				}
				return n
			}
		case ',':
			if depth == 1 {
				n++
			}
		case ' ', '\t', '\n', '\r':
		default:
			empty = false
		}
	}
	return -1
}

// listElements counts the elements of every JSON array in raw, nested ones included, for
// the charge of an event decoded by encoding/json: one pass, no allocation. It is exact for
// valid JSON, and an upper bound otherwise.
func listElements(raw []byte) int {
	n := 0
	var arrays uint64 // bit d-1 set: the container at depth d (1 to 64) is an array
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			if depth <= 64 {
				if c == '[' {
					arrays |= 1 << (depth - 1)
				} else {
					arrays &^= 1 << (depth - 1)
				}
			}
			if c == '[' {
				if j := skipSpace(raw, i+1); j < len(raw) && raw[j] != ']' {
					n++
				}
			}
		case ']', '}':
			depth = max(depth-1, 0) // unbalanced input: closers beyond the openers are ignored
		case ',':
			// Deeper than 64 the kind is not kept: counted as an array's, an upper bound.
			if depth > 64 || depth >= 1 && arrays&(1<<(depth-1)) != 0 {
				n++
			}
		}
	}
	return n
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// integer reads a JSON number that is an integer as strconv.ParseInt reads it (what
// encoding/json stores into an integer field); anything else (a fraction, an exponent, a
// number out of range, not a number) is given up.
func (d *fastDecoder) integer() (int64, bool) {
	i, neg := d.i, false
	if i < len(d.b) && d.b[i] == '-' {
		neg, i = true, i+1
	}
	start := i
	var u uint64
	for ; i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9'; i++ {
		if u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(d.b[i]-'0')
	}
	digits := i - start
	if digits == 0 || digits > 1 && d.b[start] == '0' || u > 1<<63 || !neg && u == 1<<63 {
		return 0, false
	}
	if i < len(d.b) && (d.b[i] == '.' || d.b[i] == 'e' || d.b[i] == 'E') {
		return 0, false
	}
	d.i = i
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself: math.MinInt64
	}
	return int64(u), true
}

// number reads a JSON number's text, checking its grammar.
func (d *fastDecoder) number() ([]byte, bool) {
	b, i := d.b, d.i
	digits := func() int {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	num := b[d.i:i]
	d.i = i
	return num, true
}
