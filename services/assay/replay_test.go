package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/infra/config"
)

// TestReplayRebuildsIntoAFreshDatabase produces events, replays them with
// the CLI into an empty database named by -into (migrated by the command), and
// checks the tables and that no consumer group was created.
func TestReplayRebuildsIntoAFreshDatabase(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.EmptyDatabase)
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rounds = 30
	if err := workload.Produce(ctx, cl, k, workload.New("replay", 4).Rounds(rounds)); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"replay", "-processor", "ledger",
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix,
		"-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database + "_live", "-into", cfg.Database}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
	if !regexp.MustCompile(fmt.Sprintf(`: %d records, \d+ rows, 0 poison, in .* \(\d+ events/s\)`, rounds*workload.TypesPerRound)).MatchString(stdout.String()) {
		t.Fatalf("unexpected report %q", stdout.String())
	}
	for table, want := range workload.ExpectedRows(rounds) {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+clickhouse.QuoteIdent(table)+" FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int(n) != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	groups, err := testenvGroups(ctx, t, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if strings.HasPrefix(g, k.TopicPrefix) {
			t.Errorf("replay created consumer group %s", g)
		}
	}

	// A bad -since is a usage error.
	if code := run(ctx, []string{"replay", "-since", "yesterday"}, &stdout, &stderr); code != 2 {
		t.Fatalf("bad -since: exit %d, want 2", code)
	}
}

func testenvGroups(ctx context.Context, t *testing.T, k config.Kafka) ([]string, error) {
	listed, err := kadm.NewClient(testenv.KafkaClient(t, k)).ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	return listed.Groups(), nil
}

// TestReplayTarget: the database a replay writes into, for every combination of flags.
func TestReplayTarget(t *testing.T) {
	now := time.Date(2026, 12, 3, 14, 15, 2, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name            string
		into            string
		intoLive, since bool
		noMigrate       bool
		want            string
		fresh           bool
		refused         string
	}{
		{name: "default: a new database", want: "assay_replay_20261203T131502Z", fresh: true},
		{name: "default from an instant", since: true, want: "assay_replay_20261203T131502Z", fresh: true},
		{name: "another database", into: "assay_rebuild", want: "assay_rebuild"},
		{name: "another database from an instant", into: "assay_rebuild", since: true, want: "assay_rebuild"},
		{name: "another database, not migrated", into: "assay_rebuild", noMigrate: true, want: "assay_rebuild"},
		{name: "the live database by name", into: "assay", refused: "pass -into-live"},
		{name: "the live database by name from an instant", into: "assay", since: true, refused: "-since with the live database"},
		{name: "into live", intoLive: true, want: "assay"},
		{name: "into live, named", into: "assay", intoLive: true, want: "assay"},
		{name: "into live from an instant", intoLive: true, since: true, refused: "-since with the live database"},
		{name: "into live and another database", into: "assay_rebuild", intoLive: true, refused: "disagree"},
		{name: "a new database not migrated", noMigrate: true, refused: "-migrate=false needs -into"},
	} {
		db, fresh, err := replayTarget("assay", tc.into, tc.intoLive, tc.since, !tc.noMigrate, now)
		switch {
		case tc.refused != "":
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%s: %q %v %v, want refused saying %q", tc.name, db, fresh, err, tc.refused)
			}
		case err != nil || db != tc.want || fresh != tc.fresh:
			t.Errorf("%s: %q fresh %v %v, want %q fresh %v", tc.name, db, fresh, err, tc.want, tc.fresh)
		}
	}
	if _, _, err := replayTarget("", "", false, false, true, now); err == nil {
		t.Error("an empty live database name accepted")
	}
}

// TestReplayProtectsTheLiveDatabase runs the CLI against the real servers: without flags it
// replays into a new database it creates and names, leaving the live one untouched; it
// refuses the live database without -into-live, and -since with the live database in any
// case, before reading or writing anything; -into-live writes there, with a warning.
func TestReplayProtectsTheLiveDatabase(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.EmptyDatabase) // the "live" database: exists, empty
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rounds = 10
	if err := workload.Produce(ctx, cl, k, workload.New("replay-live", 4).Rounds(rounds)); err != nil {
		t.Fatal(err)
	}
	replay := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"replay", "-processor", "ledger",
			"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix,
			"-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}, extra...)
		code := run(ctx, args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	tables := func(db string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Refusals: usage errors (exit 2) before anything is read or written.
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"-into", cfg.Database}, "is the live database"},
		{[]string{"-into", cfg.Database, "-since", "2026-01-01T00:00:00Z"}, "-since with the live database"},
		{[]string{"-into-live", "-since", "2026-01-01T00:00:00Z"}, "-since with the live database"},
		{[]string{"-into-live", "-into", cfg.Database + "_other"}, "disagree"},
		{[]string{"-migrate=false"}, "-migrate=false needs -into"},
	} {
		code, stdout, stderr := replay(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.says) || stdout != "" {
			t.Errorf("replay %v: exit %d, stdout %q, stderr %q; want 2 saying %q", tc.args, code, stdout, stderr, tc.says)
		}
	}
	if n := tables(cfg.Database); n != 0 {
		t.Fatalf("the refused replays left %d tables in the live database", n)
	}

	// The default: a new database, created, named on stdout, and the live one untouched.
	code, stdout, stderr := replay()
	if code != 0 {
		t.Fatalf("default replay: exit %d: %s", code, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	m := regexp.MustCompile(`created database (` + regexp.QuoteMeta(cfg.Database) + `_replay_\d{8}T\d{6}Z) for this replay of ledger`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("the default replay did not name a new database: %q", stdout)
	}
	fresh := m[1]
	t.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+clickhouse.QuoteIdent(fresh))
	})
	if records := fmt.Sprintf(": %d records", rounds*workload.TypesPerRound); !strings.Contains(stdout, "replayed ledger into "+fresh+records) {
		t.Errorf("report does not name %s with the%s: %q", fresh, records, stdout)
	}
	countIn := func(db string) map[string]int {
		out := map[string]int{}
		for table := range workload.ExpectedRows(rounds) {
			var n uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+clickhouse.QuoteIdent(db)+"."+clickhouse.QuoteIdent(table)+" FINAL").Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[table] = int(n)
		}
		return out
	}
	for table, n := range countIn(fresh) {
		if want := workload.ExpectedRows(rounds)[table]; n != want {
			t.Errorf("%s.%s: %d rows, want %d", fresh, table, n, want)
		}
	}
	if n := tables(cfg.Database); n != 0 {
		t.Fatalf("the default replay left %d tables in the live database", n)
	}

	// -into-live writes into the live database, saying so loudly.
	code, stdout, stderr = replay("-into-live")
	if code != 0 {
		t.Fatalf("replay -into-live: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "WARNING: -into-live: replaying ledger into the LIVE database "+cfg.Database) {
		t.Errorf("no warning for -into-live: %q", stderr)
	}
	for table, n := range countIn(cfg.Database) {
		if want := workload.ExpectedRows(rounds)[table]; n != want {
			t.Errorf("live %s: %d rows, want %d", table, n, want)
		}
	}
}
