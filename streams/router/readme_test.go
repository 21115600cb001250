package router_test

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// TestReadmeRulesExample keeps the rules file shown in README.md equal to
// testdata/rules.json (which TestExampleRulesFile validates).
func TestReadmeRulesExample(t *testing.T) {
	blocks := testenv.ReadmeBlocks(t, "Routing", "json")
	if len(blocks) != 1 {
		t.Fatalf("found %d json blocks in the Routing section, want 1", len(blocks))
	}
	shown, err := router.ParseRules([]byte(blocks[0]))
	if err != nil {
		t.Fatalf("the README's rules example is invalid: %v", err)
	}
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	file, err := router.ParseRules(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shown, file) {
		t.Fatalf("README.md shows other rules than testdata/rules.json:\n%+v\n%+v", shown, file)
	}
}

// TestReadmeRoutingQueries runs every SQL block of README.md's "Routing"
// section on tables the router filled (by replaying a workload), so the
// examples work on the server the tests use and return rows.
func TestReadmeRoutingQueries(t *testing.T) {
	blocks := testenv.ReadmeBlocks(t, "Routing", "sql")
	if len(blocks) < 3 {
		t.Fatalf("found %d sql blocks in the Routing section, want at least 3", len(blocks))
	}
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	items, labels := workload(300)
	var recs []*kgo.Record
	for _, ev := range append(items, labels...) {
		recs = append(recs, record(t, k, ev))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rules := parseRules(t, itRules)
	// The live runner, not Replay: decision rows are written when the
	// committed decisions are read back, and Replay emits nothing.
	want, _ := expected(t, rules, items, labels)
	rt, err := router.New(router.Config{Rules: router.NewRuleSet(rules)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runtime.New(rt, k, runtime.ClickHouseSink(conn),
		runtime.WithFlushInterval(100*time.Millisecond), runtime.WithKafkaOptions(kgo.SessionTimeout(6*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	for count(t, conn, "SELECT count() FROM routing_decisions FINAL") < len(want) {
		if ctx.Err() != nil {
			t.Fatalf("routing_decisions holds %d of %d decisions", count(t, conn, "SELECT count() FROM routing_decisions FINAL"), len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testenv.RunReadmeQueries(ctx, t, conn, blocks)
}
