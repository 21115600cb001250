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
