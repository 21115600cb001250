package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/principals"
	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// legacyTokensEnv held inline 'producer_id sha256hex [families]' entries before principals.
// Set, it stops the gateway: silently ignoring it would turn every one of those tokens into
// a 401 with no hint why.
const legacyTokensEnv = "ASSAY_INGEST_TOKENS"

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ingest:", err)
		}
		os.Exit(1)
	}
}

// httpDefaults are the gateway's server bounds: DefaultHTTPConfig's, except that a request
// may take 5 minutes to arrive and 6 to be answered.
//
// The largest legitimate request is a body of -max-body-bytes (32 MiB, decoded). Sent
// uncompressed, it arrives within 5 minutes at 112 KiB/s (0.9 Mbit/s, a weak DSL or a
// congested mobile uplink); the collector client gzips, and event JSON shrinks 5 to 10 times,
// so a gzipped maximum body arrives in time at 100 to 200 kbit/s. A client slower than that
// is not one to wait for: its connection is cut and its events, never acknowledged, are
// retried by the client. A slow-body client holds one of -http-max-conns slots for at most
// those 5 minutes, and a slow or silent header is cut after 10 s.
//
// The write timeout runs from the end of the header to the end of the response, so it covers
// the body's arrival, the wait for in-flight room (-inflight-wait) and for Kafka's
// acknowledgement (-produce-timeout): 6 minutes leaves 48 s above their defaults' sum, and run
// refuses a combination that would cut an answer.
func httpDefaults() serve.HTTPConfig {
	c := serve.DefaultHTTPConfig()
	c.ReadTimeout = 5 * time.Minute
	c.WriteTimeout = 6 * time.Minute
	return c
}

func run(ctx context.Context, args []string, env config.LookupEnv, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kcfg := config.RegisterKafka(fs)
	gflags := gateway.RegisterFlags(fs)
	pflags := principals.RegisterFlags(fs)
	addr := fs.String("addr", "127.0.0.1:18090", "listen address")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "time given to in-flight requests and produces on shutdown")
	httpCfg := serve.RegisterHTTPFlags(fs, httpDefaults())
	logFlags := serve.RegisterLogFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ingest [flags]\n\nCallers authenticate with tokens of the principals file (-principals-file), which is reloaded\nwhen it changes and on SIGHUP.\n\n")
		fs.PrintDefaults()
	}
	if err := config.ParseFlags(fs, "ingest", args, env, nil); err != nil {
		return err
	}
	if err := httpCfg.Validate(); err != nil {
		return err
	}
	log, err := logFlags.Logger(stderr)
	if err != nil {
		return err
	}
	if _, set := env(legacyTokensEnv); set {
		return fmt.Errorf("%s is no longer read: callers are principals of a principals file now (-principals-file, ASSAY_INGEST_PRINCIPALS_FILE); `assay token create` prints its lines", legacyTokensEnv)
	}
	loader, err := pflags.Load()
	if err != nil {
		return err
	}
	cfg := gflags.Config()
	cfg.Principals = loader.Store()
	if h := *httpCfg; h.WriteTimeout > 0 && h.WriteTimeout < h.ReadTimeout+cfg.InFlightWait+cfg.ProduceTimeout {
		return fmt.Errorf("-http-write-timeout %v is shorter than -http-read-timeout + -inflight-wait + -produce-timeout (%v): a request could be acknowledged by Kafka and its answer cut",
			h.WriteTimeout, h.ReadTimeout+cfg.InFlightWait+cfg.ProduceTimeout)
	}
	reg := serve.NewRegistry()
	reg.MustRegister(principals.Collector("ingest", loader))
	gw, err := gateway.New(cfg, *kcfg, reg, log)
	if err != nil {
		return err
	}
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	ops.AddCheck("kafka", gw.Ready)
	st := loader.Status()
	log.Info("ingest gateway starting", "brokers", kcfg.Brokers, "topic_prefix", kcfg.TopicPrefix,
		"principals_file", loader.Path(), "principals", st.Principals, "tokens", st.Tokens)
	stopWatch := principals.Watch(ctx, log, loader, pflags.Poll)
	defer stopWatch()

	// The server's graceful shutdown waits for in-flight handlers, and each handler waits for
	// its records' acknowledgements; Close then flushes anything still buffered.
	serveErr := serve.ListenAndServe(ctx, *addr, ops.Mux, *grace, log, nil,
		serve.WithHTTP(*httpCfg), serve.WithConnMetrics(reg, "ingest"))
	closeCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := gw.Close(closeCtx); err != nil {
		return errors.Join(serveErr, err)
	}
	return serveErr
}
