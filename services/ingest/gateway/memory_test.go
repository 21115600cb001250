package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// allocated returns the bytes the process allocated while f ran (runtime.MemStats'
// TotalAlloc: every allocation, whether or not it is still alive). The tests that use it run
// f on their own goroutine with nothing else working, so what it counts is f's.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// trickle reads r in pieces of random sizes up to 3000 bytes, as a network does.
type trickle struct {
	r   io.Reader
	rnd *rand.Rand
}

func (t *trickle) Read(p []byte) (int, error) {
	return t.r.Read(p[:min(len(p), 1+t.rnd.IntN(3000))])
}

func newTestHold(size int64) *hold {
	return &hold{b: newBudget(size, func(int64) {}), limit: size, ctx: context.Background(), wait: time.Second}
}

// TestReadBodyHoldsWhatItCharged reads bodies the ways they arrive (a Content-Length, a
// chunked body in network-sized reads, a gzip bomb) and checks the accounting: the memory
// the body holds is charged memory (its pieces' capacity equals what the hold accounts, and
// never exceeds what it charged), the charge runs at most one piece ahead of the bytes read,
// and the process allocated no more than the charge and a constant: there is no second copy
// of the body. The same bytes read with io.ReadAll, as the gateway did before, allocate more
// than twice the body, which the measurement must see.
func TestReadBodyHoldsWhatItCharged(t *testing.T) {
	const size = 4 << 20
	line := []byte(`{"event_type":"LabelRetracted","event_id":"e1","label_id":"l","item_id":"i","reason":"r"}` + "\n")
	plain := bytes.Repeat(line, size/len(line))
	bomb := GzipZeros(t, 64<<20)
	const limit = 2 << 20
	// Beside the charge, a read allocates the SHA-256 state and the body's piece list: a
	// few KiB for 4 MiB.
	const constant = 16 << 10

	for _, c := range []struct {
		name     string
		src      func() io.Reader
		limit    int64
		declared int64
		want     error
		bytes    int64 // what the body holds at the end
	}{
		{"content-length", func() io.Reader { return bytes.NewReader(plain) }, 32 << 20, int64(len(plain)), nil, int64(len(plain))},
		{"chunked in network reads", func() io.Reader {
			return &trickle{bytes.NewReader(plain), rand.New(rand.NewPCG(1, 2))}
		}, 32 << 20, -1, nil, int64(len(plain))},
		{"gzip bomb past the limit", func() io.Reader {
			zr, err := gzip.NewReader(bytes.NewReader(bomb))
			if err != nil {
				t.Fatal(err)
			}
			return zr
		}, limit, -1, errBodyTooLarge, limit},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newTestHold(64 << 20)
			src := c.src()
			var b *body
			var err error
			n := allocated(func() { b, err = readBody(src, h, c.limit, c.declared) })
			if !errors.Is(err, c.want) && err != c.want {
				t.Fatalf("read: %v, want %v", err, c.want)
			}
			if b.size != c.bytes {
				t.Fatalf("body of %d bytes, want %d", b.size, c.bytes)
			}
			if held := b.held(); held != h.live || h.live > h.held {
				t.Fatalf("the body holds %d bytes, the hold accounts %d and charged %d", held, h.live, h.held)
			}
			if h.held-b.size >= readChunk {
				t.Fatalf("%d bytes charged for %d read: more than a piece ahead", h.held, b.size)
			}
			if c.declared >= 0 && h.held != c.declared {
				t.Fatalf("%d bytes charged for a body of Content-Length %d", h.held, c.declared)
			}
			if n > uint64(h.held)+constant {
				t.Fatalf("reading allocated %d bytes for %d charged: a copy the budget does not count", n, h.held)
			}
			t.Logf("read %d bytes: charged %d, allocated %d", b.size, h.held, n)
			h.release()
			if h.b.used.Load() != 0 {
				t.Fatalf("%d bytes still charged after release", h.b.used.Load())
			}
		})
	}

	// The measurement sees a second copy: io.ReadAll's.
	if n := allocated(func() { _, _ = io.ReadAll(bytes.NewReader(plain)) }); n < 2*uint64(len(plain)) {
		t.Fatalf("io.ReadAll of %d bytes allocated only %d: the measurement misses copies", len(plain), n)
	}
}

