package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/assay-data/assay/streams/agreement"
)

func init() {
	register("agreement", command{
		summary: "agreement figures of a ratings export (CSV unit,annotator,value): alpha with its confidence interval, Fleiss' kappa, percent agreement",
		run:     runAgreement,
	})
}

// runAgreement checks a vendor delivery before it enters the pipeline, with the same code the
// agreement processor runs, so the figures an analyst sees here are the ones the dashboard
// will show.
func runAgreement(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agreement", stderr)
	input := fs.String("input", "-", "ratings CSV with a header naming unit, annotator and value; - for stdin")
	levelName := fs.String("level", "nominal", "level of measurement: nominal, ordinal, interval, ratio, set (MASI) or jaccard")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	confidence := fs.Float64("confidence", agreement.DefaultConfidence, "confidence level of alpha's interval (jackknife over units), between 0 and 1")
	if err := parseNoArgs(fs, "agreement", args, nil); err != nil {
		return err
	}
	level, err := parseLevel(*levelName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !(*confidence > 0 && *confidence < 1) {
		return fmt.Errorf("%w: -confidence %v is not between 0 and 1", errUsage, *confidence)
	}
	in, err := openInput(*input)
	if err != nil {
		return fmt.Errorf("open ratings: %w", err)
	}
	defer in.Close()
	ratings, err := agreement.ReadRatingsCSV(in, level)
	if err != nil {
		return fmt.Errorf("read %s: %w", *input, err)
	}
	report, err := agreement.NewReport(ratings, level, *confidence)
	if err != nil {
		return fmt.Errorf("agreement of %s: %w", *input, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(stdout)
}

// parseLevel accepts "set" as the name for multi-label answers (MASI distance) besides
// the package's own level names.
func parseLevel(s string) (agreement.Level, error) {
	if s == "set" {
		return agreement.MASI, nil
	}
	return agreement.ParseLevel(s)
}
