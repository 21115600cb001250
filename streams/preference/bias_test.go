package preference

import (
	"errors"
	"math"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
)

var z95 = math.Sqrt2 * math.Erfinv(0.95)

// TestWilsonIsTheScoreTestInverted: each end p of the interval is where the score statistic
// |p̂ − p| / √(p(1−p)/n) equals z, which is the interval's definition (not its formula).
func TestWilsonIsTheScoreTestInverted(t *testing.T) {
	for _, tc := range []struct{ x, n int64 }{{1, 2}, {7, 20}, {13, 30}, {55, 100}, {999, 1000}, {3, 1000000}} {
		iv, err := Wilson(tc.x, tc.n, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		p := float64(tc.x) / float64(tc.n)
		for _, end := range []float64{iv.Low, iv.High} {
			score := math.Abs(p-end) / math.Sqrt(end*(1-end)/float64(tc.n))
			if math.Abs(score-z95) > 1e-9 {
				t.Errorf("%d/%d: score at %v is %v, want %v", tc.x, tc.n, end, score, z95)
			}
		}
		if !(iv.Low < p && p < iv.High) || iv.Level != 0.95 || iv.Method != MethodWilson {
			t.Errorf("%d/%d: %+v", tc.x, tc.n, iv)
		}
	}
}

func TestWilsonEdges(t *testing.T) {
	for _, n := range []int64{1, 10, 1000} {
		none, err := Wilson(0, n, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		// At p̂ = 0 the upper end is z²/(n+z²), the lower exactly 0.
		want := z95 * z95 / (float64(n) + z95*z95)
		if none.Low != 0 || math.Abs(none.High-want) > 1e-15 {
			t.Errorf("0/%d: %+v, want [0, %v]", n, none, want)
		}
		all, err := Wilson(n, n, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if all.High != 1 || math.Abs(all.Low-(1-want)) > 1e-15 {
			t.Errorf("%d/%d: %+v, want [%v, 1]", n, n, all, 1-want)
		}
	}
	// Symmetric: the interval for failures mirrors the one for successes.
	a, _ := Wilson(7, 20, 0.9)
	b, _ := Wilson(13, 20, 0.9)
	if math.Abs(a.Low-(1-b.High)) > 1e-15 || math.Abs(a.High-(1-b.Low)) > 1e-15 {
		t.Errorf("7/20 %+v and 13/20 %+v do not mirror", a, b)
	}
	if _, err := Wilson(0, 0, 0.95); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("no trials: %v, want ErrUndefined", err)
	}
	for _, bad := range []struct {
		x, n int64
		c    float64
	}{{3, 2, 0.95}, {-1, 2, 0.95}, {1, -2, 0.95}, {1, 2, 0}, {1, 2, 1}, {1, 2, math.NaN()}} {
		if _, err := Wilson(bad.x, bad.n, bad.c); err == nil || errors.Is(err, agreement.ErrUndefined) {
			t.Errorf("Wilson(%d, %d, %v): %v, want an error", bad.x, bad.n, bad.c, err)
		}
	}
}

func TestBiasCounts(t *testing.T) {
	labels := []Label{
		pair("a", "a", nil), // k = 2, first-shown chosen
		{Responses: []string{"x", "y", "z"}, Choice: "y", ShownFirst: "z"},      // k = 3, not
		{Responses: []string{"w", "x", "y", "z"}, Choice: "z", ShownFirst: "z"}, // k = 4, first-shown chosen
	}
	var c BiasCounts
	for _, l := range labels {
		lc, err := BiasOf(l)
		if err != nil {
			t.Fatal(err)
		}
		c = c.Add(lc)
	}
	want := BiasCounts{FirstChosen: 2, Labels: 3, ExpectedScaled: ExpectedUnit/2 + ExpectedUnit/3 + ExpectedUnit/4}
	if c != want {
		t.Fatalf("counts %+v, want %+v", c, want)
	}
	b, err := c.Bias(0.95)
	if err != nil {
		t.Fatal(err)
	}
	if b.Expected != 13.0/36 || b.Share != 2.0/3 || b.FirstChosen != 2 || b.Labels != 3 {
		t.Errorf("bias %+v, want share 2/3, expected (1/2+1/3+1/4)/3 = 13/36", b)
	}
	iv, _ := Wilson(2, 3, 0.95)
	if b.Interval != iv || b.ExcludesExpected {
		t.Errorf("bias %+v, want interval %+v not excluding 13/36", b, iv)
	}
	// Taking the labels off again restores zero exactly, and zero is undefined.
	for _, l := range labels {
		lc, _ := BiasOf(l)
		c = c.Sub(lc)
	}
	if c != (BiasCounts{}) {
		t.Errorf("after subtracting every label: %+v", c)
	}
	if _, err := c.Bias(0.95); !errors.Is(err, agreement.ErrUndefined) {
		t.Errorf("no labels: %v, want ErrUndefined", err)
	}
	_, err = BiasOf(pair("a", "c", nil))
	wantField(t, err, "shown_first", "not one of responses")
	_, err = BiasOf(pair("c", "a", nil))
	wantField(t, err, "choice", "not one of responses")
	_, err = BiasOf(Label{Responses: []string{"a"}, Choice: "a", ShownFirst: "a"})
	wantField(t, err, "responses", "got 1")
}

func TestBiasExcludesExpected(t *testing.T) {
	pairs := func(first, n int64) BiasCounts {
		return BiasCounts{FirstChosen: first, Labels: n, ExpectedScaled: n * (ExpectedUnit / 2)}
	}
	for _, tc := range []struct {
		c        BiasCounts
		excludes bool
	}{
		{pairs(55, 100), false},
		{pairs(62, 100), true}, // Wilson [0.522, 0.709]
		{pairs(38, 100), true}, // away from the first-shown response is bias too
		{pairs(500, 1000), false},
		{BiasCounts{FirstChosen: 50, Labels: 100, ExpectedScaled: 100 * (ExpectedUnit / 4)}, true}, // k = 4: 1/4 expected
	} {
		b, err := tc.c.Bias(0.95)
		if err != nil {
			t.Fatal(err)
		}
		if b.ExcludesExpected != tc.excludes {
			t.Errorf("%+v: bias %+v, want excludes %v", tc.c, b, tc.excludes)
		}
	}
	for _, bad := range []BiasCounts{
		{FirstChosen: 3, Labels: 2, ExpectedScaled: ExpectedUnit},
		{FirstChosen: -1, Labels: 2, ExpectedScaled: ExpectedUnit},
		{FirstChosen: 1, Labels: 2, ExpectedScaled: 2*ExpectedUnit/2 + 1},
		{FirstChosen: 1, Labels: 2, ExpectedScaled: 2*ExpectedUnit/MaxResponses - 1},
		{FirstChosen: 0, Labels: 0, ExpectedScaled: 1},
		{FirstChosen: 0, Labels: -1, ExpectedScaled: 0},
	} {
		if _, err := bad.Bias(0.95); err == nil || errors.Is(err, agreement.ErrUndefined) {
			t.Errorf("%+v: %v, want an inconsistency error", bad, err)
		}
	}
}
