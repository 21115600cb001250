package anomaly

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

func TestDropRule(t *testing.T) {
	rule := DropRule{MinEvidence: 50, Z: zOneSided(0.01), MinDrop: 0.1}
	m := func(v, se float64, n int64) Measure { return Measure{Value: v, SE: se, Evidence: n, Defined: true} }
	for _, c := range []struct {
		name       string
		prev, cur  Measure
		fired      bool
		reason     string
		threshold  float64 // checked when fired
		marginNear float64
	}{
		{"a real drop fires", m(0.85, 0.03, 400), m(0.6, 0.04, 400), true, "", 0.85 - 2.326*0.05, 2.326 * 0.05},
		{"a drop within the noise does not", m(0.85, 0.1, 400), m(0.6, 0.1, 400), false, ReasonWithinNoise, 0, 0},
		{"a significant drop below the minimum does not", m(0.85, 0.005, 5000), m(0.78, 0.005, 5000), false, ReasonBelowMinimum, 0, 0},
		{"exactly the minimum drop fires (no float slack lost)", m(0.85, 0.001, 5000), m(0.75, 0.001, 5000), true, "", 0.75, 0},
		{"the previous window below the minimum evidence", m(0.85, 0.03, 49), m(0.4, 0.03, 400), false, ReasonNotEnoughData, 0, 0},
		{"the current window below the minimum evidence", m(0.85, 0.03, 400), m(0.4, 0.03, 10), false, ReasonNotEnoughData, 0, 0},
		{"no previous figure at all", Measure{}, m(0.4, 0.03, 400), false, ReasonNotEnoughData, 0, 0},
		{"undefined alpha in a window", Measure{Evidence: 400}, m(0.4, 0.03, 400), false, ReasonUndefined, 0, 0},
		{"a NaN standard error", m(0.85, math.NaN(), 400), m(0.4, 0.03, 400), false, ReasonUndefined, 0, 0},
		{"a rise never fires", m(0.6, 0.01, 400), m(0.85, 0.01, 400), false, ReasonWithinNoise, 0, 0},
		{"no change", m(0.8, 0, 400), m(0.8, 0, 400), false, ReasonWithinNoise, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := rule.Judge(c.prev, c.cur)
			if v.Fired != c.fired || v.Reason != c.reason {
				t.Fatalf("fired %v reason %q, want %v %q (%+v)", v.Fired, v.Reason, c.fired, c.reason, v)
			}
			if c.fired {
				if math.Abs(v.Threshold-c.threshold) > 1e-3 {
					t.Errorf("threshold %.4f, want %.4f", v.Threshold, c.threshold)
				}
				if c.cur.Value >= v.Threshold+1e-9 {
					t.Errorf("fired with current %.3f not below the threshold %.3f", c.cur.Value, v.Threshold)
				}
				if c.marginNear != 0 && math.Abs(v.Margin-c.marginNear) > 1e-3 {
					t.Errorf("margin %.4f, want %.4f", v.Margin, c.marginNear)
				}
			}
		})
	}
	if z := zOneSided(0.01); math.Abs(z-2.3263) > 1e-4 {
		t.Errorf("z of 1%% one-sided = %v, want 2.3263", z)
	}
}

