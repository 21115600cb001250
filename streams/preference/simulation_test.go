package preference

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
)

// simAnnotator labels simulated items. Each item compares k responses (k drawn from ks), one of
// them the better one; the annotator is shown them in a uniformly random order and, with
// probability bias, picks the first-shown response whatever it is; otherwise they pick the
// better response with probability skill and another one at random else. That choice does
// not depend on the display order, so the chance of choosing the first-shown response is
// exactly bias + (1−bias)/k: the true share the interval must hold.
type simAnnotator struct {
	ks    []int
	bias  float64
	skill float64
}

// label simulates one label and returns it with its true probability of a first-shown choice.
func (a simAnnotator) label(rng *rand.Rand) (Label, float64) {
	k := a.ks[rng.IntN(len(a.ks))]
	responses := make([]string, k)
	for i := range responses {
		responses[i] = "r" + strconv.Itoa(i)
	}
	better := rng.IntN(k)
	shown := rng.Perm(k)
	choice := better
	switch {
	case rng.Float64() < a.bias:
		choice = shown[0]
	case rng.Float64() >= a.skill:
		choice = (better + 1 + rng.IntN(k-1)) % k // any other response, uniformly
	}
	return Label{Responses: responses, Choice: responses[choice], ShownFirst: responses[shown[0]]},
		a.bias + (1-a.bias)/float64(k)
}

type coverageCell struct {
	name  string
	ks    []int
	bias  float64
	n     int
	exact float64 // exact coverage of the Wilson interval at (n, p) for a single k, 0 otherwise
}

// TestPositionBiasCoverage simulates unbiased and biased annotators with known true shares of
// first-shown choices and checks that the 95% Wilson interval Bias reports holds the true share
// about 95% of the time (the figures are in the package documentation, "Position bias"). For
// items of one size k the labels are binomial, and the exact coverage at (n, p) is computed
// from the binomial distribution; the simulated coverage must lie within 4 standard errors of
// it, and the exact coverage itself near 95%. With mixed sizes the count of first-shown choices
// is a sum of Bernoulli draws of different p (Poisson binomial), whose variance is below the
// binomial's at the mean p, so the interval can only be conservative: it must cover at least
// 93% and at most 99%. -short runs 30 and 100 labels only, 1,000 times each.
func TestPositionBiasCoverage(t *testing.T) {
	runs, sizes := 4000, []int{30, 100, 1000}
	if testing.Short() {
		// The bands below scale with the runs (4 standard errors) but for the mixed sizes'
		// and the false alarms', which 1,000 runs still estimate within ±0.7%.
		runs, sizes = 1000, []int{30, 100}
	}
	var cells []coverageCell
	for _, n := range sizes {
		for _, c := range []struct {
			name string
			ks   []int
			bias float64
		}{
			{"k=2 unbiased", []int{2}, 0},
			{"k=2 bias .2", []int{2}, 0.2},
			{"k=2 bias .6", []int{2}, 0.6},
			{"k=2..4 unbiased", []int{2, 3, 4}, 0},
			{"k=2..4 bias .2", []int{2, 3, 4}, 0.2},
		} {
			cell := coverageCell{name: c.name, ks: c.ks, bias: c.bias, n: n}
			if len(c.ks) == 1 {
				cell.exact = exactWilsonCoverage(t, n, c.bias+(1-c.bias)/float64(c.ks[0]))
			}
			cells = append(cells, cell)
		}
	}
	for ci, c := range cells {
		t.Run(fmt.Sprintf("%s/n=%d", c.name, c.n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, uint64(ci)))
			a := simAnnotator{ks: c.ks, bias: c.bias, skill: 0.7}
			covered, flagged, width := 0, 0, 0.0
			for range runs {
				var counts BiasCounts
				var trueSum float64
				for range c.n {
					l, p := a.label(rng)
					lc, err := BiasOf(l)
					if err != nil {
						t.Fatal(err)
					}
					counts = counts.Add(lc)
					trueSum += p
				}
				b, err := counts.Bias(agreement.DefaultConfidence)
				if err != nil {
					t.Fatal(err)
				}
				truth := trueSum / float64(c.n)
				if b.Interval.Low <= truth && truth <= b.Interval.High {
					covered++
				}
				if b.ExcludesExpected {
					flagged++
				}
				width += b.Interval.High - b.Interval.Low
			}
			cov := float64(covered) / float64(runs)
			exact := "n/a"
			if c.exact > 0 {
				exact = fmt.Sprintf("%.1f%%", 100*c.exact)
			}
			t.Logf("coverage %.1f%% (exact %s), mean width %.3f, bias flagged in %.1f%% of runs",
				100*cov, exact, width/float64(runs), 100*float64(flagged)/float64(runs))
			if c.exact > 0 {
				se := math.Sqrt(c.exact * (1 - c.exact) / float64(runs))
				if math.Abs(cov-c.exact) > 4*se {
					t.Errorf("simulated coverage %.4f is %.1f standard errors from the exact %.4f", cov, math.Abs(cov-c.exact)/se, c.exact)
				}
				if c.exact < 0.93 || c.exact > 0.97 {
					t.Errorf("exact coverage %.4f is not near 95%%", c.exact)
				}
			} else if cov < 0.93 || cov > 0.99 {
				t.Errorf("coverage %.4f outside [0.93, 0.99]", cov)
			}
			if c.bias == 0 && float64(flagged)/float64(runs) > 0.07 {
				t.Errorf("unbiased annotators flagged as biased in %.1f%% of runs, want about 5%% or less", 100*float64(flagged)/float64(runs))
			}
		})
	}
}

// exactWilsonCoverage is P(p ∈ Wilson(X, n)) for X ~ Binomial(n, p), summed over every X.
func exactWilsonCoverage(t *testing.T, n int, p float64) float64 {
	t.Helper()
	var cov float64
	for x := 0; x <= n; x++ {
		iv, err := Wilson(int64(x), int64(n), agreement.DefaultConfidence)
		if err != nil {
			t.Fatal(err)
		}
		if iv.Low <= p && p <= iv.High {
			cov += binomialPMF(n, x, p)
		}
	}
	return cov
}

// binomialPMF computes C(n, x) pˣ (1−p)ⁿ⁻ˣ through logarithms, exact enough at n ≤ 1000.
func binomialPMF(n, x int, p float64) float64 {
	lg := func(v int) float64 { r, _ := math.Lgamma(float64(v + 1)); return r }
	logc := lg(n) - lg(x) - lg(n-x)
	switch {
	case p == 0:
		return boolFloat(x == 0)
	case p == 1:
		return boolFloat(x == n)
	}
	return math.Exp(logc + float64(x)*math.Log(p) + float64(n-x)*math.Log1p(-p))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
