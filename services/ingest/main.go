package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/serve"
)

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ingest:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kcfg := config.RegisterKafka(fs)
	gflags := gateway.RegisterFlags(fs)
	addr := fs.String("addr", config.Env("ASSAY_INGEST_ADDR", "127.0.0.1:18090"), "listen address (env ASSAY_INGEST_ADDR)")
	grace := fs.Duration("shutdown-grace", config.EnvDuration("ASSAY_INGEST_SHUTDOWN_GRACE", 30*time.Second), "time given to in-flight requests and produces on shutdown (env ASSAY_INGEST_SHUTDOWN_GRACE)")
	logFlags := serve.RegisterLogFlags(fs, "ingest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := gflags.Config()
	if err != nil {
		return err
	}
	reg := serve.NewRegistry()
	gw, err := gateway.New(cfg, *kcfg, reg, log)
	if err != nil {
		return err
	}
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	ops.AddCheck("kafka", gw.Ready)
	log.Info("ingest gateway starting", "brokers", kcfg.Brokers, "topic_prefix", kcfg.TopicPrefix, "producers", cfg.Tokens.Len())

	// The server's graceful shutdown waits for in-flight handlers, and each handler waits for
	// its records' acknowledgements; Close then flushes anything still buffered.
	serveErr := serve.ListenAndServe(ctx, *addr, ops.Mux, *grace, log, nil)
	closeCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := gw.Close(closeCtx); err != nil {
		return errors.Join(serveErr, err)
	}
	return serveErr
}