func TestAnnotatorAgreements(t *testing.T) {
	unit := func(item string, pairs ...string) UnitLabels {
		u := UnitLabels{ProjectID: "p", QuestionID: "q", Level: "nominal", ItemID: item}
		for i := 0; i < len(pairs); i += 2 {
			u.Annotators = append(u.Annotators, pairs[i])
			u.Values = append(u.Values, agreement.Value(pairs[i+1]))
		}
		return u
	}
	got := AnnotatorAgreements([]UnitLabels{
		unit("i1", "a", "x", "b", "x", "c", "y"), // a: 2 pairs, 1 agrees; b: 2, 1; c: 2, 0
		unit("i2", "a", "x", "b", "y"),           // a: 1, 0; b: 1, 0
		unit("i3", "a", "x", "a", "x"),           // one annotator twice: nothing to compare
		unit("i4", "c", "z"),                     // alone
	})
	want := []AnnotatorAgreement{
		{ProjectID: "p", QuestionID: "q", Level: "nominal", AnnotatorID: "a", Pairs: 3, Agreeing: 1, Labels: 2, SumSquaredPairs: 5},
		{ProjectID: "p", QuestionID: "q", Level: "nominal", AnnotatorID: "b", Pairs: 3, Agreeing: 1, Labels: 2, SumSquaredPairs: 5},
		{ProjectID: "p", QuestionID: "q", Level: "nominal", AnnotatorID: "c", Pairs: 2, Agreeing: 0, Labels: 1, SumSquaredPairs: 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	m := got[0].Measure()
	// p = 1/3, n = 9/5: se = sqrt(2/9 / 1.8).
	if !m.Defined || m.Evidence != 2 || math.Abs(m.Value-1.0/3) > 1e-12 || math.Abs(m.SE-math.Sqrt(2.0/9/1.8)) > 1e-12 {
		t.Errorf("measure %+v", m)
	}
	if m := (AnnotatorAgreement{Labels: 3}).Measure(); m.Defined {
		t.Errorf("no pairs: %+v is defined", m)
	}
}

func dist(counts map[string]int64, ss int64) Distribution {
	d := Distribution{Counts: map[agreement.Value]int64{}, SumSquares: ss}
	for v, n := range counts {
		d.Counts[agreement.Value(v)] = n
	}
	return d
}

func TestTotalVariation(t *testing.T) {
	for _, c := range []struct {
		p, q map[string]int64
		want float64
	}{
		{map[string]int64{"a": 1, "b": 1}, map[string]int64{"a": 5, "b": 5}, 0},
		{map[string]int64{"a": 1}, map[string]int64{"b": 7}, 1},
		{map[string]int64{"a": 3, "b": 1}, map[string]int64{"a": 1, "b": 1}, 0.25},
		{map[string]int64{"a": 1, "b": 1, "c": 2}, map[string]int64{"a": 2, "b": 2}, 0.5},
		{map[string]int64{}, map[string]int64{"a": 1}, 0},
	} {
		if got := TotalVariation(dist(c.p, 0), dist(c.q, 0)); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("TV(%v, %v) = %v, want %v", c.p, c.q, got, c.want)
		}
	}
}

func TestDriftRule(t *testing.T) {
	rule := DriftRule{MinLabels: 100, MaxDrift: 0.2, FalseAlarm: 0.01}
	base := map[string]int64{"car": 1000, "truck": 1000, "bus": 1000, "bike": 1000}
	for _, c := range []struct {
		name      string
		cur       map[string]int64
		curSS     int64
		base      map[string]int64
		fired     bool
		reason    string
		firstMove string
	}{
		{"a shift fires", map[string]int64{"car": 700, "truck": 100, "bus": 100, "bike": 100}, 0, base, true, "", "car"},
		{"a new value fires", map[string]int64{"car": 250, "truck": 250, "bus": 250, "van": 250}, 0, base, true, "", "bike"},
		{"the same shares do not", map[string]int64{"car": 250, "truck": 250, "bus": 250, "bike": 250}, 0, base, false, ReasonWithinNoise, ""},
		{"a small shift beyond noise but under the maximum does not", map[string]int64{"car": 3500, "truck": 2500, "bus": 2000, "bike": 2000}, 0, base, false, ReasonBelowMinimum, ""},
		{"too few current labels", map[string]int64{"car": 99}, 0, base, false, ReasonNotEnoughData, ""},
		{"too few baseline labels", map[string]int64{"car": 700, "truck": 100, "bus": 100, "bike": 100}, 0, map[string]int64{"car": 50, "bus": 49}, false, ReasonNotEnoughData, ""},
		// 120 labels in 4 units of 30: the effective size is 4, so a TV of 0.5 is noise.
		{"labels clustered in few units are weak evidence", map[string]int64{"car": 120}, 4 * 30 * 30, map[string]int64{"car": 240, "truck": 240}, false, ReasonWithinNoise, ""},
		{"the same labels spread over units are not", map[string]int64{"car": 120}, 120, map[string]int64{"car": 240, "truck": 240}, true, "", "car"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := rule.Judge(dist(c.cur, c.curSS), dist(c.base, 0))
			if v.Fired != c.fired || v.Reason != c.reason {
				t.Fatalf("fired %v reason %q, want %v %q (%+v)", v.Fired, v.Reason, c.fired, c.reason, v)
			}
			if v.Reason == ReasonNotEnoughData {
				return
			}
			if v.Threshold != math.Max(0.2, v.NoiseBound) {
				t.Errorf("threshold %v, noise bound %v", v.Threshold, v.NoiseBound)
			}
			if c.fired && (v.Distance <= v.Threshold || v.Shifts[0].Value != c.firstMove) {
				t.Errorf("distance %v threshold %v shifts %+v", v.Distance, v.Threshold, v.Shifts)
			}
		})
	}
}

