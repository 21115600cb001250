package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// readChunk is the largest piece of a body the gateway allocates (and charges) at once: the
// granularity of the budget's waits, and the most a request is charged ahead of the bytes it
// has read.
const readChunk = 64 << 10

// budget is the gateway's memory budget for requests in flight, in bytes. It is a
// semaphore.Weighted (FIFO: a request waiting for room is not overtaken by smaller ones
// forever) plus the accounting the gauge and the tests read: used never exceeds the size,
// because it is raised after the semaphore grants and lowered before it is given back.
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

// shares are the principals' shares of the budget: no principal holds more than size bytes
// at once, so one producer (a leaked token, a runaway loop, a gzip bomb) cannot take the
// room of the others. A request takes from its principal's share first, then from the
// budget, so only that principal's requests wait for its share. A share is kept as long as
// its principal is configured (drop removes the others); a request that still holds a
// dropped share gives its bytes back to it.
type shares struct {
	size int64 // 0: no shares (the whole budget is every principal's)
	mu   sync.Mutex
	m    map[string]*semaphore.Weighted
}

func newShares(size int64) *shares { return &shares{size: size, m: map[string]*semaphore.Weighted{}} }

// of returns principal id's share, nil when there are no shares.
func (s *shares) of(id string) *semaphore.Weighted {
	if s.size == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sem, ok := s.m[id]
	if !ok {
		sem = semaphore.NewWeighted(s.size)
		s.m[id] = sem
	}
	return sem
}

// drop forgets the shares of the principals gone reports.
func (s *shares) drop(gone func(id string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.m {
		if gone(id) {
			delete(s.m, id)
		}
	}
}

// Errors of a charge; serve turns them into answers.
var (
	// errBodyTooLarge: the decoded body passed its limit (413).
	errBodyTooLarge = errors.New("body over the limit")
	// errNoRoom: the budget, or the principal's share, had no room within the request's
	// wait allowance (503).
	errNoRoom = errors.New("no in-flight room within the wait")
	// errOverShare: the request needs more memory than its principal may ever hold; waiting
	// would not help (413).
	errOverShare = errors.New("more than a producer may hold in flight")
)

// hold is the memory one request has taken from its principal's share and the budget, and
// the accounting of what it holds in it. The request calls alloc before it allocates
// anything that grows with its input (a piece of body, a copy, a record) and free once it
// has dropped it; alloc takes from the budget only what the charge does not already cover,
// so memory dropped earlier (a piece of body already turned into records) pays for memory
// made later. live, the bytes the request holds, never exceeds held, the bytes charged.
//
// Its waits for room add up to at most wait over the whole request, however many pieces it
// takes; release gives everything back when the request ends.
type hold struct {
	b     *budget
	share *semaphore.Weighted // nil: only the budget bounds the request
	// limit is the most the request can ever hold: the share's size, or the budget's.
	limit  int64
	ctx    context.Context
	wait   time.Duration
	waited time.Duration
	held   int64
	live   int64
	// refusedBy names what had no room when take last failed: "share" or "budget".
	refusedBy string
}

// alloc accounts n more bytes held by the request, charging what its charge does not cover.
// On error nothing is accounted.
func (h *hold) alloc(n int64) error {
	if need := h.live + n - h.held; need > 0 {
		if err := h.take(need); err != nil {
			return err
		}
	}
	h.live += n
	return nil
}

// free accounts n bytes the request no longer holds. Their charge stays with the request
// (for its next allocations) until trim or release.
func (h *hold) free(n int64) { h.live -= n }

// trim gives back the charge above what the request holds, for a request that will hold
// what it holds for a while (waiting for Kafka) and allocate little more.
func (h *hold) trim() {
	if extra := h.held - h.live; extra > 0 {
		h.give(extra)
	}
}

// take charges n bytes to the principal's share and to the budget, waiting for them within
// what is left of the request's wait allowance.
func (h *hold) take(n int64) error {
	if h.held+n > h.limit {
		return errOverShare
	}
	if h.share != nil {
		if err := h.acquire("share", func() bool { return h.share.TryAcquire(n) },
			func(ctx context.Context) error { return h.share.Acquire(ctx, n) }); err != nil {
			return err
		}
	}
	if err := h.acquire("budget", func() bool { return h.b.tryAcquire(n) },
		func(ctx context.Context) error { return h.b.acquire(ctx, n) }); err != nil {
		if h.share != nil {
			h.share.Release(n)
		}
		return err
	}
	h.held += n
	return nil
}

// acquire runs try, and when it fails, wait under what is left of the wait allowance.
func (h *hold) acquire(what string, try func() bool, wait func(context.Context) error) error {
	if try() { // no timer for the common case
		return nil
	}
	left := h.wait - h.waited
	if left <= 0 {
		left = time.Nanosecond // no waiting left: succeed only if the room is free now
	}
	ctx, cancel := context.WithTimeout(h.ctx, left)
	defer cancel()
	start := time.Now()
	err := wait(ctx)
	h.waited += time.Since(start)
	if err == nil {
		return nil
	}
	if h.ctx.Err() != nil {
		return h.ctx.Err() // the client went away
	}
	h.refusedBy = what
	return errNoRoom
}

// give returns n bytes of the charge.
func (h *hold) give(n int64) {
	h.b.release(n)
	if h.share != nil {
		h.share.Release(n)
	}
	h.held -= n
}

// release gives back everything when the request ends.
func (h *hold) release() {
	if h.held > 0 {
		h.give(h.held)
	}
	h.live = 0
}