// TestReadBodyBudgetRunsOut: a read that finds no room within its wait stops with errNoRoom
// and holds only what it was charged; a read past what a request may hold stops with
// errOverShare without waiting.
func TestReadBodyBudgetRunsOut(t *testing.T) {
	budget := newBudget(1<<20, func(int64) {})
	first := &hold{b: budget, limit: 1 << 20, ctx: context.Background(), wait: time.Second}
	if _, err := readBody(io.LimitReader(ZeroReader{}, 768<<10), first, 1<<20, -1); err != nil {
		t.Fatal(err)
	}
	second := &hold{b: budget, limit: 1 << 20, ctx: context.Background(), wait: 20 * time.Millisecond}
	b, err := readBody(io.LimitReader(ZeroReader{}, 512<<10), second, 1<<20, -1)
	if !errors.Is(err, errNoRoom) || second.refusedBy != "budget" || b.held() != second.live || budget.peak.Load() > 1<<20 {
		t.Fatalf("second read: %v (refused by %q), holds %d, accounts %d; budget peak %d", err, second.refusedBy, b.held(), second.live, budget.peak.Load())
	}
	small := &hold{b: newBudget(1<<20, func(int64) {}), limit: 100 << 10, ctx: context.Background(), wait: time.Hour}
	start := time.Now()
	if _, err := readBody(io.LimitReader(ZeroReader{}, 200<<10), small, 1<<20, -1); !errors.Is(err, errOverShare) {
		t.Fatalf("a read past the request's limit: %v", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("waited %s for room that can never be", waited)
	}
	first.release()
	second.release()
	if budget.used.Load() != 0 {
		t.Fatalf("%d bytes still charged", budget.used.Load())
	}
}

// TestHoldAccounting: alloc charges only what the charge does not cover, free keeps the
// charge for later allocations, trim gives back the rest, and release everything.
func TestHoldAccounting(t *testing.T) {
	h := newTestHold(100)
	h.limit = 60
	step := func(what string, live, held int64) {
		t.Helper()
		if h.live != live || h.held != held || h.b.used.Load() != held {
			t.Fatalf("%s: live %d, held %d, budget used %d; want %d, %d", what, h.live, h.held, h.b.used.Load(), live, held)
		}
	}
	if err := h.alloc(50); err != nil {
		t.Fatal(err)
	}
	step("alloc 50", 50, 50)
	h.free(30)
	step("free 30", 20, 50)
	if err := h.alloc(20); err != nil {
		t.Fatal(err)
	}
	step("alloc 20 within the charge", 40, 50)
	if err := h.alloc(20); err != nil {
		t.Fatal(err)
	}
	step("alloc 20 past it", 60, 60)
	if err := h.alloc(1); !errors.Is(err, errOverShare) {
		t.Fatalf("alloc past the request's limit: %v", err)
	}
	step("refused alloc", 60, 60)
	h.free(45)
	h.trim()
	step("trim", 15, 15)
	h.release()
	step("release", 0, 0)
}

// TestShares: a principal holds at most its share; its next request waits and is refused
// for the share, while another principal still finds room in the budget, until the budget
// itself is full. A share given back is taken again.
func TestShares(t *testing.T) {
	budget := newBudget(100, func(int64) {})
	sh := newShares(50)
	holdOf := func(principal string) *hold {
		return &hold{b: budget, share: sh.of(principal), limit: sh.size, ctx: context.Background(), wait: 20 * time.Millisecond}
	}
	a1, a2, b1, c1 := holdOf("a"), holdOf("a"), holdOf("b"), holdOf("c")
	if err := a1.alloc(50); err != nil {
		t.Fatal(err)
	}
	if err := a2.alloc(1); !errors.Is(err, errNoRoom) || a2.refusedBy != "share" {
		t.Fatalf("a's second request past a's share: %v, refused by %q", err, a2.refusedBy)
	}
	if err := b1.alloc(50); err != nil {
		t.Fatalf("b while a holds its share: %v", err)
	}
	if err := c1.alloc(1); !errors.Is(err, errNoRoom) || c1.refusedBy != "budget" {
		t.Fatalf("c with the budget full: %v, refused by %q", err, c1.refusedBy)
	}
	if err := a1.alloc(1); !errors.Is(err, errOverShare) {
		t.Fatalf("a request past the share: %v", err)
	}
	a1.release()
	if err := a2.alloc(30); err != nil {
		t.Fatalf("a after its first request ended: %v", err)
	}
	if budget.peak.Load() > 100 {
		t.Fatalf("budget peak %d over its size", budget.peak.Load())
	}
	for _, h := range []*hold{a2, b1, c1} {
		h.release()
	}
	if budget.used.Load() != 0 {
		t.Fatalf("%d bytes still charged", budget.used.Load())
	}
	if err := holdOf("a").alloc(50); err != nil {
		t.Fatalf("a's whole share after everything was given back: %v", err)
	}
}

// TestSplitterOverPieces cuts bodies read in pieces of every size and checks that the
// elements (and the request-level errors) are exactly those of the same body in one piece,
// and that the copies of elements across pieces are charged and given back.
func TestSplitterOverPieces(t *testing.T) {
	ok := `{"event_type":"LabelRetracted","event_id":"e1","label_id":"l","item_id":"i","reason":"r \"quoted\" [x] {y}"}`
	bodies := []struct{ ct, body string }{
		{"", "[" + ok + ", " + ok + " ,\n" + ok + "]  \n"},
		{"", "  " + ok + "  "},
		{"", `[1, null, "x]", {"a":[1,{"b":"}"}]}, true]`},
		{"", "[" + ok + "," + ok},
		{"", "[" + ok + "] x"},
		{"", "[" + ok + ",]"},
		{"", "[" + ok + " " + ok + "]"},
		{"", "[tru]"},
		{"", "[1"},
		{"", "[]"},
		{"", "\u00a0[" + ok + "]\u00a0"},
		{"application/x-ndjson", ok + "\r\n\n  \n" + ok + "\n" + ok},
		{"application/x-ndjson", "\n\n" + ok + " " + ok + "\n\u00a0" + ok + "\u2003\n"},
		{"application/x-ndjson", ok + "\n" + ok + "\n" + ok + "\n" + ok + "\n"},
	}
	for _, c := range bodies {
		for piece := 1; piece <= len(c.body); piece++ {
			if err := sameInPieces([]byte(c.body), c.ct, 3, piece); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sameInPieces splits body in pieces of piece bytes and compares the elements (and the
// request-level error) with those of the body in one piece, and the accounting of the copies
// made for elements across pieces.
func sameInPieces(body []byte, ct string, maxEvents, piece int) error {
	want, wantErr := SplitRequest(body, ct, maxEvents)
	h := newTestHold(int64(len(body)) + 1<<20)
	b := piecesOf(body, piece, h)
	sp, rerr := newSplitter(b, ct, maxEvents, 1<<20, 1<<20)
	if rerr != nil {
		if wantErr == nil || wantErr.Code != rerr.Code {
			return fmt.Errorf("%q: media error %v, in one piece %v", body, rerr, wantErr)
		}
		return nil
	}
	var got []Element
	var gotErr *RequestError
	for {
		el, err := sp.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			gotErr = err.(*RequestError)
			break
		}
		got = append(got, el)
	}
	if gotErr == nil && len(got) == 0 {
		gotErr = emptyRequest()
	}
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Code != wantErr.Code {
		return fmt.Errorf("%q in pieces of %d: error %v, in one piece %v", body, piece, gotErr, wantErr)
	}
	if gotErr != nil {
		return nil
	}
	if len(got) != len(want) {
		return fmt.Errorf("%q in pieces of %d: %d elements, in one piece %d", body, piece, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) || got[i].Index != want[i].Index || got[i].Line != want[i].Line || got[i].Size != want[i].Size {
			return fmt.Errorf("%q in pieces of %d: element %d is %q (index %d, line %d, size %d), in one piece %q (%d, %d, %d)", body, piece, i,
				got[i].Raw, got[i].Index, got[i].Line, got[i].Size, want[i].Raw, want[i].Index, want[i].Line, want[i].Size)
		}
		if got[i].charged != 0 && got[i].charged != int64(cap(got[i].Raw)) {
			return fmt.Errorf("%q in pieces of %d: element %d is a copy of %d bytes charged %d", body, piece, i, cap(got[i].Raw), got[i].charged)
		}
		sp.free(got[i])
	}
	if h.live != b.held() {
		return fmt.Errorf("%q in pieces of %d: %d bytes accounted after the copies were freed, the body holds %d", body, piece, h.live, b.held())
	}
	return nil
}

// piecesOf is a body of p in pieces of n bytes, charged to h.
func piecesOf(p []byte, n int, h *hold) *body {
	b := &body{h: h}
	for len(p) > 0 {
		m := min(n, len(p))
		if err := b.grow(int64(m)); err != nil {
			panic(err)
		}
		b.append(p[:m])
		p = p[m:]
	}
	return b
}

// TestOversizeElementKeepsItsStart: an event over the size limit in a body in pieces is not
// copied whole: only the first bytes a DLQ record keeps are.
func TestOversizeElementKeepsItsStart(t *testing.T) {
	big := fmt.Sprintf(`{"event_type":"LabelRetracted","reason":"%s"}`, bytes.Repeat([]byte("x"), 100<<10))
	h := newTestHold(1 << 20)
	b := piecesOf([]byte(big+"\n"), 1<<10, h)
	sp, _ := newSplitter(b, "application/x-ndjson", 10, 1<<10, 2<<10)
	el, err := sp.next()
	if err != nil {
		t.Fatal(err)
	}
	if el.Size != len(big) || len(el.Raw) != 2<<10 || el.charged != 2<<10 || !bytes.Equal(el.Raw, []byte(big[:2<<10])) {
		t.Fatalf("oversize element: size %d, %d bytes kept, %d charged", el.Size, len(el.Raw), el.charged)
	}
	if d, _, _ := decodeElement(el, 1<<10, nil); d.Err == nil || d.Err.Code != "event_too_large" {
		t.Fatalf("decoded: %+v", d.Err)
	}
}
