package gateway

import (
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/assay-data/assay/schemas/access"
)

// principals authenticates callers against the registry in force and keeps the per-principal
// state (request limiters, duplicate windows, shares of the in-flight budget) in step with it: when a reload drops a
// principal, its state goes too, so that state stays bounded by the principals configured.
// The registry itself is swapped by whoever owns the Store (the ingest main's reload).
type principals struct {
	store    *access.Store
	rate     float64
	burst    int
	win      *window
	shares   *shares
	seen     atomic.Pointer[access.Registry] // the registry the state was last pruned to
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newPrincipals(store *access.Store, perSecond float64, burst int, win *window, sh *shares) *principals {
	ps := &principals{store: store, rate: perSecond, burst: burst, win: win, shares: sh, limiters: map[string]*rate.Limiter{}}
	ps.follow(store.Load())
	return ps
}

// authenticate finds the principal of an Authorization header value in the registry in
// force: access.ErrNoCredentials or access.ErrUnknownToken if there is none.
func (ps *principals) authenticate(authorization string) (*access.Principal, error) {
	reg := ps.store.Load()
	if ps.seen.Load() != reg {
		ps.follow(reg)
	}
	tok, ok := access.BearerToken(authorization)
	if !ok {
		return nil, access.ErrNoCredentials
	}
	return reg.Authenticate(tok)
}

// follow drops the state of the principals reg no longer has.
func (ps *principals) follow(reg *access.Registry) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.seen.Load() == reg {
		return
	}
	gone := func(id string) bool { _, ok := reg.Principal(id); return !ok }
	for id := range ps.limiters {
		if gone(id) {
			delete(ps.limiters, id)
		}
	}
	ps.win.drop(gone)
	ps.shares.drop(gone)
	ps.seen.Store(reg)
}

// limiter returns the request limiter of principal id (nil: no limit). A principal keeps its
// limiter across reloads, so a reload never refills anyone's bucket.
func (ps *principals) limiter(id string) *rate.Limiter {
	if ps.rate <= 0 {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	l, ok := ps.limiters[id]
	if !ok {
		l = newLimiter(ps.rate, ps.burst)
		ps.limiters[id] = l
	}
	return l
}
