package questionview_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/questionview"
	"github.com/assay-data/assay/services/ingest/questionview/questionviewtest"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// fakeKafka is an in-process cluster with the projects topic (3 partitions).
func fakeKafka(t *testing.T) (*kfake.Cluster, config.Kafka) {
	t.Helper()
	k := config.Kafka{TopicPrefix: "fake."}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, k.Topic(schemas.FamilyProjects.Topic())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	return c, k
}

type running struct {
	v   *questionview.View
	reg *prometheus.Registry
}

// start makes a view of k holding at most maxBytes (0: the default) and runs it until the
// test ends.
func start(t *testing.T, k config.Kafka, maxBytes int64) running {
	t.Helper()
	if maxBytes == 0 {
		maxBytes = questionview.DefaultMaxBytes
	}
	reg := prometheus.NewRegistry()
	v, err := questionview.New(k, questionview.Config{MaxBytes: maxBytes}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return running{v, reg}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
	}
}

func (r running) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "the view to catch up", func() bool { return r.v.Ready(context.Background()) == nil })
}

// defs is Definitions of question in the projects listed ("" for every project), as
// "project:level:labels" strings, and whether the view is complete.
func (r running) defs(t *testing.T, question string, projects ...string) ([]string, bool) {
	t.Helper()
	in := func(p string) bool {
		for _, q := range projects {
			if q == "" || q == p {
				return true
			}
		}
		return false
	}
	ds, complete, err := r.v.Definitions(question, in)
	if err != nil {
		t.Fatalf("Definitions(%s): %v", question, err)
	}
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("%s:%s:%s", d.ProjectID, d.Level, strings.Join(d.Labels, ","))
		if d.StrengthScale != nil {
			s += fmt.Sprintf(":scale %d", *d.StrengthScale)
		}
		out = append(out, s)
	}
	return out, complete
}

