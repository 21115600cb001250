package gateview_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/gateview"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// fakeKafka is an in-process cluster; seed says whether the datasets topic exists from the
// start (3 partitions).
func fakeKafka(t *testing.T, seed bool) (*kfake.Cluster, config.Kafka) {
	t.Helper()
	k := config.Kafka{TopicPrefix: "fake."}
	var opts []kfake.Opt
	if seed {
		opts = append(opts, kfake.SeedTopics(3, k.Topic(schemas.FamilyDatasets.Topic())))
	}
	c, err := kfake.NewCluster(append(opts, kfake.NumBrokers(1))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	return c, k
}

type running struct {
	v   *gateview.View
	reg *prometheus.Registry
}

// start makes a view of k and runs it until the test ends.
func start(t *testing.T, k config.Kafka) running {
	t.Helper()
	reg := prometheus.NewRegistry()
	v, err := gateview.New(k, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

func (r running) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.v.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the view is not ready after 20s: %v", r.v.Ready(context.Background()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r running) clearance(t *testing.T, ds, version string) gate.Clearance {
	t.Helper()
	c, err := r.v.Clearance(gate.VersionRef{DatasetID: ds, Version: version})
	if err != nil {
		t.Fatalf("Clearance(%s@%s): %v", ds, version, err)
	}
	return c
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r running) records(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "assay_ingest_gate_view_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no assay_ingest_gate_view_records_total{outcome=%q}", outcome)
	return 0
}

// TestViewFoldsTheLog: the view reads what was on the topic before it started and what comes
// after. The latest verdict of a version decides (certified then rejected is rejected, and
// back); a version without a verdict is unknown; an override is per version; other records
// of the topic are read and dropped.
func TestViewFoldsTheLog(t *testing.T) {
	_, k := fakeKafka(t, true)
	v := gateviewtest.Verdict
	gateviewtest.Publish(t, k,
		ingesttest.Sample(schemas.TypeDatasetVersionCommitted, 1),
		v("ds-a", "1", 1, true, "meets all 1 targets"),
		v("ds-a", "2", 1, true, "meets all 1 targets"),
		v("ds-a", "2", 2, false, "min_accuracy on q-1: 0.64 < 0.7"),
		v("ds-b", "1", 1, false, "no targets in force"),
		v("ds-b", "1", 2, true, "meets all 1 targets"),
		v("ds-c", "1", 1, false, "min_alpha on q-1: 0.41 < 0.667"),
		gateviewtest.Override("ds-c", "1", "owner-1", "ablation run signed off by the data owner"),
		ingesttest.Sample(schemas.TypeTrainingRunRegistered, 2),
	)
	r := start(t, k)
	r.waitReady(t)

	for _, tt := range []struct {
		ds, version                 string
		known, certified, overrides bool
		seq                         int64
		reason                      string
	}{
		{"ds-a", "1", true, true, false, 1, "meets all 1 targets"},
		{"ds-a", "2", true, false, false, 2, "min_accuracy on q-1: 0.64 < 0.7"}, // certified, then rejected
		{"ds-b", "1", true, true, false, 2, "meets all 1 targets"},              // rejected, then certified
		{"ds-c", "1", true, false, true, 1, "min_alpha on q-1: 0.41 < 0.667"},
		{"ds-c", "2", false, false, false, 0, ""}, // the override was for ds-c@1
		{"ds-z", "1", false, false, false, 0, ""}, // no verdict yet
	} {
		c := r.clearance(t, tt.ds, tt.version)
		if c.Known != tt.known || c.Certified != tt.certified || c.Overridden != tt.overrides || c.Sequence != tt.seq || c.Reason != tt.reason {
			t.Errorf("%s@%s: %+v, want known %v certified %v overridden %v sequence %d reason %q",
				tt.ds, tt.version, c, tt.known, tt.certified, tt.overrides, tt.seq, tt.reason)
		}
	}
	if c := r.clearance(t, "ds-c", "1"); c.OverrideReason != "ablation run signed off by the data owner" {
		t.Errorf("override reason %q", c.OverrideReason)
	}
	if got := r.records(t, "applied"); got != 7 {
		t.Errorf("%v records applied, want the 6 verdicts and the override", got)
	}
	if got := r.records(t, "ignored"); got != 2 {
		t.Errorf("%v records ignored, want the commit and the training run", got)
	}

	// Live: a verdict written after the view caught up is seen.
	gateviewtest.Publish(t, k, v("ds-a", "1", 2, false, "a gold correction: min_accuracy on q-1: 0.5 < 0.7"))
	waitFor(t, "the superseding verdict", func() bool { return !r.clearance(t, "ds-a", "1").Certified })
	if c := r.clearance(t, "ds-a", "1"); c.Sequence != 2 || !strings.Contains(c.Reason, "gold correction") {
		t.Errorf("after the live verdict: %+v", c)
	}
}

// TestViewNotReadyUntilCaughtUp: while the view cannot fetch, it is not ready, says so, and
// Clearance refuses to answer (an error, never "no verdict"); the ready gauge is 0. Once it
// has read up to the high watermarks it had at start, it is ready and the gauge is 1.
func TestViewNotReadyUntilCaughtUp(t *testing.T) {
	c, k := fakeKafka(t, true)
	gateviewtest.Publish(t, k, gateviewtest.Verdict("ds-a", "1", 1, true, "meets all 1 targets"))

	release := make(chan struct{})
	held := make(chan struct{})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-held:
		default:
			close(held)
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	r := start(t, k)
	<-held
	waitFor(t, "Ready to say how far the view is", func() bool {
		err := r.v.Ready(context.Background())
		if !errors.Is(err, gateview.ErrNotReady) {
			t.Fatalf("Ready while nothing could be fetched: %v", err)
		}
		return strings.Contains(err.Error(), "1 of 1 partitions with records not yet read up to their high watermarks at start")
	})
	if _, err := r.v.Clearance(gate.VersionRef{DatasetID: "ds-a", Version: "1"}); !errors.Is(err, gateview.ErrNotReady) {
		t.Fatalf("Clearance while not caught up: %v, want ErrNotReady", err)
	}
	if g := gauge(t, r.reg, "assay_ingest_gate_view_ready"); g != 0 {
		t.Errorf("assay_ingest_gate_view_ready %v before catching up", g)
	}
	close(release)
	r.waitReady(t)
	if g := gauge(t, r.reg, "assay_ingest_gate_view_ready"); g != 1 {
		t.Errorf("assay_ingest_gate_view_ready %v once caught up", g)
	}
	if c := r.clearance(t, "ds-a", "1"); !c.Certified {
		t.Errorf("once caught up: %+v", c)
	}
}

// gauge is the value of a gauge without labels of reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestViewEmptyTopicIsReady: with nothing to read, the view is ready at once (nothing holds
// it back), and every version is unknown.
func TestViewEmptyTopicIsReady(t *testing.T) {
	_, k := fakeKafka(t, true)
	r := start(t, k)
	r.waitReady(t)
	if c := r.clearance(t, "ds-a", "1"); c.Known || c.Certified || c.Overridden {
		t.Errorf("empty topic: %+v", c)
	}
}

// TestViewWaitsForTheTopic: a view started before the topic exists is not ready and says
// why, and catches up once the topic is created.
func TestViewWaitsForTheTopic(t *testing.T) {
	_, k := fakeKafka(t, false)
	r := start(t, k)
	waitFor(t, "Ready to name the missing offsets", func() bool {
		err := r.v.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "cannot list the topic's offsets")
	})
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, k.Topic(schemas.FamilyDatasets.Topic())); err != nil {
		t.Fatal(err)
	}
	gateviewtest.Publish(t, k, gateviewtest.Verdict("ds-a", "1", 1, true, "meets all 1 targets"))
	r.waitReady(t)
	waitFor(t, "the verdict", func() bool { return r.clearance(t, "ds-a", "1").Certified })
}

