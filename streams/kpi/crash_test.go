package kpi_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
)

// TestKPIKillRestart: the processor binary (services/processor) runs the
// agreement and accuracy processors, is killed with SIGKILL after writing
// part of the figures, and restarted: the new process rebuilds its state
// from the log up to the committed offsets, re-reads the uncommitted tail,
// and the figures end up exactly those of the generated labels.
func TestKPIKillRestart(t *testing.T) {
	env := testenv.Stack(t, 4, testenv.MigratedDatabase)
	k, chCfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "processor")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/assay-data/assay/services/processor").CombinedOutput(); err != nil {
		t.Fatalf("build services/processor: %v\n%s", err, out)
	}
	start := func() *exec.Cmd {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "-processors", kpi.AgreementName+","+kpi.AccuracyName,
			"-http", addr, "-batch-size", "200", "-flush-interval", "100ms", "-session-timeout", "6s", "-log-level", "warn")
		cmd.Env = append(os.Environ(),
			"ASSAY_KAFKA_BROKERS="+strings.Join(k.Brokers, ","),
			"ASSAY_TOPIC_PREFIX="+k.TopicPrefix,
			"ASSAY_CLICKHOUSE_ADDR="+strings.Join(chCfg.Addr, ","),
			"ASSAY_CLICKHOUSE_DATABASE="+chCfg.Database,
		)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	cfg := annotation.DefaultConfig("kpi-kill", 11)
	cfg.Items = 3000
	w := annotation.Generate(cfg)
	half := len(w.Events) / 2
	if err := workload.Produce(ctx, cl, k, w.Events[:half]); err != nil {
		t.Fatal(err)
	}
	first := start()
	// Kill as soon as some figures are written: the crash lands between a
	// durable write and its commit or in the middle of the stream.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, total, _ := accuracyRow(t, ctx, conn, cfg.Project, kpi.ScopeAll); total > 0 {
			_, all := w.ExactAccuracy("")
			t.Logf("killing with %d of %d scored labels written", total, all)
			break
		}
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatal("no figures written before the kill")
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if err := workload.Produce(ctx, cl, k, w.Events[half:]); err != nil {
		t.Fatal(err)
	}
	second := start()
	defer func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	waitFigures(t, ctx, conn, w)
	m := checkFigures(t, ctx, conn, w)
	t.Logf("after kill -9 and restart: alpha %.4f (model %.4f), accuracy %.4f (model %.4f)",
		m["alpha all"], m["alpha model all"], m["accuracy all"], m["accuracy model all"])
}