// metric is the value of the sample of reg named name whose labels include the pairs given.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// raw produces values as they are to the projects topic: records no encoder made.
func raw(t *testing.T, k config.Kafka, values ...[]byte) {
	t.Helper()
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: k.Topic(schemas.FamilyProjects.Topic()), Key: []byte("p"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestViewHoldsTheLatestDefinitions: the view reads the definitions on the topic before it
// started and after; a later definition of a project's question replaces the earlier one;
// one question id may be defined in several projects, each its own; the other records of
// the topic, definitions written as one of Assay's components, and records that do not
// decode are dropped and counted.
func TestViewHoldsTheLatestDefinitions(t *testing.T) {
	_, k := fakeKafka(t)
	d := questionviewtest.Define
	forged := d("p1", "q-forged", schemas.LevelSpans, "X")
	schemas.Stamp(forged, "assay-processor/router", time.Now())
	gateviewtest.Publish(t, k,
		d("p1", "q-ner", schemas.LevelSpans, "PER", "ORG"),
		ingesttest.Sample(schemas.TypeQualityTargetsSet, 1),
		d("p2", "q-ner", schemas.LevelBoxes, "car"),
		questionviewtest.Preference("p1", "q-pref", 3),
		d("p1", "q-ner", schemas.LevelSpans, "PER", "ORG", "LOC"), // replaces the first
		forged,
	)
	raw(t, k, []byte("not an event"))
	r := start(t, k, 0)
	r.waitReady(t)

	for _, tt := range []struct {
		question string
		projects []string
		want     string
	}{
		{"q-ner", []string{"p1"}, "p1:spans:PER,ORG,LOC"},
		{"q-ner", []string{"p2"}, "p2:boxes:car"},
		{"q-ner", []string{""}, "p1:spans:PER,ORG,LOC p2:boxes:car"},
		{"q-ner", []string{"p3"}, ""},
		{"q-pref", []string{"p1", "p2"}, "p1:preference::scale 3"},
		{"q-forged", []string{""}, ""},
		{"q-none", []string{""}, ""},
	} {
		got, complete := r.defs(t, tt.question, tt.projects...)
		if strings.Join(got, " ") != tt.want || !complete {
			t.Errorf("%s in %v: %q (complete %v), want %q", tt.question, tt.projects, got, complete, tt.want)
		}
	}
	for outcome, want := range map[string]float64{"applied": 4, "ignored": 1, "untrusted": 1, "undecodable": 1, "over_cap": 0} {
		if got := metric(t, r.reg, "assay_ingest_question_view_records_total", "outcome", outcome); got != want {
			t.Errorf("records %s: %v, want %v", outcome, got, want)
		}
	}
	if got := metric(t, r.reg, "assay_ingest_question_view_definitions"); got != 3 {
		t.Errorf("%v definitions held, want 3", got)
	}

	// Live: a definition written after the view caught up counts once fetched.
	gateviewtest.Publish(t, k, d("p3", "q-ner", schemas.LevelSpans, "GENE"))
	waitFor(t, "the live definition", func() bool {
		got, _ := r.defs(t, "q-ner", "p3")
		return len(got) == 1 && got[0] == "p3:spans:GENE"
	})
	if got := metric(t, r.reg, "assay_ingest_question_view_ready"); got != 1 {
		t.Errorf("ready gauge %v once caught up", got)
	}
}

// TestViewNotReadyUntilCaughtUp: while the view cannot fetch, Definitions refuses to answer
// (an error, never "not defined") and Ready says how far it is; once caught up it answers.
func TestViewNotReadyUntilCaughtUp(t *testing.T) {
	c, k := fakeKafka(t)
	gateviewtest.Publish(t, k, questionviewtest.Define("p1", "q-ner", schemas.LevelSpans, "PER"))
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	r := start(t, k, 0)
	waitFor(t, "Ready to say how far the view is", func() bool {
		err := r.v.Ready(context.Background())
		return errors.Is(err, questionview.ErrNotReady) && strings.Contains(err.Error(), "1 of 1 partitions with records not yet read")
	})
	if _, _, err := r.v.Definitions("q-ner", func(string) bool { return true }); !errors.Is(err, questionview.ErrNotReady) {
		t.Fatalf("Definitions before the catch-up: %v, want ErrNotReady", err)
	}
	if got := metric(t, r.reg, "assay_ingest_question_view_ready"); got != 0 {
		t.Errorf("ready gauge %v before the catch-up", got)
	}
	close(release)
	r.waitReady(t)
	if got, _ := r.defs(t, "q-ner", ""); len(got) != 1 {
		t.Errorf("once caught up: %q", got)
	}
}

// labels returns n labels of about 20 bytes each.
func labels(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-label-%010d", prefix, i)
	}
	return out
}

// TestViewPastItsCap: with room for one large definition, a second that does not fit is
// dropped and the view says it is incomplete from then on (so that a question it does not
// hold is not taken for undefined); a redefinition that does not fit removes the definition
// it replaces rather than leave it in force; small definitions that fit are still held, and
// the bytes held never pass the cap.
func TestViewPastItsCap(t *testing.T) {
	_, k := fakeKafka(t)
	const capBytes = questionview.MinMaxBytes
	d := questionviewtest.Define
	big1 := d("p1", "q-big-1", schemas.LevelSpans, labels("a", 16_000)...)
	big2 := d("p1", "q-big-2", schemas.LevelSpans, labels("b", 16_000)...)
	if n := questionview.DefinitionBytes(big1); n < capBytes/2 || 2*n <= capBytes {
		t.Fatalf("a big definition is %d bytes: want two of them over the cap of %d, one under", n, capBytes)
	}
	gateviewtest.Publish(t, k, d("p1", "q-small", schemas.LevelSpans, "PER"), big1)
	r := start(t, k, capBytes)
	r.waitReady(t)
	if got, complete := r.defs(t, "q-big-1", "p1"); len(got) != 1 || !complete {
		t.Fatalf("under the cap: %d definitions, complete %v", len(got), complete)
	}

	gateviewtest.Publish(t, k, big2)
	waitFor(t, "the definition over the cap to be dropped", func() bool {
		return metric(t, r.reg, "assay_ingest_question_view_records_total", "outcome", "over_cap") == 1
	})
	if got, complete := r.defs(t, "q-big-2", "p1"); len(got) != 0 || complete {
		t.Errorf("the dropped definition: %q, complete %v; want none, and the view incomplete", got, complete)
	}
	if got := metric(t, r.reg, "assay_ingest_question_view_full"); got != 1 {
		t.Errorf("full gauge %v", got)
	}

	// q-small redefined with many labels: it no longer fits beside big1, and its earlier
	// definition is not left in force.
	gateviewtest.Publish(t, k, d("p1", "q-small", schemas.LevelSpans, labels("c", 16_000)...), d("p2", "q-tiny", schemas.LevelBoxes, "car"))
	waitFor(t, "the redefinition over the cap to be dropped", func() bool {
		return metric(t, r.reg, "assay_ingest_question_view_records_total", "outcome", "over_cap") == 2
	})
	waitFor(t, "the small definition after it", func() bool { got, _ := r.defs(t, "q-tiny", "p2"); return len(got) == 1 })
	if got, _ := r.defs(t, "q-small", "p1"); len(got) != 0 {
		t.Errorf("a redefinition that did not fit left %q in force", got)
	}
	if got := metric(t, r.reg, "assay_ingest_question_view_bytes"); got > capBytes {
		t.Errorf("%v bytes held, over the cap of %d", got, capBytes)
	}
	if got := metric(t, r.reg, "assay_ingest_question_view_definitions"); got != 2 {
		t.Errorf("%v definitions held, want big1 and q-tiny", got)
	}
}

func TestNewValidates(t *testing.T) {
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := questionview.Config{MaxBytes: questionview.DefaultMaxBytes}
	if _, err := questionview.New(k, cfg, nil, log); err == nil {
		t.Error("New without a registry: no error")
	}
	if _, err := questionview.New(k, questionview.Config{MaxBytes: 1000}, prometheus.NewRegistry(), log); err == nil {
		t.Error("New with a cap too small for one definition: no error")
	}
	reg := prometheus.NewRegistry()
	if _, err := questionview.New(k, cfg, reg, log); err != nil {
		t.Fatal(err)
	}
	if _, err := questionview.New(k, cfg, reg, log); err == nil {
		t.Error("a second view on the same registry: no error")
	}
}
