package readside_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/readside"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/config"
)

// The databases the read-side benchmark keeps between runs (Ensure), one per size.
const (
	smallDB = "readside_10k"
	largeDB = "readside_10m"
)

// sizes are the programs of the benchmark: 10k labels, and READSIDE_LABELS (10M by
// default).
func sizes(t *testing.T) []struct {
	db string
	p  readside.Program
} {
	large := 10_000_000
	if v := os.Getenv("READSIDE_LABELS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		large = n
	}
	all := []struct {
		db string
		p  readside.Program
	}{{smallDB, readside.Program{Labels: 10_000, Seed: 17}}, {largeDB, readside.Program{Labels: large, Seed: 17}}}
	// READSIDE_ONLY names the one database to use (the other may be loading elsewhere).
	if only := os.Getenv("READSIDE_ONLY"); only != "" {
		for i, s := range all {
			if s.db == only {
				return all[i : i+1]
			}
		}
		t.Fatalf("READSIDE_ONLY=%s: not a database of the benchmark (%s, %s)", only, smallDB, largeDB)
	}
	return all
}

// benchEnabled skips t unless ASSAY_READSIDE_BENCH is set: loading 10M labels takes most of
// an hour on a 2-core machine (once: the databases are kept).
func benchEnabled(t *testing.T) {
	if os.Getenv("ASSAY_READSIDE_BENCH") == "" {
		t.Skip("set ASSAY_READSIDE_BENCH=1 to load and measure the read side at 10k and 10M labels")
	}
}

func chConfig(db string) config.ClickHouse {
	return config.ClickHouse{Addr: strings.Split(envOr("ASSAY_CLICKHOUSE_ADDR", config.DefaultClickHouseAddr), ","), Database: db,
		User: envOr("ASSAY_CLICKHOUSE_USER", config.DefaultClickHouseUser), Password: os.Getenv(config.EnvClickHousePassword)}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestReadSideLoad loads (or finds loaded) the benchmark's databases.
func TestReadSideLoad(t *testing.T) {
	benchEnabled(t)
	testenv.SkipShort(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	for _, s := range sizes(t) {
		ctx := context.Background()
		start := time.Now()
		conn, st, err := readside.Ensure(ctx, chConfig(s.db), s.p, log)
		if err != nil {
			t.Fatalf("%s: %v", s.db, err)
		}
		conn.Close()
		t.Logf("%s: %s reused=%v events=%d in %v; rows %v", s.db, s.p.Fingerprint(), st.Reused, st.Events, time.Since(start).Round(time.Second), st.Rows)
	}
}

// TestReadSide times every read path (Probes) over the benchmark's databases, loading them
// first when they are not (TestReadSideLoad), and writes the table to READSIDE_RESULTS when
// set. Speed is reported, never asserted.
func TestReadSide(t *testing.T) {
	benchEnabled(t)
	testenv.SkipShort(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()
	budget := readside.DefaultBudget
	if v := os.Getenv("READSIDE_BUDGET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		budget.Time = d
	}
	filter := os.Getenv("READSIDE_PROBES")
	var names []string
	timings := map[string][]readside.Timing{}
	var header strings.Builder
	for _, s := range sizes(t) {
		conn, st, err := readside.Ensure(ctx, chConfig(s.db), s.p, log)
		if err != nil {
			t.Fatalf("%s: %v", s.db, err)
		}
		if !st.Reused {
			t.Logf("%s loaded in %v", s.db, st.Duration.Round(time.Second))
		}
		if err := readside.WaitMerges(ctx, conn, 15*time.Minute); err != nil {
			t.Fatal(err)
		}
		shape, err := readside.Shape(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		label := labelsName(s.p.Labels)
		fmt.Fprintf(&header, "%s: database %s, %s, items %d\n%s", label, s.db, s.p.Fingerprint(), s.p.Items(), shape)
		api, err := readside.NewAPI(conn)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range readside.Probes(conn, api) {
			if filter != "" && !strings.Contains(pr.Group+" "+pr.Name, filter) {
				continue
			}
			tm := readside.Time(ctx, pr, budget)
			t.Logf("%s %-9s %-50s p50 %v p99 %v n %d err %v", label, tm.Group, tm.Name, tm.P50, tm.P99, tm.N, tm.Err)
			timings[label] = append(timings[label], tm)
		}
		names = append(names, label)
		conn.Close()
	}
	report := readside.Report(names, timings, 200*time.Millisecond)
	// READSIDE_BASELINE names the timings of an earlier run (READSIDE_JSON of a binary built
	// before a change), each database's compared with this run's.
	if path := os.Getenv("READSIDE_BASELINE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		before, err := readside.DecodeTimings(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			report += fmt.Sprintf("\n%s labels, before (%s) and after:\n%s", n, path, readside.Compare(before[n], timings[n], 200*time.Millisecond))
		}
	}
	if path := os.Getenv("READSIDE_JSON"); path != "" {
		b, err := readside.EncodeTimings(timings)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("\n" + report)
	if path := os.Getenv("READSIDE_RESULTS"); path != "" {
		load, _ := os.ReadFile("/proc/loadavg")
		text := fmt.Sprintf("Read side at 10k and 10M labels (issue 17), %s, loadavg %s\n%s\n%s", time.Now().UTC().Format(time.RFC3339), strings.TrimSpace(string(load)), header.String(), report)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func labelsName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}
