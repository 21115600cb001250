package httpapi

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// figureCache keeps what a read returned for a key for ttl, and runs one read of a key at a
// time: the region and preference figures (and unitizing alpha, computed on read from the
// ledger's labels) are read once per key and ttl for every viewer and every view that asks,
// whatever their number, so that the dashboards polling them cost the KPI store one read per
// interval, not one per dashboard (issue 17: /v1/kpis and the history sampler already repeat
// their queries per view). A key holds only what every reader of it may read before its
// view's filter is applied: the caller filters a copy, never the cached value. A failed read
// is not kept. ttl 0 keeps nothing (every call reads), which is what a test of the read itself
// wants.
type figureCache[T any] struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group
	mu    sync.Mutex
	m     map[string]cachedFigure[T]
}

type cachedFigure[T any] struct {
	at time.Time
	v  T
}

// get returns the value of key read at most ttl ago, or reads it. Callers asking for a key
// while it is read wait for that read (or for their own ctx). The read runs under the first
// caller's deadline but not its cancellation, so a client that goes away does not fail the
// others waiting for the same read.
func (c *figureCache[T]) get(ctx context.Context, key string, read func(context.Context) (T, error)) (T, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[key]
		c.mu.Unlock()
		if ok && c.now().Sub(e.at) < c.ttl {
			return e.v, nil
		}
	}
	deadline, hasDeadline := ctx.Deadline()
	ch := c.group.DoChan(key, func() (any, error) {
		rctx := context.WithoutCancel(ctx)
		if hasDeadline {
			var cancel context.CancelFunc
			rctx, cancel = context.WithDeadline(rctx, deadline)
			defer cancel()
		}
		at := c.now()
		v, err := read(rctx)
		if err != nil || c.ttl <= 0 {
			return v, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.m == nil {
			c.m = map[string]cachedFigure[T]{}
		}
		for k, e := range c.m {
			if at.Sub(e.at) >= c.ttl {
				delete(c.m, k) // bounded by the keys read within ttl
			}
		}
		c.m[key] = cachedFigure[T]{at: at, v: v}
		return v, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			var zero T
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
