package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/assay-data/assay/services/ingest/gateview"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/questionview"
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

// memoryOverhead is the gateway's memory beside what its in-flight budget counts, for its
// soft memory limit: the Go runtime and its metadata, the Kafka client and its buffers
// (franz-go buffers at most 10,000 records), the metrics, the duplicate windows, and the
// buffers and goroutines of the connections (about 16 KiB each: net/http's 4 KiB reader and
// writer and a goroutine's stack, so 16 MiB at the default -http-max-conns of 1024). The
// binary's own pages are not Go memory and come on top in RSS (about 10 MiB).
const memoryOverhead = 48 << 20

// memoryLimit is the Go runtime's soft memory limit for a budget of budget bytes: flagValue
// when set, else budget + memoryOverhead; source says which, or "GOMEMLIMIT" when that
// variable is set (the runtime has read it at start, and it wins: the limit is left alone).
//
// Why a limit: the budget bounds the memory requests hold, but freed memory is only returned
// by the garbage collector, which by default lets the heap grow to twice what is live before
// it runs (GOGC=100). Under a burst that holds the whole budget, that puts RSS at twice the
// budget and more. With the limit, the collector runs before the heap passes it, so RSS
// stays near the budget plus the overhead.
func memoryLimit(flagValue, budget int64, env config.LookupEnv) (limit int64, source string) {
	if v, ok := env("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	if flagValue > 0 {
		return flagValue, "-memory-limit"
	}
	return budget + memoryOverhead, "derived"
}

// runView runs a view's Run until ctx ends (SIGTERM) and returns the function that stops it
// and waits for it. Requests still draining are decided on what the view has read, which
// stays in memory until run returns.
func runView(ctx context.Context, run func(context.Context) error) (stop func()) {
	viewCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(viewCtx) // returns nil when viewCtx ends; failures are retried inside
	}()
	return func() {
		cancel()
		<-done
	}
}

func run(ctx context.Context, args []string, env config.LookupEnv, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kcfg := config.RegisterKafka(fs)
	gflags := gateway.RegisterFlags(fs)
	pflags := principals.RegisterFlags(fs)
	addr := fs.String("addr", "127.0.0.1:18090", "listen address")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "time given to in-flight requests and produces on shutdown")
	gateRuns := fs.Bool("gate-training-runs", true, "refuse (409) a TrainingRunRegistered on a dataset version the quality gate has not certified and no owner overrode, deciding on a view of the datasets topic (false: training runs are not gated, for deployments without a gate)")
	checkQuestions := fs.Bool("check-questions", true, "refuse (422) a label, gold label or pre-label whose value its question's definition (QuestionDefined) does not admit, and a spans, boxes or preference value whose question is not defined, deciding on a view of the projects topic (false: values get the contract's own checks only)")
	questionBytes := fs.Int64("question-view-bytes", questionview.DefaultMaxBytes, "most memory the view of questions holds (estimated); past it, values of questions it does not hold are no longer refused as undefined")
	memLimit := fs.Int64("memory-limit", 0, "the Go runtime's soft memory limit in bytes (0: -max-inflight-bytes + 48 MiB); GOMEMLIMIT, when set, wins")
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
	if *memLimit < 0 {
		return fmt.Errorf("-memory-limit %d: want a number of bytes, or 0 for -max-inflight-bytes + %d MiB", *memLimit, memoryOverhead>>20)
	}
	if h := *httpCfg; h.WriteTimeout > 0 && h.WriteTimeout < h.ReadTimeout+cfg.InFlightWait+cfg.ProduceTimeout {
		return fmt.Errorf("-http-write-timeout %v is shorter than -http-read-timeout + -inflight-wait + -produce-timeout (%v): a request could be acknowledged by Kafka and its answer cut",
			h.WriteTimeout, h.ReadTimeout+cfg.InFlightWait+cfg.ProduceTimeout)
	}
	reg := serve.NewRegistry()
	reg.MustRegister(principals.Collector("ingest", loader))
	var view *gateview.View
	if *gateRuns {
		if view, err = gateview.New(*kcfg, reg, log); err != nil {
			return err
		}
		cfg.Gate = view
	} else {
		log.Warn("training runs are not gated (-gate-training-runs=false): a TrainingRunRegistered is accepted whatever the gate decided")
	}
	var questions *questionview.View
	if *checkQuestions {
		if questions, err = questionview.New(*kcfg, questionview.Config{MaxBytes: *questionBytes}, reg, log); err != nil {
			return err
		}
		cfg.Questions = questions
	} else {
		log.Warn("label values are not checked against their questions' definitions (-check-questions=false)")
	}
	gw, err := gateway.New(cfg, *kcfg, reg, log)
	if err != nil {
		return err
	}
	limit, source := memoryLimit(*memLimit, cfg.MaxInFlightBytes, env)
	if source != "GOMEMLIMIT" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	}
	log.Info("memory limit", "bytes", limit, "source", source, "inflight_bytes", cfg.MaxInFlightBytes)
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	ops.AddCheck("kafka", gw.Ready)
	if view != nil {
		// Not ready before the view has read the log: a 409 decided on it would be wrong.
		ops.AddCheck("gate_view", view.Ready)
		defer runView(ctx, view.Run)()
	}
	if questions != nil {
		// Likewise: a 422 for an undefined question decided on a partial view would be wrong.
		ops.AddCheck("question_view", questions.Ready)
		defer runView(ctx, questions.Run)()
	}
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
