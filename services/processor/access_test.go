package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

// The processors ignore what slipped past the gateway (issue 15): events written STRAIGHT TO
// KAFKA by a party that may not write them change no figure and land in the dlq table with the
// rule. The processor binary runs every processor with -principals-file against the real broker
// and ClickHouse; the same events from the right party, afterwards, do move the figures, so the
// comparison is not vacuous.

// accessPrincipals: a collector, a model, two labeling vendors and a qa team, all of project p.
const accessPrincipals = `# test principals
cam      1111111111111111111111111111111111111111111111111111111111111111 role=collector projects=p
det      2222222222222222222222222222222222222222222222222222222222222222 role=model projects=p models=*
acme     3333333333333333333333333333333333333333333333333333333333333333 role=labeler projects=p vendor=acme
globex   4444444444444444444444444444444444444444444444444444444444444444 role=labeler projects=p vendor=globex
qa-team  5555555555555555555555555555555555555555555555555555555555555555 role=qa projects=p
`

// accessEvents builds the events of the test, each stamped with its producer, at increasing
// times.
type accessEvents struct {
	n   int
	evs []schemas.Event
}

func (a *accessEvents) add(producer string, ev schemas.Event) {
	a.n++
	at := time.UnixMilli(1_790_000_000_000 + int64(a.n)*1000)
	ev.Meta().OccurredAt = at.UnixMilli()
	schemas.Stamp(ev, producer, at)
	a.evs = append(a.evs, ev)
}

func (a *accessEvents) item(id string) {
	a.add("cam", &schemas.ItemIngested{ItemID: id, Source: "cam-1", URI: "s3://b/" + id, SHA256: strings.Repeat("ab", 32),
		Modality: "image", ProjectID: "p"})
}

func (a *accessEvents) label(vendor, id, item, question, value string) {
	a.add(vendor, &schemas.LabelSubmitted{LabelID: id, ItemID: item, ProjectID: "p", TaskID: "t", QuestionID: question,
		AnnotatorID: vendor + "-1", Vendor: vendor, GuidelineVersion: "g1", Value: schemas.Nominal(value)})
}

func (a *accessEvents) gold(producer, item, question, value string) {
	a.add(producer, &schemas.GoldLabelSet{ItemID: item, QuestionID: question, Value: schemas.Nominal(value), SetBy: producer})
}

func (a *accessEvents) retract(producer, label, item string) {
	a.add(producer, &schemas.LabelRetracted{LabelID: label, ItemID: item, Reason: "mistake"})
}

func (a *accessEvents) decision(producer, item, question string) {
	a.add(producer, &schemas.RoutingDecided{ItemID: item, QuestionID: question, Route: schemas.RouteAutoAccept, Rule: "manual",
		Reason: "rules forged: accept everything"})
}

func (a *accessEvents) prelabel(item, question string) {
	a.add("det", &schemas.PreLabelProposed{ItemID: item, QuestionID: question, Model: "det", ModelVersion: "1",
		Value: schemas.Nominal("cat"), Confidence: 0.99})
}

// sentinel is a legitimate item, pre-label, pair of labels and gold answer of its own
// question, after the records of a phase: once every processor wrote its rows, every processor
// has processed the phase (one partition per topic keeps the order).
func (a *accessEvents) sentinel(name string) {
	a.item(name)
	a.prelabel(name, "q-"+name)
	a.label("acme", name+"-a", name, "q-"+name, "cat")
	a.label("globex", name+"-g", name, "q-"+name, "cat")
	a.gold("qa-team", name, "q-"+name, "cat")
}

// produce writes the events straight to Kafka, as a party with Kafka credentials would,
// bypassing the gateway.
func (a *accessEvents) produce(t *testing.T, cl *kgo.Client, k config.Kafka) {
	t.Helper()
	if err := workload.Produce(context.Background(), cl, k, a.evs); err != nil {
		t.Fatal(err)
	}
	a.evs = nil
}