// TestViewReadsCommittedVerdictsOnly: the gate writes verdicts in transactions; an aborted
// one never counts, a committed one does, and a partition whose last offsets are transaction
// markers is still read to its end (the view gets ready).
func TestViewReadsCommittedVerdictsOnly(t *testing.T) {
	_, k := fakeKafka(t, true)
	v := gateviewtest.Verdict
	gateviewtest.PublishTx(t, k, true, v("ds-a", "1", 1, false, "min_alpha on q-1: 0.5 < 0.667"))
	gateviewtest.PublishTx(t, k, false, v("ds-a", "1", 2, true, "aborted: never happened"))
	gateviewtest.PublishTx(t, k, true, v("ds-b", "1", 1, true, "meets all 1 targets"))
	gateviewtest.PublishTx(t, k, false, v("ds-c", "1", 1, true, "aborted: never happened"))
	r := start(t, k)
	r.waitReady(t)
	if c := r.clearance(t, "ds-a", "1"); c.Certified || c.Sequence != 1 {
		t.Errorf("ds-a@1 after an aborted certification: %+v", c)
	}
	if c := r.clearance(t, "ds-b", "1"); !c.Certified {
		t.Errorf("ds-b@1, certified in a committed transaction: %+v", c)
	}
	if c := r.clearance(t, "ds-c", "1"); c.Known {
		t.Errorf("ds-c@1, certified only in an aborted transaction: %+v", c)
	}
}

// TestViewTrustsOnlyTheGate: verdicts written by anyone but the gate (an owner, another of
// Assay's components, nobody) change nothing: they neither certify a version nor take a
// certification away, and they are counted as untrusted.
func TestViewTrustsOnlyTheGate(t *testing.T) {
	_, k := fakeKafka(t, true)
	v, by := gateviewtest.Verdict, gateviewtest.By
	var forged []schemas.Event
	for _, p := range []string{"owner-1", "assay-processor/router", "assay-processor/gate2", "Assay-Processor/Gate"} {
		forged = append(forged,
			by(p, v("ds-x", "1", 1, true, "forged certification")),
			by(p, v("ds-y", "1", 2, false, "forged rejection")))
	}
	gateviewtest.Publish(t, k, v("ds-y", "1", 1, true, "meets all 1 targets"))
	gateviewtest.Publish(t, k, forged...)
	r := start(t, k)
	r.waitReady(t)
	if c := r.clearance(t, "ds-x", "1"); c.Known || c.Certified {
		t.Errorf("ds-x@1 after forged certifications: %+v", c)
	}
	if c := r.clearance(t, "ds-y", "1"); !c.Certified || c.Sequence != 1 {
		t.Errorf("ds-y@1 after forged rejections: %+v", c)
	}
	if got, want := r.records(t, "untrusted"), float64(len(forged)); got != want {
		t.Errorf("%v untrusted records, want %v", got, want)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := gateview.New(config.Kafka{Brokers: []string{"127.0.0.1:1"}}, nil, slog.Default()); err == nil {
		t.Error("New without a registry: no error")
	}
	reg := prometheus.NewRegistry()
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}}
	if _, err := gateview.New(k, reg, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := gateview.New(k, reg, slog.Default()); err == nil {
		t.Error("a second view on the same registry: no error")
	}
}
