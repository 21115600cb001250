package kpi_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// TestAgreementFigureJSON: the API's form of a figure: numbers where defined, null and the
// reason where not (JSON has no NaN), and read back into the same figures.
func TestAgreementFigureJSON(t *testing.T) {
	co := agreement.NewCoincidences()
	co.AddUnit([]agreement.Value{agreement.Category("a"), agreement.Category("a")})
	co.AddUnit([]agreement.Value{agreement.Category("a"), agreement.Category("b"), agreement.Category("b")})
	f := kpi.AgreementFigure{ProjectID: "p", QuestionID: "q", Level: "nominal", Scope: kpi.ScopeAll,
		PairableUnits: co.PairableUnits(), PairableValues: co.PairableValues(), Coincidences: co}
	f.Alpha, f.Err = kpi.Figures(co, "nominal")
	f.Percent, f.PercentErr = co.PercentAgreement()
	f.Fleiss, f.FleissErr = co.FleissKappa() // 2 and 3 raters: undefined
	if f.Err != nil || f.PercentErr != nil || f.FleissErr == nil {
		t.Fatalf("figures: %v %v %v", f.Err, f.PercentErr, f.FleissErr)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["alpha"] != f.Alpha.Alpha || m["fleiss_kappa"] != nil || m["pairable_values"] != float64(5) || m["scope"] != "all" {
		t.Errorf("JSON %s", b)
	}
	var back kpi.AgreementFigure
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Alpha.Alpha != f.Alpha.Alpha || back.Percent.PercentAgreement != f.Percent.PercentAgreement || back.PairableValues != 5 ||
		back.Err != nil || !errors.Is(back.FleissErr, agreement.ErrUndefined) {
		t.Errorf("read back %+v, want %+v", back, f)
	}

	// No evidence: alpha is null with the reason.
	var none kpi.AgreementFigure
	none.Alpha, none.Err = kpi.Figures(agreement.NewCoincidences(), "nominal")
	b, _ = json.Marshal(none)
	if err := json.Unmarshal(b, &m); err != nil || m["alpha"] != nil || m["undefined"] == "" {
		t.Errorf("undefined alpha: %s", b)
	}
	if err := json.Unmarshal(b, &back); err != nil || !errors.Is(back.Err, agreement.ErrUndefined) {
		t.Errorf("undefined alpha read back: %+v, %v", back, err)
	}
}

// TestAgreementFigureIntervalJSON: alpha_ci is {low, high, level, method} when the interval
// is defined, null with the reason when not, and read back; profiles that do not add up to
// the cells give no interval (ErrProfilesBehind) rather than a wrong one.
func TestAgreementFigureIntervalJSON(t *testing.T) {
	v := func(s ...string) []agreement.Value {
		out := make([]agreement.Value, len(s))
		for i, x := range s {
			out[i] = agreement.Category(x)
		}
		return out
	}
	units := [][]agreement.Value{v("a", "a"), v("a", "b", "b"), v("b", "b"), v("a", "b"), v("a", "a", "a"), v("b", "b", "b")}
	co := agreement.NewCoincidences()
	for _, u := range units {
		co.AddUnit(u)
	}
	profiles := agreement.Profiles(units)
	f := kpi.AgreementFigure{ProjectID: "p", QuestionID: "q", Level: "nominal", Scope: kpi.ScopeAll, Coincidences: co, Profiles: profiles}
	f.Alpha, f.Err = kpi.Figures(co, "nominal")
	f.AlphaCI, f.AlphaCIErr = kpi.Interval(co, profiles, "nominal", 0.9)
	want, err := agreement.AlphaInterval(profiles, agreement.Nominal, 0.9)
	if err != nil || f.AlphaCIErr != nil || *f.AlphaCI != want {
		t.Fatalf("interval %+v (%v), want %+v (%v)", f.AlphaCI, f.AlphaCIErr, want, err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	ci, ok := m["alpha_ci"].(map[string]any)
	if !ok || ci["low"] != want.Low || ci["high"] != want.High || ci["level"] != 0.9 || ci["method"] != agreement.MethodJackknifeUnits || m["alpha_ci_undefined"] != nil {
		t.Errorf("JSON %s", b)
	}
	var back kpi.AgreementFigure
	if err := json.Unmarshal(b, &back); err != nil || back.AlphaCI == nil || *back.AlphaCI != want || back.AlphaCIErr != nil {
		t.Errorf("read back %+v, %v", back.AlphaCI, err)
	}

	// Profiles short of a unit (agreement_profiles behind agreement_cells): no interval.
	short := append([]agreement.UnitProfile(nil), profiles[1:]...)
	if ci, err := kpi.Interval(co, short, "nominal", 0.95); ci != nil || !errors.Is(err, kpi.ErrProfilesBehind) {
		t.Errorf("profiles short of a unit: %+v, %v; want ErrProfilesBehind", ci, err)
	}
	// Undefined (all disagreement in one unit): null with the reason, read back as undefined.
	one := [][]agreement.Value{v("a", "a"), v("b", "b"), v("a", "b")}
	co1 := agreement.NewCoincidences()
	for _, u := range one {
		co1.AddUnit(u)
	}
	g := kpi.AgreementFigure{Level: "nominal", Coincidences: co1}
	g.Alpha, g.Err = kpi.Figures(co1, "nominal")
	g.AlphaCI, g.AlphaCIErr = kpi.Interval(co1, agreement.Profiles(one), "nominal", 0.95)
	if g.AlphaCI != nil || !errors.Is(g.AlphaCIErr, agreement.ErrUndefined) {
		t.Fatalf("interval %+v, %v; want undefined", g.AlphaCI, g.AlphaCIErr)
	}
	b, _ = json.Marshal(g)
	if err := json.Unmarshal(b, &m); err != nil || m["alpha_ci"] != nil || m["alpha_ci_undefined"] == "" {
		t.Errorf("undefined interval: %s", b)
	}
	if _, ok := m["alpha_ci"]; !ok {
		t.Errorf("alpha_ci missing instead of null: %s", b)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.AlphaCI != nil || !errors.Is(back.AlphaCIErr, agreement.ErrUndefined) {
		t.Errorf("undefined interval read back: %+v, %v", back.AlphaCI, err)
	}
}
