// Command processor runs stream processors (-processors ledger,...) as
// members of their consumer groups, writing into ClickHouse, with
// /healthz, /readyz and /metrics on -http. SIGTERM or SIGINT stops it
// gracefully: every runner flushes its batch, commits and leaves its group.
//
// Each flag falls back to its environment variables, ASSAY_PROCESSOR_<FLAG>
// then ASSAY_<FLAG> (config.ParseFlags; -h lists them), so the shared
// ASSAY_KAFKA_BROKERS, ASSAY_CLICKHOUSE_ADDR, ASSAY_TOPIC_PREFIX, ... apply.
// With -router-rules, SIGHUP reloads the router's rules file (which is also
// polled every -router-rules-poll).
//
// With -gate the process also runs the quality gate (streams/gate): it judges every
// committed dataset version against the quality targets in force at its commit, with the
// figures read from ClickHouse (streams/gate/figures), and emits the verdicts in Kafka
// transactions. The gate is a singleton: run -gate in one processor instance only (a second
// one fences the first, which then exits with an error).
//
// With -principals-file (also ASSAY_PRINCIPALS_FILE, the gateway's), every
// runner judges every event by its producer's role and scope
// (streams/runtime, "Write rules") and sends what it may not write to the
// DLQ; the file is polled every -principals-poll and reloaded on SIGHUP, a
// file that does not parse (or has no token) is refused and the principals
// in force stay. A principal's role is read when a record is processed, so
// a rebuild after a reload judges the past by the new file: never reuse a
// principal id for another role, and keep a revoked principal whose events
// must keep counting with "-" for its hash.
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
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	cancel()
	os.Exit(code)
}

func run(ctx context.Context, args []string, env config.LookupEnv, stderr io.Writer) int {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kCfg := config.RegisterKafka(fs)
	chCfg := config.RegisterClickHouse(fs)
	names := fs.String("processors", "ledger", "comma-separated processors to run (known: "+strings.Join(processors.Names(), ", ")+")")
	httpAddr := fs.String("http", "127.0.0.1:9102", "address of /healthz, /readyz and /metrics")
	batchSize := fs.Int("batch-size", 5000, "records per ClickHouse batch at most")
	flushInterval := fs.Duration("flush-interval", time.Second, "flush a batch at the latest this long after its first record")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "bound on the final flush and commit")
	session := fs.Duration("session-timeout", 45*time.Second, "consumer group session timeout: how long a crashed instance keeps its partitions")
	migrate := fs.Bool("migrate", false, "create the database and apply migrations before starting")
	httpCfg := serve.RegisterHTTPFlags(fs, serve.DefaultHTTPConfig())
	logFlags := serve.RegisterLogFlags(fs)
	procCfg := processors.RegisterFlags(fs)
	gateCfg := registerGateFlags(fs)
	principalsPoll := fs.Duration("principals-poll", 5*time.Second, "how often the principals file is read for changes (it is also reloaded on SIGHUP)")
	snaps := snapshotFlags{
		enabled:  fs.Bool("snapshots", true, "snapshot partition states into ClickHouse (table processor_snapshots) and restore a newly assigned partition from its latest snapshot plus the log after it (false: rebuild from the start of the log)"),
		records:  fs.Int("snapshot-records", runtime.DefaultSnapshotRecords, "snapshot a partition state once this many records (and an eighth of its keys' worth) were applied since its latest snapshot"),
		interval: fs.Duration("snapshot-interval", runtime.DefaultSnapshotInterval, "snapshot a partition state at the latest this long after its latest snapshot, if it applied any record since"),
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: processor [flags]\n\nEnvironment only: %s (never a flag: flags show in ps).\n\n", config.EnvClickHousePassword)
		fs.PrintDefaults()
	}
	if err := config.ParseFlags(fs, "processor", args, env, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "processor:", err)
		}
		return 2
	}
	chCfg.Password, _ = env(config.EnvClickHousePassword)
	if err := httpCfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "processor:", err)
		return 2
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "processor:", err)
		return 2
	}
	procCfg.Logger = log
	if err := gateCfg.validate(); err != nil {
		fmt.Fprintln(stderr, "processor:", err)
		return 2
	}
	procs, err := processors.Parse(*names, *procCfg)
	if err != nil {
		fmt.Fprintln(stderr, "processor:", err)
		return 2
	}
	if *principalsPoll <= 0 {
		fmt.Fprintln(stderr, "processor: -principals-poll must be positive")
		return 2
	}
	if *snaps.records < 1 || *snaps.interval <= 0 {
		fmt.Fprintln(stderr, "processor: -snapshot-records must be at least 1 and -snapshot-interval positive")
		return 2
	}
	principals, err := procCfg.LoadPrincipals()
	if err != nil {
		fmt.Fprintln(stderr, "processor:", err)
		return 2
	}
	opts := []runtime.Option{
		runtime.WithBatchSize(*batchSize), runtime.WithFlushInterval(*flushInterval), runtime.WithShutdownTimeout(*shutdown),
		runtime.WithKafkaOptions(kgo.SessionTimeout(*session)),
	}
	if principals != nil {
		st := principals.Status()
		log.Info("principals loaded: events their producer may not write go to the DLQ",
			"file", principals.Path(), "principals", st.Principals, "tokens", st.Tokens)
		opts = append(opts, runtime.WithAuthorizer(runtime.Principals(principals.Store())))
	} else {
		log.Info("no principals file: only the rules that need none apply (own labels, the router's own decisions)")
	}
	stopWatch := watchRules(ctx, log, procs, principals, *principalsPoll)
	defer stopWatch()
	if err := serveProcessors(ctx, log, procs, principals, gateCfg, snaps, *kCfg, *chCfg, *httpAddr, *httpCfg, *migrate, opts...); err != nil {
		log.Error("processor failed", "err", err)
		return 1
	}
	return 0
}

