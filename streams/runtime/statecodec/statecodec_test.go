package statecodec

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unique"
)

type value string

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	var names Names
	var vals Interned[value]
	long := strings.Repeat("x", flushAt+10) // longer than the buffer: written through
	e.Uvarint(math.MaxUint64)
	e.Varint(math.MinInt64)
	e.Int(-7)
	e.Len(3)
	e.Bool(true)
	e.Bool(false)
	e.Float64(math.Pi)
	e.Bytes16([16]byte{1, 2, 3})
	e.String("")
	e.String(long)
	for _, s := range []string{"a", "b", "a", "a", "b", "c"} {
		names.Put(e, s)
		vals.Put(e, unique.Make(value(s)))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	size := buf.Len()
	d, err := NewDecoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var list NameList
	var handles Handles[value]
	if d.Uvarint() != math.MaxUint64 || d.Varint() != math.MinInt64 || d.Int() != -7 || d.Len(1) != 3 || !d.Bool() || d.Bool() ||
		d.Float64() != math.Pi || d.Bytes16() != [16]byte{1, 2, 3} || d.String() != "" || d.String() != long {
		t.Fatalf("values differ: %v", d.Err())
	}
	for _, s := range []string{"a", "b", "a", "a", "b", "c"} {
		if got := list.Get(d); got != s {
			t.Fatalf("name %q, want %q", got, s)
		}
		if got := handles.Get(d); got != unique.Make(value(s)) {
			t.Fatalf("handle %q, want %q", got.Value(), s)
		}
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	// Varints of 10, 10, 1, 1 bytes, 2 booleans, a float, a digest, two strings; then each
	// table writes its 3 distinct names in full (3 bytes) and its 3 repeats as one byte.
	if want := 10 + 10 + 1 + 1 + 2 + 8 + 16 + 1 + 3 + len(long) + 2*(3*3+3); size != want {
		t.Errorf("%d bytes, want %d", size, want)
	}
}

func TestDecoderRefusesDamagedInput(t *testing.T) {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	var names Names
	e.Len(2)
	names.Put(e, "project")
	names.Put(e, "project")
	e.Bytes16([16]byte{9})
	e.Float64(1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	read := func(b []byte) error {
		d := FromBytes(b)
		var list NameList
		n := d.Len(1)
		for range n {
			list.Get(d)
		}
		d.Bytes16()
		d.Float64()
		return d.Finish()
	}
	if err := read(full); err != nil {
		t.Fatal(err)
	}
	for i := range len(full) {
		if err := read(full[:i]); !errors.Is(err, ErrTruncated) {
			t.Errorf("truncated to %d bytes: %v", i, err)
		}
	}
	if err := read(append(slices.Clone(full), 0)); err == nil {
		t.Error("a trailing byte was accepted")
	}
	// A reference beyond the table, a count the input cannot hold, a bad boolean.
	if err := read([]byte{1, 5}); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Errorf("reference beyond the table: %v", err)
	}
	if err := read([]byte{0xff, 0xff, 0xff, 0x7f}); !errors.Is(err, ErrTruncated) {
		t.Errorf("a count of 268 million in 4 bytes: %v", err)
	}
	d := FromBytes([]byte{2})
	if d.Bool(); d.Err() == nil {
		t.Error("boolean byte 2 accepted")
	}
}

func TestSortByDigest(t *testing.T) {
	type kv struct {
		k [16]byte
		v int
	}
	for _, n := range []int{0, 5, 1023, 1024, 5000, 70_000} {
		xs := make([]kv, n)
		for i := range xs {
			h := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
			xs[i] = kv{[16]byte(h[:16]), i}
			if i%10 == 0 && i > 0 {
				xs[i].k = xs[i-1].k // ties, broken by v
			}
		}
		want := slices.Clone(xs)
		cmpKV := func(a, b kv) int { return cmp.Or(bytes.Compare(a.k[:], b.k[:]), cmp.Compare(a.v, b.v)) }
		slices.SortFunc(want, cmpKV)
		SortByDigest(xs, func(x kv) [16]byte { return x.k }, func(a, b kv) int { return cmp.Compare(a.v, b.v) })
		if !slices.Equal(xs, want) {
			t.Fatalf("%d elements: not in Compare16 order, ties by v", n)
		}
	}
}

func TestSortedKeys16(t *testing.T) {
	m := map[[16]byte]int{{2}: 0, {1, 9}: 0, {1, 0, 0, 0, 0, 0, 0, 0, 5}: 0, {1}: 0}
	got := SortedKeys16(m)
	if !slices.IsSortedFunc(got, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }) || len(got) != 4 {
		t.Fatalf("%v", got)
	}
}
