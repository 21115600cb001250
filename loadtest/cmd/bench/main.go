// Command bench is `make bench`: baselines and the full pipeline measured in one run on the
// real local stack, printed as one table and written as JSON to
// loadtest/results/bench-<date>.json (see package loadtest/bench). With -role it is one of
// its own child processes (the gateway or the processor under measurement).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/assay-data/assay/loadtest/bench"
	"github.com/assay-data/assay/streams/infra/config"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if len(os.Args) > 2 && os.Args[1] == bench.RoleFlag {
		if err := bench.RunRole(ctx, os.Args[2], os.Args[3:], os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[2], err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	k := config.RegisterKafka(fs)
	ch := config.RegisterClickHouse(fs)
	cfg := bench.Config{Log: os.Stderr}
	fs.IntVar(&cfg.Rounds, "rounds", 8000, "workload rounds (13 events each reach the gateway)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "workload seed")
	fs.IntVar(&cfg.PerRequest, "per-request", 500, "events per gateway request")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "gateway requests in flight")
	fs.IntVar(&cfg.BatchSize, "batch-size", 5000, "processor batch size")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 200*time.Millisecond, "processor flush interval (bounds the latency)")
	fs.IntVar(&cfg.RawRecords, "raw-records", 1_000_000, "records of the raw Kafka produce and consume baselines")
	fs.DurationVar(&cfg.LatencyFor, "latency-for", 20*time.Second, "duration of the half-load latency phase")
	fs.StringVar(&cfg.KafkaLibs, "kafka-libs", ".data/kafka/libs", "broker jars for ProducerPerformance; empty skips it")
	fs.StringVar(&cfg.ClickHouseClient, "clickhouse-client", "clickhouse-client", "clickhouse-client binary for the Native insert ceiling; empty skips it")
	fs.StringVar(&cfg.OutDir, "out", "loadtest/results", "directory of the JSON result and the profiles")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the bench topics and databases")
	if err := config.ParseFlags(fs, "bench", os.Args[1:], os.LookupEnv, nil); err != nil {
		return err
	}
	ch.Password = os.Getenv(config.EnvClickHousePassword)
	cfg.Kafka, cfg.ClickHouse = *k, *ch
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if cfg.KafkaLibs != "" {
		abs, err := filepath.Abs(cfg.KafkaLibs)
		if err != nil {
			return fmt.Errorf("kafka libs: %w", err)
		}
		cfg.KafkaLibs = abs
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Print(res.Table())
	path := filepath.Join(cfg.OutDir, "bench-"+res.Started.Format("2006-01-02")+".json")
	if err := res.WriteJSON(path); err != nil {
		return err
	}
	// The table too, as printed: the JSON is for tools, the table for reviewers.
	txt := strings.TrimSuffix(path, ".json") + ".txt"
	if err := os.WriteFile(txt, []byte(res.Table()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", txt, err)
	}
	fmt.Println("written to", path, "and", txt)
	return nil
}
