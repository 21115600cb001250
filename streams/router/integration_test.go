package router_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// The rules of the integration test: every rule fires on some items.
const itRules = `{
  "version": "it-1",
  "default_confidence_threshold": 0.8,
  "questions_without_prelabel": {"proj-it": ["q-caption"]},
  "tag_rules": [
    {"id": "safety_critical", "tags": ["weapon"], "route": "expert_review"},
    {"id": "rare_edge_case", "tags": ["occluded"], "route": "human_review"}
  ],
  "agreement": {"min_labels": 2, "min_agreement": 0.67},
  "audit": {"rate": 0.2, "salt": "it"}
}`

// workload returns the items-topic and labels-topic events of n items, in
// production order: per item its ingest, its pre-label, and for every
// fourth item three annotators' labels (every twelfth: one dissents).
func workload(n int) (items, labels []schemas.Event) {
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	env := func(id string, i int) schemas.Envelope {
		at := t0 + int64(i)
		return schemas.Envelope{EventID: id, OccurredAt: at, RecordedAt: at, Producer: "it"}
	}
	for i := range n {
		id := fmt.Sprintf("item-%05d", i)
		var tags []string
		if i%10 == 0 {
			tags = append(tags, "weapon")
		}
		if i%7 == 0 {
			tags = append(tags, "occluded")
		}
		h := fnv.New32a()
		h.Write([]byte(id))
		conf := 0.5 + float64(h.Sum32()%50)/100
		items = append(items,
			&schemas.ItemIngested{Envelope: env("ing-"+id, i), ItemID: id, Source: "it", URI: "u://" + id,
				SHA256: strings.Repeat("cd", 32), Modality: "image", EdgeCaseTags: tags, ProjectID: "proj-it"},
			&schemas.PreLabelProposed{Envelope: env("pre-"+id, i), ItemID: id, QuestionID: "q-vehicle", Model: "det",
				ModelVersion: fmt.Sprintf("1.%d", i%2), Value: schemas.Nominal("car"), Confidence: conf})
		if i%4 == 0 {
			x := "bus"
			if i%8 == 0 {
				x = "car"
			}
			third := x
			if i%12 == 0 {
				third = "van"
			}
			for a, v := range []string{x, x, third} {
				lid := fmt.Sprintf("lab-%s-%d", id, a)
				labels = append(labels, &schemas.LabelSubmitted{Envelope: env(lid, i), LabelID: lid, ItemID: id, ProjectID: "proj-it",
					TaskID: "t", QuestionID: "q-vehicle", AnnotatorID: fmt.Sprintf("ann-%d", a), GuidelineVersion: "g1",
					Value: schemas.Nominal(v)})
			}
		}
	}
	return items, labels
}