// watchRules runs the router's rules Loader, if a rules file was given, and polls the
// principals file every poll, if one was given (principals non-nil): it reloads both on SIGHUP,
// until ctx ends or the returned stop is called (which waits for it). The signal and the
// goroutines are main's: the router and access libraries handle neither.
func watchRules(ctx context.Context, log *slog.Logger, procs []runtime.Processor, principals *access.Loader, poll time.Duration) (stop func()) {
	var loaders []*router.Loader
	for _, p := range procs {
		if r, ok := p.(*router.Router); ok && r.Loader() != nil {
			loaders = append(loaders, r.Loader())
		}
	}
	if len(loaders) == 0 && principals == nil {
		return func() {} // SIGHUP keeps its default meaning
	}
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var wg sync.WaitGroup
	for _, l := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Run(ctx)
		}()
	}
	if principals != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(poll)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					reported(log, principals, principals.Poll)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if len(loaders) > 0 {
					log.Info("SIGHUP: reloading the rules file")
				}
				for _, l := range loaders {
					_, _ = l.Reload() // the loader logs and counts the outcome
				}
				if principals != nil {
					log.Info("SIGHUP: reloading the principals file")
					reported(log, principals, principals.Reload)
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// reported runs a reload of the principals file (Poll or Reload) and logs its outcome: the
// access library logs nothing. Poll reports a refused file once, so a standing refusal is not
// logged every poll; assay_processor_principals_reload_failed stays 1 meanwhile.
func reported(log *slog.Logger, l *access.Loader, reload func() (bool, error)) {
	changed, err := reload()
	switch {
	case err != nil:
		log.Error("principals reload refused; the principals in force stay", "file", l.Path(), "err", err)
	case changed:
		st := l.Status()
		log.Info("principals reloaded", "file", l.Path(), "principals", st.Principals, "tokens", st.Tokens)
	}
}

// principalsCollector exports the principals file's reloads, read at scrape time.
type principalsCollector struct{ l *access.Loader }

var (
	descPrincipals = prometheus.NewDesc("assay_processor_principals",
		"Principals in the registry in force (the principals file the processors judge events by).", nil, nil)
	descPrincipalsReloadFailed = prometheus.NewDesc("assay_processor_principals_reload_failed",
		"1 when the last reload of the principals file was refused (the principals in force stay), else 0: alert on it.", nil, nil)
	descPrincipalsReloadFailures = prometheus.NewDesc("assay_processor_principals_reload_failures_total",
		"Reloads of the principals file refused since the process started.", nil, nil)
	descPrincipalsReloads = prometheus.NewDesc("assay_processor_principals_reloads_total",
		"New principals registries put in force since the process started.", nil, nil)
	descPrincipalsLoaded = prometheus.NewDesc("assay_processor_principals_loaded_timestamp_seconds",
		"When the principals in force were loaded (Unix seconds).", nil, nil)
)

func (principalsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPrincipals, descPrincipalsReloadFailed, descPrincipalsReloadFailures, descPrincipalsReloads, descPrincipalsLoaded} {
		ch <- d
	}
}

