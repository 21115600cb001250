package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime"
)

// TestGateAgainstClickHouse runs assay gate on the real servers: the scripted history with the
// gate's verdicts, an owner's override and a forged certification on the broker, the lineage
// processor's tables in ClickHouse, then the command, in-process and as the README's training
// pipeline script with the built binary. What it reads from ClickHouse is what the lineage
// model says from the log.
func TestGateAgainstClickHouse(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, cfg, conn := env.Kafka, env.ClickHouse, env.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produceHistory(ctx, t, k)
	stats, err := runtime.Replay(ctx, lineage.NewProcessor(), k, runtime.ClickHouseSink(conn), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rejected != 1 {
		t.Errorf("the lineage processor refused %d records, want 1 (mallory's certification)", stats.Rejected)
	}
	gate := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		base := []string{"gate", "-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}
		code := run(ctx, append(base, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	g := gateGraph()
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"ds-cars@3", "--json"}, 0},
		{[]string{"--json", "ds-cars@1"}, 0},
		{[]string{"ds-cars@2", "--json"}, 1},
		{[]string{"ds-cars@2", "--json", "--allow-override"}, 0},
		{[]string{"ds-cars@9", "--json", "--allow-override"}, 1},
	}
	for _, tc := range tests {
		code, out, errOut := gate(tc.args...)
		var got gateReport
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: exit %d, not JSON: %v\n%s\n%s", tc.args, code, err, out, errOut)
		}
		ref := lineage.VersionRef{DatasetID: got.Dataset, Version: got.Version}
		_, committed := g.Versions[ref]
		want := newGateReport(ref, committed, g.Gate(ref), strings.Contains(strings.Join(tc.args, " "), "--allow-override"))
		if code != tc.code || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: exit %d (want %d), stderr %q\n got %+v\nwant %+v", tc.args, code, tc.code, errOut, got, want)
		}
	}
	if code, out, errOut := gate("ds-cars@2"); code != 1 || !strings.Contains(out, "REJECTED") || !strings.Contains(errOut, "assay gate: not certified") {
		t.Errorf("text of v2: exit %d\n%s\n%s", code, out, errOut)
	}

	// Usage and connection errors exit 2.
	for _, args := range [][]string{{}, {"no-version"}, {"ds-cars@3", "extra"}, {"ds-cars@3", "--timeout", "0s"},
		{"ds-cars@3", "-clickhouse-addr", "127.0.0.1:1"}, {"ds-cars@3", "-clickhouse-database", cfg.Database + "_missing"}} {
		var stdout, stderr bytes.Buffer
		base := []string{"gate", "-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}
		if code := run(ctx, append(base, args...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, stdout.String(), stderr.String())
		}
	}
	// Tables without the gate's (a database migrated before 0046) cannot be read: exit 2, not 1.
	if err := conn.Exec(ctx, "DROP TABLE lineage_verdicts"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := gate("ds-cars@3"); code != 2 || !strings.Contains(errOut, "lineage_verdicts") {
		t.Errorf("without lineage_verdicts: exit %d, want 2: %s", code, errOut)
	}
	t.Run("README pipeline", readmePipeline)
}

// readmePipeline runs the README's training script (section "Gate") with the built assay on
// PATH and a stand-in python that says what it would train on, against a fresh copy of the
// lineage tables: training starts on a certified version and not on a rejected one.
func readmePipeline(t *testing.T) {
	blocks := testenv.ReadmeBlocks(t, "Gate", "sh")
	if len(blocks) != 1 || !strings.Contains(blocks[0], "assay gate ds@v3 || exit 1") {
		t.Fatalf("README's Gate section: %q", blocks)
	}
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produceHistory(ctx, t, env.Kafka)
	if _, err := runtime.Replay(ctx, lineage.NewProcessor(), env.Kafka, runtime.ClickHouseSink(env.Conn), time.Time{}); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "assay"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	python := "#!/bin/sh\necho \"training on $3\"\n"
	if err := os.WriteFile(filepath.Join(bin, "python"), []byte(python), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		code    int
		train   bool
	}{{"ds-cars@3", 0, true}, {"ds-cars@2", 1, false}, {"ds-cars@9", 1, false}} {
		script := strings.ReplaceAll(blocks[0], "ds@v3", tc.version)
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"ASSAY_CLICKHOUSE_ADDR="+strings.Join(env.ClickHouse.Addr, ","), "ASSAY_CLICKHOUSE_DATABASE="+env.ClickHouse.Database)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		trained := strings.Contains(stdout.String(), "training on "+tc.version)
		if code != tc.code || trained != tc.train {
			t.Errorf("%s: exit %d (want %d), trained %v (want %v)\n%s%s", tc.version, code, tc.code, trained, tc.train, stdout.String(), stderr.String())
		}
	}
}
