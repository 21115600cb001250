package preference_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	reference "github.com/assay-data/assay/ops/preference"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/preference"
)

// row is one label of a data set written compactly: the chosen and first-shown responses as
// indices into the item's k responses, strength 0 for none.
type row struct {
	item, annotator string
	k               int
	choice, first   int
	strength        int32
}

// workedRows is the worked data set: four annotators, ten items of two responses on a
// three-point strength scale (two labels without strength; item i10 has one label only) and two
// items of three responses (nominal only).
var workedRows = []row{
	{"i01", "A", 2, 0, 0, 3}, {"i01", "B", 2, 0, 1, 2}, {"i01", "C", 2, 0, 0, 3},
	{"i02", "A", 2, 1, 0, 1}, {"i02", "B", 2, 1, 0, 2}, {"i02", "C", 2, 0, 1, 1}, {"i02", "D", 2, 1, 1, 1},
	{"i03", "A", 2, 0, 1, 2}, {"i03", "B", 2, 0, 0, 1}, {"i03", "D", 2, 0, 0, 0},
	{"i04", "A", 2, 1, 1, 3}, {"i04", "C", 2, 1, 0, 3}, {"i04", "D", 2, 1, 1, 2},
	{"i05", "B", 2, 0, 0, 1}, {"i05", "C", 2, 1, 0, 1}, {"i05", "D", 2, 0, 0, 1},
	{"i06", "A", 2, 1, 0, 2}, {"i06", "B", 2, 1, 1, 0}, {"i06", "C", 2, 1, 1, 2}, {"i06", "D", 2, 0, 0, 1},
	{"i07", "A", 2, 0, 0, 1}, {"i07", "B", 2, 0, 0, 3}, {"i07", "C", 2, 0, 0, 2},
	{"i08", "A", 2, 1, 1, 1}, {"i08", "D", 2, 1, 1, 1},
	{"i09", "B", 2, 0, 1, 2}, {"i09", "C", 2, 1, 1, 1},
	{"i10", "A", 2, 0, 0, 2},
	{"i11", "A", 3, 2, 0, 2}, {"i11", "B", 3, 2, 2, 0}, {"i11", "C", 3, 1, 1, 0}, {"i11", "D", 3, 2, 1, 0},
	{"i12", "A", 3, 0, 0, 0}, {"i12", "C", 3, 0, 2, 0}, {"i12", "D", 3, 1, 0, 0},
}

const workedScale = 3

// The worked data set's figures, computed once by hand with the references (ops/preference,
// check.py: krippendorff 0.9.0, SciPy 1.17.1) and checked here without them; TestReference
// computes them again with the references when ASSAY_SCIPY_PYTHON is set.
const (
	workedNominal = 0.40540540540540537 // 15/37
	workedOrdinal = 0.64742514970059883
	// Everyone's position bias: 22 of 35 labels chose the first-shown response; 28 labels
	// compare two responses and 7 three, so the expectation is (28/2 + 7/3)/35 = 7/15.
	workedFirstChosen, workedLabels = 22, 35
	workedLow, workedHigh           = 0.4633693684359532, 0.7683418049663429 // SciPy's Wilson
)

