package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

func init() {
	register("gate", command{
		summary: "the gate's verdict on a dataset version (<dataset>@<version>) and its checks; exit 0 only when certified, for training pipelines",
		run:     runGate,
	})
}

// errNotCleared makes the command exit 1 after printing a verdict that does not let a
// training run through; the report already says why.
var errNotCleared = errors.New("not certified")

// runGate reads what the gate said about a version from ClickHouse (the lineage processor's
// read model, lineage.ReadGate, which assay audit checks against the log and which holds only
// the gate's own verdicts) and prints it. Exit status: 0 when the verdict in force certifies
// the version (or, with --allow-override, when an owner overrode the gate for it), 1 when it
// is rejected or not judged, 2 on usage errors and when ClickHouse cannot be read, so a
// pipeline can tell "not certified" from "could not ask".
func runGate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gate", stderr)
	chCfg := config.RegisterClickHouse(fs)
	asJSON := fs.Bool("json", false, "print the verdict as JSON")
	allowOverride := fs.Bool("allow-override", false, "also pass (exit 0) a version the gate did not certify when a project owner granted an override")
	timeout := fs.Duration("timeout", 30*time.Second, "give up reading ClickHouse after this long (exit 2)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay gate <dataset>@<version> [--json] [--allow-override] [--timeout 30s]")
		fs.PrintDefaults()
	}
	ref, err := parseVersionArgs(fs, "gate", args)
	if err != nil {
		return err
	}
	chCfg.Password = os.Getenv(config.EnvClickHousePassword)
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, err := clickhouse.Open(ctx, *chCfg)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	defer conn.Close()
	rep, err := readGateReport(ctx, conn, ref, *allowOverride)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // reasons compare figures: "0.75 < 1", not "0.75 \u003c 1"
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write verdict: %w", err)
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return fmt.Errorf("write verdict: %w", err)
	}
	if !rep.Pass {
		return errNotCleared
	}
	return nil
}

// readGateReport reads whether the version was committed and what the gate and the owners
// said about it.
func readGateReport(ctx context.Context, conn driver.Conn, ref lineage.VersionRef, allowOverride bool) (gateReport, error) {
	var committed uint8
	var parent, digest string
	var at int64
	if err := conn.QueryRow(ctx, lineage.VersionHeadQuery, ref.DatasetID, ref.Version).Scan(&committed, &parent, &at, &digest); err != nil {
		return gateReport{}, fmt.Errorf("read version %s@%s: %w", ref.DatasetID, ref.Version, err)
	}
	g, err := lineage.ReadGate(ctx, conn, ref)
	if err != nil {
		return gateReport{}, err
	}
	return newGateReport(ref, committed == 1, g, allowOverride), nil
}

// gateReport is what assay gate prints (its --json form): the verdict in force on a version
// with every check, the owners' overrides, and whether the command passes.
type gateReport struct {
	Dataset string `json:"dataset"`
	Version string `json:"version"`
	// Committed: the lineage read model holds the version's commit.
	Committed bool `json:"committed"`
	// Verdict is certified, rejected or unjudged (no verdict of the gate yet).
	Verdict string `json:"verdict"`
	// Sequence is the verdict in force (0 when unjudged) of Verdicts so far.
	Sequence int64 `json:"sequence"`
	Verdicts int   `json:"verdicts"`
	// Reason, ProjectID, TargetsVersions, VerdictEventID, Supersedes and JudgedAtMS (when the
	// gate recorded it) describe the verdict in force.
	Reason          string   `json:"reason,omitempty"`
	ProjectID       string   `json:"project_id,omitempty"`
	TargetsVersions []string `json:"targets_versions"`
	VerdictEventID  string   `json:"verdict_event_id,omitempty"`
	Supersedes      string   `json:"supersedes,omitempty"`
	JudgedAtMS      int64    `json:"judged_at_ms,omitempty"`
	// Checks are the verdict's checks: target, scope, threshold, figure, interval (low, high),
	// evidence, status and detail.
	Checks []schemas.TargetCheck `json:"checks"`
	// Overrides are every owner's override of the version, oldest first.
	Overrides  []lineage.Override `json:"overrides"`
	Overridden bool               `json:"overridden"`
	// AllowOverride echoes --allow-override.
	AllowOverride bool `json:"allow_override"`
	// Pass is the exit status 0: certified, or overridden with AllowOverride; PassedBy says
	// which ("certified" or "override"), empty when it does not pass.
	Pass     bool   `json:"pass"`
	PassedBy string `json:"passed_by,omitempty"`
}

