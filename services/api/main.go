package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/assay-data/assay/ops/clickhouse"
	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/internal/serve"
)

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "api:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chCfg := config.RegisterClickHouse(fs)
	addr := fs.String("addr", config.Env("ASSAY_API_ADDR", "127.0.0.1:18080"), "listen address of the API and dashboard (env ASSAY_API_ADDR)")
	procMetrics := fs.String("processor-metrics", config.Env("ASSAY_API_PROCESSOR_METRICS", "http://127.0.0.1:9102/metrics"), "comma-separated /metrics URLs of the processors, read for consumer lag; empty = no lag figure (env ASSAY_API_PROCESSOR_METRICS)")
	sample := fs.Duration("sample-interval", config.EnvDuration("ASSAY_API_SAMPLE_INTERVAL", 2*time.Second), "how often the KPI history behind the dashboard's charts is sampled (env ASSAY_API_SAMPLE_INTERVAL)")
	history := fs.Duration("history", config.EnvDuration("ASSAY_API_HISTORY", time.Hour), "how much KPI history is kept in memory for the charts (env ASSAY_API_HISTORY)")
	queryTimeout := fs.Duration("query-timeout", config.EnvDuration("ASSAY_API_QUERY_TIMEOUT", 10*time.Second), "bound on one request's ClickHouse queries (env ASSAY_API_QUERY_TIMEOUT)")
	grace := fs.Duration("shutdown-grace", config.EnvDuration("ASSAY_API_SHUTDOWN_GRACE", 10*time.Second), "time given to in-flight requests on shutdown (env ASSAY_API_SHUTDOWN_GRACE)")
	logFormat := fs.String("log-format", config.Env("ASSAY_API_LOG_FORMAT", config.Env("ASSAY_LOG_FORMAT", "text")), "text or json (env ASSAY_API_LOG_FORMAT)")
	logLevel := fs.String("log-level", config.Env("ASSAY_API_LOG_LEVEL", "info"), "debug, info, warn or error (env ASSAY_API_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := serve.NewLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, *chCfg)
	if err != nil {
		return fmt.Errorf("connect to clickhouse: %w", err)
	}
	defer conn.Close()

	reg := serve.NewRegistry()
	var urls []string
	for _, u := range strings.Split(*procMetrics, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	srv, err := httpapi.New(httpapi.Config{
		Conn:             conn,
		Registerer:       reg,
		Log:              log,
		ProcessorMetrics: urls,
		SampleInterval:   *sample,
		History:          *history,
		QueryTimeout:     *queryTimeout,
	})
	if err != nil {
		return err
	}
	ops := serve.NewOps(reg)
	ops.AddCheck("clickhouse", func(ctx context.Context) error { return conn.Ping(ctx) })
	srv.Mount(ops.Mux)

	go srv.RunSampler(ctx)
	log.Info("api starting", "clickhouse", chCfg.Addr, "database", chCfg.Database)
	return serve.ListenAndServe(ctx, *addr, ops.Mux, *grace, log, func(a net.Addr) {
		log.Info("dashboard ready", "url", "http://"+a.String()+"/")
	})
}
