package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/runtime"
)

// RoleFlag is the flag that turns the bench binary into one of its child processes.
const RoleFlag = "-role"

// RunRole runs a child role ("processor" or "gateway") with args until ctx ends, writing a CPU
// profile to -cpuprofile when given. The bench parent stops it with SIGTERM.
func RunRole(ctx context.Context, role string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	kcfg := config.RegisterKafka(fs)
	chcfg := config.RegisterClickHouse(fs)
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	names := fs.String("processors", "ledger", "processors to run (role processor)")
	batch := fs.Int("batch-size", 5000, "records per ClickHouse batch (role processor)")
	flush := fs.Duration("flush-interval", time.Second, "flush interval (role processor)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address (role gateway); the bound one is printed as 'addr=' on stdout")
	principals := fs.String("principals-file", "", "principals file of the bench's callers (role gateway)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// A role is the child's main: its flags come from the parent (childArgs), the password,
	// never a flag, from the environment it inherits.
	chcfg.Password = os.Getenv(config.EnvClickHousePassword)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	switch role {
	case "processor":
		return runProcessors(ctx, log, *names, *kcfg, *chcfg, *batch, *flush)
	case "gateway":
		return runGateway(ctx, log, *kcfg, *addr, *principals)
	}
	return fmt.Errorf("unknown role %q (processor or gateway)", role)
}

// runProcessors is services/processor's wiring without its ops endpoints: runners over one
// ClickHouse connection, stopped together.
func runProcessors(ctx context.Context, log *slog.Logger, names string, k config.Kafka, ch config.ClickHouse, batch int, flush time.Duration) error {
	procs, err := processors.Parse(names, processors.Config{})
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, ch)
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range procs {
		r, err := runtime.New(p, k, runtime.ClickHouseSink(conn), runtime.WithBatchSize(batch), runtime.WithFlushInterval(flush),
			runtime.WithLogger(log), runtime.WithKafkaOptions(kgo.SessionTimeout(6*time.Second)))
		if err != nil {
			return fmt.Errorf("runner %s: %w", p.Name(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runGateway is services/ingest's wiring, its callers the principals the parent wrote to
// principalsFile (driver.Principals: one of each writing role, with fresh tokens).
func runGateway(ctx context.Context, log *slog.Logger, k config.Kafka, addr, principalsFile string) error {
	cfg := gateway.DefaultConfig()
	reg, err := access.ReadFile(principalsFile)
	if err != nil {
		return fmt.Errorf("bench principals: %w", err)
	}
	cfg.Principals = access.NewStore(reg)
	gw, err := gateway.New(cfg, k, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	// services/internal/serve is internal to services/, so the few lines of serving are here.
	mux := http.NewServeMux()
	mux.Handle("POST "+wire.Path, gw)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := gw.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Printf("addr=%s\n", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return errors.Join(err, gw.Close(sctx))
}

// childArgs are the connection flags every child gets, so it needs no environment.
func childArgs(k config.Kafka, ch config.ClickHouse) []string {
	return []string{"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix,
		"-clickhouse-addr", strings.Join(ch.Addr, ","), "-clickhouse-database", ch.Database}
}
