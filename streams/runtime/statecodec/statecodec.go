// Package statecodec is the binary encoding of partition states in snapshots
// (streams/runtime Snapshotter): unsigned and signed varints, fixed-size
// digests, length-prefixed strings and tables of interned strings, written in
// the order the encoder is called. It has no schema and no field tags: each
// processor's EncodeState and DecodeState walk the same fields in the same
// order, under a state version that changes whenever that order or meaning
// does. Encoders that walk their maps in a sorted order produce the same
// bytes for equal states, which the processors' tests use.
//
// A Decoder never panics on malformed input: every read is bounds checked,
// the first error sticks (later reads return zero values), and counts are
// refused when the input could not hold that many elements, so a damaged
// snapshot costs an error, not an allocation of its claimed size.
package statecodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"unique"
)

// flushAt is the size at which an Encoder hands its buffer to its writer.
const flushAt = 64 << 10

// Encoder writes values to an io.Writer through a buffer. Its methods record
// the first write error, which Close returns.
type Encoder struct {
	w   io.Writer
	buf []byte
	err error
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w, buf: make([]byte, 0, flushAt+1024)} }

func (e *Encoder) maybeFlush() {
	if len(e.buf) >= flushAt {
		e.flush()
	}
}

func (e *Encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

// Close writes what is buffered and returns the first error of the encoder.
func (e *Encoder) Close() error {
	e.flush()
	return e.err
}

// Uvarint writes v as an unsigned varint.
func (e *Encoder) Uvarint(v uint64) {
	e.buf = binary.AppendUvarint(e.buf, v)
	e.maybeFlush()
}

// Varint writes v as a zig-zag varint.
func (e *Encoder) Varint(v int64) {
	e.buf = binary.AppendVarint(e.buf, v)
	e.maybeFlush()
}

// Len writes a count (of a map or slice that follows).
func (e *Encoder) Len(n int) { e.Uvarint(uint64(n)) }

// Int writes v as a zig-zag varint.
func (e *Encoder) Int(v int) { e.Varint(int64(v)) }

// Bool writes b as one byte.
func (e *Encoder) Bool(b bool) {
	v := byte(0)
	if b {
		v = 1
	}
	e.buf = append(e.buf, v)
	e.maybeFlush()
}

// Float64 writes f as its 8 IEEE 754 bytes.
func (e *Encoder) Float64(f float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
	e.maybeFlush()
}

// Bytes16 writes a 16-byte digest as is.
func (e *Encoder) Bytes16(b [16]byte) {
	e.buf = append(e.buf, b[:]...)
	e.maybeFlush()
}

// String writes s with its length.
func (e *Encoder) String(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	if len(s) > flushAt {
		e.flush()
		if e.err == nil {
			_, e.err = io.WriteString(e.w, s)
		}
		return
	}
	e.buf = append(e.buf, s...)
	e.maybeFlush()
}

// Interned is the encoder's table of interned strings of one type: the
// first occurrence of a value is written in full, every later one as its
// index, so names that repeat across millions of keys (projects, annotators,
// values) cost a byte or two each. Use one table per Encoder and value type,
// and the matching Handles when decoding, in the same order.
type Interned[T ~string] struct {
	idx map[unique.Handle[T]]uint64
}

// Put writes h: 0 and the value the first time, then the index plus one.
func (t *Interned[T]) Put(e *Encoder, h unique.Handle[T]) {
	if t.idx == nil {
		t.idx = map[unique.Handle[T]]uint64{}
	}
	if i, ok := t.idx[h]; ok {
		e.Uvarint(i + 1)
		return
	}
	t.idx[h] = uint64(len(t.idx))
	e.Uvarint(0)
	e.String(string(h.Value()))
}

// Handles is the decoder's table matching an Interned: it returns the same
// interned handles, made once per distinct value.
type Handles[T ~string] struct {
	vals []unique.Handle[T]
}

// Get reads a handle written by Interned.Put.
func (t *Handles[T]) Get(d *Decoder) unique.Handle[T] {
	i := d.Uvarint()
	if d.err != nil {
		return unique.Handle[T]{}
	}
	if i == 0 {
		v := d.String()
		if d.err != nil {
			return unique.Handle[T]{}
		}
		h := unique.Make(T(v))
		t.vals = append(t.vals, h)
		return h
	}
	if i > uint64(len(t.vals)) {
		d.fail(fmt.Errorf("string table reference %d beyond its %d entries", i, len(t.vals)))
		return unique.Handle[T]{}
	}
	return t.vals[i-1]
}

// Names is the encoder's table of plain strings that repeat (an item's
// project, a question id): written like Interned, decoded by NameList into
// one shared string per distinct value.
type Names struct {
	idx map[string]uint64
}

// Put writes s: 0 and the value the first time, then the index plus one.
func (t *Names) Put(e *Encoder, s string) {
	if t.idx == nil {
		t.idx = map[string]uint64{}
	}
	if i, ok := t.idx[s]; ok {
		e.Uvarint(i + 1)
		return
	}
	t.idx[s] = uint64(len(t.idx))
	e.Uvarint(0)
	e.String(s)
}

// NameList is the decoder's table matching a Names.
type NameList struct {
	vals []string
}

// Get reads a string written by Names.Put.
func (t *NameList) Get(d *Decoder) string {
	i := d.Uvarint()
	if d.err != nil {
		return ""
	}
	if i == 0 {
		v := d.String()
		if d.err == nil {
			t.vals = append(t.vals, v)
		}
		return v
	}
	if i > uint64(len(t.vals)) {
		d.fail(fmt.Errorf("name table reference %d beyond its %d entries", i, len(t.vals)))
		return ""
	}
	return t.vals[i-1]
}

// Decoder reads what an Encoder wrote, from memory.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder returns a decoder of everything r holds. A *bytes.Buffer (or
// any reader with a Bytes method) is read without a copy.
func NewDecoder(r io.Reader) (*Decoder, error) {
	if b, ok := r.(interface{ Bytes() []byte }); ok {
		return &Decoder{b: b.Bytes()}, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return &Decoder{b: b}, nil
}

// FromBytes returns a decoder of b.
func FromBytes(b []byte) *Decoder { return &Decoder{b: b} }

// ErrTruncated is wrapped by the error of a read past the end of the input.
var ErrTruncated = errors.New("truncated state")

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Fail records err as the decoder's error (unless one is recorded already),
// for checks of the caller's own: a value out of range, a duplicate key.
func (d *Decoder) Fail(err error) { d.fail(err) }

// Err returns the first error of the decoder.
func (d *Decoder) Err() error { return d.err }

// Finish returns the decoder's error, or an error when input is left over
// (the state was written by an encoder with more fields).
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if d.off != len(d.b) {
		return fmt.Errorf("%d bytes left after the state", len(d.b)-d.off)
	}
	return nil
}

// Remaining is the number of bytes not read yet.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(fmt.Errorf("%w: varint at byte %d", ErrTruncated, d.off))
		} else {
			d.fail(fmt.Errorf("varint overflows 64 bits at byte %d", d.off))
		}
		return 0
	}
	d.off += n
	return v
}

