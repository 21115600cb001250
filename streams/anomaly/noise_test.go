package anomaly

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// The simulations draw both windows from a labeling process: each unit has a true category
// among k; each of its 2-4 annotators (drawn from a pool) gives it with probability r, else a
// category drawn uniformly (possibly the true one). For nominal data this gives alpha = r²
// (the pairwise agreement is r² + (1-r²)/k, chance 1/k). Each simulation judges many pairs of
// windows drawn from the same process (false alarms: at most ~1% allowed, the rules'
// stated rate) and from a process with a real change (power).

const (
	draws      = 2000
	maxAlarms  = 0.01
	categories = 4
)

// annotator is one member of the pool: its id and how often it gives the true category.
type annotator struct {
	id string
	r  float64
}

// simUnits draws n units labeled by 2-4 distinct annotators of pool each.
func simUnits(rng *rand.Rand, n int, pool []annotator, project, question string) []UnitLabels {
	units := make([]UnitLabels, n)
	for i := range units {
		truth := rng.IntN(categories)
		raters := 2 + rng.IntN(3)
		u := UnitLabels{ProjectID: project, QuestionID: question, Level: "nominal", ItemID: fmt.Sprint(i)}
		for _, j := range rng.Perm(len(pool))[:raters] {
			v := truth
			if rng.Float64() >= pool[j].r {
				v = rng.IntN(categories)
			}
			u.Annotators = append(u.Annotators, pool[j].id)
			u.Values = append(u.Values, agreement.Value(fmt.Sprint("c", v)))
		}
		units[i] = u
	}
	return units
}

func pool(n int, r float64) []annotator {
	p := make([]annotator, n)
	for i := range p {
		p[i] = annotator{id: fmt.Sprintf("a%02d", i), r: r}
	}
	return p
}

// judgeAnnotators draws a previous and a current window and judges every annotator; it
// returns the annotators whose agreement fired and how many were judged on enough evidence.
func judgeAnnotators(rng *rand.Rand, prevPool, curPool []annotator, units int) (fired map[string]bool, judged int) {
	rule := DropRule{MinEvidence: DefaultMinPairableValues, Z: zOneSided(DefaultFalseAlarm), MinDrop: DefaultMinDrop}
	prev := map[string]Measure{}
	for _, a := range AnnotatorAgreements(simUnits(rng, units, prevPool, "p", "q")) {
		prev[a.AnnotatorID] = a.Measure()
	}
	fired = map[string]bool{}
	for _, a := range AnnotatorAgreements(simUnits(rng, units, curPool, "p", "q")) {
		v := rule.Judge(prev[a.AnnotatorID], a.Measure())
		if v.Reason != ReasonNotEnoughData && v.Reason != ReasonUndefined {
			judged++
		}
		if v.Fired {
			fired[a.AnnotatorID] = true
		}
	}
	return fired, judged
}

// TestAnnotatorDropNoise: a pool of 8 annotators of r = 0.92 (pairwise agreement
// r·r' + (1-r·r')/k, about 0.89) labels 200 units a window (each annotator about 75 labels).
// The rule's false-alarm rate per annotator judged stays under 1%, and an annotator whose
// accuracy falls to r = 0.4 (agreement with the others about 0.53) is caught nearly always.
// Its partners' agreement truly falls too, by its share of their pairs (about a seventh of
// 0.36): they may fire, in at most 5% of their judgements.
func TestAnnotatorDropNoise(t *testing.T) {
	var partners, partnerAlarms int
	testNoise(t, "annotators", func(rng *rand.Rand) (alarms, judged int) {
		fired, n := judgeAnnotators(rng, pool(8, 0.92), pool(8, 0.92), 200)
		return len(fired), n
	}, func(rng *rand.Rand) bool {
		bad := pool(8, 0.92)
		bad[3].r = 0.4
		fired, judged := judgeAnnotators(rng, pool(8, 0.92), bad, 200)
		partners += judged - 1
		if fired["a03"] {
			partnerAlarms += len(fired) - 1
		}
		return fired["a03"]
	})
	t.Logf("partners of the failing annotator: %d alarms in %d judgements", partnerAlarms, partners)
	if float64(partnerAlarms) > 0.05*float64(partners) {
		t.Errorf("partners of the failing annotator fired %d times in %d judgements, want at most 5%%", partnerAlarms, partners)
	}
}

