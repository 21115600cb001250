package gateway

import (
	"container/list"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// reserve takes one token from l at now, or reports how long until one is free without
// taking it (the reservation is cancelled, so a refused request costs the bucket nothing).
// A nil limiter is no limit.
func reserve(l *rate.Limiter, now time.Time) (wait time.Duration, ok bool) {
	if l == nil {
		return 0, true
	}
	r := l.ReserveN(now, 1)
	if !r.OK() { // burst 0: never; New refuses such a configuration
		return time.Duration(math.MaxInt64), false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// newLimiter is a token bucket of perSecond tokens a second holding burst at most; nil (no
// limit) when perSecond is 0.
func newLimiter(perSecond float64, burst int) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

// perInterval is a bucket of n tokens refilled evenly over interval; nil when n is 0, which
// the caller reads as "never" (see clientEntry.dlq).
func perInterval(n int, interval time.Duration) *rate.Limiter {
	if n <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Every(interval/time.Duration(n)), n)
}

// clientKey is the address a request is limited by: the remote IP, and for IPv6 its /64,
// which is what one host or subscriber usually gets (a per-address limit on IPv6 would be
// a limit per attempt). The gateway does not read X-Forwarded-For: behind a proxy every
// request comes from the proxy, which is why only requests without a valid token are
// limited per address.
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if host, _, herr := net.SplitHostPort(remoteAddr); herr == nil {
		if a, err = netip.ParseAddr(host); err != nil {
			return host
		}
	} else {
		return remoteAddr
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// clientEntry is what the gateway remembers of one remote address that sent requests
// without a valid token.
type clientEntry struct {
	key  string
	seen time.Time
	// req limits its requests (nil: off).
	req *rate.Limiter
	// dlq limits the DLQ records its rejections may write (nil: none are written).
	dlq *rate.Limiter
}

// clientTable holds the clientEntries, bounded twice. An entry idle for longer than its
// buckets take to refill is dropped: it is then the same as a new one, so nothing is lost
// and no tuning is needed. When the table is full, the least recently seen entry is
// evicted: that address then starts from full buckets again, which is why the DLQ records
// of unauthenticated requests also have a cap over all addresses (an attacker with many
// addresses cannot get past it by churning the table).
type clientTable struct {
	mu   sync.Mutex
	max  int
	idle time.Duration
	make func() (req, dlq *rate.Limiter)
	m    map[string]*list.Element
	lru  *list.List // of *clientEntry, most recently seen first
	// onChange reports the size after a change, and an eviction of a live entry.
	onChange func(size int, evicted bool)
}

func newClientTable(max int, idle time.Duration, mk func() (req, dlq *rate.Limiter), onChange func(int, bool)) *clientTable {
	return &clientTable{max: max, idle: idle, make: mk, m: map[string]*list.Element{}, lru: list.New(), onChange: onChange}
}

// get returns the entry of key, creating it (and making room) when needed.
func (t *clientTable) get(key string, now time.Time) *clientEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Expire from the least recently seen end: amortised O(1), no goroutine.
	for back := t.lru.Back(); back != nil && now.Sub(back.Value.(*clientEntry).seen) > t.idle; back = t.lru.Back() {
		t.remove(back, false)
	}
	if el, ok := t.m[key]; ok {
		e := el.Value.(*clientEntry)
		e.seen = now
		t.lru.MoveToFront(el)
		return e
	}
	if len(t.m) >= t.max {
		t.remove(t.lru.Back(), true)
	}
	e := &clientEntry{key: key, seen: now}
	e.req, e.dlq = t.make()
	t.m[key] = t.lru.PushFront(e)
	t.onChange(len(t.m), false)
	return e
}

func (t *clientTable) remove(el *list.Element, evicted bool) {
	t.lru.Remove(el)
	delete(t.m, el.Value.(*clientEntry).key)
	t.onChange(len(t.m), evicted)
}

// len is the number of addresses remembered.
func (t *clientTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// retryAfterSeconds renders a wait as Retry-After: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	if d >= time.Duration(math.MaxInt64)-time.Second {
		return math.MaxInt32
	}
	return max(1, int64((d+time.Second-1)/time.Second))
}
