package gateway

import (
	"sync"
	"time"
)

// window remembers the event ids a gateway recently got acknowledged, with a hash of their
// content, so a retried request is answered from memory instead of writing the events twice.
// It is bounded twice: by count (oldest forgotten first) and by age. It is an optimisation
// of one process, not the guarantee: ids outside it (after a restart, on another instance,
// or two copies racing in flight) are collapsed downstream by event_id.
type window struct {
	mu   sync.Mutex
	ttl  time.Duration
	m    map[windowKey]windowEntry
	ring []windowKey // insertion order, for eviction by count
	next int
}

// windowKey is scoped by producer: one collector's ids can never suppress another's events.
type windowKey struct{ producer, id string }

type windowEntry struct {
	hash uint64
	at   time.Time
}

func newWindow(size int, ttl time.Duration) *window {
	if size <= 0 {
		return nil
	}
	return &window{ttl: ttl, m: make(map[windowKey]windowEntry, size), ring: make([]windowKey, size)}
}

// lookup reports whether producer's id was acknowledged within the window, and with which
// content hash.
func (w *window) lookup(producer, id string, now time.Time) (hash uint64, ok bool) {
	if w == nil {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[windowKey{producer, id}]
	if !ok || (w.ttl > 0 && now.Sub(e.at) > w.ttl) {
		return 0, false
	}
	return e.hash, true
}

// add records acknowledged ids. A key already present keeps its slot in the ring (its age is
// refreshed), so the ring and the map always hold the same keys.
func (w *window) add(producer string, ids []string, hashes []uint64, now time.Time) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, id := range ids {
		k := windowKey{producer, id}
		if _, ok := w.m[k]; ok {
			w.m[k] = windowEntry{hashes[i], now}
			continue
		}
		if old := w.ring[w.next]; old != (windowKey{}) {
			delete(w.m, old)
		}
		w.ring[w.next] = k
		w.next = (w.next + 1) % len(w.ring)
		w.m[k] = windowEntry{hashes[i], now}
	}
}
