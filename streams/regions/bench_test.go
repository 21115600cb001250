package regions

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used (user and system, all threads). The
// benchmarks report it per operation beside the wall time: the machine is shared, and CPU
// time is what one pair's matching costs a processor's partition whatever else runs.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op b.N times and reports its CPU milliseconds per operation.
func loop(b *testing.B, op func() error) {
	start := cpuTime(b)
	n := 0
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

// worstSpans returns two lists of n spans that are all mutually eligible at t = 0.5 with one
// label: every span lies within [0, 1100) and covers at least [100, 1000), so any two overlap
// by at least 900 of at most 1100 (IoU >= 0.81), and their IoUs differ at random, so the
// assignment has real work to do.
func worstSpans(rng *rand.Rand, n int) []Span {
	s := make([]Span, n)
	for i := range s {
		s[i] = Span{Label: "x", Start: rng.Int64N(101), End: 1000 + rng.Int64N(101)}
	}
	return s
}

// worstBoxes: every box lies within [0, 110)² and covers [10, 100)², so all are eligible.
func worstBoxes(rng *rand.Rand, n int) []Box {
	b := make([]Box, n)
	for i := range b {
		x, y := 10*rng.Float64(), 10*rng.Float64()
		b[i] = Box{Label: "x", X: x, Y: y, W: 100 - x + 10*rng.Float64(), H: 100 - y + 10*rng.Float64()}
	}
	return b
}

// tiedSpans returns two lists of n spans, all mutually eligible, whose IoUs make every one-to-one
// matching equally good: a_i = [0, L+i) and b_j = [j, L+n) with L = 4n intersect in
// [j, L+i) and span [0, L+n), so IoU = (L+i−j)/(L+n) >= 0.6 and the total over any perfect
// matching is the same. The assignment then has no best pair to start from: each new row
// displaces every row before it along a chain of equally good columns, the O(n³) the bound
// allows (random IoUs, as in worstSpans, give searches a few times shorter).
func tiedSpans(n int) (a, b []Span) {
	l := int64(4 * n)
	a, b = make([]Span, n), make([]Span, n)
	for i := range a {
		a[i] = Span{Label: "x", Start: 0, End: l + int64(i)}
		b[i] = Span{Label: "x", Start: int64(i), End: l + int64(n)}
	}
	return a, b
}

// tiedBoxes is tiedSpans in x, on boxes 10 high.
func tiedBoxes(n int) (a, b []Box) {
	l := float64(4 * n)
	a, b = make([]Box, n), make([]Box, n)
	for i := range a {
		a[i] = Box{Label: "x", X: 0, Y: 0, W: l + float64(i), H: 10}
		b[i] = Box{Label: "x", X: float64(i), Y: 0, W: l + float64(n-i), H: 10}
	}
	return a, b
}

// BenchmarkWorstCase times one unit pair's whole contribution (CompareSpans and CompareBoxes:
// the same-label and the any-label matching) when every region of both lists is eligible with
// every other, so the eligibility graph is one component of n×n: the O(n³) bound. "random"
// has IoUs that differ at random; "tied" makes every matching equally good (tiedSpans), the
// slowest shape found. It calls what CompareSpans and CompareBoxes call, past their MaxRegions
// check, to measure beyond the limit too.
func BenchmarkWorstCase(b *testing.B) {
	for _, n := range []int{100, 250, 500, 1000} {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		x, y := worstSpans(rng, n), worstSpans(rng, n)
		bx, by := worstBoxes(rng, n), worstBoxes(rng, n)
		tx, ty := tiedSpans(n)
		tbx, tby := tiedBoxes(n)
		for _, c := range []struct {
			name string
			run  func()
		}{
			{"random/spans", func() { compare(x, y, prepareSpans(x, y), DefaultThreshold) }},
			{"random/boxes", func() { compare(bx, by, prepareBoxes(bx, by), DefaultThreshold) }},
			{"tied/spans", func() { compare(tx, ty, prepareSpans(tx, ty), DefaultThreshold) }},
			{"tied/boxes", func() { compare(tbx, tby, prepareBoxes(tbx, tby), DefaultThreshold) }},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				loop(b, func() error { c.run(); return nil })
			})
		}
	}
}