func TestInForce(t *testing.T) {
	ag := func(level schemas.MeasurementLevel, min int64) *schemas.AgreementTarget {
		return &schemas.AgreementTarget{Level: level, MinAlpha: 0.8, MinPairableValues: min}
	}
	f := func(x float64) *float64 { return &x }
	sets := []TargetSet{
		{ProjectID: "p", EffectiveAt: 100, Order: 1, Agreement: ag("nominal", 20), MaxLabelDrift: f(0.3)},
		{ProjectID: "p", EffectiveAt: 200, Order: 2, Agreement: ag("nominal", 40)},                         // replaces the first from 200
		{ProjectID: "p", EffectiveAt: 200, Order: 0, Agreement: ag("nominal", 10)},                         // same time, earlier in the log
		{ProjectID: "p", EffectiveAt: 900, Order: 5, Agreement: ag("nominal", 99), MaxLabelDrift: f(0.05)}, // not yet in force
		{ProjectID: "p", QuestionID: "q2", EffectiveAt: 150, Order: 3, MaxLabelDrift: f(0.1)},              // narrows drift only
		{ProjectID: "p", DatasetID: "ds", EffectiveAt: 150, Order: 4, Agreement: ag("nominal", 7)},         // a dataset's: ignored
		{ProjectID: "other", EffectiveAt: 1, Order: 6, Agreement: ag("nominal", 8), MaxLabelDrift: f(0.9)}, // another project
	}
	for _, c := range []struct {
		question  string
		now       int64
		minPV     int64
		drift     *float64
		evidenceN int64 // minEvidence at nominal, default 50
	}{
		{"q1", 50, 0, nil, 50},
		{"q1", 150, 20, f(0.3), 20},
		{"q1", 250, 40, nil, 40}, // the set in force states no drift: none (the earlier set is replaced)
		{"q2", 250, 40, f(0.1), 40},
		{"q2", 120, 20, f(0.3), 20},
	} {
		got := InForce(sets, "p", c.question, c.now)
		var minPV int64
		if got.Agreement != nil {
			minPV = got.Agreement.MinPairableValues
		}
		if minPV != c.minPV || !reflect.DeepEqual(got.MaxLabelDrift, c.drift) {
			t.Errorf("%s at %d: min pairable %d drift %v, want %d %v", c.question, c.now, minPV, ptrStr(got.MaxLabelDrift), c.minPV, ptrStr(c.drift))
		}
		if n := got.minEvidence("nominal", 50); n != c.evidenceN {
			t.Errorf("%s at %d: evidence %d, want %d", c.question, c.now, n, c.evidenceN)
		}
		if n := got.minEvidence("ordinal", 50); n != 50 {
			t.Errorf("%s at %d: a target at another level set the evidence of ordinal to %d", c.question, c.now, n)
		}
	}
}

func ptrStr(f *float64) string {
	if f == nil {
		return "nil"
	}
	b, _ := json.Marshal(*f)
	return string(b)
}

