package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/regions"
)

// regionsReport is `assay agreement --level spans|boxes`: streams/regions' Report (the keys
// pairwise_f1, mean_iou, per_label_f1, label_alpha and their evidence) with what the CSV held,
// unitizing alpha for spans, and accuracy against a gold annotator when asked.
type regionsReport struct {
	Level        string  `json:"level"`
	IoUThreshold float64 `json:"iou_threshold"`
	// Units counts the units with at least one (non-gold) rating, Raters the annotators.
	Units  int `json:"units"`
	Raters int `json:"raters"`
	regions.Report
	// *UnitizingFigures is nil for boxes, so its keys are left out of their JSON.
	*UnitizingFigures
	Accuracy *regionsAccuracy `json:"accuracy,omitempty"`
}

// UnitizingFigures is unitizing alpha of a spans CSV: the headline figure beside the others
// (null with the reason when not defined) and streams/agreement/unitizing's whole Result
// (per-label figures in categories, the evidence, and the overlapping spans that leave it not
// defined).
type UnitizingFigures struct {
	UnitizingAlpha          *float64         `json:"unitizing_alpha"`
	UnitizingAlphaUndefined string           `json:"unitizing_alpha_undefined,omitempty"`
	Unitizing               unitizing.Result `json:"unitizing"`
}

// regionsAccuracy is every annotator's accuracy against the gold annotator's regions, on the
// units gold labeled.
type regionsAccuracy struct {
	Gold       string                    `json:"gold"`
	All        regions.AccuracyReport    `json:"all"`
	Annotators []regionAnnotatorAccuracy `json:"annotators"`
}

type regionAnnotatorAccuracy struct {
	Annotator string `json:"annotator"`
	regions.AccuracyReport
}

// readRegionsReport reads a spans or boxes CSV and computes its report at IoU threshold t.
func readRegionsReport(path, level string, t float64, gold string) (regionsReport, error) {
	in, err := openInput(path)
	if err != nil {
		return regionsReport{}, fmt.Errorf("open ratings: %w", err)
	}
	defer in.Close()
	var rep regionsReport
	if level == levelSpans {
		rows, err := readValueCSV(in, regions.ParseSpans)
		if err != nil {
			return regionsReport{}, fmt.Errorf("read %s: %w", path, err)
		}
		rep, err = spansReport(rows, t, gold)
		if err != nil {
			return regionsReport{}, fmt.Errorf("agreement of %s: %w", path, err)
		}
	} else {
		rows, err := readValueCSV(in, regions.ParseBoxes)
		if err != nil {
			return regionsReport{}, fmt.Errorf("read %s: %w", path, err)
		}
		rep, err = boxesReport(rows, t, gold)
		if err != nil {
			return regionsReport{}, fmt.Errorf("agreement of %s: %w", path, err)
		}
	}
	return rep, nil
}

// spansReport computes the span figures: region agreement with regions.CompareUnitSpans, unit
// by unit; unitizing alpha with unitizing.NewStudy over every annotator (the items all of them
// labeled), each item as long as the largest span end on it, since a CSV states no length.
func spansReport(rows []valueRow[[]regions.Span], t float64, gold string) (regionsReport, error) {
	rows, golden := splitGold(rows, gold)
	rep, units, err := regionAgreement(levelSpans, rows, t, regions.CompareUnitSpans)
	if err != nil {
		return regionsReport{}, err
	}
	var labels []unitizing.Label
	for _, u := range slices.Sorted(maps.Keys(units)) {
		var length int64
		for _, spans := range units[u] {
			for _, s := range spans {
				length = max(length, s.End)
			}
		}
		for _, rater := range slices.Sorted(maps.Keys(units[u])) {
			l := unitizing.Label{Item: u, Rater: rater, Length: length, Spans: []unitizing.Span{}}
			for _, s := range units[u][rater] {
				l.Spans = append(l.Spans, unitizing.Span{Label: s.Label, Start: s.Start, End: s.End})
			}
			labels = append(labels, l)
		}
	}
	study, err := unitizing.NewStudy(labels, nil)
	if err != nil {
		return regionsReport{}, err
	}
	res, err := unitizing.Alpha(study)
	if err != nil {
		return regionsReport{}, err
	}
	rep.UnitizingFigures = &UnitizingFigures{UnitizingAlpha: res.Alpha, UnitizingAlphaUndefined: res.Undefined, Unitizing: res}
	if gold != "" {
		if rep.Accuracy, err = regionAccuracy(gold, rows, golden, t, regions.ScoreSpans); err != nil {
			return regionsReport{}, err
		}
	}
	return rep, nil
}

// boxesReport computes the box figures with regions.CompareUnitBoxes.
func boxesReport(rows []valueRow[[]regions.Box], t float64, gold string) (regionsReport, error) {
	rows, golden := splitGold(rows, gold)
	rep, _, err := regionAgreement(levelBoxes, rows, t, regions.CompareUnitBoxes)
	if err != nil {
		return regionsReport{}, err
	}
	if gold != "" {
		if rep.Accuracy, err = regionAccuracy(gold, rows, golden, t, regions.ScoreBoxes); err != nil {
			return regionsReport{}, err
		}
	}
	return rep, nil
}

// regionAgreement groups the rows by unit and merges every unit's contribution, computed by
// compare (regions.CompareUnitSpans or CompareUnitBoxes), into one tally.
func regionAgreement[R any](level string, rows []valueRow[[]R], t float64,
	compare func(map[string][]R, float64) (regions.Agreement, error)) (regionsReport, map[string]map[string][]R, error) {
	units := map[string]map[string][]R{}
	raters := map[string]bool{}
	for _, r := range rows {
		if units[r.unit] == nil {
			units[r.unit] = map[string][]R{}
		}
		units[r.unit][r.annotator] = r.value
		raters[r.annotator] = true
	}
	var tally regions.Agreement
	for _, u := range slices.Sorted(maps.Keys(units)) {
		c, err := compare(units[u], t)
		if err != nil {
			return regionsReport{}, nil, fmt.Errorf("unit %q: %w", u, err)
		}
		tally.Merge(c)
	}
	return regionsReport{
		Level: level, IoUThreshold: t, Units: len(units), Raters: len(raters),
		Report: tally.Report(),
	}, units, nil
}

