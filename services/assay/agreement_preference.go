package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/preference"
)

// preferenceReport is `assay agreement --level preference`: alpha on the choice (nominal) and,
// with a strength scale, on choice and strength (ordinal), both as agreement.Report over the
// codings of streams/preference; position bias overall and per annotator; accuracy against a
// gold annotator when asked.
type preferenceReport struct {
	Level string `json:"level"`
	// StrengthScale is -strength-scale, null without one.
	StrengthScale *int32 `json:"strength_scale"`
	// Units counts the units with at least one (non-gold) label, Labels the labels, Raters the
	// annotators.
	Units  int `json:"units"`
	Labels int `json:"labels"`
	Raters int `json:"raters"`
	// Nominal is agreement on the choice, coded as the chosen response's index in the item's
	// canonical order (preference.NominalValue).
	Nominal agreement.Report `json:"nominal"`
	// Ordinal is agreement on choice and strength as one scale of 2N ranks
	// (preference.OrdinalValue): only items of two responses and labels with a strength count.
	// Nil without a strength scale.
	Ordinal      *agreement.Report   `json:"ordinal"`
	PositionBias positionBias        `json:"position_bias"`
	Accuracy     *preferenceAccuracy `json:"accuracy,omitempty"`
}

// positionBias is the share of labels that chose the response shown first, with its Wilson
// interval and its expectation without bias, over every label and per annotator.
type positionBias struct {
	All          *preference.Bias `json:"all"`
	AllUndefined string           `json:"all_undefined,omitempty"`
	Annotators   []annotatorBias  `json:"annotators"`
}

type annotatorBias struct {
	Annotator string `json:"annotator"`
	preference.Bias
}

// preferenceAccuracy is every annotator's accuracy against the gold annotator's choices, on
// the units gold labeled.
type preferenceAccuracy struct {
	Gold         string                        `json:"gold"`
	All          *preference.Accuracy          `json:"all"`
	AllUndefined string                        `json:"all_undefined,omitempty"`
	Annotators   []preferenceAnnotatorAccuracy `json:"annotators"`
}

type preferenceAnnotatorAccuracy struct {
	Annotator string `json:"annotator"`
	preference.Accuracy
}

// readPreferenceReport reads a preference CSV, every value checked for a question with the
// given strength scale, and computes its report with intervals at confidence.
func readPreferenceReport(path string, scale preference.Scale, gold string, confidence float64) (preferenceReport, error) {
	in, err := openInput(path)
	if err != nil {
		return preferenceReport{}, fmt.Errorf("open ratings: %w", err)
	}
	defer in.Close()
	rows, err := readValueCSV(in, func(raw []byte) (preference.Label, error) { return preference.ParseJSON(raw, scale) })
	if err != nil {
		return preferenceReport{}, fmt.Errorf("read %s: %w", path, err)
	}
	rep, err := newPreferenceReport(rows, scale, gold, confidence)
	if err != nil {
		return preferenceReport{}, fmt.Errorf("agreement of %s: %w", path, err)
	}
	return rep, nil
}