func TestWindowsAt(t *testing.T) {
	w := WindowsAt(time.Date(2026, 3, 15, 13, 0, 0, 0, time.FixedZone("x", 3600)), 7*24*time.Hour, 4)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	want := Windows{Current: Span{day(9), day(16)}, Previous: Span{day(2), day(9)}, Baseline: Span{day(9).AddDate(0, 0, -28), day(9)}}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("windows %+v, want %+v", w, want)
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	if _, err := (Config{}).withDefaults(); err == nil {
		t.Error("no Now: no error")
	}
	c, err := Config{Now: time.Now()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != DefaultWindow || c.BaselineWindows != 4 || c.FalseAlarm != 0.01 || c.MinDrop != 0.1 ||
		c.MinPairableValues != 50 || c.MaxLabelDrift != 0.2 || c.MinDriftLabels != 100 || c.AlphaInterval == nil {
		t.Errorf("defaults %+v", c)
	}
	_, err = Config{Now: time.Now(), Window: 36 * time.Hour, FalseAlarm: 0.7, MinDrop: -1, MinPairableValues: 1, MaxLabelDrift: 2, MinDriftLabels: -1, BaselineWindows: -2}.withDefaults()
	for _, want := range []string{"whole number of days", "false-alarm", "minimum drop", "pairable", "label drift", "drift labels", "baseline"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

// TestJudge runs the rules over inputs as Read returns them: the targets in force set each
// scope's evidence and each question's maximum drift, and each anomaly carries its figures.
func TestJudge(t *testing.T) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	w := WindowsAt(now, DefaultWindow, 4)
	m := func(v, se float64, n int64) Measure { return Measure{Value: v, SE: se, Evidence: n, Defined: true} }
	drift := 0.5
	in := Inputs{
		Windows: w,
		Targets: []TargetSet{
			{ProjectID: "p", EffectiveAt: 1, Agreement: &schemas.AgreementTarget{Level: "nominal", MinAlpha: 0.8, MinPairableValues: 500}},
			{ProjectID: "p", QuestionID: "q-lax", EffectiveAt: 1, MaxLabelDrift: &drift},
		},
		Agreement: []ScopeMeasures{
			{ProjectID: "p", QuestionID: "q", Level: "nominal", Scope: "cohort:a", Previous: m(0.85, 0.02, 600), Current: m(0.6, 0.03, 600)},
			{ProjectID: "p", QuestionID: "q", Level: "nominal", Scope: "cohort:b", Previous: m(0.85, 0.02, 400), Current: m(0.6, 0.03, 400)}, // under the target's 500
			{ProjectID: "p", QuestionID: "q", Level: "ordinal", Scope: "cohort:c", Previous: m(0.85, 0.02, 400), Current: m(0.6, 0.03, 400)}, // default 50 at another level
			{ProjectID: "p", QuestionID: "q", Level: "nominal", Scope: "annotator:x", Previous: m(0.9, 0.02, 600), Current: m(0.88, 0.02, 600)},
			{ProjectID: "r", QuestionID: "q", Level: "nominal", Scope: "vendor:v", Previous: m(0.9, 0.01, 60), Current: m(0.5, 0.05, 60)}, // default evidence
		},
		Distributions: []QuestionDistributions{
			{ProjectID: "p", QuestionID: "q", Current: dist(map[string]int64{"a": 900, "b": 100}, 0), Baseline: dist(map[string]int64{"a": 2000, "b": 2000}, 0)},
			{ProjectID: "p", QuestionID: "q-lax", Current: dist(map[string]int64{"a": 900, "b": 100}, 0), Baseline: dist(map[string]int64{"a": 2000, "b": 2000}, 0)},
		},
	}
	got, err := Judge(in, Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range got {
		keys = append(keys, a.Kind+" "+a.ProjectID+" "+a.QuestionID+" "+a.Scope)
		if a.Since != "2026-03-09" || a.Detail == "" {
			t.Errorf("%+v", a)
		}
	}
	want := []string{"agreement_drop p q cohort:a", "agreement_drop p q cohort:c", "agreement_drop r q vendor:v", "label_drift p q all"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("anomalies %q, want %q", keys, want)
	}
	a := got[0]
	if a.Current != 0.6 || *a.Previous != 0.85 || a.Evidence != 600 || a.ReferenceEvidence != 600 || a.NoiseBound != nil ||
		math.Abs(a.Threshold-0.75) > 1e-9 {
		t.Errorf("cohort:a %+v", a)
	}
	d := got[3]
	if math.Abs(d.Current-0.4) > 1e-9 || d.Previous != nil || d.NoiseBound == nil || d.Threshold != 0.2 || d.Evidence != 1000 ||
		d.ReferenceEvidence != 4000 || len(d.Shifts) != 2 {
		t.Errorf("drift %+v", d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "project_id", "question_id", "scope", "current", "threshold", "evidence", "reference_evidence", "since", "detail", "noise_bound", "shifts"} {
		if _, ok := wire[k]; !ok {
			t.Errorf("JSON %s has no %q", b, k)
		}
	}
	if _, ok := wire["previous"]; ok {
		t.Errorf("a drift has a previous figure: %s", b)
	}
}

// TestAlphaMeasure recovers the standard error of Fisher's z from an interval built as
// agreement.AlphaInterval builds it, and the rule judges alpha on that scale.
func TestAlphaMeasure(t *testing.T) {
	fz := FisherZ{K: 3}
	for _, a := range []float64{-0.3, 0, 0.5, 0.85, 0.99} {
		z, ok := fz.Z(a)
		if !ok || math.Abs(fz.Alpha(z)-a) > 1e-12 {
			t.Errorf("Fisher's z of %v: %v %v, back %v", a, z, ok, fz.Alpha(z))
		}
	}
	if _, ok := fz.Z(-0.5); ok {
		t.Error("alpha -0.5 is outside the range for K = 3")
	}
	z, _ := fz.Z(0.8)
	q := 1.959963984540054
	fig := kpi.AgreementFigure{Alpha: agreement.AlphaResult{Alpha: 0.8}, PairableValues: 300, PairableUnits: 100}
	iv := func(kpi.AgreementFigure) (agreement.Interval, bool) {
		return agreement.Interval{Low: fz.Alpha(z - q*0.12), High: fz.Alpha(z + q*0.12), Level: 0.95}, true
	}
	m := alphaMeasure(fig, iv)
	if !m.Defined || !m.Fisher || m.Evidence != 300 || m.Units != 100 || m.Value != 0.8 || math.Abs(m.SE-0.12) > 1e-9 {
		t.Errorf("%+v", m)
	}
	fig.Err = agreement.ErrUndefined
	if m := alphaMeasure(fig, iv); m.Defined || m.Evidence != 300 {
		t.Errorf("undefined alpha: %+v", m)
	}
	fig.Err = nil
	if m := alphaMeasure(fig, func(kpi.AgreementFigure) (agreement.Interval, bool) { return agreement.Interval{}, false }); m.Defined {
		t.Errorf("no interval: %+v", m)
	}

	rule := DropRule{MinEvidence: 50, Z: zOneSided(0.01), MinDrop: 0.1}
	alpha := func(a, se float64) Measure {
		return Measure{Value: a, SE: se, Fisher: true, Evidence: 300, Units: 100, Defined: true}
	}
	// 0.85 -> 0.6 with z standard errors 0.1: z(0.85) - z(0.6) = 0.62 > 2.326·0.141 = 0.33.
	v := rule.Judge(alpha(0.85, 0.1), alpha(0.6, 0.1))
	zp, _ := fz.Z(0.85)
	if !v.Fired || math.Abs(v.Threshold-fz.Alpha(zp-v.Margin)) > 1e-12 || v.Threshold >= 0.75 {
		t.Errorf("0.85 -> 0.6: %+v", v)
	}
	// Near 1 the same drop on alpha's scale is a larger one on z's.
	if v := rule.Judge(alpha(0.97, 0.2), alpha(0.85, 0.2)); !v.Fired {
		t.Errorf("0.97 -> 0.85: %+v", v)
	}
	if v := rule.Judge(alpha(0.6, 0.2), alpha(0.45, 0.2)); v.Fired || v.Reason != ReasonWithinNoise {
		t.Errorf("0.6 -> 0.45: %+v", v)
	}
	// One window on alpha's scale, the other on z's: not comparable.
	if v := rule.Judge(alpha(0.85, 0.1), Measure{Value: 0.2, SE: 0.01, Evidence: 300, Defined: true}); v.Fired || v.Reason != ReasonUndefined {
		t.Errorf("mixed scales: %+v", v)
	}
}
