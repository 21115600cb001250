package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/processors"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// TestSIGHUPAndPollReloadTheRouterRules: main owns the rules file's watch.
// A poll picks a change up; with the poll an hour away only SIGHUP does;
// a malformed file is refused and the rules in force stay. The router
// library itself handles no signal and starts no goroutine.
func TestSIGHUPAndPollReloadTheRouterRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	write := func(doc string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"version":"v1","default_confidence_threshold":0.80}`)
	var logs bytes.Buffer // written by the watch's goroutines, read once they are stopped
	log := slog.New(slog.NewTextHandler(&logs, nil))
	build := func(poll time.Duration) *router.Router {
		t.Helper()
		procs, err := processors.Parse("router", processors.Config{Logger: log, Router: router.Config{RulesFile: path, RulesPoll: poll}})
		if err != nil {
			t.Fatal(err)
		}
		return procs[0].(*router.Router)
	}
	// Catch SIGHUP in this process before watchRules does, so a signal sent
	// before it registers cannot kill the test binary.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	wait := func(r *router.Router, what string, hup bool, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s (version %s, last error %v)", what, r.Loader().RuleSet().Current().Version, r.Loader().Err())
			}
			if hup {
				if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	version := func(r *router.Router, v string) func() bool {
		return func() bool { return r.Loader().RuleSet().Current().Version == v }
	}

	polled := build(20 * time.Millisecond)
	stop := watchRules(context.Background(), log, []runtime.Processor{polled}, nil, 0)
	write(`{"version":"v2","default_confidence_threshold":0.85}`)
	wait(polled, "poll picks up v2", false, version(polled, "v2"))
	stop()
	if !strings.Contains(logs.String(), "rules reloaded") || !strings.Contains(logs.String(), "version=v2") {
		t.Fatalf("the reload was not logged on the processor's logger:\n%s", logs.String())
	}

	r := build(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop = watchRules(ctx, log, []runtime.Processor{r}, nil, 0)
	defer stop()
	write(`{"version":"v3","default_confidence_threshold":0.87}`)
	time.Sleep(100 * time.Millisecond)
	if v := r.Loader().RuleSet().Current().Version; v != "v2" {
		t.Fatalf("rules changed without a poll or a signal: %s", v)
	}
	wait(r, "SIGHUP picks up v3", true, version(r, "v3"))
	write("not json")
	wait(r, "SIGHUP reports the malformed file", true, func() bool { return r.Loader().Err() != nil })
	if v := r.Loader().RuleSet().Current().Version; v != "v3" {
		t.Fatalf("malformed file replaced the rules: %s", v)
	}
}

// TestSIGHUPAndPollReloadThePrincipals: main polls the principals file and reloads it on SIGHUP;
// the store the runners judge by follows; a file without tokens is refused and the principals in
// force stay; the reloads are exported as metrics.
func TestSIGHUPAndPollReloadThePrincipals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "principals")
	line := func(id string) string { return id + " " + strings.Repeat("ab", 32) + " role=qa projects=*\n" }
	write := func(doc string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // atomically, as the loader asks
			t.Fatal(err)
		}
	}
	write(line("qa-1"))
	l, err := access.NewLoader(path)
	if err != nil {
		t.Fatal(err)
	}
	has := func(id string) func() bool {
		return func() bool { _, ok := l.Store().Load().Principal(id); return ok }
	}
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	wait := func(what string, hup bool, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s (last error %v)", what, l.Status().Err)
			}
			if hup {
				if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	stop := watchRules(context.Background(), log, nil, l, 20*time.Millisecond)
	write(line("qa-2"))
	wait("poll picks up qa-2", false, has("qa-2"))
	stop()

	stop = watchRules(context.Background(), log, nil, l, time.Hour)
	defer stop()
	write(line("qa-3"))
	time.Sleep(100 * time.Millisecond)
	if has("qa-3")() {
		t.Fatal("principals changed without a poll or a signal")
	}
	wait("SIGHUP picks up qa-3", true, has("qa-3"))
	write("# everyone gone\n")
	wait("SIGHUP reports the file without tokens", true, func() bool { return l.Status().Err != nil })
	if !has("qa-3")() {
		t.Fatal("a refused file replaced the principals")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(principalsCollector{l})
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if got["assay_processor_principals"] != 1 || got["assay_processor_principals_reload_failed"] != 1 ||
		got["assay_processor_principals_reloads_total"] != 2 || got["assay_processor_principals_reload_failures_total"] < 1 {
		t.Errorf("metrics %v", got)
	}
	stop()
	for _, want := range []string{"principals reloaded", "principals reload refused"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
