package gateway

import (
	"sync"
	"time"
)

// window remembers the event ids a gateway recently got acknowledged, with a hash of their
// content, so a retried request is answered from memory instead of writing the events twice.
// Every producer has a window of its own, bounded twice: by count (its oldest ids forgotten
// first) and by age. One producer's large batches therefore never evict another's ids, and
// the memory is bounded by the window size times the configured producers. It is an
// optimisation of one process, not the guarantee: ids outside it (after a restart, on
// another instance, or two copies racing in flight) are collapsed downstream by event_id.
type window struct {
	size int
	ttl  time.Duration
	// onSize reports the change of the total number of ids remembered.
	onSize func(delta int)

	mu         sync.Mutex
	byProducer map[string]*idRing
}

// idRing is one producer's window: its ids in a circular buffer in insertion order (grown
// on demand up to the window size, so an idle producer costs nothing), and their entries.
type idRing struct {
	m    map[string]windowEntry
	ring []string
	head int // index of the oldest id
	n    int // ids in the ring
}

type windowEntry struct {
	hash uint64
	at   time.Time
}

func newWindow(size int, ttl time.Duration, onSize func(int)) *window {
	if size <= 0 {
		return nil
	}
	if onSize == nil {
		onSize = func(int) {}
	}
	return &window{size: size, ttl: ttl, onSize: onSize, byProducer: map[string]*idRing{}}
}

// lookup reports whether producer's id was acknowledged within the window, and with which
// content hash.
func (w *window) lookup(producer, id string, now time.Time) (hash uint64, ok bool) {
	if w == nil {
		return 0, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.byProducer[producer]
	if r == nil {
		return 0, false
	}
	e, ok := r.m[id]
	if !ok || w.expired(e, now) {
		return 0, false
	}
	return e.hash, true
}

func (w *window) expired(e windowEntry, now time.Time) bool {
	return w.ttl > 0 && now.Sub(e.at) > w.ttl
}

// add records producer's acknowledged ids. An id already present keeps its place in the
// ring (its age is refreshed), so the ring and the map always hold the same ids. Expired ids
// at the old end of the ring are dropped first, so an idle window shrinks as it ages.
func (w *window) add(producer string, ids []string, hashes []uint64, now time.Time) {
	if w == nil || len(ids) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.byProducer[producer]
	if r == nil {
		r = &idRing{m: map[string]windowEntry{}}
		w.byProducer[producer] = r
	}
	before := r.n
	for r.n > 0 && w.expired(r.m[r.ring[r.head]], now) {
		r.pop()
	}
	for i, id := range ids {
		if _, ok := r.m[id]; ok {
			r.m[id] = windowEntry{hashes[i], now}
			continue
		}
		if r.n == w.size {
			r.pop()
		}
		r.push(id, w.size)
		r.m[id] = windowEntry{hashes[i], now}
	}
	w.onSize(r.n - before)
}

// pop forgets the oldest id.
func (r *idRing) pop() {
	delete(r.m, r.ring[r.head])
	r.ring[r.head] = ""
	r.head = (r.head + 1) % len(r.ring)
	r.n--
}

// push appends id as the newest, growing the ring (up to size) when it is full.
func (r *idRing) push(id string, size int) {
	if r.n == len(r.ring) {
		grown := make([]string, min(max(2*len(r.ring), 64), size))
		for i := 0; i < r.n; i++ {
			grown[i] = r.ring[(r.head+i)%len(r.ring)]
		}
		r.ring, r.head = grown, 0
	}
	r.ring[(r.head+r.n)%len(r.ring)] = id
	r.n++
}

// len is the number of ids remembered over all producers.
func (w *window) len() int {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.byProducer {
		n += r.n
	}
	return n
}

// drop forgets the windows of the producers gone reports (principals a reload removed).
func (w *window) drop(gone func(producer string) bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, r := range w.byProducer {
		if gone(p) {
			w.onSize(-r.n)
			delete(w.byProducer, p)
		}
	}
}