func newPreferenceReport(rows []valueRow[preference.Label], scale preference.Scale, gold string, confidence float64) (preferenceReport, error) {
	rows, golden := splitGold(rows, gold)
	rep := preferenceReport{Level: levelPreference, Labels: len(rows)}
	if scale != preference.NoScale {
		s := int32(scale)
		rep.StrengthScale = &s
	}

	// Code each unit's labels with streams/preference (which checks that they compare the same
	// responses) into ratings for streams/agreement's report.
	units := map[string][]valueRow[preference.Label]{}
	for _, r := range rows {
		units[r.unit] = append(units[r.unit], r)
	}
	var nominal, ordinal []agreement.Rating
	for _, u := range slices.Sorted(maps.Keys(units)) {
		rs := units[u]
		labels := make([]preference.Label, len(rs))
		for i, r := range rs {
			labels[i] = r.value
		}
		values, err := preference.NominalValues(labels)
		if err != nil {
			return preferenceReport{}, fmt.Errorf("unit %q: %w", u, unitError(rs, err))
		}
		for i, r := range rs {
			nominal = append(nominal, agreement.Rating{Unit: u, Annotator: r.annotator, Value: values[i]})
			v, ok, err := preference.OrdinalValue(r.value, scale)
			if err != nil {
				return preferenceReport{}, fmt.Errorf("line %d: %w", r.line, err)
			}
			if ok {
				ordinal = append(ordinal, agreement.Rating{Unit: u, Annotator: r.annotator, Value: v})
			}
		}
	}
	rep.Units = len(units)
	var err error
	if rep.Nominal, err = agreement.NewReport(nominal, agreement.Nominal, confidence); err != nil {
		return preferenceReport{}, err
	}
	rep.Raters = rep.Nominal.Raters
	if scale != preference.NoScale {
		o, err := agreement.NewReport(ordinal, agreement.Ordinal, confidence)
		if err != nil {
			return preferenceReport{}, err
		}
		rep.Ordinal = &o
	}

	// Position bias: each label's counts (preference.BiasOf), summed per annotator and overall.
	var all preference.BiasCounts
	by := map[string]preference.BiasCounts{}
	for _, r := range rows {
		c, err := preference.BiasOf(r.value)
		if err != nil {
			return preferenceReport{}, fmt.Errorf("line %d: %w", r.line, err)
		}
		all = all.Add(c)
		by[r.annotator] = by[r.annotator].Add(c)
	}
	rep.PositionBias.Annotators = []annotatorBias{}
	b, err := all.Bias(confidence)
	switch {
	case errors.Is(err, agreement.ErrUndefined):
		rep.PositionBias.AllUndefined = err.Error()
	case err != nil:
		return preferenceReport{}, err
	default:
		rep.PositionBias.All = &b
	}
	for _, a := range slices.Sorted(maps.Keys(by)) {
		b, err := by[a].Bias(confidence)
		if err != nil { // an annotator is in by only with a label, so this is defined
			return preferenceReport{}, fmt.Errorf("annotator %q: %w", a, err)
		}
		rep.PositionBias.Annotators = append(rep.PositionBias.Annotators, annotatorBias{Annotator: a, Bias: b})
	}

	if gold != "" {
		if rep.Accuracy, err = preferenceAccuracyOf(gold, rows, golden, confidence); err != nil {
			return preferenceReport{}, err
		}
	}
	return rep, nil
}

// unitError points an error of preference.NominalValues ("label i: ...") at the CSV line of
// the label it names.
func unitError(rs []valueRow[preference.Label], err error) error {
	for i := 1; i < len(rs); i++ {
		if !preference.SameResponses(rs[0].value, rs[i].value) {
			return fmt.Errorf("line %d, column value: responses %q differ from line %d's %q: every label of a unit compares the same responses in the same order",
				rs[i].line, rs[i].value.Responses, rs[0].line, rs[0].value.Responses)
		}
	}
	return err
}

// preferenceAccuracyOf scores every label on a unit gold labeled with preference.AccuracyOf,
// per annotator and overall.
func preferenceAccuracyOf(gold string, rows []valueRow[preference.Label], golden map[string]preference.Label, confidence float64) (*preferenceAccuracy, error) {
	var all preference.AccuracyCounts
	by := map[string]preference.AccuracyCounts{}
	for _, r := range rows {
		g, ok := golden[r.unit]
		if !ok {
			continue
		}
		c, err := preference.AccuracyOf(r.value, g)
		if err != nil {
			return nil, fmt.Errorf("line %d, column value: against the gold of unit %q: %w", r.line, r.unit, err)
		}
		all = all.Add(c)
		by[r.annotator] = by[r.annotator].Add(c)
	}
	acc := &preferenceAccuracy{Gold: gold, Annotators: []preferenceAnnotatorAccuracy{}}
	a, err := all.Accuracy(confidence)
	switch {
	case errors.Is(err, agreement.ErrUndefined):
		acc.AllUndefined = err.Error()
	case err != nil:
		return nil, err
	default:
		acc.All = &a
	}
	for _, name := range slices.Sorted(maps.Keys(by)) {
		a, err := by[name].Accuracy(confidence)
		if err != nil {
			return nil, fmt.Errorf("annotator %q: %w", name, err)
		}
		acc.Annotators = append(acc.Annotators, preferenceAnnotatorAccuracy{Annotator: name, Accuracy: a})
	}
	return acc, nil
}

