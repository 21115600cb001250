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

// BenchmarkWorstCase times one unit pair's whole contribution (CompareSpans: the same-label
// and the any-label matching) when every region of both lists is eligible with every other,
// so the eligibility graph is one component of n×n: the O(n³) bound.
func BenchmarkWorstCase(b *testing.B) {
	for _, n := range []int{100, 250, 500, 1000} {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		x, y := worstSpans(rng, n), worstSpans(rng, n)
		b.Run(fmt.Sprintf("spans/%d", n), func(b *testing.B) {
			loop(b, func() error { _, err := CompareSpans(x, y, DefaultThreshold); return err })
		})
		bx, by := worstBoxes(rng, n), worstBoxes(rng, n)
		b.Run(fmt.Sprintf("boxes/%d", n), func(b *testing.B) {
			loop(b, func() error { _, err := CompareBoxes(bx, by, DefaultThreshold); return err })
		})
	}
}