// regionAccuracy scores every row on a unit gold labeled against gold's regions with score
// (regions.ScoreSpans or ScoreBoxes), per annotator and overall.
func regionAccuracy[R any](gold string, rows []valueRow[[]R], golden map[string][]R, t float64,
	score func(predicted, gold []R, t float64) (regions.Figures, error)) (*regionsAccuracy, error) {
	var all regions.Figures
	by := map[string]*regions.Figures{}
	for _, r := range rows {
		g, ok := golden[r.unit]
		if !ok {
			continue
		}
		f, err := score(r.value, g, t)
		if err != nil {
			return nil, fmt.Errorf("accuracy of line %d: %w", r.line, err)
		}
		if by[r.annotator] == nil {
			by[r.annotator] = &regions.Figures{}
		}
		by[r.annotator].Merge(f)
		all.Merge(f)
	}
	acc := &regionsAccuracy{Gold: gold, All: all.AccuracyReport(), Annotators: []regionAnnotatorAccuracy{}}
	for _, a := range slices.Sorted(maps.Keys(by)) {
		acc.Annotators = append(acc.Annotators, regionAnnotatorAccuracy{Annotator: a, AccuracyReport: by[a].AccuracyReport()})
	}
	return acc, nil
}

// WriteText prints the report for a terminal: the headline figures, one line per label (its
// F1 and, for spans, its unitizing alpha), and accuracy per annotator when there is gold.
func (r regionsReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "level\t%s, regions matched at IoU >= %g\n", r.Level, r.IoUThreshold)
	fmt.Fprintf(tw, "pairwise F1\t%s\n", figureText(r.PairwiseF1, r.PairwiseF1Undefined,
		fmt.Sprintf("%d matched pairs, %d regions, %d unit pairs", r.Matched, r.Regions, r.UnitPairs)))
	fmt.Fprintf(tw, "mean IoU\t%s\n", figureText(r.MeanIoU, r.MeanIoUUndefined, ""))
	fmt.Fprintf(tw, "label alpha\t%s\n", figureText(r.LabelAlpha, r.LabelAlphaUndefined,
		fmt.Sprintf("nominal, over %d pairs matched whatever their labels", r.LabelAlphaPairs)))
	if u := r.UnitizingFigures; u != nil {
		evidence := fmt.Sprintf("over %d units laid end to end, length %d", u.Unitizing.Items, u.Unitizing.Length)
		if u.Unitizing.Skipped > 0 {
			evidence += fmt.Sprintf("; %d units left out, not labeled by every rater", u.Unitizing.Skipped)
		}
		fmt.Fprintf(tw, "unitizing alpha\t%s\n", figureText(u.UnitizingAlpha, u.UnitizingAlphaUndefined, evidence))
	}
	fmt.Fprintf(tw, "units\t%d\n", r.Units)
	fmt.Fprintf(tw, "raters\t%d\n", r.Raters)

	// Labels come from the pairwise figures; with no unit pair there are none, and unitizing
	// alpha is then not defined either, for the reason already printed.
	labels := slices.Collect(maps.Keys(r.PerLabelF1))
	if u := r.UnitizingFigures; u != nil {
		for _, c := range u.Unitizing.Categories {
			labels = append(labels, c.Label)
		}
	}
	slices.Sort(labels)
	labels = slices.Compact(labels)
	if len(r.PerLabelF1) > 0 {
		if r.UnitizingFigures != nil {
			fmt.Fprintf(tw, "\nlabel\tF1\tunitizing alpha\n")
		} else {
			fmt.Fprintf(tw, "\nlabel\tF1\n")
		}
		for _, l := range labels {
			f1 := "-"
			if f, ok := r.PerLabelF1[l]; ok {
				f1 = fmt.Sprintf("%.4f", f)
			}
			if r.UnitizingFigures == nil {
				fmt.Fprintf(tw, "%s\t%s\n", l, f1)
				continue
			}
			ua := "-"
			for _, c := range r.Unitizing.Categories {
				if c.Label == l {
					ua = figureText(c.Alpha, c.Undefined, "")
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", l, f1, ua)
		}
	}
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(tw, "\naccuracy against %q\tvalues\tprecision\trecall\tF1\tmean IoU\n", a.Gold)
		line := func(name string, x regions.AccuracyReport) {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", name, x.Values,
				short(x.Precision), short(x.Recall), short(x.F1), short(x.MeanIoU))
		}
		line("all", a.All)
		for _, x := range a.Annotators {
			line(x.Annotator, x.AccuracyReport)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write agreement report: %w", err)
	}
	return nil
}

// figureText is a figure to four places with its evidence in parentheses, or "undefined" with
// the reason.
func figureText(v *float64, why, evidence string) string {
	switch {
	case v == nil:
		// The libraries' reasons wrap agreement.ErrUndefined ("undefined: no matched pairs");
		// after the word "undefined" the prefix says it twice.
		return "undefined (" + strings.TrimPrefix(why, agreement.ErrUndefined.Error()+": ") + ")"
	case evidence == "":
		return fmt.Sprintf("%.4f", *v)
	}
	return fmt.Sprintf("%.4f  (%s)", *v, evidence)
}

// short is a figure for a table cell: four places, or "-" when it is not defined.
func short(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f", *v)
}