// testNoise runs the null simulation draws times and requires the alarms per judgement to
// stay at most maxAlarms; then runs the changed simulation, if any, and requires it to be
// caught in at least 95% of the draws.
func testNoise(t *testing.T, what string, null func(*rand.Rand) (alarms, judged int), changed func(*rand.Rand) bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(20, 1))
	var alarms, judged int
	for range draws {
		a, n := null(rng)
		alarms, judged = alarms+a, judged+n
	}
	if judged < draws {
		t.Fatalf("%s: only %d judgements in %d draws: the simulation is below the minimum evidence", what, judged, draws)
	}
	rate := float64(alarms) / float64(judged)
	t.Logf("%s: %d false alarms in %d judgements (%.3f%%)", what, alarms, judged, 100*rate)
	if rate > maxAlarms {
		t.Errorf("%s: false-alarm rate %.4f over %d judgements of the same process, want at most %.2f", what, rate, judged, maxAlarms)
	}
	if changed == nil {
		return
	}
	caught := 0
	for range draws / 4 {
		if changed(rng) {
			caught++
		}
	}
	t.Logf("%s: a real change caught in %d of %d draws", what, caught, draws/4)
	if float64(caught) < 0.95*float64(draws/4) {
		t.Errorf("%s: a real change caught in %d of %d draws, want at least 95%%", what, caught, draws/4)
	}
}

// simDistribution draws a question's labels: units of 1-3 labels, each unit's labels sharing
// its true category (drawn from shares) with probability 0.8 (a clustered, realistic
// process), the rest drawn from shares again.
func simDistribution(rng *rand.Rand, units int, shares []float64) Distribution {
	d := Distribution{Counts: map[agreement.Value]int64{}}
	draw := func() agreement.Value {
		x := rng.Float64()
		for i, s := range shares {
			if x < s {
				return agreement.Value(fmt.Sprint("v", i))
			}
			x -= s
		}
		return agreement.Value(fmt.Sprint("v", len(shares)-1))
	}
	for range units {
		truth, m := draw(), 1+rng.IntN(3)
		for range m {
			v := truth
			if rng.Float64() >= 0.8 {
				v = draw()
			}
			d.Counts[v]++
		}
		d.SumSquares += int64(m * m)
	}
	return d
}

// TestLabelDriftNoise: a question with 8 values of uneven shares; the current window holds
// 80 units (about 160 labels, just over the minimum of 100), the baseline 320. With the
// default maximum drift the rule never fires on the same process, and with the maximum at
// its least useful (drift of any size: MaxDrift near 0) the noise bound alone still keeps the
// false alarms under 1%. A real shift (total-variation distance 0.3: the most common value falls from
// 30% to 5%, the two rarest rise to 19% and 20%) fires.
func TestLabelDriftNoise(t *testing.T) {
	shares := []float64{0.3, 0.2, 0.15, 0.1, 0.1, 0.06, 0.05, 0.04}
	shifted := []float64{0.05, 0.15, 0.15, 0.1, 0.1, 0.06, 0.19, 0.2}
	var prevTV float64
	for i, p := range shares {
		prevTV += math.Abs(p - shifted[i])
	}
	t.Logf("the shift's total-variation distance: %.3f", prevTV/2)
	for _, maxDrift := range []float64{DefaultMaxLabelDrift, 1e-9} {
		rule := DriftRule{MinLabels: DefaultMinDriftLabels, MaxDrift: maxDrift, FalseAlarm: DefaultFalseAlarm}
		testNoise(t, fmt.Sprintf("label drift (max %g)", maxDrift), func(rng *rand.Rand) (int, int) {
			v := rule.Judge(simDistribution(rng, 80, shares), simDistribution(rng, 320, shares))
			if v.Reason == ReasonNotEnoughData {
				return 0, 0
			}
			if v.Fired {
				return 1, 1
			}
			return 0, 1
		}, func(rng *rand.Rand) bool {
			// A real change is judged with more evidence: 300 units now.
			return rule.Judge(simDistribution(rng, 300, shifted), simDistribution(rng, 1200, shares)).Fired
		})
	}
}