// newGateReport decides what assay gate says from the version's Gate: pure, for the tests.
func newGateReport(ref lineage.VersionRef, committed bool, g lineage.Gate, allowOverride bool) gateReport {
	r := gateReport{Dataset: ref.DatasetID, Version: ref.Version, Committed: committed, Verdict: g.Status(), Verdicts: len(g.Verdicts),
		TargetsVersions: []string{}, Checks: []schemas.TargetCheck{}, Overrides: g.Overrides, Overridden: g.Overridden(),
		AllowOverride: allowOverride}
	if r.Overrides == nil {
		r.Overrides = []lineage.Override{}
	}
	if v, ok := g.Latest(); ok {
		r.Sequence, r.Reason, r.ProjectID, r.VerdictEventID, r.Supersedes, r.JudgedAtMS = v.Sequence, v.Reason, v.ProjectID, v.EventID, v.Supersedes, v.RecordedAt
		r.TargetsVersions, r.Checks = v.TargetsVersions, v.Checks
		if v.Certified {
			r.Pass, r.PassedBy = true, "certified"
		}
	}
	if !r.Pass && allowOverride && r.Overridden {
		r.Pass, r.PassedBy = true, "override"
	}
	return r
}

// WriteText renders the report for a terminal and a pipeline's log: the verdict, its checks as
// a table, the overrides and the outcome.
func (r gateReport) WriteText(w io.Writer) error {
	var b strings.Builder
	name := r.Dataset + "@" + r.Version
	switch r.Verdict {
	case "unjudged":
		what := "no verdict of the gate yet"
		if !r.Committed {
			what = "no verdict, and no commit of this version in ClickHouse"
		}
		fmt.Fprintf(&b, "%s: NOT JUDGED (%s)\n", name, what)
	default:
		fmt.Fprintf(&b, "%s: %s (verdict %d of %d, recorded %s, targets %s)\n", name, strings.ToUpper(r.Verdict), r.Sequence, r.Verdicts,
			time.UnixMilli(r.JudgedAtMS).UTC().Format(time.RFC3339), dash(strings.Join(r.TargetsVersions, ", ")))
		fmt.Fprintf(&b, "reason: %s\n\n", r.Reason)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(r.Checks) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tSCOPE\tTHRESHOLD\tFIGURE\tINTERVAL\tEVIDENCE\tSTATUS\tDETAIL")
		for _, c := range r.Checks {
			interval := "-"
			if c.Low != nil || c.High != nil {
				interval = "[" + auditor.FormatFigure(c.Low) + ", " + auditor.FormatFigure(c.High) + "]"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Target, dash(c.Scope), strconv.FormatFloat(c.Threshold, 'g', -1, 64),
				auditor.FormatFigure(c.Figure), interval, c.Evidence, c.Status, dash(c.Detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	b.Reset()
	if len(r.Overrides) == 0 {
		fmt.Fprintf(&b, "overrides: none\n")
	}
	for _, o := range r.Overrides {
		fmt.Fprintf(&b, "override: granted by %s at %s: %s\n", o.Producer, time.UnixMilli(o.RecordedAt).UTC().Format(time.RFC3339), o.Reason)
	}
	switch {
	case r.PassedBy == "certified":
		fmt.Fprintf(&b, "gate: PASS (certified)\n")
	case r.PassedBy == "override":
		fmt.Fprintf(&b, "gate: PASS by an owner's override (the version is %s, not certified; --allow-override)\n", r.Verdict)
	case r.Overridden:
		fmt.Fprintf(&b, "gate: FAIL (%s; an owner's override exists: pass --allow-override to accept it)\n", r.Verdict)
	default:
		fmt.Fprintf(&b, "gate: FAIL (%s)\n", r.Verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
