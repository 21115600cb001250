package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/internal/principals"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "api:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, env config.LookupEnv, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chCfg := config.RegisterClickHouse(fs)
	kCfg := config.RegisterKafka(fs)
	addr := fs.String("addr", "127.0.0.1:18080", "listen address of the API and dashboard")
	lagProcs := fs.String("lag-processors", strings.Join(processors.Names(), ","),
		"comma-separated processors whose consumer lag /v1/pipeline reads from the broker (their groups' committed offsets, so a stopped processor shows its lag growing); empty = no lag figure")
	sample := fs.Duration("sample-interval", 2*time.Second, "how often the KPI history behind the dashboard's charts is sampled")
	history := fs.Duration("history", time.Hour, "how much KPI history is kept in memory for the charts")
	queryTimeout := fs.Duration("query-timeout", 10*time.Second, "bound on one request's ClickHouse queries")
	grace := fs.Duration("shutdown-grace", 10*time.Second, "time given to in-flight requests on shutdown")
	allowedHosts := fs.String("allowed-hosts", "", "comma-separated further names (host or host:port) the Host header may carry, beside localhost, 127.0.0.1, [::1] and the host of -addr: the API's public name in production; other hosts are answered 421")
	maxSpans := fs.Int("max-unitizing-spans", kpi.DefaultMaxUnitizingSpans,
		"most spans (and labels) of a spans question the API computes unitizing alpha over on read (GET /v1/regions); above it the figure is not computed and the answer says so with the bound")
	pflags := principals.RegisterFlags(fs)
	httpCfg := serve.RegisterHTTPFlags(fs, serve.DefaultHTTPConfig())
	logFlags := serve.RegisterLogFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: api [flags]\n\nEvery /v1 request needs a bearer token of a reader of the principals file (-principals-file:\nanalyst, owner, qa or vendor), which is reloaded when it changes and on SIGHUP.\nEnvironment only: %s (never a flag: flags show in ps).\n\n", config.EnvClickHousePassword)
		fs.PrintDefaults()
	}
	if err := config.ParseFlags(fs, "api", args, env, nil); err != nil {
		return err
	}
	chCfg.Password, _ = env(config.EnvClickHousePassword)
	if err := httpCfg.Validate(); err != nil {
		return err
	}
	// Every response is written once its queries are done (none streams), so the write
	// timeout only has to outlast the query bound.
	if w := httpCfg.WriteTimeout; w > 0 && w <= *queryTimeout {
		return fmt.Errorf("-http-write-timeout %v must exceed -query-timeout %v, or answers are cut after their queries succeed", w, *queryTimeout)
	}
	if *maxSpans <= 0 {
		return fmt.Errorf("-max-unitizing-spans %d: want a positive bound", *maxSpans)
	}
	// No principals file, no API: there is no unauthenticated mode (tests give the API a
	// principals file too), so a missing flag can never serve every figure to anyone.
	loader, err := pflags.Load()
	if err != nil {
		return err
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	conn, err := connect(ctx, log, *chCfg)
	if err != nil {
		return err
	}
	if conn == nil {
		return nil // stopped while waiting for ClickHouse
	}
	defer conn.Close()

	reg := serve.NewRegistry()
	reg.MustRegister(principals.Collector("api", loader))
	var lag *httpapi.LagReader
	if strings.TrimSpace(*lagProcs) != "" {
		consumers, err := lagConsumers(*lagProcs, *kCfg)
		if err != nil {
			return err
		}
		// The client only answers the lag reads; it starts its connections lazily, so a
		// broker that is down costs the lag figure, not the start.
		cl, err := kafka.NewClient(*kCfg)
		if err != nil {
			return fmt.Errorf("consumer lag: %w", err)
		}
		defer cl.Close()
		if lag, err = httpapi.NewLagReader(kadm.NewClient(cl), consumers, 0); err != nil {
			return err
		}
	}
	srv, err := httpapi.New(httpapi.Config{
		Conn:              conn,
		Principals:        loader.Store(),
		Registerer:        reg,
		Log:               log,
		Lag:               lag,
		SampleInterval:    *sample,
		History:           *history,
		QueryTimeout:      *queryTimeout,
		MaxUnitizingSpans: *maxSpans,
		ListenAddr:        *addr,
		AllowedHosts:      strings.FieldsFunc(*allowedHosts, func(r rune) bool { return r == ',' }),
	})
	if err != nil {
		return err
	}
	ops := serve.NewOps(reg)
	ops.AddCheck("clickhouse", func(ctx context.Context) error { return conn.Ping(ctx) })
	srv.Mount(ops.Mux)

	stopWatch := principals.Watch(ctx, log, loader, pflags.Poll)
	defer stopWatch()
	go srv.RunSampler(ctx)
	st := loader.Status()
	log.Info("api starting", "clickhouse", chCfg.Addr, "database", chCfg.Database,
		"principals_file", loader.Path(), "principals", st.Principals, "tokens", st.Tokens)
	return serve.ListenAndServe(ctx, *addr, srv.CheckHost(ops.Mux), *grace, log, func(a net.Addr) {
		log.Info("dashboard ready", "url", "http://"+a.String()+"/")
	}, serve.WithHTTP(*httpCfg), serve.WithConnMetrics(reg, "api"))
}

// lagConsumers resolves the processors named in list to the consumer groups and topics whose
// lag the API reads: each processor is built with its default configuration only to ask its
// topics (nothing of it runs here).
func lagConsumers(list string, k config.Kafka) ([]httpapi.Consumer, error) {
	procs, err := processors.Parse(list, processors.Config{})
	if err != nil {
		return nil, fmt.Errorf("-lag-processors: %w", err)
	}
	out := make([]httpapi.Consumer, 0, len(procs))
	for _, p := range procs {
		c := httpapi.Consumer{Name: p.Name(), Group: runtime.DefaultGroup(k, p.Name())}
		for _, f := range p.Families() {
			c.Topics = append(c.Topics, k.Topic(f.Topic()))
		}
		out = append(out, c)
	}
	return out, nil
}

// connect opens ClickHouse, waiting with backoff while it does not answer: an API started
// beside a ClickHouse that is still starting (or restarting) should wait, not crash-loop. It
// returns a nil conn when ctx ends first.
func connect(ctx context.Context, log *slog.Logger, cfg config.ClickHouse) (driver.Conn, error) {
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0
	var conn driver.Conn
	err := backoff.RetryNotify(func() error {
		c, err := clickhouse.Open(ctx, cfg)
		if err != nil {
			return err
		}
		conn = c
		return nil
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		log.Warn("clickhouse not ready, retrying", "err", err, "retry_in", wait)
	})
	if ctx.Err() != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse: %w", err)
	}
	return conn, nil
}
