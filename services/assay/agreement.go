package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/regions"
)

func init() {
	register("agreement", command{
		summary: "agreement figures of a ratings export (CSV unit,annotator,value): alpha with its confidence interval, Fleiss' kappa, percent agreement; spans and boxes: pairwise F1, mean IoU, label and unitizing alpha; preferences: alpha, position bias",
		run:     runAgreement,
	})
}

// The levels whose CSV value is JSON (a list of regions, a preference object) rather than a
// plain category, number or set; their figures come from streams/regions,
// streams/agreement/unitizing and streams/preference.
const (
	levelSpans      = "spans"
	levelBoxes      = "boxes"
	levelPreference = "preference"
)

// agreementUsage is the text -h prints before the flags: what the command reads and the JSON
// keys of the levels whose reports are the CLI's own (the others print agreement.Report).
const agreementUsage = `usage: assay agreement [flags]

Reads a ratings CSV with a header naming unit, annotator and value (any order and case; other
columns are ignored; a row with an empty value is a missing rating) and prints its agreement
figures, computed by the same code as the live KPIs. The whole CSV is read into memory: every
row's parsed value, grouped by unit, is held until the figures are computed.

Levels nominal, ordinal, interval, ratio, set (MASI) and jaccard: Krippendorff's alpha with its
confidence interval, Fleiss' kappa, percent agreement, each annotator against the others; --json
prints agreement.Report (alpha, alpha_ci, fleiss_kappa, percent_agreement, annotators, pairs).

Levels spans and boxes: the value is a JSON array of regions, [{"label","start","end"}] (spans,
half-open offsets) or [{"label","x","y","w","h"}] (boxes; "score" optional); [] is a label that
marks nothing. At most %d regions a value. Regions are matched one to one at IoU >= --iou
(streams/regions). --json keys: pairwise_f1, mean_iou, per_label_f1, label_alpha (with
label_alpha_pairs), unit_pairs, matched, regions; a figure that is not defined is null with
<key>_undefined saying why. For spans also unitizing_alpha (Krippendorff's u-alpha as DKPro
Statistics computes it, over the units every annotator labeled, each unit as long as its
largest span end) with unitizing_alpha_undefined and unitizing (its per-label figures in
categories, and overlaps, the reason it is not defined for overlapping spans of one label).

Level preference: the value is a JSON object {"responses": [ids in the item's canonical order],
"choice": id, "shown_first": id, "strength": 1..N (only with --strength-scale N)}. --json keys:
nominal (agreement.Report of the choice coded as the chosen response's index), ordinal (the same
on choice and strength as one scale of 2N ranks, with --strength-scale; null without), and
position_bias: all and annotators[], each {share, interval, expected, excludes_expected,
first_chosen, labels}: the share of labels that chose the response shown first, its Wilson
interval at --confidence, and the share expected without bias (mean of 1/k for k responses).

With --gold ID (spans, boxes, preference), the rows of annotator ID are the gold values: they
are left out of agreement, and the key accuracy holds every other annotator's accuracy against them on
the units gold labeled (regions: precision, recall, f1, mean_iou, per_label_f1 at IoU >= --iou;
preference: accuracy, correct, labels and the Wilson interval), overall (all) and per
annotator.

flags:
`

