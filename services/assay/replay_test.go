package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/clickhouse"
	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/ops/testenv"
)

// TestReplayRebuildsIntoAFreshDatabase produces events, replays them with
// the CLI into an empty database (migrated by the command), and checks the
// tables and that no consumer group was created.
func TestReplayRebuildsIntoAFreshDatabase(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	cfg, conn := testenv.ClickHouse(t)
	cl := testenv.KafkaClient(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const rounds = 30
	if err := workload.Produce(ctx, cl, k, workload.New("replay", 4).Rounds(rounds)); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"replay", "-processor", "ledger",
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix,
		"-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
	if !regexp.MustCompile(`: 420 records, \d+ rows, 0 poison, in .* \(\d+ events/s\)`).MatchString(stdout.String()) {
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
