package gateway

import (
	"crypto/sha256"
	"hash"
	"io"
	"sort"
	"unicode"
	"unicode/utf8"
)

// Sizes of the pieces a body is read into. A piece is charged before it is allocated, and
// the next is allocated only once the last is full, so a body is charged for at most one
// piece more than it has read; the pieces grow with the body (a small request takes one
// small piece, a large one pieces of readChunk) and end exactly at a declared
// Content-Length.
//
// What keeps the pieces (a slice header and an offset each: 32 bytes per 64 KiB, 0.05%) is
// not counted, so that a body of exactly what a request may hold can be read.
const minChunk = 4 << 10

// body is a request body in memory, decoded: pieces of at most readChunk bytes, every one
// charged to the request's hold before it was allocated, so the bytes a body holds are
// bytes charged and there is no second copy of it (the events are cut out of the pieces in
// place, see splitter). Pieces the request is done with are dropped as it goes (release).
//
// A body also keeps what a DLQ record of a body rejected for its size needs however much of
// it is dropped: its size and the SHA-256 of the bytes read.
type body struct {
	h *hold // nil: not accounted (a body the caller already holds, as in DecodeRequest)
	// chunks are the pieces, all full but the last; a dropped piece is nil.
	chunks [][]byte
	// ends[i] is the offset just past chunks[i].
	ends []int64
	size int64
	// dropped is how many pieces from the start release has passed.
	dropped int
	// last is the piece chunkAt found last.
	last int
	sum  hash.Hash
}

// bodyOf is a body over bytes already in memory, in one piece.
func bodyOf(b []byte) *body {
	return &body{chunks: [][]byte{b}, ends: []int64{int64(len(b))}, size: int64(len(b))}
}

// readBody reads src into a new body charged to h, at most limit bytes: past it the read
// stops with errBodyTooLarge (the body then holds the first limit bytes). declared is the
// Content-Length the bytes of src must end at, or -1. Other errors are the reader's or the
// hold's (errNoRoom, errOverShare, the request's context ending); the body holds what was
// read before them.
func readBody(src io.Reader, h *hold, limit, declared int64) (*body, error) {
	b := &body{h: h, sum: sha256.New()}
	for {
		last := len(b.chunks) - 1
		if last < 0 || len(b.chunks[last]) == cap(b.chunks[last]) {
			n := min(max(b.size, minChunk), readChunk, limit-b.size)
			if declared >= 0 {
				n = min(n, declared-b.size)
			}
			if n <= 0 {
				// At the limit or at the declared length: is there more?
				var probe [1]byte
				m, err := io.ReadFull(src, probe[:])
				switch {
				case m > 0 && b.size >= limit:
					return b, errBodyTooLarge
				case m > 0:
					// Past the declared length (net/http never gives that): read on to the limit.
					declared = -1
					if err := b.grow(min(max(b.size, minChunk), readChunk, limit-b.size)); err != nil {
						return b, err
					}
					b.append(probe[:m])
					continue
				case err == io.EOF:
					return b, nil
				default:
					return b, err
				}
			}
			if err := b.grow(n); err != nil {
				return b, err
			}
			last++
		}
		c := b.chunks[last]
		m, err := src.Read(c[len(c):cap(c)])
		if m > 0 {
			b.chunks[last] = c[:len(c)+m]
			b.sum.Write(c[len(c) : len(c)+m])
			b.size += int64(m)
			b.ends[last] = b.size
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// grow charges and adds an empty piece of capacity n.
func (b *body) grow(n int64) error {
	if err := b.h.alloc(n); err != nil {
		return err
	}
	b.chunks = append(b.chunks, make([]byte, 0, n))
	b.ends = append(b.ends, b.size)
	return nil
}

// append adds p to the last piece, which has room for it.
func (b *body) append(p []byte) {
	last := len(b.chunks) - 1
	b.chunks[last] = append(b.chunks[last], p...)
	if b.sum != nil {
		b.sum.Write(p)
	}
	b.size += int64(len(p))
	b.ends[last] = b.size
}

// held is the capacity of the pieces kept: what the body holds.
func (b *body) held() int64 {
	var n int64
	for _, c := range b.chunks {
		n += int64(cap(c))
	}
	return n
}

// sha256 is the SHA-256 of every byte read (for a body not read by readBody, of the pieces
// it holds).
func (b *body) sha256() []byte {
	if b.sum == nil {
		h := sha256.New()
		for _, c := range b.chunks {
			h.Write(c)
		}
		return h.Sum(nil)
	}
	return b.sum.Sum(nil)
}

// chunkAt returns the index of the piece holding offset off (< size). Scans go forward, so
// it looks at the last piece found and the next first.
func (b *body) chunkAt(off int64) int {
	for _, i := range [2]int{b.last, b.last + 1} {
		if i < len(b.ends) && off < b.ends[i] && off >= b.start(i) {
			b.last = i
			return i
		}
	}
	b.last = sort.Search(len(b.ends), func(i int) bool { return b.ends[i] > off })
	return b.last
}

// start is the offset of piece i.
func (b *body) start(i int) int64 {
	if i == 0 {
		return 0
	}
	return b.ends[i-1]
}

// view returns the bytes from off to the end of their piece (empty at the end of the body).
// The piece must not have been dropped.
func (b *body) view(off int64) []byte {
	if off >= b.size {
		return nil
	}
	i := b.chunkAt(off)
	return b.chunks[i][off-b.start(i):]
}

// at returns the byte at off (< size).
func (b *body) at(off int64) byte { return b.view(off)[0] }

// bytes returns the bytes [from, to): a slice of their piece when they are in one, else a
// copy charged to the hold (charged says how much, to free once the copy is dropped).
func (b *body) bytes(from, to int64) (p []byte, charged int64, err error) {
	if from >= to {
		return []byte{}, 0, nil
	}
	i := b.chunkAt(from)
	if to <= b.ends[i] {
		s := from - b.start(i)
		return b.chunks[i][s : s+to-from : s+to-from], 0, nil
	}
	if b.h != nil {
		if err := b.h.alloc(to - from); err != nil {
			return nil, 0, err
		}
		charged = to - from
	}
	out := make([]byte, 0, to-from)
	for off := from; off < to; {
		v := b.view(off)
		v = v[:min(int64(len(v)), to-off)]
		out = append(out, v...)
		off += int64(len(v))
	}
	return out, charged, nil
}

// asciiSpace is bytes.TrimSpace's set of ASCII white space.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// trimSpace returns [from, to) without the white space bytes.TrimSpace would remove from
// those bytes (ASCII and Unicode spaces), across pieces.
func (b *body) trimSpace(from, to int64) (int64, int64) {
	for from < to {
		if c := b.at(from); c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			from++
			continue
		}
		var buf [utf8.UTFMax]byte
		r, n := utf8.DecodeRune(b.gather(buf[:], from, min(to, from+utf8.UTFMax)))
		if !unicode.IsSpace(r) {
			break
		}
		from += int64(n)
	}
	for to > from {
		if c := b.at(to - 1); c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			to--
			continue
		}
		var buf [utf8.UTFMax]byte
		r, n := utf8.DecodeLastRune(b.gather(buf[:], max(from, to-utf8.UTFMax), to))
		if !unicode.IsSpace(r) {
			break
		}
		to -= int64(n)
	}
	return from, to
}

// gather copies the bytes [from, to) (at most len(dst)) into dst, across pieces.
func (b *body) gather(dst []byte, from, to int64) []byte {
	out := dst[:0]
	for off := from; off < to; {
		v := b.view(off)
		v = v[:min(int64(len(v)), to-off)]
		out = append(out, v...)
		off += int64(len(v))
	}
	return out
}

// skipJSONSpace returns the offset of the first byte at or after off that is not JSON white
// space (space, tab, CR, LF), or size.
func (b *body) skipJSONSpace(off int64) int64 {
	for off < b.size {
		v := b.view(off)
		for i, c := range v {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return off + int64(i)
			}
		}
		off += int64(len(v))
	}
	return off
}

