package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

func init() {
	register("admin", command{
		summary: "infrastructure: 'admin migrate' applies ClickHouse migrations, 'admin topics' creates Kafka topics",
		run:     runAdmin,
	})
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, "migrate", "topics")
	if err != nil {
		return err
	}
	if sub == "migrate" {
		return adminMigrate(ctx, rest, stdout, stderr)
	}
	return adminTopics(ctx, rest, stdout, stderr)
}

func adminMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin migrate", stderr)
	chCfg := config.RegisterClickHouse(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parseFlags(fs, "admin", args, nil); err != nil {
		return err
	}
	chCfg.Password = os.Getenv(config.EnvClickHousePassword)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log, _ := serve.NewLogger(stderr, "text", "info")
	if err := clickhouse.EnsureDatabase(ctx, *chCfg); err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, *chCfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	ms, err := migrations.All()
	if err != nil {
		return err
	}
	res, err := clickhouse.Migrate(ctx, conn, ms, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s: %d migrations applied, %d already present\n", chCfg.Database, len(res.Applied), res.Skipped)
	return nil
}

func adminTopics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin topics", stderr)
	kCfg := config.RegisterKafka(fs)
	partitions := fs.Int("partitions", kafka.DefaultPartitions, "partitions of each ledger topic")
	replication := fs.Int("replication-factor", 1, "replication factor (3 in production)")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	// README's names for the two, kept beside the derived ASSAY_ADMIN_PARTITIONS, ...
	aliases := config.Aliases{"partitions": {"ASSAY_TOPIC_PARTITIONS"}, "replication-factor": {"ASSAY_TOPIC_REPLICATION"}}
	if err := parseFlags(fs, "admin", args, aliases); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cl, err := kafka.NewClient(*kCfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	specs := kafka.Topics(*kCfg, int32(*partitions), int16(*replication))
	results, err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), specs)
	for _, r := range results {
		state := "exists"
		if r.Created {
			state = "created"
		}
		fmt.Fprintf(stdout, "%-28s %s\n", r.Name, state)
	}
	return err
}