// value is a row's preference value as the JSON object the CLI reads.
func (r row) value() json.RawMessage {
	responses := make([]string, r.k)
	for i := range responses {
		responses[i] = fmt.Sprintf("%s/m%d", r.item, i+1)
	}
	v := map[string]any{"responses": responses, "choice": responses[r.choice], "shown_first": responses[r.first]}
	if r.strength > 0 {
		v["strength"] = r.strength
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// figures are what the package computes of a data set, through its public API only.
type figures struct {
	nominal, ordinal agreement.AlphaResult
	nominalErr       error
	ordinalErr       error
	bias             map[string]preference.BiasCounts // "" for everyone
}

func compute(t *testing.T, rows []row, scale preference.Scale) figures {
	t.Helper()
	units := map[string][]preference.Label{}
	f := figures{bias: map[string]preference.BiasCounts{}}
	for _, r := range rows {
		l, err := preference.ParseJSON(r.value(), scale)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		units[r.item] = append(units[r.item], l)
		c, err := preference.BiasOf(l)
		if err != nil {
			t.Fatal(err)
		}
		f.bias[r.annotator] = f.bias[r.annotator].Add(c)
		f.bias[""] = f.bias[""].Add(c)
	}
	nc, oc := agreement.NewCoincidences(), agreement.NewCoincidences()
	for _, u := range units {
		nv, err := preference.NominalValues(u)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := preference.OrdinalValues(u, scale)
		if err != nil {
			t.Fatal(err)
		}
		nc.AddUnit(nv)
		oc.AddUnit(ov)
	}
	f.nominal, f.nominalErr = nc.Alpha(agreement.Nominal)
	f.ordinal, f.ordinalErr = oc.Alpha(agreement.Ordinal)
	return f
}

func TestWorkedExample(t *testing.T) {
	f := compute(t, workedRows, workedScale)
	if f.nominalErr != nil || f.ordinalErr != nil {
		t.Fatal(f.nominalErr, f.ordinalErr)
	}
	t.Logf("nominal %+v", f.nominal)
	t.Logf("ordinal %+v", f.ordinal)
	if math.Abs(f.nominal.Alpha-workedNominal) > 1e-12 {
		t.Errorf("nominal alpha %.17g, krippendorff %.17g", f.nominal.Alpha, workedNominal)
	}
	if math.Abs(f.ordinal.Alpha-workedOrdinal) > 1e-12 {
		t.Errorf("ordinal alpha %.17g, krippendorff %.17g", f.ordinal.Alpha, workedOrdinal)
	}
	b, err := f.bias[""].Bias(0.95)
	if err != nil {
		t.Fatal(err)
	}
	if b.FirstChosen != workedFirstChosen || b.Labels != workedLabels || b.Expected != 7.0/15 ||
		!near(b.Interval.Low, workedLow) || !near(b.Interval.High, workedHigh) || b.ExcludesExpected {
		t.Errorf("position bias %+v, want %d/%d in [%v, %v], expected 7/15, not excluded",
			b, workedFirstChosen, workedLabels, workedLow, workedHigh)
	}
}

// seededRows makes a larger data set: items of two responses (and every fourth of three), each
// labeled by 2 to 5 of 6 annotators, who choose the better response with probability 0.75, give
// a strength four times in five, and of whom annotator "a1" picks the first-shown response 40%
// of the time whatever it is.
func seededRows(seed uint64, items int) []row {
	rng := rand.New(rand.NewPCG(seed, 21))
	var rows []row
	annotators := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	for i := range items {
		k := 2
		if i%4 == 3 {
			k = 3
		}
		better := rng.IntN(k)
		item := fmt.Sprintf("s%04d", i)
		for _, a := range rng.Perm(len(annotators))[:2+rng.IntN(4)] {
			r := row{item: item, annotator: annotators[a], k: k, first: rng.IntN(k), choice: better}
			switch {
			case annotators[a] == "a1" && rng.Float64() < 0.4:
				r.choice = r.first
			case rng.Float64() >= 0.75:
				r.choice = (better + 1 + rng.IntN(k-1)) % k
			}
			if rng.Float64() < 0.8 {
				r.strength = int32(1 + rng.IntN(workedScale))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// TestReference checks the alphas, the position-bias counts, expectations and intervals, and
// Wilson intervals at the edges against the references of ops/preference (check.py: SciPy and
// the PyPI krippendorff package), on the worked data set and on a seeded one.
func TestReference(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows       []row
		confidence float64
	}{
		{"worked", workedRows, 0.95},
		{"seeded", seededRows(1, 400), 0.90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := reference.Data{Scale: workedScale, Confidence: tc.confidence, Intervals: [][2]int64{
				{0, 1}, {1, 1}, {0, 10}, {10, 10}, {1, 2}, {7, 20}, {13, 30}, {62, 100},
				{500, 1000}, {1, 1000000}, {123456, 1000000}, {999999, 1000000},
			}}
			for _, r := range tc.rows {
				data.Labels = append(data.Labels, reference.Label{Item: r.item, Annotator: r.annotator, Value: r.value()})
			}
			ref := reference.Check(t, data)
			t.Logf("references: %s", ref.Client)
			f := compute(t, tc.rows, workedScale)
			checkAlpha(t, "nominal", f.nominal, f.nominalErr, ref.NominalAlpha)
			checkAlpha(t, "ordinal", f.ordinal, f.ordinalErr, ref.OrdinalAlpha)

			whos := slices.Sorted(func(yield func(string) bool) {
				for w := range f.bias {
					if !yield(w) {
						return
					}
				}
			})
			if len(whos) != len(ref.Bias) {
				t.Errorf("bias for %q, references for %d", whos, len(ref.Bias))
			}
			for _, who := range whos {
				c, want := f.bias[who], ref.Bias[who]
				b, err := c.Bias(tc.confidence)
				if err != nil {
					t.Fatal(err)
				}
				// The expectation exactly: ExpectedScaled/(Labels·ExpectedUnit) = num/den.
				lhs := new(big.Int).Mul(big.NewInt(c.ExpectedScaled), big.NewInt(want.ExpectedDen))
				rhs := new(big.Int).Mul(big.NewInt(want.ExpectedNum), new(big.Int).Mul(big.NewInt(c.Labels), big.NewInt(preference.ExpectedUnit)))
				if c.FirstChosen != want.FirstChosen || c.Labels != want.Labels || lhs.Cmp(rhs) != 0 {
					t.Errorf("annotator %q: counts %+v, references %+v", who, c, want)
				}
				if !near(b.Interval.Low, want.Low) || !near(b.Interval.High, want.High) ||
					b.Expected != want.Expected || b.ExcludesExpected != want.Excludes {
					t.Errorf("annotator %q: bias %+v, references %+v", who, b, want)
				}
				t.Logf("annotator %q: %d/%d first-shown, [%.4f, %.4f], expected %.4f, excludes %v",
					who, b.FirstChosen, b.Labels, b.Interval.Low, b.Interval.High, b.Expected, b.ExcludesExpected)
			}
			for _, want := range ref.Intervals {
				iv, err := preference.Wilson(want.Successes, want.Trials, tc.confidence)
				if err != nil {
					t.Fatal(err)
				}
				if !near(iv.Low, want.Low) || !near(iv.High, want.High) {
					t.Errorf("Wilson(%d, %d): [%.17g, %.17g], SciPy [%.17g, %.17g]",
						want.Successes, want.Trials, iv.Low, iv.High, want.Low, want.High)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func checkAlpha(t *testing.T, level string, got agreement.AlphaResult, err error, want *float64) {
	t.Helper()
	switch {
	case want == nil && err == nil:
		t.Errorf("%s alpha %v, krippendorff finds it undefined", level, got.Alpha)
	case want != nil && err != nil:
		t.Errorf("%s alpha: %v, krippendorff %v", level, err, *want)
	case want != nil && math.Abs(got.Alpha-*want) > 1e-12:
		t.Errorf("%s alpha %.17g, krippendorff %.17g", level, got.Alpha, *want)
	case want != nil:
		t.Logf("%s alpha %.17g over %d units (krippendorff %.17g)", level, got.Alpha, got.PairableUnits, *want)
	}
}
