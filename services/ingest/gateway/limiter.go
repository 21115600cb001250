package gateway

import (
	"context"
	"sync"
)

// byteLimiter is a weighted semaphore over bytes: the gateway's memory budget for requests in
// flight. Waiters are woken together on every release and race for the room; that is unfair
// under contention but never deadlocks, and the wait is bounded by the caller's context.
type byteLimiter struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	changed chan struct{} // closed and replaced on every release
	onUse   func(int64)
}

func newByteLimiter(capacity int64, onUse func(int64)) *byteLimiter {
	return &byteLimiter{cap: capacity, changed: make(chan struct{}), onUse: onUse}
}

// acquire takes n bytes, waiting until they are free or ctx ends. A request larger than the
// whole budget is admitted alone (when nothing else is in flight), so a budget set below the
// body limit degrades to one-at-a-time instead of rejecting forever.
func (l *byteLimiter) acquire(ctx context.Context, n int64) error {
	for {
		l.mu.Lock()
		if l.used+n <= l.cap || l.used == 0 {
			l.used += n
			l.report()
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n bytes taken by acquire.
func (l *byteLimiter) release(n int64) {
	l.mu.Lock()
	l.used -= n
	l.report()
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *byteLimiter) report() {
	if l.onUse != nil {
		l.onUse(l.used)
	}
}
