package gateway

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// readChunk is the most a request reads (and then charges) in one step: the bytes a request
// can hold in memory before they are charged, and the granularity of the budget's waits.
const readChunk = 64 << 10

// budget is the gateway's memory budget for request bodies in flight, counted in decoded
// bytes. It is a semaphore.Weighted (FIFO: a request waiting for room is not overtaken by
// smaller ones forever) plus the accounting the gauge and the tests read: used never exceeds
// the size, because it is raised after the semaphore grants and lowered before it is given
// back.
type budget struct {
	sem   *semaphore.Weighted
	size  int64
	used  atomic.Int64
	peak  atomic.Int64
	onUse func(delta int64)
}

func newBudget(size int64, onUse func(delta int64)) *budget {
	return &budget{sem: semaphore.NewWeighted(size), size: size, onUse: onUse}
}

// tryAcquire takes n bytes if they are free now and nobody waits before it.
func (b *budget) tryAcquire(n int64) bool {
	if !b.sem.TryAcquire(n) {
		return false
	}
	b.granted(n)
	return true
}

// acquire takes n bytes (n <= size), waiting until they are free or ctx ends.
func (b *budget) acquire(ctx context.Context, n int64) error {
	if err := b.sem.Acquire(ctx, n); err != nil {
		return err
	}
	b.granted(n)
	return nil
}

func (b *budget) granted(n int64) {
	u := b.used.Add(n)
	for p := b.peak.Load(); u > p && !b.peak.CompareAndSwap(p, u); p = b.peak.Load() {
	}
	b.onUse(n)
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.used.Add(-n)
	b.sem.Release(n)
	b.onUse(-n)
}

// Errors of a charged read; serve turns them into answers.
var (
	// errBodyTooLarge: the decoded body passed its limit (413).
	errBodyTooLarge = errors.New("body over the limit")
	// errNoRoom: the budget had no room within the request's wait allowance (503).
	errNoRoom = errors.New("no in-flight room within the wait")
)

// hold is what one request has taken from the budget. Its waits for room add up to at most
// wait over the whole request, however many chunks it reads; release gives everything back
// when the request ends.
type hold struct {
	b      *budget
	ctx    context.Context
	wait   time.Duration
	waited time.Duration
	held   int64
}

func (h *hold) take(n int64) error {
	if h.b.tryAcquire(n) { // no timer for the common case
		h.held += n
		return nil
	}
	left := h.wait - h.waited
	if left <= 0 {
		left = time.Nanosecond // no waiting left: succeed only if the room is free now
	}
	ctx, cancel := context.WithTimeout(h.ctx, left)
	defer cancel()
	start := time.Now()
	err := h.b.acquire(ctx, n)
	h.waited += time.Since(start)
	if err != nil {
		if h.ctx.Err() != nil {
			return h.ctx.Err() // the client went away
		}
		return errNoRoom
	}
	h.held += n
	return nil
}

func (h *hold) release() {
	if h.held > 0 {
		h.b.release(h.held)
		h.held = 0
	}
}

// chargedReader reads a body (decoded, when it is compressed) and charges every byte to the
// request's hold as it arrives, so the budget counts what is actually in memory: a gzip body
// is charged at its decoded size and a chunked one as it is read, and a body never holds
// more than limit bytes (the read fails with errBodyTooLarge first).
type chargedReader struct {
	r     io.Reader
	h     *hold
	limit int64
	n     int64
}

func (c *chargedReader) Read(p []byte) (int, error) {
	// A short read bounds what is in memory uncharged, and keeps every charge within the
	// budget's size (a larger one could never be granted).
	p = p[:min(int64(len(p)), readChunk, c.h.b.size)]
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.n > c.limit {
			return n, errBodyTooLarge
		}
		if cerr := c.h.take(int64(n)); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}