// Varint reads a zig-zag varint.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		if n == 0 {
			d.fail(fmt.Errorf("%w: varint at byte %d", ErrTruncated, d.off))
		} else {
			d.fail(fmt.Errorf("varint overflows 64 bits at byte %d", d.off))
		}
		return 0
	}
	d.off += n
	return v
}

// Len reads a count of elements each taking at least minBytes bytes of
// input, refusing one the rest of the input cannot hold.
func (d *Decoder) Len(minBytes int) int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if minBytes < 1 {
		minBytes = 1
	}
	if n > uint64(d.Remaining()/minBytes) {
		d.fail(fmt.Errorf("%w: %d elements announced at byte %d, %d bytes left", ErrTruncated, n, d.off, d.Remaining()))
		return 0
	}
	return int(n)
}

// Int reads a varint that must fit an int (counts, sizes, indices).
func (d *Decoder) Int() int {
	v := d.Varint()
	if v < math.MinInt || v > math.MaxInt {
		d.fail(fmt.Errorf("integer %d out of range", v))
		return 0
	}
	return int(v)
}

// Int32 reads a varint that must fit an int32.
func (d *Decoder) Int32() int32 {
	v := d.Varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(fmt.Errorf("integer %d out of the int32 range", v))
		return 0
	}
	return int32(v)
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.Remaining() {
		d.fail(fmt.Errorf("%w: %d bytes wanted at byte %d, %d left", ErrTruncated, n, d.off, d.Remaining()))
		return nil
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	return b
}