// WriteText prints the report for a terminal: the alphas with their intervals, position bias
// overall, then one line per annotator (agreement with the others, position bias, accuracy).
func (r preferenceReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.StrengthScale != nil {
		fmt.Fprintf(tw, "level\tpreference, strength scale 1-%d\n", *r.StrengthScale)
	} else {
		fmt.Fprintf(tw, "level\tpreference, no strength scale\n")
	}
	fmt.Fprintf(tw, "nominal alpha\t%s\n", alphaText(r.Nominal))
	if r.Ordinal != nil {
		fmt.Fprintf(tw, "ordinal alpha\t%s\n", alphaText(*r.Ordinal))
	}
	if b := r.PositionBias.All; b != nil {
		fmt.Fprintf(tw, "position bias\t%s\n", biasText(*b))
	} else {
		fmt.Fprintf(tw, "position bias\tundefined (%s)\n", r.PositionBias.AllUndefined)
	}
	if a := r.Accuracy; a != nil {
		if a.All != nil {
			fmt.Fprintf(tw, "accuracy\t%.4f  (%d of %d labels chose %q's response)  %s\n", a.All.Accuracy, a.All.Correct, a.All.Labels, a.Gold, intervalText(a.All.Interval))
		} else {
			fmt.Fprintf(tw, "accuracy\tundefined (%s)\n", a.AllUndefined)
		}
	}
	fmt.Fprintf(tw, "units\t%d (pairable %d)\n", r.Units, r.Nominal.PairableUnits)
	fmt.Fprintf(tw, "labels\t%d\n", r.Labels)
	fmt.Fprintf(tw, "raters\t%d\n", r.Raters)

	if len(r.PositionBias.Annotators) > 0 {
		accuracy := map[string]preference.Accuracy{}
		header := "\nannotator\tlabels\tagreement\tchose first shown\texpected"
		if r.Accuracy != nil {
			header += "\taccuracy"
			for _, a := range r.Accuracy.Annotators {
				accuracy[a.Annotator] = a.Accuracy
			}
		}
		fmt.Fprintln(tw, header)
		agreementOf := map[string]*float64{}
		for _, a := range r.Nominal.Annotators {
			agreementOf[a.Annotator] = a.PercentAgreement
		}
		for _, b := range r.PositionBias.Annotators {
			line := fmt.Sprintf("%s\t%d\t%s\t%s\t%.4f", b.Annotator, b.Labels, short(agreementOf[b.Annotator]), biasShare(b.Bias), b.Expected)
			if r.Accuracy != nil {
				if a, ok := accuracy[b.Annotator]; ok {
					line += fmt.Sprintf("\t%.4f (%d of %d)", a.Accuracy, a.Correct, a.Labels)
				} else {
					line += "\t-"
				}
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write agreement report: %w", err)
		}
		fmt.Fprintf(w, "\nagreement: share of pairs with another annotator on the same unit choosing the same response;\n"+
			"chose first shown: share of labels choosing the response shown first, %g%% CI; * the interval leaves out the expected share\n",
			100*r.PositionBias.Annotators[0].Interval.Level)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write agreement report: %w", err)
	}
	return nil
}

// alphaText is alpha with its interval and evidence, as agreement.Report's text prints it.
func alphaText(r agreement.Report) string {
	switch {
	case r.Alpha == nil:
		return "undefined (" + r.AlphaUndefined + ")"
	case r.AlphaCI != nil:
		return fmt.Sprintf("%.4f  %s  (%d pairable values)", *r.Alpha, intervalText(*r.AlphaCI), r.PairableValues)
	}
	return fmt.Sprintf("%.4f  CI undefined (%s)  (%d pairable values)", *r.Alpha, r.AlphaCIUndefined, r.PairableValues)
}

func intervalText(iv agreement.Interval) string {
	return fmt.Sprintf("%g%% CI [%.4f, %.4f] (%s)", 100*iv.Level, iv.Low, iv.High, iv.Method)
}

// biasText is position bias with its verdict: the share, its interval, and whether the
// interval leaves out the share expected without bias.
func biasText(b preference.Bias) string {
	verdict := "consistent with no bias"
	switch {
	case b.ExcludesExpected && b.Share > b.Expected:
		verdict = "biased towards the first shown"
	case b.ExcludesExpected:
		verdict = "biased away from the first shown"
	}
	return fmt.Sprintf("%.4f chose the response shown first  (%d of %d labels)  %s, expected %.4f: %s",
		b.Share, b.FirstChosen, b.Labels, intervalText(b.Interval), b.Expected, verdict)
}

// biasShare is an annotator's share of first-shown choices for a table cell, marked "*" when
// its interval leaves out the expectation.
func biasShare(b preference.Bias) string {
	mark := ""
	if b.ExcludesExpected {
		mark = " *"
	}
	return fmt.Sprintf("%.4f [%.4f, %.4f]%s", b.Share, b.Interval.Low, b.Interval.High, mark)
}