// cohortMeasure is the Measure of one window of a cohort, through the production path: the
// figure kpi.ReadAgreement makes of the units (alpha from the cells, AlphaCI by kpi.Interval
// from the profiles), its interval taken by FigureInterval and turned into a Measure.
func cohortMeasure(t *testing.T, units []UnitLabels) Measure {
	co := agreement.NewCoincidences()
	vals := make([][]agreement.Value, len(units))
	for i, u := range units {
		co.AddUnit(u.Values)
		vals[i] = u.Values
	}
	fig := kpi.AgreementFigure{PairableUnits: co.PairableUnits(), PairableValues: co.PairableValues(), Level: "nominal"}
	fig.Alpha, fig.Err = kpi.Figures(co, fig.Level)
	fig.AlphaCI, fig.AlphaCIErr = kpi.Interval(co, agreement.Profiles(vals), fig.Level, agreement.DefaultConfidence)
	if fig.Err == nil && fig.AlphaCIErr != nil && !errors.Is(fig.AlphaCIErr, agreement.ErrUndefined) {
		t.Fatal(fig.AlphaCIErr)
	}
	return alphaMeasure(fig, FigureInterval)
}

// TestCohortDropNoise: a healthy project of three cohorts, each of six annotators labeling
// 150 units a window (2-4 annotators a unit, about 450 pairable values), alpha 0.85 (r =
// √0.85). Judged on windows of the same process the rule fires in under 1% of the cohorts'
// judgements; when one cohort falls to alpha 0.6 (r = √0.6) in the current window, that
// cohort, and only it, fires in over 95% of the draws. With fewer units (25 and 60 a window)
// the intervals widen and the false alarms stay under 1% too.
func TestCohortDropNoise(t *testing.T) {
	rule := DropRule{MinEvidence: DefaultMinPairableValues, Z: zOneSided(DefaultFalseAlarm), MinDrop: DefaultMinDrop}
	healthy, fallen := math.Sqrt(0.85), math.Sqrt(0.6)
	judge := func(rng *rand.Rand, units int, current [3]float64) (fired []int, judged int) {
		for c := range 3 {
			prev := cohortMeasure(t, simUnits(rng, units, pool(6, healthy), "p", "q"))
			cur := cohortMeasure(t, simUnits(rng, units, pool(6, current[c]), "p", "q"))
			v := rule.Judge(prev, cur)
			if v.Reason != ReasonNotEnoughData && v.Reason != ReasonUndefined {
				judged++
			}
			if v.Fired {
				fired = append(fired, c)
			}
		}
		return fired, judged
	}
	for _, units := range []int{25, 60, 150} {
		var changed func(*rand.Rand) bool
		if units == 150 {
			changed = func(rng *rand.Rand) bool {
				fired, _ := judge(rng, units, [3]float64{fallen, healthy, healthy})
				return len(fired) == 1 && fired[0] == 0
			}
		}
		testNoise(t, fmt.Sprintf("cohorts of %d units", units), func(rng *rand.Rand) (int, int) {
			fired, judged := judge(rng, units, [3]float64{healthy, healthy, healthy})
			return len(fired), judged
		}, changed)
	}
}