// Bool reads a byte written by Bool.
func (d *Decoder) Bool() bool {
	b := d.take(1)
	if b == nil {
		return false
	}
	switch b[0] {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(fmt.Errorf("boolean byte %d at byte %d", b[0], d.off-1))
	return false
}

// Float64 reads 8 bytes written by Float64.
func (d *Decoder) Float64() float64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// Bytes16 reads a 16-byte digest.
func (d *Decoder) Bytes16() [16]byte {
	var out [16]byte
	copy(out[:], d.take(16))
	return out
}

// String reads a length-prefixed string.
func (d *Decoder) String() string {
	n := d.Uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(d.Remaining()) {
		d.fail(fmt.Errorf("%w: string of %d bytes at byte %d, %d left", ErrTruncated, n, d.off, d.Remaining()))
		return ""
	}
	return string(d.take(int(n)))
}

// Compare16 orders 16-byte digests as big-endian numbers (bytes.Compare's
// order, in two loads).
func Compare16(a, b [16]byte) int {
	if x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	x, y := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// SortedKeys16 returns the keys of a map keyed by 16-byte digests, in
// Compare16 order: the order in which encoders write such maps, so equal
// states encode to equal bytes.
func SortedKeys16[K ~[16]byte, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	SortByDigest(keys, func(k K) [16]byte { return [16]byte(k) }, nil)
	return keys
}

// SortByDigest sorts xs by the 16-byte digest key returns for each (Compare16
// order), elements with equal digests by tie (nil: left in any order). For
// digests of uniformly random bits (SHA-256 of ids) it takes linear time: a
// counting sort on their leading bits puts each element in a bucket of
// about one, and only the buckets are sorted by comparison; a snapshot of
// millions of keys is sorted several times faster than by comparisons alone.
func SortByDigest[T any](xs []T, key func(T) [16]byte, tie func(a, b T) int) {
	full := func(a, b T) int {
		if c := Compare16(key(a), key(b)); c != 0 || tie == nil {
			return c
		}
		return tie(a, b)
	}
	n := len(xs)
	if n < 1024 {
		slices.SortFunc(xs, full)
		return
	}
	shift := 64 - bits.Len(uint(n))
	bucket := make([]uint32, n)
	starts := make([]int, 1<<(64-shift)+1)
	for i, x := range xs {
		k := key(x)
		b := uint32(binary.BigEndian.Uint64(k[:8]) >> shift)
		bucket[i] = b
		starts[b+1]++
	}
	for i := 1; i < len(starts); i++ {
		starts[i] += starts[i-1]
	}
	out := make([]T, n)
	next := slices.Clone(starts)
	for i, x := range xs {
		out[next[bucket[i]]] = x
		next[bucket[i]]++
	}
	for b := 0; b+1 < len(starts); b++ {
		if lo, hi := starts[b], starts[b+1]; hi-lo > 1 {
			slices.SortFunc(out[lo:hi], full)
		}
	}
	copy(xs, out)
}