func (c principalsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Status()
	failed := 0.0
	if st.Err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(descPrincipals, prometheus.GaugeValue, float64(st.Principals))
	ch <- prometheus.MustNewConstMetric(descPrincipalsReloadFailed, prometheus.GaugeValue, failed)
	ch <- prometheus.MustNewConstMetric(descPrincipalsReloadFailures, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(descPrincipalsReloads, prometheus.CounterValue, float64(st.Reloads))
	ch <- prometheus.MustNewConstMetric(descPrincipalsLoaded, prometheus.GaugeValue, float64(st.Loaded.UnixNano())/float64(time.Second))
}

// snapshotFlags are the flags of the runners' snapshots (streams/runtime WithSnapshots).
type snapshotFlags struct {
	enabled  *bool
	records  *int
	interval *time.Duration
}

func serveProcessors(ctx context.Context, log *slog.Logger, procs []runtime.Processor, principals *access.Loader, gc *gateConfig, snaps snapshotFlags, k config.Kafka, ch config.ClickHouse, httpAddr string, httpCfg serve.HTTPConfig, migrate bool, opts ...runtime.Option) error {
	conn, err := connect(ctx, log, ch, migrate)
	if err != nil {
		return err
	}
	if conn == nil {
		return nil // cancelled while waiting for ClickHouse
	}
	defer conn.Close()
	if *snaps.enabled {
		// In the database the processors write to: a snapshot is a cache of their replay.
		opts = append(opts, runtime.WithSnapshots(runtime.ClickHouseSnapshots(conn)), runtime.WithSnapshotEvery(*snaps.records, *snaps.interval))
	}

	reg := serve.NewRegistry()
	if principals != nil {
		if err := reg.Register(principalsCollector{principals}); err != nil {
			return fmt.Errorf("register the principals metrics: %w", err)
		}
	}
	ops := serve.NewOps(reg)
	ops.AddCheck("clickhouse", func(ctx context.Context) error { return conn.Ping(ctx) })
	opts = append(opts, runtime.WithRegisterer(reg), runtime.WithLogger(log))
	var runners []*runtime.Runner
	for _, p := range procs {
		r, err := runtime.New(p, k, runtime.ClickHouseSink(conn), opts...)
		if err != nil {
			return err
		}
		ops.AddCheck("processor_"+p.Name(), r.Ready)
		runners = append(runners, r)
	}
	var gr *gate.Runner
	if gc.enabled {
		if gr, err = gc.runner(k, conn, log, reg); err != nil {
			return err
		}
		ops.AddCheck("gate", gr.Ready)
	}

	// One failing runner stops the others and the HTTP server (errgroup cancels gctx on the
	// first error): a partial process would look healthy while a projection silently falls
	// behind. Wait returns that first error.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return serve.ListenAndServe(gctx, httpAddr, ops.Mux, 5*time.Second, log, func(a net.Addr) {
			log.Info("ops endpoints ready", "addr", a.String())
		}, serve.WithHTTP(httpCfg), serve.WithConnMetrics(reg, "processor"))
	})
	for _, r := range runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	if gr != nil {
		g.Go(func() error {
			if err := waitTopics(gctx, log, k, gc.topics(k)); err != nil {
				return err
			}
			return gr.Run(gctx)
		})
	}
	return g.Wait()
}

// connect opens ClickHouse, waiting with backoff while it is unreachable: a
// processor started during a ClickHouse restart should wait, not crash-loop.
// It returns a nil conn when ctx ends first.
func connect(ctx context.Context, log *slog.Logger, ch config.ClickHouse, migrate bool) (driver.Conn, error) {
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0
	var conn driver.Conn
	err := backoff.RetryNotify(func() error {
		if migrate {
			if err := clickhouse.EnsureDatabase(ctx, ch); err != nil {
				return err
			}
		}
		c, err := clickhouse.Open(ctx, ch)
		if err != nil {
			return err
		}
		if migrate {
			ms, err := migrations.All()
			if err != nil {
				c.Close()
				return backoff.Permanent(err)
			}
			if _, err := clickhouse.Migrate(ctx, c, ms, log); err != nil {
				c.Close()
				return err
			}
		}
		conn = c
		return nil
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		log.Warn("clickhouse not ready, retrying", "err", err, "retry_in", wait)
	})
	if ctx.Err() != nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse: %w", err)
	}
	return conn, nil
}