// valueEnd finds the end of the JSON value starting at off, by its brackets and strings
// only (json.Valid checks the rest): the offset just past it, and whether it ends before the
// body does (a number or literal must be followed by something inside an array).
func (b *body) valueEnd(off int64) (end int64, complete bool) {
	first := b.at(off)
	depth, inString, escaped := 0, false, false
	for p := off; p < b.size; {
		v := b.view(p)
		for i, c := range v {
			switch {
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						return p + int64(i) + 1, true
					}
				}
			case c == '"':
				if depth == 0 && p+int64(i) != off {
					return p + int64(i), true // a literal followed by a string: json.Valid refuses it
				}
				inString = true
			case c == '{' || c == '[':
				if depth == 0 && p+int64(i) != off {
					return p + int64(i), true
				}
				depth++
			case c == '}' || c == ']':
				if depth == 0 {
					return p + int64(i), true // the end of a number or literal
				}
				if depth--; depth == 0 {
					return p + int64(i) + 1, true
				}
			case depth == 0 && first != '"' && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':'):
				return p + int64(i), true
			}
		}
		p += int64(len(v))
	}
	return b.size, false
}

// release drops the pieces after the first that end at or before off: the request is done
// with them. Slices of them the request still uses would keep their memory alive, so it
// calls release only past bytes it no longer refers to. The first piece (at most minChunk
// bytes, or the whole of a small body) is kept for a DLQ record's first bytes until the
// request ends or releaseAll.
func (b *body) release(off int64) {
	b.dropped = max(b.dropped, 1)
	for b.dropped < len(b.chunks) && b.ends[b.dropped] <= off {
		b.drop(b.dropped)
		b.dropped++
	}
}

// releaseAll drops every piece.
func (b *body) releaseAll() {
	for i := range b.chunks {
		b.drop(i)
	}
	b.dropped = len(b.chunks)
}

func (b *body) drop(i int) {
	if b.chunks[i] == nil {
		return
	}
	if b.h != nil {
		b.h.free(int64(cap(b.chunks[i])))
	}
	b.chunks[i] = nil
}
