package principals

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestWatchPollsAndCollectorReports: the watch's poll puts an edit in force, a broken file is
// refused and reported, and the collector shows both.
func TestWatchPollsAndCollectorReports(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "-principals-file") {
		t.Fatalf("no file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "principals")
	line := func(id string) string { return id + " " + access.HashToken(id) + " role=qa projects=*\n" }
	write(t, path, line("a"))
	if err := fs.Parse([]string{"-principals-file", path, "-principals-poll", "20ms"}); err != nil {
		t.Fatal(err)
	}
	l, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector("test", l))
	var logs bytes.Buffer
	stop := Watch(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), l, f.Poll)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("%s: not within 5s\n%s", what, logs.String())
			}
		}
	}
	write(t, path, line("a")+line("b"))
	waitFor("the edit in force", func() bool { return l.Status().Reloads == 1 })
	write(t, path, line("a")+"b broken\n")
	waitFor("the broken file refused", func() bool { return l.Status().Failures == 1 })
	stop()
	if _, err := l.Store().Load().Authenticate("b"); err != nil {
		t.Fatal("the refused file dropped b")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{"assay_test_principals": 2, "assay_test_principal_tokens": 2, "assay_test_principals_reloads_total": 1,
		"assay_test_principals_reload_failures_total": 1, "assay_test_principals_reload_failed": 1} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if got["assay_test_principals_loaded_timestamp_seconds"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("loaded timestamp %v", got["assay_test_principals_loaded_timestamp_seconds"])
	}
	if got := logs.String(); strings.Count(got, "principals file refused") != 1 || !strings.Contains(got, "principals reloaded") {
		t.Fatalf("logs (one refusal, one reload):\n%s", got)
	}
}
