package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

func init() {
	register("lineage", command{
		summary: "lineage export --openlineage: the lineage graph rebuilt from the log, as OpenLineage RunEvents (JSON lines)",
		run:     runLineage,
	})
}

func runLineage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, "export")
	if err != nil {
		return err
	}
	switch sub {
	case "export":
		return lineageExport(ctx, rest, stdout, stderr)
	}
	return nil
}

// lineageExport writes one OpenLineage RunEvent a line, the form OpenLineage's HTTP and file
// transports take, so the output can be piped to any OpenLineage consumer.
func lineageExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lineage export", stderr)
	kCfg := config.RegisterKafka(fs)
	openLineage := fs.Bool("openlineage", false, "export as OpenLineage RunEvents (the only format so far; required)")
	namespace := fs.String("namespace", "assay", "OpenLineage namespace of jobs and datasets")
	asOfFlag := fs.String("as-of", "", "export the lineage as of this RFC 3339 instant")
	if err := parseNoArgs(fs, "lineage", args, nil); err != nil {
		return err
	}
	if !*openLineage {
		return fmt.Errorf("%w: --openlineage is required (the only export format)", errUsage)
	}
	var asOf int64
	if *asOfFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOfFlag)
		if err != nil {
			return fmt.Errorf("%w: --as-of: %v", errUsage, err)
		}
		asOf = max(t.UnixMilli(), 1)
	}
	g, _, err := auditor.Rebuild(ctx, *kCfg, asOf)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, ev := range g.OpenLineage(*namespace) {
		if err := enc.Encode(ev); err != nil {
			return fmt.Errorf("write OpenLineage event: %w", err)
		}
	}
	return nil
}