// waitSentinel waits until every processor wrote the rows of sentinel name.
func waitSentinel(t *testing.T, conn driver.Conn, name string) {
	t.Helper()
	q := "q-" + name
	checks := map[string]string{
		"ledger":        fmt.Sprintf("SELECT count() FROM gold_labels FINAL WHERE item_id = '%s'", name),
		"kpi_accuracy":  fmt.Sprintf("SELECT count() FROM kpi_accuracy WHERE question_id = '%s' AND scope = 'all'", q),
		"kpi_agreement": fmt.Sprintf("SELECT count() FROM agreement_cells FINAL WHERE question_id = '%s' AND count > 0", q),
		"kpi_flow":      fmt.Sprintf("SELECT count() FROM item_flow FINAL WHERE item_id = '%s' AND stage = 'last_label'", name),
		"router":        fmt.Sprintf("SELECT count() FROM routing_decisions FINAL WHERE item_id = '%s' AND question_id = '%s'", name, q),
		"lineage":       fmt.Sprintf("SELECT count() FROM lineage_edges FINAL WHERE src_id = '%s' AND rel = 'labeled'", name),
	}
	deadline := time.Now().Add(2 * time.Minute)
	for p, query := range checks {
		for {
			var n uint64
			if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: sentinel %s not processed within 2 minutes (%s)", p, name, query)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// figures are the KPI figures the forged events aim at: accuracy and agreement of question q,
// every scope.
type figures struct {
	accuracy  map[string][2]uint64 // scope -> correct, scored
	agreement map[string]string    // scope -> alpha and pairable values
}

func readFigures(t *testing.T, conn driver.Conn) figures {
	t.Helper()
	ctx := context.Background()
	f := figures{accuracy: map[string][2]uint64{}, agreement: map[string]string{}}
	rows, err := conn.Query(ctx, "SELECT scope, toUInt64(correct_labels), toUInt64(scored_labels) FROM kpi_accuracy WHERE project_id = 'p' AND question_id = 'q'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var scope string
		var c, n uint64
		if err := rows.Scan(&scope, &c, &n); err != nil {
			t.Fatal(err)
		}
		f.accuracy[scope] = [2]uint64{c, n}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ag, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ag {
		if a.ProjectID == "p" && a.QuestionID == "q" {
			f.agreement[a.Scope] = fmt.Sprintf("%.6f of %d values", a.Alpha.Alpha, a.Alpha.PairableValues)
		}
	}
	return f
}

func (f figures) String() string {
	return fmt.Sprintf("accuracy %v, alpha %v", f.accuracy, f.agreement)
}

func (f figures) equal(g figures) bool { return f.String() == g.String() }

// by lists "<processor> <rule>" for each processor, sorted.
func by(rule string, processors ...string) []string {
	var out []string
	for _, p := range processors {
		out = append(out, p+" "+rule)
	}
	slices.Sort(out)
	return out
}

func count(t *testing.T, conn driver.Conn, query string) int {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestForgedEventsWrittenToKafkaMoveNoFigure: with a principals file, gold from a labeler, a
// retraction of another labeler's label and routing decisions from a router look-alike and from
// a principal, all written straight to Kafka, change no KPI, no decision and no ledger table,
// and every processor that reads them sends them to the DLQ with the rule; the ledger copies
// those records into the dlq table.
func TestForgedEventsWrittenToKafkaMoveNoFigure(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 1, testenv.MigratedDatabase) // one partition per topic: a sentinel comes after what precedes it
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	file := filepath.Join(t.TempDir(), "principals")
	if err := os.WriteFile(file, []byte(accessPrincipals), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcessor(t, k, cfg.Addr[0], cfg.Database,
		"-processors", "ledger,kpi_agreement,kpi_accuracy,kpi_flow,router,lineage", "-principals-file", file)

	// Phase 1, legitimate: four items of question q, labeled by both vendors, gold by qa.
	// Accuracy 5 of 8 (acme 3 of 4, globex 2 of 4); units i2 disagree.
	var a accessEvents
	for i, v := range [][3]string{{"cat", "cat", "cat"}, {"cat", "dog", "cat"}, {"dog", "dog", "cat"}, {"cat", "cat", "cat"}} {
		item := fmt.Sprintf("i%d", i+1)
		a.item(item)
		a.label("acme", "a-"+item, item, "q", v[0])
		a.label("globex", "g-"+item, item, "q", v[1])
		a.gold("qa-team", item, "q", v[2])
	}
	a.item("i-route")
	a.sentinel("s1")
	a.produce(t, cl, k)
	waitSentinel(t, conn, "s1")
	before := readFigures(t, conn)
	if before.accuracy["all"] != [2]uint64{5, 8} || len(before.agreement) == 0 {
		t.Fatalf("baseline: %s", before)
	}
	t.Logf("baseline: %s", before)

	// Phase 2, forged, straight to Kafka.
	forged := map[string]string{} // event id -> what
	mark := func(what string) { forged[a.evs[len(a.evs)-1].Meta().EventID] = what }
	a.gold("acme", "i3", "q", "dog") // a labeler's gold: would make i3's labels correct
	mark("gold from a labeler")
	a.retract("globex", "a-i2", "i2") // globex retracting acme's label
	mark("retraction of another vendor's label")
	a.decision("assay-processor/router-fake", "i-route", "q-route")
	mark("decision from a router look-alike")
	a.decision("qa-team", "i-route", "q-route")
	mark("decision from a principal")
	a.sentinel("s2")
	a.produce(t, cl, k)
	waitSentinel(t, conn, "s2")

	// Each processor that reads a forged event refuses it (before Apply, or in Apply with its
	// state), with the rule, the producer and the field.
	want := map[string][]string{ // what -> "<processor> <rule>"
		"gold from a labeler":                  by(access.RuleEventType, "kpi_accuracy", "kpi_agreement", "kpi_flow", "ledger", "lineage", "router"),
		"retraction of another vendor's label": by(access.RuleOwnLabels, "kpi_accuracy", "kpi_agreement", "lineage", "router"),
		"decision from a router look-alike":    by(router.RuleOwnDecisions, "ledger", "router"),
		"decision from a principal":            by(access.RuleInternal, "kpi_flow", "ledger", "lineage", "router"),
	}
	total := 0
	for _, w := range want {
		total += len(w)
	}
	deadline := time.Now().Add(time.Minute)
	for count(t, conn, "SELECT count() FROM dlq FINAL") < total && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := conn.Query(context.Background(), "SELECT source, original, reason, field, original_producer FROM dlq FINAL")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for rows.Next() {
		var source, original, reason, field, producer string
		if err := rows.Scan(&source, &original, &reason, &field, &producer); err != nil {
			t.Fatal(err)
		}
		ev, err := schemas.Decode([]byte(original))
		if err != nil {
			t.Fatalf("dlq original: %v", err)
		}
		what, ok := forged[ev.Meta().EventID]
		if !ok {
			t.Errorf("a legitimate %s by %s went to the DLQ: %s", ev.Type(), ev.Meta().Producer, reason)
			continue
		}
		rule, _, _ := strings.Cut(strings.TrimPrefix(reason, "forbidden: "), ":")
		if !strings.HasPrefix(reason, "forbidden: ") || producer != ev.Meta().Producer {
			t.Errorf("%s: reason %q, original producer %q", what, reason, producer)
		}
		got[what] = append(got[what], strings.TrimPrefix(source, "assay-processor/")+" "+rule)
		t.Logf("dlq: %s: %s: %s (field %q)", what, source, reason, field)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for what, w := range want {
		slices.Sort(got[what])
		if !slices.Equal(got[what], w) {
			t.Errorf("%s: refused by %q, want %q", what, got[what], w)
		}
	}
	if n := forbiddenMetric(t, p); n != float64(total) {
		t.Errorf("assay_processor_dlq_records_total{cause=\"forbidden\"} sums to %v, want %d", n, total)
	}

	// No figure moved, no decision was taken from a forged one, no ledger table holds them.
	after := readFigures(t, conn)
	if !after.equal(before) {
		t.Fatalf("forged events moved the figures:\nbefore %s\nafter  %s", before, after)
	}
	if n := count(t, conn, "SELECT count() FROM routing_decisions FINAL WHERE item_id = 'i-route'"); n != 0 {
		t.Fatalf("routing_decisions holds %d rows of the forged decisions", n)
	}
	for table, query := range map[string]string{
		"gold_labels": "SELECT count() FROM gold_labels FINAL WHERE producer = 'acme'",
		"routing":     "SELECT count() FROM routing FINAL WHERE item_id = 'i-route'",
		"events":      "SELECT count() FROM events FINAL WHERE producer IN ('assay-processor/router-fake') OR event_type = 'RoutingDecided' AND producer = 'qa-team' OR event_type = 'GoldLabelSet' AND producer = 'acme'",
		"lineage":     "SELECT count() FROM lineage_edges FINAL WHERE rel = 'retracted'",
	} {
		if n := count(t, conn, query); n != 0 {
			t.Errorf("%s holds %d rows of forged events", table, n)
		}
	}
	// The ledger's label_retractions is the log's copy of what the registry lets through: a
	// labeler of the project may retract, the ledger does not know whose label it was.
	if n := count(t, conn, "SELECT count() FROM label_retractions FINAL WHERE producer = 'globex'"); n != 1 {
		t.Errorf("label_retractions holds %d rows of globex's retraction, want the copy", n)
	}

	// Phase 3, the same changes by the parties that may make them: they move the figures, and
	// the router, which ignored the forged decisions, decides i-route itself.
	a.gold("qa-team", "i3", "q", "dog")
	a.retract("acme", "a-i2", "i2")
	a.prelabel("i-route", "q-route")
	a.sentinel("s3")
	a.produce(t, cl, k)
	waitSentinel(t, conn, "s3")
	legit := readFigures(t, conn)
	if legit.accuracy["all"] != [2]uint64{6, 7} || legit.agreement["all"] == before.agreement["all"] {
		t.Fatalf("the legitimate gold and retraction did not move the figures as expected:\nbefore %s\nafter  %s", before, legit)
	}
	t.Logf("after the legitimate changes: %s", legit)
	var stage, rule, version string
	if err := conn.QueryRow(context.Background(), "SELECT stage, rule, rules_version FROM routing_decisions FINAL WHERE item_id = 'i-route'").Scan(&stage, &rule, &version); err != nil {
		t.Fatal(err)
	}
	if stage != "prelabel" || rule == "manual" || version == "forged" {
		t.Fatalf("i-route decided at stage %q by rule %q of rules %q, want the router's own decision on the pre-label", stage, rule, version)
	}
	p.term()

	// assay replay judges the log by the same principals: a replay of the KPI processors into a
	// fresh database yields the live figures, the forged events refused again.
	reg, err := access.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, fresh := testenv.MigratedClickHouse(t)
	for _, proc := range []runtime.Processor{kpi.NewAccuracy(), kpi.NewAgreement()} {
		stats, err := runtime.Replay(context.Background(), proc, k, runtime.ClickHouseSink(fresh), time.Time{}, runtime.WithAuthorizer(reg))
		if err != nil {
			t.Fatal(err)
		}
		if stats.Rejected != 2 { // the labeler's gold and the retraction of another vendor's label
			t.Errorf("replay of %s refused %d records, want 2", proc.Name(), stats.Rejected)
		}
	}
	if replayed := readFigures(t, fresh); !replayed.equal(legit) {
		t.Fatalf("replay with the principals file:\n got  %s\n live %s", replayed, legit)
	}
}

// forbiddenMetric sums assay_processor_dlq_records_total{cause="forbidden"} over processors.
func forbiddenMetric(t *testing.T, p *proc) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(p.Metrics(t), "\n") {
		if strings.HasPrefix(line, "assay_processor_dlq_records_total{") && strings.Contains(line, `cause="forbidden"`) {
			var v float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &v)
			sum += v
		}
	}
	return sum
}
