package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

func init() {
	register("audit", command{
		summary: "audit a dataset version (<dataset>@<version>) by replaying the log: member chains, missing links, digest, ledger drift",
		run:     runAudit,
	})
}

// errAuditFailed makes the command exit 1 after printing a report that did not pass; the
// report already says why.
var errAuditFailed = errors.New("audit failed")

// runAudit rebuilds lineage from the log itself (not from ClickHouse), because the audit is
// what proves ClickHouse right; ClickHouse is only read afterwards, to report drift.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", stderr)
	kCfg := config.RegisterKafka(fs)
	chCfg := config.RegisterClickHouse(fs)
	asOfFlag := fs.String("as-of", "", "audit the lineage as of this RFC 3339 instant (events that occurred later are ignored)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	noDrift := fs.Bool("no-drift-check", false, "skip the comparison with ClickHouse (the ledger tables and the lineage read model)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay audit <dataset>@<version> [--as-of RFC3339] [--json] [--no-drift-check]")
		fs.PrintDefaults()
	}
	ref, err := parseVersionArgs(fs, "audit", args)
	if err != nil {
		return err
	}
	chCfg.Password = os.Getenv(config.EnvClickHousePassword)
	var asOf int64
	if *asOfFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOfFlag)
		if err != nil {
			return fmt.Errorf("%w: --as-of: %v", errUsage, err)
		}
		asOf = t.UnixMilli()
		if asOf == 0 {
			asOf = 1 // 0 means "no bound" to the model; the epoch itself is one millisecond off
		}
	}
	rep, err := Audit(ctx, *kCfg, *chCfg, ref, asOf, *asOfFlag, !*noDrift)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !rep.Pass {
		return errAuditFailed
	}
	return nil
}

// Audit replays the log of k and audits ref, comparing with ClickHouse unless driftCheck is
// false. A version unknown as of asOf is an error (exit 1), not a report.
func Audit(ctx context.Context, k config.Kafka, ch config.ClickHouse, ref lineage.VersionRef, asOf int64, asOfText string, driftCheck bool) (auditor.Report, error) {
	g, stats, err := auditor.Rebuild(ctx, k, asOf)
	if err != nil {
		return auditor.Report{}, err
	}
	if asOf == 0 {
		g.Clock = time.Now().UnixMilli() // open findings age until now, not until the log's last event
	}
	a, err := g.Audit(ref)
	if err != nil {
		var nf lineage.ErrVersionNotFound
		if errors.As(err, &nf) && asOfText != "" {
			return auditor.Report{}, fmt.Errorf("version not found as of %s: %s@%s", asOfText, ref.DatasetID, ref.Version)
		}
		return auditor.Report{}, err
	}
	var drift []auditor.Drift
	if driftCheck {
		conn, err := clickhouse.Open(ctx, ch)
		if err != nil {
			return auditor.Report{}, fmt.Errorf("open ClickHouse for the drift check: %w", err)
		}
		defer conn.Close()
		if drift, err = auditor.CompareLedger(ctx, conn, g, ref); err != nil {
			return auditor.Report{}, fmt.Errorf("drift check: %w", err)
		}
		// The lineage read model is what the API and the dashboard show: a version passes
		// only when it says what the log says.
		lin, err := auditor.CompareLineage(ctx, conn, g, ref)
		if err != nil {
			return auditor.Report{}, fmt.Errorf("lineage drift check: %w", err)
		}
		drift = append(drift, lin...)
	}
	return auditor.NewReport(a, asOfText, stats.Records, driftCheck, drift), nil
}

// parseVersionArgs parses the arguments of a command about one dataset version (assay audit,
// assay gate): the <dataset>@<version> may come before or after the flags, and flags after it
// are parsed last, so they win over the environment too.
func parseVersionArgs(fs *flag.FlagSet, name string, args []string) (lineage.VersionRef, error) {
	if err := parseFlags(fs, name, args, nil); err != nil {
		return lineage.VersionRef{}, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return lineage.VersionRef{}, fmt.Errorf("%w: missing <dataset>@<version>", errUsage)
	}
	target, rest := fs.Arg(0), fs.Args()[1:]
	if err := fs.Parse(rest); err != nil {
		return lineage.VersionRef{}, err
	}
	if fs.NArg() > 0 {
		return lineage.VersionRef{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	ref, err := parseVersionRef(target)
	if err != nil {
		return lineage.VersionRef{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return ref, nil
}

// parseVersionRef reads dataset@version (lineage.ParseVersionID: split at the last @).
func parseVersionRef(s string) (lineage.VersionRef, error) {
	ref, ok := lineage.ParseVersionID(s)
	if !ok {
		return lineage.VersionRef{}, fmt.Errorf("want <dataset>@<version>, got %q", s)
	}
	return ref, nil
}
