package agreement

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report gathers every agreement figure for one set of ratings, so that the CLI
// (assay agreement --input ratings.csv --level L [--json]) only reads, calls NewReport and
// prints. Figures that are undefined are nil, with the reason beside them, because JSON has
// no NaN and a 0 would read as "no agreement".
type Report struct {
	Level string `json:"level"`
	// Units is the number of units with at least one rating; Raters the number of annotators.
	Units  int `json:"units"`
	Raters int `json:"raters"`
	// PairableUnits and PairableValues (n..) are the evidence behind alpha, percent agreement
	// and Fleiss' kappa: units with two or more values, and the values in them.
	PairableUnits  int64 `json:"pairable_units"`
	PairableValues int64 `json:"pairable_values"`

	Alpha          *float64 `json:"alpha"`
	AlphaUndefined string   `json:"alpha_undefined,omitempty"`
	// AlphaCI is alpha's confidence interval (AlphaInterval, jackknife over units); nil when
	// it is undefined, with the reason in AlphaCIUndefined.
	AlphaCI              *Interval `json:"alpha_ci"`
	AlphaCIUndefined     string    `json:"alpha_ci_undefined,omitempty"`
	ObservedDisagreement *float64  `json:"observed_disagreement,omitempty"`
	ExpectedDisagreement *float64  `json:"expected_disagreement,omitempty"`

	// FleissKappa treats values as nominal and needs the same number of raters on every
	// pairable unit; otherwise it is nil and FleissKappaUndefined says why.
	FleissKappa          *float64 `json:"fleiss_kappa"`
	FleissKappaUndefined string   `json:"fleiss_kappa_undefined,omitempty"`

	// PercentAgreement is a proportion in [0, 1] (see Coincidences.PercentAgreement).
	PercentAgreement *float64 `json:"percent_agreement"`

	// Annotators is each annotator against the others; Pairs every pair of annotators that
	// share a unit, with unweighted Cohen's kappa.
	Annotators []AnnotatorAgreement `json:"annotators"`
	Pairs      []PairAgreement      `json:"pairs"`
}

// NewReport computes every figure for ratings at level, with alpha's confidence interval at
// confidence (e.g. DefaultConfidence). Undefined figures are reported as such in the Report;
// an error means the input itself is unusable (a value not of the level's form, an annotator
// rating a unit twice, a confidence outside (0, 1)).
func NewReport(ratings []Rating, level Level, confidence float64) (Report, error) {
	if !(confidence > 0 && confidence < 1) {
		return Report{}, fmt.Errorf("agreement report: confidence %v is not between 0 and 1", confidence)
	}
	units, err := groupUnits(ratings)
	if err != nil {
		return Report{}, fmt.Errorf("agreement report: %w", err)
	}
	co := NewCoincidences()
	raters := map[string]bool{}
	unitValues := make([][]Value, 0, len(units))
	for _, rs := range units {
		vals := make([]Value, len(rs))
		for i, r := range rs {
			vals[i] = r.Value
			raters[r.Annotator] = true
		}
		co.AddUnit(vals)
		unitValues = append(unitValues, vals)
	}
	rep := Report{
		Level: level.String(), Units: len(units), Raters: len(raters),
		PairableUnits: co.PairableUnits(), PairableValues: co.PairableValues(),
	}

	a, err := co.Alpha(level)
	switch {
	case errors.Is(err, ErrUndefined):
		rep.AlphaUndefined = undefinedReason(err)
	case err != nil:
		return Report{}, fmt.Errorf("agreement report: %w", err)
	default:
		rep.Alpha = &a.Alpha
		rep.ObservedDisagreement = &a.ObservedDisagreement
		rep.ExpectedDisagreement = &a.ExpectedDisagreement
		ci, err := AlphaInterval(Profiles(unitValues), level, confidence)
		switch {
		case errors.Is(err, ErrUndefined):
			rep.AlphaCIUndefined = undefinedReason(err)
		case err != nil:
			return Report{}, fmt.Errorf("agreement report: %w", err)
		default:
			rep.AlphaCI = &ci
		}
	}
	if rep.Alpha == nil {
		rep.AlphaCIUndefined = "alpha is undefined"
	}

	if k, err := co.FleissKappa(); err != nil {
		rep.FleissKappaUndefined = undefinedReason(err)
	} else {
		rep.FleissKappa = &k.Kappa
	}
	if p, err := co.PercentAgreement(); err == nil {
		rep.PercentAgreement = &p.PercentAgreement
	}

	if rep.Annotators, err = AnnotatorAgreements(ratings); err != nil {
		return Report{}, fmt.Errorf("agreement report: %w", err)
	}
	if rep.Pairs, err = PairwiseAgreements(ratings, Unweighted); err != nil {
		return Report{}, fmt.Errorf("agreement report: %w", err)
	}
	return rep, nil
}

// undefinedReason keeps what follows "undefined: " in a wrapped ErrUndefined, so the report says
// why a figure is missing without repeating which figure it is.
func undefinedReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrUndefined.Error()+": "); i >= 0 {
		return msg[i+len(ErrUndefined.Error())+2:]
	}
	return msg
}

// WriteText prints the report for a terminal: the headline figures, then one line per annotator.
// Pairs are left to the JSON form, since their number grows with the square of the raters.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fig := func(name string, v *float64, why string) {
		if v != nil {
			fmt.Fprintf(tw, "%s\t%.4f\n", name, *v)
		} else {
			fmt.Fprintf(tw, "%s\tundefined (%s)\n", name, why)
		}
	}
	fmt.Fprintf(tw, "level\t%s\n", r.Level)
	switch {
	case r.Alpha == nil:
		fig("krippendorff alpha", r.Alpha, r.AlphaUndefined)
	case r.AlphaCI != nil:
		fmt.Fprintf(tw, "krippendorff alpha\t%.4f  %g%% CI [%.4f, %.4f] (%s)\n", *r.Alpha,
			100*r.AlphaCI.Level, r.AlphaCI.Low, r.AlphaCI.High, r.AlphaCI.Method)
	default:
		fmt.Fprintf(tw, "krippendorff alpha\t%.4f  CI undefined (%s)\n", *r.Alpha, r.AlphaCIUndefined)
	}
	fig("fleiss kappa", r.FleissKappa, r.FleissKappaUndefined)
	fig("percent agreement", r.PercentAgreement, "no pairable units")
	fmt.Fprintf(tw, "units\t%d (pairable %d)\n", r.Units, r.PairableUnits)
	fmt.Fprintf(tw, "pairable values\t%d\n", r.PairableValues)
	fmt.Fprintf(tw, "raters\t%d\n", r.Raters)
	if len(r.Annotators) > 0 {
		fmt.Fprintf(tw, "\nannotator\tratings\tshared units\tagreement\n")
		for _, a := range r.Annotators {
			p := "-"
			if a.PercentAgreement != nil {
				p = fmt.Sprintf("%.4f", *a.PercentAgreement)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", a.Annotator, a.Ratings, a.SharedUnits, p)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write agreement report: %w", err)
	}
	return nil
}
