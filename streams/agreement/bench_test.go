package agreement

import (
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"testing"
)

// The benchmarks compare what the stream processor does per event (one Add or Remove on a
// warm accumulator, optionally followed by reading alpha) with what it would do without
// incremental maintenance (rebuild the totals from every unit's values and read alpha).
// Data: units with 3–5 nominal values from 5 categories, typical of crowd labeling.
// Run: go test -run '^$' -bench . -benchmem ./streams/agreement/

type benchData struct {
	names []string
	units [][]Value
	rel   *Reliability
}

var (
	benchMu    sync.Mutex
	benchCache = map[int]*benchData{}
)

// benchSetup builds (once per size, since the benchmark function runs several times) the
// units and a Reliability holding them.
func benchSetup(b *testing.B, n int) *benchData {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if d := benchCache[n]; d != nil {
		return d
	}
	rng := rand.New(rand.NewSource(1))
	cats := []Value{"a", "b", "c", "d", "e"}
	d := &benchData{names: make([]string, n), units: make([][]Value, n), rel: NewReliability()}
	for i := range n {
		d.names[i] = "item-" + strconv.Itoa(i)
		m := 3 + rng.Intn(3)
		for range m {
			v := cats[rng.Intn(len(cats))]
			d.units[i] = append(d.units[i], v)
			d.rel.Add(d.names[i], v)
		}
	}
	benchCache[n] = d
	return d
}

var benchSizes = []int{100_000, 1_000_000}

// BenchmarkIncrementalUpdate: one op is one single update (a label added, or retracted),
// alternating so that the state stays the same size.
func BenchmarkIncrementalUpdate(b *testing.B) { benchUpdates(b, 2, false) }

// BenchmarkIncrementalUpdateAndAlpha: one op is a single update (alternately an add and its
// retraction) followed by reading the refreshed alpha, i.e. the per-event cost of keeping a
// live figure. No timer stops inside the loop: with -benchmem they would cost more than an op.
func BenchmarkIncrementalUpdateAndAlpha(b *testing.B) { benchUpdates(b, 3, true) }

// benchUpdates times single updates, alternately an add and its retraction so that the state
// stays the same size, with the refreshed alpha read after each when alpha is set.
func benchUpdates(b *testing.B, seed int64, alpha bool) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			d := benchSetup(b, n)
			rng := rand.New(rand.NewSource(seed))
			b.ReportAllocs()
			b.ResetTimer()
			var unit string
			for i := range b.N {
				if i%2 == 0 {
					unit = d.names[rng.Intn(n)]
					d.rel.Add(unit, "c")
				} else if err := d.rel.Remove(unit, "c"); err != nil {
					b.Fatal(err)
				}
				if alpha {
					if _, err := d.rel.Alpha(Nominal); err != nil {
						b.Fatal(err)
					}
				}
			}
			if b.N%2 == 1 {
				_ = d.rel.Remove(unit, "c") // leave the shared state as it was
			}
		})
	}
}

func benchRecompute(b *testing.B, n int) {
	d := benchSetup(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c := NewCoincidences()
		for _, vals := range d.units {
			c.AddUnit(vals)
		}
		if _, err := c.Alpha(Nominal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecompute_1e5: rebuild the totals from all 10^5 units and read alpha.
func BenchmarkRecompute_1e5(b *testing.B) { benchRecompute(b, 100_000) }

// BenchmarkRecompute_1e6: rebuild the totals from all 10^6 units and read alpha.
func BenchmarkRecompute_1e6(b *testing.B) { benchRecompute(b, 1_000_000) }
