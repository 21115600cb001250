package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/assay-data/assay/ops/clickhouse"
	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

func init() {
	register("replay", command{
		summary: "rebuild a projection: feed a processor the log from the start (or -since) into a database",
		run:     runReplay,
	})
}

// runReplay reads the processor's topics directly (no consumer group, no
// commits) up to the high-water marks at start and writes the rows into
// -clickhouse-database, migrating it first unless -migrate=false.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	kCfg := config.RegisterKafka(fs)
	chCfg := config.RegisterClickHouse(fs)
	name := fs.String("processor", "ledger", "processor to replay into the database")
	since := fs.String("since", "", "replay records from this instant (RFC3339) instead of the beginning of the log")
	migrate := fs.Bool("migrate", true, "create the database and apply migrations first")
	batchSize := fs.Int("batch-size", 20000, "records per ClickHouse batch at most")
	// The processors' own flags, as services/processor declares them: a router replay must
	// use the live router's -router-pending-ttl and -router-max-pending to rebuild its state
	// (and so the pre-label values of its routing_decisions rows) as the live one did.
	procCfg := processors.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var from time.Time
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return fmt.Errorf("%w: -since: %v", errUsage, err)
		}
		from = t
	}
	p, err := processors.New(*name, *procCfg)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	log, _ := serve.NewLogger(stderr, "text", "info")
	if *migrate {
		if err := clickhouse.EnsureDatabase(ctx, *chCfg); err != nil {
			return err
		}
	}
	conn, err := clickhouse.Open(ctx, *chCfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *migrate {
		ms, err := clickhouse.Migrations()
		if err != nil {
			return err
		}
		if _, err := clickhouse.Migrate(ctx, conn, ms, log); err != nil {
			return err
		}
	}
	stats, err := runtime.Replay(ctx, p, *kCfg, runtime.ClickHouseSink(conn), from,
		runtime.WithBatchSize(*batchSize), runtime.WithFlushInterval(10*time.Second), runtime.WithLogger(log))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %s into %s: %d records, %d rows, %d poison, in %s (%.0f events/s)\n",
		p.Name(), chCfg.Database, stats.Records, stats.Rows, stats.Rejected, stats.Duration.Round(time.Millisecond), stats.EventsPerSecond())
	return nil
}