// expected runs the pure router over the workload (one partition per
// topic: decisions are per item, so the interleaving of items does not
// change them) and returns "item/question route rule" per decision.
func expected(t *testing.T, rules *router.Rules, items, labels []schemas.Event) (map[string]string, []*schemas.RoutingDecided) {
	t.Helper()
	r, err := router.New(router.Config{Rules: router.NewRuleSet(rules)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	var all []*schemas.RoutingDecided
	for _, evs := range [][]schemas.Event{items, labels} {
		topic := evs[0].Family().Topic()
		st := r.NewState(topic, 0)
		for off, ev := range evs {
			out, err := r.Apply(st, runtime.Record{Topic: topic, Family: ev.Family(), Offset: int64(off), Event: ev})
			if err != nil {
				t.Fatal(err)
			}
			for _, em := range out.Emit {
				d := em.(*schemas.RoutingDecided)
				want[decisionKey(d)] = string(d.Route) + " " + d.Rule
				all = append(all, d)
			}
		}
	}
	return want, all
}

// decisionKey identifies a decision: one per item/question and stage (the
// low_agreement and low_region_agreement escalations are the labels stage).
func decisionKey(d *schemas.RoutingDecided) string {
	stage := "prelabel"
	if d.Rule == router.RuleLowAgreement || d.Rule == router.RuleLowRegionAgreement {
		stage = "agreement"
	}
	return d.ItemID + "/" + d.QuestionID + "/" + stage
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildProcessor builds services/processor once per test binary.
func buildProcessor(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "assay-router-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "processor")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/assay-data/assay/services/processor").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build services/processor: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func startRouter(t *testing.T, bin string, k config.Kafka, ch config.ClickHouse, rulesPath string) *testenv.Process {
	t.Helper()
	return testenv.StartProcess(t, "router", bin, []string{
		"ASSAY_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","),
		"ASSAY_TOPIC_PREFIX=" + k.TopicPrefix,
		"ASSAY_CLICKHOUSE_ADDR=" + ch.Addr[0],
		"ASSAY_CLICKHOUSE_DATABASE=" + ch.Database,
		// The environment names the README documents (derived from the
		// -router-rules and -router-rules-poll flags).
		"ASSAY_ROUTER_RULES=" + rulesPath,
		"ASSAY_ROUTER_RULES_POLL=200ms",
	}, "-processors", "router", "-http", "127.0.0.1:0", "-flush-interval", "200ms",
		"-batch-size", "300", "-session-timeout", "6s")
}

func count(t *testing.T, conn driver.Conn, q string) int {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return int(n)
}

// readDecisions reads every RoutingDecided on the items topic up to its
// current end, with the given isolation level.
func readDecisions(t *testing.T, k config.Kafka, iso kgo.IsolationLevel) []*schemas.RoutingDecided {
	t.Helper()
	topic := k.Topic(schemas.FamilyItems.Topic())
	cl := testenv.KafkaClient(t, k, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	var out []*schemas.RoutingDecided
	idle := 0
	for idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			ev, err := schemas.Decode(r.Value)
			if err != nil {
				t.Fatalf("decode %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			if d, ok := ev.(*schemas.RoutingDecided); ok {
				out = append(out, d)
			}
		})
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return out
}

// rulesFile writes doc to a rules file of its own and returns its path.
func rulesFile(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// parseRules parses doc, which the test knows to be valid.
func parseRules(t *testing.T, doc string) *router.Rules {
	t.Helper()
	rules, err := router.ParseRules([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestExactlyOnceAcrossKillNine runs the router binary (services/processor
// -processors router) on the real broker, kills it with SIGKILL while it
// decides, restarts it, and checks that a read_committed consumer sees
// every expected decision exactly once, and that ClickHouse's KPI views
// agree with the decisions.
func TestExactlyOnceAcrossKillNine(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, chCfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	bin := buildProcessor(t)
	rulesPath := rulesFile(t, itRules)
	rules := parseRules(t, itRules)

	const n = 1500
	items, labels := workload(n)
	want, wantAll := expected(t, rules, items, labels)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var prodErr error
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		// Slowly (about 20 s), so the router is deciding while it is killed.
		const chunk = 10
		li := 0
		for i := 0; i < n; i += chunk {
			var recs []*kgo.Record
			for _, ev := range items[2*i : 2*min(i+chunk, n)] {
				recs = append(recs, record(t, k, ev))
			}
			for ; li < len(labels) && labels[li].(*schemas.LabelSubmitted).ItemID < fmt.Sprintf("item-%05d", i+chunk); li++ {
				recs = append(recs, record(t, k, labels[li]))
			}
			if prodErr = cl.ProduceSync(ctx, recs...).FirstErr(); prodErr != nil {
				return
			}
			time.Sleep(130 * time.Millisecond)
		}
	}()

	// Kill -9 while a transaction is open: watch the items topic, where the
	// decisions go, and kill the moment its last stable offset is behind its
	// end (the test's own producer is not transactional, so only the
	// router's open transaction holds it back). If the kill missed (the
	// transaction committed first), restart and try again.
	adm := kadm.NewClient(cl)
	itemsTopic := k.Topic(schemas.FamilyItems.Topic())
	open := func() bool {
		hwm, err1 := adm.ListEndOffsets(ctx, itemsTopic)
		lso, err2 := adm.ListCommittedOffsets(ctx, itemsTopic)
		if err1 != nil || err2 != nil {
			t.Fatalf("list offsets: %v %v", err1, err2)
		}
		behind := false
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := lso.Lookup(o.Topic, o.Partition); ok && l.Offset < o.Offset {
				behind = true
			}
		})
		return behind
	}
	p := startRouter(t, bin, k, chCfg, rulesPath)
	hit := false
	for kills := 1; !hit && kills <= 5; kills++ {
		deadline := time.Now().Add(time.Minute)
		for !open() {
			if time.Now().After(deadline) {
				t.Fatal("the router opened no transaction in a minute")
			}
		}
		p.Kill9(t)
		hit = open()
		t.Logf("kill -9 #%d with %d of %d decisions rows written; inside an open transaction: %v",
			kills, count(t, conn, "SELECT count() FROM routing_decisions"), len(want), hit)
		p = startRouter(t, bin, k, chCfg, rulesPath)
	}
	if !hit {
		t.Fatal("no kill landed inside an open transaction")
	}
	<-prodDone
	if prodErr != nil {
		t.Fatal(prodErr)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for count(t, conn, "SELECT count() FROM routing_decisions FINAL") < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("routing_decisions holds %d of %d decisions after 3 minutes", count(t, conn, "SELECT count() FROM routing_decisions FINAL"), len(want))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Let anything extra (a duplicate would come now) reach the log.
	time.Sleep(2 * time.Second)

	got := readDecisions(t, k, kgo.ReadCommitted())
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, d := range got {
		seen[decisionKey(d)]++
		if ids[d.EventID] {
			t.Errorf("event id %s seen twice by a read_committed consumer", d.EventID)
		}
		ids[d.EventID] = true
		if w, ok := want[decisionKey(d)]; !ok {
			t.Errorf("unexpected decision %s %s %s", decisionKey(d), d.Route, d.Rule)
		} else if g := string(d.Route) + " " + d.Rule; g != w {
			t.Errorf("decision %s: %s, want %s", decisionKey(d), g, w)
		}
		if d.Producer != router.Producer || !strings.HasPrefix(d.Reason, "rules it-1: ") {
			t.Errorf("decision %s: producer %q, reason %q", decisionKey(d), d.Producer, d.Reason)
		}
	}
	dups := 0
	for key, c := range seen {
		if c > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("%s decided %d times", key, c)
			}
		}
	}
	if len(seen) != len(want) || dups > 0 {
		t.Fatalf("read_committed consumer saw %d decisions for %d keys (%d keys more than once); want %d keys once", len(got), len(seen), dups, len(want))
	}
	uncommitted := readDecisions(t, k, kgo.ReadUncommitted())
	abortedRules := map[string]int{}
	{
		n := map[string]int{}
		for _, d := range uncommitted {
			n[decisionKey(d)]++
			if n[decisionKey(d)] > 1 {
				abortedRules[d.Rule]++
			}
		}
	}
	if len(uncommitted) <= len(got) {
		t.Fatalf("read_uncommitted sees %d decisions, read_committed %d: the killed transaction left no aborted copy, so nothing was proven", len(uncommitted), len(got))
	}
	t.Logf("%d decisions, each exactly once for read_committed; read_uncommitted also sees %d aborted copies (by rule %v); %d routing_decisions rows before FINAL",
		len(got), len(uncommitted)-len(got), abortedRules, count(t, conn, "SELECT count() FROM routing_decisions"))

	checkKPIs(t, conn, wantAll, items, labels)
}

func record(t *testing.T, k config.Kafka, ev schemas.Event) *kgo.Record {
	t.Helper()
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b}
}

// checkKPIs compares kpi_automation and kpi_prelabel_precision with the
// figures computed here from the expected decisions and the workload.
func checkKPIs(t *testing.T, conn driver.Conn, decisions []*schemas.RoutingDecided, items, labels []schemas.Event) {
	t.Helper()
	// The accepted (modal) label per item: the workload's labels are x, x,
	// third, so the first label's value is always the mode.
	accepted := map[string]string{}
	for _, ev := range labels {
		l := ev.(*schemas.LabelSubmitted)
		if _, ok := accepted[l.ItemID]; !ok {
			accepted[l.ItemID] = l.Value.Category
		}
	}
	var dec, auto, audits, escal, auditsLabeled, overridden int
	for _, d := range decisions {
		switch {
		case d.Rule == router.RuleLowAgreement:
			escal++
			continue
		case d.Rule == router.RuleAuditSample:
			audits++
			auto++
			if v, ok := accepted[d.ItemID]; ok && d.QuestionID == "q-vehicle" {
				auditsLabeled++
				if v != "car" {
					overridden++
				}
			}
		case d.Route == schemas.RouteAutoAccept:
			auto++
		}
		dec++
	}
	var (
		project                                          string
		gDec, gAuto, gAudits, gEscal, gLabeled, gOverrid uint64
		rate                                             float64
	)
	err := conn.QueryRow(context.Background(), `SELECT project_id, decisions, auto_accepted, audits, escalations, audits_labeled, audits_overridden, automation_rate FROM kpi_automation`).
		Scan(&project, &gDec, &gAuto, &gAudits, &gEscal, &gLabeled, &gOverrid, &rate)
	if err != nil {
		t.Fatal(err)
	}
	gotA := fmt.Sprint(project, gDec, gAuto, gAudits, gEscal, gLabeled, gOverrid)
	wantA := fmt.Sprint("proj-it", dec, auto, audits, escal, auditsLabeled, overridden)
	if gotA != wantA || rate != float64(auto)/float64(dec) {
		t.Errorf("kpi_automation (project decisions auto audits escalations audits_labeled overridden) = %s rate %v, want %s rate %v", gotA, rate, wantA, float64(auto)/float64(dec))
	}
	t.Logf("kpi_automation: %d decisions, automation rate %.3f, %d audits (%d labeled, %d overridden), %d escalations", dec, rate, audits, auditsLabeled, overridden, escal)

	// Precision per model version: every pre-label says car.
	judged, correct := map[string]int{}, map[string]int{}
	for _, ev := range items {
		if p, ok := ev.(*schemas.PreLabelProposed); ok {
			if v, ok := accepted[p.ItemID]; ok {
				judged[p.ModelVersion]++
				if v == "car" {
					correct[p.ModelVersion]++
				}
			}
		}
	}
	rows, err := conn.Query(context.Background(), `SELECT model_version, prelabels_judged, correct FROM kpi_prelabel_precision ORDER BY model_version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got, want []string
	for rows.Next() {
		var v string
		var j, c uint64
		if err := rows.Scan(&v, &j, &c); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v, j, c))
	}
	for _, v := range slices.Sorted(maps.Keys(judged)) {
		want = append(want, fmt.Sprint(v, judged[v], correct[v]))
	}
	if !slices.Equal(got, want) {
		t.Errorf("kpi_prelabel_precision (version judged correct) = %v, want %v", got, want)
	}
}

// TestProcessorRefusesMalformedRulesAtStart: with a malformed rules file
// the router does not start (there are no older rules to keep), whichever
// way the file is named: the flag or either of its environment variables.
func TestProcessorRefusesMalformedRulesAtStart(t *testing.T) {
	bin := buildProcessor(t)
	rulesPath := rulesFile(t, `{"version":"bad","default_confidence_threshold":1.7}`)
	for _, c := range []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"-router-rules", rulesPath}, ""},
		{"service variable", nil, "ASSAY_PROCESSOR_ROUTER_RULES=" + rulesPath},
		{"shared variable", nil, "ASSAY_ROUTER_RULES=" + rulesPath},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"-processors", "router", "-http", "127.0.0.1:0"}, c.args...)...)
			cmd.Env = append(os.Environ(), "ASSAY_CLICKHOUSE_ADDR=127.0.0.1:1")
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the processor started on a malformed rules file:\n%s", out)
			}
			want := "processor: router: rules file " + rulesPath + ": invalid rules (version \"bad\"): default_confidence_threshold must be in [0, 1], got 1.7"
			if !strings.Contains(string(out), want) {
				t.Fatalf("output does not say why:\n%s\nwant it to contain %q", out, want)
			}
		})
	}
}

// TestRulesReloadInTheRunningRouter: the running router picks up a new
// rules version without a restart, refuses a malformed file and keeps
// deciding with the rules in force, and records the version it used.
func TestRulesReloadInTheRunningRouter(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, chCfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	bin := buildProcessor(t)
	rulesPath := filepath.Join(t.TempDir(), "rules.json")
	write := func(doc string) {
		t.Helper()
		if err := os.WriteFile(rulesPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"version":"r1","default_confidence_threshold":0.8}`)
	p := startRouter(t, bin, k, chCfg, rulesPath)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// round produces 10 items with a 0.85 pre-label and waits until they are
	// decided; it returns their "route rules-version" tallies.
	round := func(name string) map[string]int {
		t.Helper()
		var recs []*kgo.Record
		var ids []string
		for i := range 10 {
			id := fmt.Sprintf("%s-%d", name, i)
			ids = append(ids, "'"+id+"'")
			at := time.Now().UnixMilli()
			env := schemas.Envelope{EventID: "e-" + id, OccurredAt: at, RecordedAt: at, Producer: "it"}
			recs = append(recs,
				record(t, k, &schemas.ItemIngested{Envelope: env, ItemID: id, Source: "it", URI: "u://" + id, SHA256: strings.Repeat("ef", 32), Modality: "text", ProjectID: "p"}),
				record(t, k, &schemas.PreLabelProposed{Envelope: schemas.Envelope{EventID: "p-" + id, OccurredAt: at, RecordedAt: at, Producer: "it"},
					ItemID: id, QuestionID: "q", Model: "m", ModelVersion: "1", Value: schemas.Nominal("a"), Confidence: 0.85}))
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		where := " FROM routing_decisions FINAL WHERE item_id IN (" + strings.Join(ids, ",") + ")"
		deadline := time.Now().Add(time.Minute)
		for count(t, conn, "SELECT count()"+where) < 10 {
			if time.Now().After(deadline) {
				t.Fatalf("round %s: not decided within a minute", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rows, err := conn.Query(ctx, "SELECT route, rules_version, count()"+where+" GROUP BY route, rules_version")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var route, version string
			var n uint64
			if err := rows.Scan(&route, &version, &n); err != nil {
				t.Fatal(err)
			}
			out[route+" "+version] = int(n)
		}
		return out
	}
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(p.Log)
			if strings.Count(string(b), what) > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("router log has no %q after 30s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	check := func(got map[string]int, want string) {
		t.Helper()
		if fmt.Sprint(got) != want {
			t.Fatalf("decisions %v, want %s", got, want)
		}
	}

	// scrape returns the assay_router_* lines of the router's /metrics.
	scrape := func() string {
		t.Helper()
		var lines []string
		for _, l := range strings.Split(p.Metrics(t), "\n") {
			if strings.HasPrefix(l, "assay_router_rules_info") || strings.HasPrefix(l, "assay_router_rules_reload_f") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "; ")
	}

	check(round("a"), "map[auto_accept r1:10]")
	if m := scrape(); m != `assay_router_rules_info{version="r1"} 1; assay_router_rules_reload_failed 0; assay_router_rules_reload_failures_total 0` {
		t.Fatalf("metrics at start: %s", m)
	}

	write(`{"version":"r2","default_confidence_threshold":"0.9"}`) // a string: malformed
	waitLog("rules reload refused")
	check(round("b"), "map[auto_accept r1:10]")
	if m := scrape(); m != `assay_router_rules_info{version="r1"} 1; assay_router_rules_reload_failed 1; assay_router_rules_reload_failures_total 1` {
		t.Fatalf("metrics after a refused reload: %s", m)
	}

	write(`{"version":"r2","default_confidence_threshold":0.9}`)
	waitLog("rules reloaded")
	check(round("c"), "map[human_review r2:10]")
	if m := scrape(); m != `assay_router_rules_info{version="r2"} 1; assay_router_rules_reload_failed 0; assay_router_rules_reload_failures_total 1` {
		t.Fatalf("metrics after a good reload: %s", m)
	}
}

// TestTwoInstancesSplitThePartitions runs two router processes in one
// group while the workload is produced: the group splits the six
// partitions between them (items partition p and labels partition p need
// not land together, which the split state is built for), rebalancing
// aborts open transactions, and still every decision is seen exactly once;
// then a replay of the log under other rules rebuilds the same
// routing_decisions rows.
func TestTwoInstancesSplitThePartitions(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, chCfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	bin := buildProcessor(t)
	rulesPath := rulesFile(t, itRules)
	rules := parseRules(t, itRules)
	const n = 600
	items, labels := workload(n)
	want, _ := expected(t, rules, items, labels)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	a := startRouter(t, bin, k, chCfg, rulesPath)
	var b *testenv.Process
	const chunk = 20
	li := 0
	for i := 0; i < n; i += chunk {
		var recs []*kgo.Record
		for _, ev := range items[2*i : 2*min(i+chunk, n)] {
			recs = append(recs, record(t, k, ev))
		}
		for ; li < len(labels) && labels[li].(*schemas.LabelSubmitted).ItemID < fmt.Sprintf("item-%05d", i+chunk); li++ {
			recs = append(recs, record(t, k, labels[li]))
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if i == n/3 {
			b = startRouter(t, bin, k, chCfg, rulesPath) // joins mid-stream: a rebalance
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for count(t, conn, "SELECT count() FROM routing_decisions FINAL") < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("routing_decisions holds %d of %d decisions", count(t, conn, "SELECT count() FROM routing_decisions FINAL"), len(want))
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	got := readDecisions(t, k, kgo.ReadCommitted())
	seen := map[string]int{}
	for _, d := range got {
		seen[decisionKey(d)]++
		if w := want[decisionKey(d)]; w != string(d.Route)+" "+d.Rule {
			t.Errorf("decision %s: %s %s, want %q", decisionKey(d), d.Route, d.Rule, w)
		}
	}
	if len(got) != len(want) || len(seen) != len(want) {
		t.Fatalf("read_committed consumer saw %d decisions for %d keys, want %d once each", len(got), len(seen), len(want))
	}
	// Replaying the log, even under other rules, rebuilds routing_decisions
	// as decided then: the rows come from the decisions in the log.
	_, replayConn := testenv.MigratedClickHouse(t)
	other := *rules
	other.Version, other.DefaultConfidenceThreshold, other.TagRules = "replay-other", 0.99, nil
	replayRouter, err := router.New(router.Config{Rules: router.NewRuleSet(&other)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.Replay(ctx, replayRouter, k, runtime.ClickHouseSink(replayConn), time.Time{}); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT item_id, question_id, stage, route, rule, rules_version, project_id, model_version, prelabel_value, audited, event_id FROM routing_decisions FINAL ORDER BY item_id, question_id, stage"
	live, replayed := rowsOf(t, conn, q), rowsOf(t, replayConn, q)
	if len(live) != len(want) || !slices.Equal(live, replayed) {
		t.Fatalf("replay rebuilt %d routing_decisions rows, live has %d (want %d); equal: %v", len(replayed), len(live), len(want), slices.Equal(live, replayed))
	}

	// What each instance owned at the end, from its last assignment log line.
	for name, p := range map[string]*testenv.Process{"a": a, "b": b} {
		log, _ := os.ReadFile(p.Log)
		lines := regexp.MustCompile(`msg="partitions (assigned|revoked)"[^\n]*`).FindAll(log, -1)
		t.Logf("instance %s: %d assignment changes; %s", name, len(lines), lastOr(lines, "none"))
	}
}

func lastOr(lines [][]byte, none string) string {
	if len(lines) == 0 {
		return none
	}
	return string(lines[len(lines)-1])
}

// rowsOf returns the rows of q, each rendered with fmt.
func rowsOf(t *testing.T, conn driver.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	cols := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(reflect.ValueOf(v).Elem().Interface()))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// regionRules turn the region rule and a box threshold on.
const regionRules = `{
  "version": "it-regions-1",
  "default_confidence_threshold": 0.8,
  "questions": {
    "q-objects": {"confidence_threshold": 0.7, "box_score_threshold": 0.6},
    "q-entities": {"iou_threshold": 0.4}
  },
  "agreement": {"min_labels": 2, "min_agreement": 0.67, "min_region_f1": 0.6}
}`

// regionWorkload returns n image items with boxes pre-labels (some with a
// box scored low, some with none) and, for most, two or three annotators'
// boxes or an entity question's spans, drawn alike or not.
func regionWorkload(n int) (items, labels []schemas.Event) {
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	env := func(id string, i int) schemas.Envelope {
		at := t0 + int64(i)
		return schemas.Envelope{EventID: id, OccurredAt: at, RecordedAt: at, Producer: "it"}
	}
	for i := range n {
		id := fmt.Sprintf("img-%05d", i)
		w, h := 640.0, 480.0
		items = append(items, &schemas.ItemIngested{Envelope: env("ing-"+id, i), ItemID: id, Source: "it", URI: "u://" + id,
			SHA256: strings.Repeat("ab", 32), Modality: "image", ProjectID: "proj-regions",
			Extent: &schemas.Extent{Unit: schemas.UnitPixels, Width: &w, Height: &h}})
		var boxes []schemas.Box
		for j := range i % 4 { // 0 to 3 boxes
			s := 0.65 + float64((i*7+j*13)%35)/100 // 0.65 to 0.99
			if (i+j)%9 == 0 {
				s = 0.3
			}
			boxes = append(boxes, schemas.Box{Label: "car", X: float64(100 * j), Y: 50, W: 80, H: 60, Score: &s})
		}
		items = append(items, &schemas.PreLabelProposed{Envelope: env("pre-"+id, i), ItemID: id, QuestionID: "q-objects", Model: "det",
			ModelVersion: "2.0", Value: schemas.Boxes(w, h, boxes...), Confidence: 0.6 + float64(i%40)/100})
		if i%5 == 4 {
			continue // labeled by nobody
		}
		annotators := 1 + i%3 // one annotator: held, never judged
		for a := range annotators {
			lid := fmt.Sprintf("lab-%s-%d", id, a)
			var v schemas.LabelValue
			q := "q-objects"
			shift := 0.0
			if i%6 == 0 && a > 0 {
				shift = 60 // off by most of a box: no match
			}
			if i%2 == 0 {
				v = schemas.Boxes(w, h, schemas.Box{Label: "car", X: 10 + shift, Y: 10, W: 80, H: 60}, schemas.Box{Label: "person", X: 300, Y: 100, W: 40, H: 120})
			} else {
				q = "q-entities"
				end := int64(20 + 4*a) // IoU 20/24 = 0.83 at most
				if i%7 == 0 && a > 0 {
					end = 60 // IoU 20/60 = 0.33 < 0.4
				}
				v = schemas.Spans(schemas.UnitCharacters, 500, schemas.Span{Label: "PER", Start: 0, End: end}, schemas.Span{Label: "ORG", Start: 100, End: 120})
			}
			labels = append(labels, &schemas.LabelSubmitted{Envelope: env(lid, i), LabelID: lid, ItemID: id, ProjectID: "proj-regions",
				TaskID: "t", QuestionID: q, AnnotatorID: fmt.Sprintf("ann-%d", a), GuidelineVersion: "g1", Value: v})
		}
	}
	return items, labels
}

// TestRegionAndBoxRulesOnTheStack runs the router on the real broker and
// ClickHouse over boxes pre-labels and spans and boxes labels: every
// decision a read_committed consumer sees equals the pure router's,
// inputs included, after their round trip through Avro; the escalations
// for low region agreement are labels-stage rows of routing_decisions and
// escalations of kpi_automation.
func TestRegionAndBoxRulesOnTheStack(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rules := parseRules(t, regionRules)
	items, labels := regionWorkload(240)
	want, wantAll := expected(t, rules, items, labels)
	byRule := map[string]int{}
	for _, d := range wantAll {
		byRule[d.Rule]++
	}
	t.Logf("expected decisions by rule: %v", byRule)
	for _, r := range []string{router.RuleLowBoxConfidence, router.RuleLowConfidence, router.RuleConfident, router.RuleLowRegionAgreement} {
		if byRule[r] == 0 {
			t.Fatalf("the workload must make the rules decide %s at least once: %v", r, byRule)
		}
	}
	var recs []*kgo.Record
	for _, ev := range append(items, labels...) {
		recs = append(recs, record(t, k, ev))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
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

	wantBy := map[string]*schemas.RoutingDecided{}
	for _, d := range wantAll {
		wantBy[decisionKey(d)] = d
	}
	got := readDecisions(t, k, kgo.ReadCommitted())
	if len(got) != len(wantAll) {
		t.Fatalf("read_committed consumer saw %d decisions, want %d", len(got), len(wantAll))
	}
	for _, d := range got {
		w := wantBy[decisionKey(d)]
		if w == nil {
			t.Errorf("unexpected decision %s %s", decisionKey(d), d.Rule)
			continue
		}
		if d.Route != w.Route || d.Rule != w.Rule || d.Reason != w.Reason || !reflect.DeepEqual(d.Inputs, w.Inputs) || d.EventID != w.EventID {
			t.Errorf("decision %s:\n got %s %s %q %v\nwant %s %s %q %v", decisionKey(d), d.Route, d.Rule, d.Reason, d.Inputs, w.Route, w.Rule, w.Reason, w.Inputs)
		}
	}
	rows := rowsOf(t, conn, "SELECT stage, rule, count() FROM routing_decisions FINAL GROUP BY stage, rule ORDER BY stage, rule")
	var wantRows []string
	for _, rule := range slices.Sorted(maps.Keys(byRule)) {
		stage := "prelabel"
		if rule == router.RuleLowRegionAgreement {
			stage = "agreement"
		}
		wantRows = append(wantRows, fmt.Sprintf("%s|%s|%d", stage, rule, byRule[rule]))
	}
	slices.Sort(wantRows)
	if !slices.Equal(rows, wantRows) {
		t.Errorf("routing_decisions (stage|rule|count) = %v, want %v", rows, wantRows)
	}
	if n := count(t, conn, "SELECT escalations FROM kpi_automation WHERE project_id = 'proj-regions'"); n != byRule[router.RuleLowRegionAgreement] {
		t.Errorf("kpi_automation.escalations = %d, want %d", n, byRule[router.RuleLowRegionAgreement])
	}
}
