package auditor

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
)

// Report is the audit of one dataset version: the lineage verdict, the replay that produced it
// and the comparison with ClickHouse (the ledger tables and the lineage read model).
type Report struct {
	lineage.VersionAudit
	// AsOf is the --as-of instant (RFC 3339), empty for "everything in the log".
	AsOf string `json:"as_of,omitempty"`
	// RecordsReplayed counts the records read from the log.
	RecordsReplayed int `json:"records_replayed"`
	// DriftChecked is false with --no-drift-check.
	DriftChecked bool    `json:"drift_checked"`
	Drift        []Drift `json:"drift"`
	// Pass is Complete (which includes a manifest digest that recomputes) and no drift: exit
	// status 0. The gate's verdicts are reported, not judged: a rejected version can pass.
	Pass bool `json:"pass"`
}

// NewReport combines the parts and decides Pass.
func NewReport(a lineage.VersionAudit, asOf string, records int, checked bool, drift []Drift) Report {
	if drift == nil {
		drift = []Drift{}
	}
	return Report{VersionAudit: a, AsOf: asOf, RecordsReplayed: records, DriftChecked: checked, Drift: drift,
		Pass: a.Complete && a.ManifestOK && len(drift) == 0}
}

// WriteText renders the report for a terminal: a summary, then one line per member chain.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "FAIL"
	if r.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(&b, "audit %s@%s: %s\n", r.Dataset, r.Version, verdict)
	if r.AsOf != "" {
		fmt.Fprintf(&b, "as of:           %s\n", r.AsOf)
	}
	fmt.Fprintf(&b, "committed:       %s (parent %q)\n", time.UnixMilli(r.CommittedAt).UTC().Format(time.RFC3339), r.Parent)
	fmt.Fprintf(&b, "members:         %d, complete %d\n", r.MemberCount, r.CompleteCount)
	fmt.Fprintf(&b, "merkle root:     %s\n", r.MerkleRoot)
	fmt.Fprintf(&b, "manifest digest: %s (recomputed: %s)\n", r.ManifestDigest, okString(r.ManifestOK))
	fmt.Fprintf(&b, "cohorts:         %s\n", strings.Join(r.Cohorts, ", "))
	fmt.Fprintf(&b, "annotators:      %s\n", strings.Join(r.Annotators, ", "))
	fmt.Fprintf(&b, "reviewers:       %s\n", strings.Join(r.Reviewers, ", "))
	fmt.Fprintf(&b, "gold checks:     %d of %d match\n", r.GoldMatched, r.GoldChecked)
	fmt.Fprintf(&b, "training runs:   %s\n", strings.Join(r.TrainingRuns, ", "))
	writeGate(&b, r.Gate)
	for _, f := range r.Findings {
		if f.RemediationMS >= 0 {
			fmt.Fprintf(&b, "finding:         %s (%s) implicates this version; fixed by %s after %s\n", f.FindingID, f.Severity, f.Fix, time.Duration(f.RemediationMS)*time.Millisecond)
		} else {
			fmt.Fprintf(&b, "finding:         %s (%s) implicates this version; OPEN for %s (cohorts %s)\n", f.FindingID, f.Severity,
				time.Duration(f.OpenAgeMS)*time.Millisecond, strings.Join(f.Cohorts, ", "))
		}
	}
	if len(r.Fixes) > 0 {
		fmt.Fprintf(&b, "fixes findings:  %s\n", strings.Join(r.Fixes, ", "))
	}
	fmt.Fprintf(&b, "records read:    %d\n", r.RecordsReplayed)
	if _, err := io.WriteString(w, b.String()+"\n"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tLABEL\tSOURCE\tSHA256\tANNOTATOR\tCOHORT\tGUIDELINE\tPRELABEL\tREVIEW\tGOLD\tMISSING")
	for _, m := range r.Members {
		sha := m.SHA256
		if len(sha) > 12 {
			sha = sha[:12]
		}
		review := m.Verdict
		if review != "" {
			review += " by " + m.ReviewerID
		}
		gold := "-"
		if m.Gold != nil {
			gold = "match"
			if !m.Gold.Match {
				gold = "MISMATCH (gold " + m.Gold.Gold + ")"
			}
		}
		missing := "-"
		if len(m.Missing) > 0 {
			missing = strings.Join(m.Missing, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ItemID, m.LabelID, dash(m.Source), dash(sha), dash(m.AnnotatorID),
			dash(m.Cohort), dash(m.GuidelineVersion), dash(m.PreLabelModel), dash(review), gold, missing)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case !r.DriftChecked:
		_, err := fmt.Fprintln(w, "\nClickHouse drift: not checked (--no-drift-check)")
		return err
	case len(r.Drift) == 0:
		_, err := fmt.Fprintln(w, "\nClickHouse drift: none (the ledger and lineage tables agree with the log)")
		return err
	}
	fmt.Fprintf(w, "\nClickHouse drift: %d\n", len(r.Drift))
	for _, d := range r.Drift {
		if _, err := fmt.Fprintf(w, "  %s %s: %s\n", d.Table, d.Key, d.Problem); err != nil {
			return err
		}
	}
	return nil
}

// writeGate renders the gate's word on the version: the verdict in force, the history with
// each verdict's checks that did not pass, every override, and each training run's clearance
// at its registration. It is information, not part of the audit's PASS or FAIL.
func writeGate(b *strings.Builder, g lineage.Gate) {
	latest, ok := g.Latest()
	if !ok {
		fmt.Fprintf(b, "gate:            not judged (no verdict of the gate)\n")
	} else {
		fmt.Fprintf(b, "gate:            %s by verdict %d of %d: %s\n", strings.ToUpper(latest.Outcome()), latest.Sequence, len(g.Verdicts), latest.Reason)
	}
	for _, v := range g.Verdicts {
		fmt.Fprintf(b, "verdict %-8s %s at %s (targets %s): %s\n", fmt.Sprint(v.Sequence)+":", v.Outcome(), msTime(v.OccurredAt),
			dash(strings.Join(v.TargetsVersions, ", ")), v.Reason)
		for _, c := range v.Failing() {
			fmt.Fprintf(b, "                   %s\n", CheckLine(c))
		}
	}
	for _, o := range g.Overrides {
		fmt.Fprintf(b, "override:        granted by %s at %s: %s\n", o.Producer, msTime(o.OccurredAt), o.Reason)
	}
	for _, run := range g.Runs {
		state := "NOT certified"
		switch {
		case run.Sequence == 0:
			state += " (not judged yet)"
		case run.Certified:
			state = fmt.Sprintf("certified (verdict %d)", run.Sequence)
		default:
			state += fmt.Sprintf(" (verdict %d rejected)", run.Sequence)
		}
		if run.Overridden {
			state += ", overridden by an owner"
		}
		fmt.Fprintf(b, "run %-12s registered %s: %s\n", run.RunID+":", msTime(run.RegisteredAt), state)
	}
}

// CheckLine renders one check of a verdict on one line: status, target and scope, figure with
// its interval against the threshold, the evidence and the gate's detail.
func CheckLine(c schemas.TargetCheck) string {
	name := c.Target
	if c.Scope != "" {
		name += "[" + c.Scope + "]"
	}
	line := fmt.Sprintf("%s %s: figure %s", c.Status, name, FormatFigure(c.Figure))
	if c.Low != nil || c.High != nil {
		line += fmt.Sprintf(" [%s, %s]", FormatFigure(c.Low), FormatFigure(c.High))
	}
	line += fmt.Sprintf(", threshold %s, evidence %d", strconv.FormatFloat(c.Threshold, 'g', -1, 64), c.Evidence)
	if c.Detail != "" {
		line += " (" + c.Detail + ")"
	}
	return line
}

// FormatFigure prints a figure in the shortest form that reads back exactly, "-" when there is
// none.
func FormatFigure(f *float64) string {
	if f == nil {
		return "-"
	}
	// Four decimals are what a reader compares with a target; the JSON keeps every digit.
	s := strconv.FormatFloat(*f, 'f', 4, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func msTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func okString(ok bool) string {
	if ok {
		return "matches"
	}
	return "DIFFERS"
}