// runAgreement checks a vendor delivery before it enters the pipeline, with the same code the
// agreement processor runs, so the figures an analyst sees here are the ones the dashboard
// will show.
func runAgreement(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agreement", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), agreementUsage, regions.MaxRegions)
		fs.PrintDefaults()
	}
	input := fs.String("input", "-", "ratings CSV with a header naming unit, annotator and value; - for stdin")
	levelName := fs.String("level", "nominal", "level of measurement: nominal, ordinal, interval, ratio, set (MASI), jaccard, spans, boxes or preference")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	confidence := fs.Float64("confidence", agreement.DefaultConfidence, "confidence level of alpha's interval (jackknife over units) and of position bias' and preference accuracy's (Wilson), between 0 and 1")
	iou := fs.Float64("iou", regions.DefaultThreshold, "spans and boxes: the IoU two regions need to be matched, in (0, 1]")
	strengthScale := fs.Int("strength-scale", 0, "preference: the question's strength scale N (a strength runs from 1 to N); gives the ordinal alpha; 0 for none (strengths are then refused)")
	gold := fs.String("gold", "", "spans, boxes and preference: the annotator whose rows are the gold values; reports accuracy against them")
	if err := parseNoArgs(fs, "agreement", args, nil); err != nil {
		return err
	}
	if !(*confidence > 0 && *confidence < 1) {
		return fmt.Errorf("%w: -confidence %v is not between 0 and 1", errUsage, *confidence)
	}
	*levelName = strings.ToLower(strings.TrimSpace(*levelName))
	var level agreement.Level // for the levels of streams/agreement
	if !slices.Contains([]string{levelSpans, levelBoxes, levelPreference}, *levelName) {
		var err error
		if level, err = parseLevel(*levelName); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// A flag that does not apply to the level is refused rather than ignored: a -iou given with
	// -level nominal is a mistake in the command, and silently dropping it hides the mistake.
	for _, f := range []struct {
		name   string
		levels []string
	}{
		{"iou", []string{levelSpans, levelBoxes}},
		{"strength-scale", []string{levelPreference}},
		{"gold", []string{levelSpans, levelBoxes, levelPreference}},
	} {
		if set[f.name] && !slices.Contains(f.levels, *levelName) {
			return fmt.Errorf("%w: -%s applies to -level %s only, not %s", errUsage, f.name, joinOr(f.levels), *levelName)
		}
	}

	var report interface{ WriteText(io.Writer) error }
	switch *levelName {
	case levelSpans, levelBoxes:
		if err := regions.CheckThreshold(*iou); err != nil {
			return fmt.Errorf("%w: -iou: %v", errUsage, err)
		}
		r, err := readRegionsReport(*input, *levelName, *iou, *gold)
		if err != nil {
			return err
		}
		report = r
	case levelPreference:
		scale := preference.NoScale
		if *strengthScale != 0 {
			s := int32(*strengthScale)
			if int(s) != *strengthScale {
				return fmt.Errorf("%w: -strength-scale %d is too large", errUsage, *strengthScale)
			}
			var err error
			if scale, err = preference.ScaleOf(&s); err != nil {
				return fmt.Errorf("%w: -strength-scale: %v", errUsage, err)
			}
		}
		r, err := readPreferenceReport(*input, scale, *gold, *confidence)
		if err != nil {
			return err
		}
		report = r
	default:
		r, err := readCategoricalReport(*input, level, *confidence)
		if err != nil {
			return err
		}
		report = r
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(stdout)
}

// readCategoricalReport is agreement.Report of a CSV at one of streams/agreement's levels.
func readCategoricalReport(path string, level agreement.Level, confidence float64) (agreement.Report, error) {
	in, err := openInput(path)
	if err != nil {
		return agreement.Report{}, fmt.Errorf("open ratings: %w", err)
	}
	defer in.Close()
	ratings, err := agreement.ReadRatingsCSV(in, level)
	if err != nil {
		return agreement.Report{}, fmt.Errorf("read %s: %w", path, err)
	}
	report, err := agreement.NewReport(ratings, level, confidence)
	if err != nil {
		return agreement.Report{}, fmt.Errorf("agreement of %s: %w", path, err)
	}
	return report, nil
}

// parseLevel accepts "set" as the name for multi-label answers (MASI distance) besides
// the package's own level names.
func parseLevel(s string) (agreement.Level, error) {
	if s == "set" {
		return agreement.MASI, nil
	}
	level, err := agreement.ParseLevel(s)
	if err != nil {
		return 0, fmt.Errorf("unknown level %q (want nominal, ordinal, interval, ratio, set, jaccard, %s, %s or %s)", s, levelSpans, levelBoxes, levelPreference)
	}
	return level, nil
}

// joinOr lists names as "a", "a or b", "a, b or c".
func joinOr(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " or " + names[len(names)-1]
}
