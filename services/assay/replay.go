package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

func init() {
	register("replay", command{
		summary: "rebuild a projection: feed a processor the log from the start (or -since) into a new database",
		run:     runReplay,
	})
}

// runReplay reads the processor's topics directly (no consumer group, no
// commits) up to the high-water marks at start and writes the rows into the
// database replayTarget picks, migrating it first unless -migrate=false.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	kCfg := config.RegisterKafka(fs)
	chCfg := config.RegisterClickHouse(fs)
	name := fs.String("processor", "ledger", "processor to replay into the database")
	since := fs.String("since", "", "replay records from this instant (RFC3339) instead of the beginning of the log")
	migrate := fs.Bool("migrate", true, "create the database and apply migrations first")
	batchSize := fs.Int("batch-size", 20000, "records per ClickHouse batch at most")
	into := fs.String("into", "", "database to write into; empty = a new database <live>_replay_<UTC time>, created and printed. The live database (-clickhouse-database, the one the processors write) only with -into-live")
	intoLive := fs.Bool("into-live", false, "write into the live database (-clickhouse-database) beside the running processors: the replay's rows replace theirs. Never with -since")
	// The processors' own flags, as services/processor declares them: a router replay must
	// use the live router's -router-pending-ttl and -router-max-pending to rebuild its state
	// (and so the pre-label values of its routing_decisions rows) as the live one did.
	procCfg := processors.RegisterFlags(fs)
	if err := parseNoArgs(fs, "replay", args, nil); err != nil {
		return err
	}
	chCfg.Password = os.Getenv(config.EnvClickHousePassword)
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
	// The live processors' principals file (-principals-file, ASSAY_PRINCIPALS_FILE): the replay
	// refuses the events it refuses, judged by the principals in force now.
	principals, err := procCfg.LoadPrincipals()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	replayOpts := []runtime.Option{runtime.WithBatchSize(*batchSize), runtime.WithFlushInterval(10 * time.Second)}
	if principals != nil {
		replayOpts = append(replayOpts, runtime.WithAuthorizer(principals.Store().Load()))
	}
	live := chCfg.Database
	target, fresh, err := replayTarget(live, *into, *intoLive, !from.IsZero(), *migrate, time.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	dst := *chCfg
	dst.Database = target
	log, _ := serve.NewLogger(stderr, "text", "info")
	switch {
	case fresh:
		if err := createDatabase(ctx, dst); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created database %s for this replay of %s (the live database %s is not touched)\n", target, p.Name(), live)
	case *intoLive:
		fmt.Fprintf(stderr, "WARNING: -into-live: replaying %s into the LIVE database %s, which the running processors write; "+
			"every row the replay writes replaces theirs for the same key and offset\n", p.Name(), live)
		fallthrough
	case *migrate:
		if err := clickhouse.EnsureDatabase(ctx, dst); err != nil {
			return err
		}
	}
	conn, err := clickhouse.Open(ctx, dst)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *migrate {
		ms, err := migrations.All()
		if err != nil {
			return err
		}
		if _, err := clickhouse.Migrate(ctx, conn, ms, log); err != nil {
			return err
		}
	}
	stats, err := runtime.Replay(ctx, p, *kCfg, runtime.ClickHouseSink(conn), from, append(replayOpts, runtime.WithLogger(log))...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %s into %s: %d records, %d rows, %d poison, in %s (%.0f events/s)\n",
		p.Name(), target, stats.Records, stats.Rows, stats.Rejected, stats.Duration.Round(time.Millisecond), stats.EventsPerSecond())
	return nil
}

// replayTarget picks the database a replay writes into. live is the database the live
// processors use (-clickhouse-database: the same flag and environment as theirs), into and
// intoLive the flags, since whether the replay starts at an instant. Unless told otherwise
// the replay gets a new database of its own, named after live and the time (fresh: it must
// be created); the live database only with intoLive, and never from an instant: a replay
// from -since computes totals over part of the log, which would replace the processors'
// complete totals.
func replayTarget(live, into string, intoLive, since, migrate bool, now time.Time) (db string, fresh bool, err error) {
	switch {
	case live == "":
		return "", false, errors.New("-clickhouse-database is empty: it names the live database, which the replay protects")
	case intoLive && into != "" && into != live:
		return "", false, fmt.Errorf("-into %s and -into-live disagree: -into-live writes into the live database %s (-clickhouse-database)", into, live)
	case intoLive || into == live:
		if since {
			return "", false, fmt.Errorf("-since with the live database %s: a replay from an instant writes totals over part of the log in place of the processors' complete ones; replay into another database (-into, or the default new one)", live)
		}
		if !intoLive {
			return "", false, fmt.Errorf("%s is the live database (-clickhouse-database), which the processors write: replay into another database, or pass -into-live to replace its rows", live)
		}
		return live, false, nil
	case into != "":
		return into, false, nil
	case !migrate:
		return "", false, errors.New("-migrate=false needs -into (an existing, migrated database): the default database is new and must be migrated")
	default:
		return live + "_replay_" + now.UTC().Format("20060102T150405Z"), true, nil
	}
}

// createDatabase creates cfg.Database, failing when it exists: a replay's new database must
// hold the replay's rows only.
func createDatabase(ctx context.Context, cfg config.ClickHouse) error {
	admin := cfg
	admin.Database = "default"
	conn, err := clickhouse.Open(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE "+clickhouse.QuoteIdent(cfg.Database)); err != nil {
		return fmt.Errorf("create database %s for the replay: %w", cfg.Database, err)
	}
	return nil
}
