package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateview"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/config"
)

var ownerToken = ingesttest.TokenOf(access.RoleOwner)

// gated is a gateway whose training runs are gated by a view of the datasets topic of k, as
// the ingest main wires them.
type gated struct {
	*harness
	view    *gateview.View
	viewReg *prometheus.Registry
}

// newGated starts a view of k (running until the test ends) and a gateway asking it;
// mutate adjusts the gateway's configuration.
func newGated(t *testing.T, k config.Kafka, mutate func(*gateway.Config)) gated {
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
			t.Errorf("view: %v", err)
		}
	})
	h := newHarness(t, k, func(c *gateway.Config) {
		c.Gate = v
		if mutate != nil {
			mutate(c)
		}
	})
	return gated{h, v, reg}
}

func (g gated) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "the gate's view to catch up", func() bool { return g.view.Ready(context.Background()) == nil })
}

// waitClearance waits until the view's clearance of ds@version satisfies ok.
func (g gated) waitClearance(t *testing.T, ds, version string, ok func(gate.Clearance) bool) {
	t.Helper()
	waitFor(t, "the view to see "+ds+"@"+version, func() bool {
		c, err := g.view.Clearance(gate.VersionRef{DatasetID: ds, Version: version})
		return err == nil && ok(c)
	})
}

// refusal checks that a is a 409 refusing exactly one training run (event index i of the
// request) for the version at field, and returns the reason.
func refusal(t *testing.T, a answer, i int, field string) string {
	t.Helper()
	if a.status != http.StatusConflict {
		t.Fatalf("%d %s, want 409", a.status, a.body)
	}
	if len(a.problem.Errors) != 1 || a.problem.Rejected != 1 || !a.problem.DeadLettered {
		t.Fatalf("409 body %s: want one dead-lettered error", a.body)
	}
	e := a.problem.Errors[0]
	if e.Index != i || e.Code != wire.CodeNotCertified || e.Field != field || e.EventType != string(schemas.TypeTrainingRunRegistered) {
		t.Fatalf("409 error %+v: want event %d, code %s, field %s", e, i, wire.CodeNotCertified, field)
	}
	if !strings.Contains(e.Reason, "GateOverrideGranted") {
		t.Errorf("409 reason %q does not say how to proceed", e.Reason)
	}
	return e.Reason
}

// TestTrainingRunsGated: with the gate on, a training run on a certified version is accepted;
// on a rejected version, on a version whose certification a later verdict withdrew, or on a
// version the gate has not judged it is refused with 409 naming the field, the version and
// the latest verdict's reason; an owner's override (through the gateway, as an owner sends
// it) lets runs on that version through, and on that version only. Refused runs are in the
// DLQ with the reason and not on the ledger.
func TestTrainingRunsGated(t *testing.T) {
	_, k := fakeKafka(t)
	v := gateviewtest.Verdict
	gateviewtest.Publish(t, k,
		v("ds-ok", "1", 1, true, "meets all 3 targets of t-1"),
		v("ds-rej", "1", 1, false, "min_accuracy on q-1: 0.64 < 0.7"),
		v("ds-flip", "1", 1, true, "meets all 3 targets of t-1"),
		v("ds-flip", "1", 2, false, "min_lineage_completeness: 0.9 < 1 after a retraction"),
		v("ds-ovr", "1", 1, false, "min_alpha on q-1: 0.41 < 0.667"),
		v("ds-ovr", "2", 1, false, "min_alpha on q-1: 0.43 < 0.667"),
	)
	g := newGated(t, k, nil)
	g.waitReady(t)
	run := gateviewtest.Run

	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-ok", "ds-ok@1"))); a.status != http.StatusAccepted {
		t.Fatalf("run on a certified version: %d %s", a.status, a.body)
	}
	reason := refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-rej", "ds-rej@1"))), 0, "dataset_versions[0]")
	for _, want := range []string{"ds-rej@1", "the gate rejected it (verdict 1)", "min_accuracy on q-1: 0.64 < 0.7"} {
		if !strings.Contains(reason, want) {
			t.Errorf("rejected version: reason %q lacks %q", reason, want)
		}
	}
	reason = refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-flip", "ds-flip@1"))), 0, "dataset_versions[0]")
	if !strings.Contains(reason, "(verdict 2): min_lineage_completeness: 0.9 < 1 after a retraction") {
		t.Errorf("certified, then rejected: reason %q does not give the latest verdict", reason)
	}
	reason = refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-new", "ds-new@1"))), 0, "dataset_versions[0]")
	if !strings.Contains(reason, "ds-new@1 is not certified: no verdict yet: the gate has not judged this version") {
		t.Errorf("unjudged version: reason %q", reason)
	}
	// Several versions: the first that is not certified is named, the others listed.
	reason = refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-multi", "ds-ok@1", "ds-rej@1", "ds-new@1"))), 0, "dataset_versions[1]")
	if !strings.Contains(reason, "not certified either: dataset_versions[2] (ds-new@1)") {
		t.Errorf("several versions: reason %q does not list the other one", reason)
	}

	// The override, as the owner sends it; the view reads it back from the topic.
	ovr := gateviewtest.Override("ds-ovr", "1", "", "ablation run, accuracy gold under revision; signed off by the data owner")
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, ovr)); a.status != http.StatusAccepted {
		t.Fatalf("owner's override: %d %s", a.status, a.body)
	}
	g.waitClearance(t, "ds-ovr", "1", func(c gate.Clearance) bool { return c.Overridden })
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-ovr", "ds-ovr@1"))); a.status != http.StatusAccepted {
		t.Fatalf("run on an overridden version: %d %s", a.status, a.body)
	}
	refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-ovr2", "ds-ovr@2"))), 0, "dataset_versions[0]")
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("r-mixed", "ds-ok@1", "ds-ovr@1"))); a.status != http.StatusAccepted {
		t.Fatalf("run on a certified and an overridden version: %d %s", a.status, a.body)
	}

	// A qa principal may not override (owner-only), nor an owner in another project.
	if a := g.post(t, qaToken, wire.MediaJSON, marshal(t, gateviewtest.Override("ds-ovr", "2", "", "a qa principal tries to let it through"))); a.status != http.StatusForbidden {
		t.Fatalf("qa's override: %d %s", a.status, a.body)
	}
	other := gateviewtest.Override("ds-ovr", "2", "", "an owner of another project tries").(*schemas.GateOverrideGranted)
	other.ProjectID = "another-project"
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, other)); a.status != http.StatusForbidden || a.problem.Errors[0].Rule != access.RuleProject {
		t.Fatalf("override in another project: %d %s", a.status, a.body)
	}

	refused := map[string]bool{"run-r-rej": true, "run-r-flip": true, "run-r-new": true, "run-r-multi": true, "run-r-ovr2": true}
	rejs := dlqRecords(t, k, len(refused)+2)
	var runs int
	for _, r := range rejs {
		if r.OriginalProducer != "owner" || !strings.HasPrefix(r.Reason, wire.CodeNotCertified+": event 0 of 1: dataset_versions[") {
			continue
		}
		runs++
		ev, err := gateway.DecodeEvent(r.Original)
		if err != nil || !refused[ev.Meta().EventID] || !strings.Contains(r.Reason, "GateOverrideGranted") || !strings.HasPrefix(r.Field, "dataset_versions[") {
			t.Errorf("DLQ record %q (field %q, original %s): want a refused run with its reason", r.Reason, r.Field, r.Original)
		}
	}
	if runs != len(refused) {
		t.Errorf("%d refused runs in the DLQ, want %d", runs, len(refused))
	}
	for _, r := range ingesttest.ReadTopic(t, k, 100, 3*time.Second, k.Topic(schemas.FamilyDatasets.Topic())) {
		if ev, err := schemas.Decode(r.Value); err == nil && refused[ev.Meta().EventID] {
			t.Errorf("refused run %s is on the ledger", ev.Meta().EventID)
		}
	}
	m := scrape(t, g.harness)
	for _, want := range []string{
		`assay_ingest_training_runs_gated_total{decision="certified"} 1`,
		`assay_ingest_training_runs_gated_total{decision="overridden"} 2`,
		`assay_ingest_training_runs_gated_total{decision="not_certified"} 5`,
		`assay_ingest_events_rejected_total{event_type="TrainingRunRegistered",reason="not_certified"} 5`,
		`assay_ingest_requests_total{code="409"} 5`,
	} {
		if !containsLine(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestTrainingRunRefusedInABatch: a refused run in a batch is refused alone (the answer names
// it only) and, as with any rejection, nothing of the request is published; it is the only
// DLQ record. With an invalid event beside it the answer is 422 naming both. A run accepted
// before a later rejection stays a duplicate when it is retried.
func TestTrainingRunRefusedInABatch(t *testing.T) {
	_, k := fakeKafka(t)
	v := gateviewtest.Verdict
	gateviewtest.Publish(t, k, v("ds-ok", "1", 1, true, "meets all targets"), v("ds-rej", "1", 1, false, "no targets in force"))
	g := newGated(t, k, nil)
	g.waitReady(t)
	run := gateviewtest.Run
	commit := ingesttest.Sample(schemas.TypeDatasetVersionCommitted, 1)

	a := g.post(t, ownerToken, wire.MediaNDJSON, ndjson(t, commit, run("b-ok", "ds-ok@1"), run("b-rej", "ds-rej@1")))
	refusal(t, a, 2, "dataset_versions[0]")
	if !strings.Contains(a.problem.Error, "1 of 3 events rejected; nothing from this request was published") {
		t.Errorf("batch answer %q", a.problem.Error)
	}
	if a.problem.Errors[0].Line != 3 {
		t.Errorf("NDJSON line %d, want 3", a.problem.Errors[0].Line)
	}
	if n := dlqCount(t, k); n != 1 {
		t.Errorf("%d DLQ records, want the refused run's only", n)
	}
	if recs := ingesttest.ReadTopic(t, k, 1, 2*time.Second, k.Topic(schemas.FamilyDatasets.Topic())); len(recs) != 2 {
		t.Errorf("%d records on the datasets topic, want the 2 verdicts only", len(recs))
	}

	bad := run("b-bad", "ds-ok@1")
	bad.Model = ""
	a = g.post(t, ownerToken, wire.MediaJSON, jsonArray(t, run("b-rej2", "ds-rej@1"), bad))
	if a.status != http.StatusUnprocessableEntity || len(a.problem.Errors) != 2 ||
		a.problem.Errors[0].Code != wire.CodeNotCertified || a.problem.Errors[1].Code != wire.CodeInvalid {
		t.Fatalf("refused run beside an invalid one: %d %s, want 422 naming both", a.status, a.body)
	}

	// Accepted while certified; the gate then withdraws the certification. The retry of the
	// same event is the duplicate it is; a new run is refused.
	gateviewtest.Publish(t, k, v("ds-late", "1", 1, true, "meets all targets"))
	g.waitClearance(t, "ds-late", "1", func(c gate.Clearance) bool { return c.Certified })
	first := marshal(t, run("late", "ds-late@1"))
	if a := g.post(t, ownerToken, wire.MediaJSON, first); a.status != http.StatusAccepted {
		t.Fatalf("run while certified: %d %s", a.status, a.body)
	}
	gateviewtest.Publish(t, k, v("ds-late", "1", 2, false, "min_accuracy on q-1: 0.6 < 0.7 after a gold correction"))
	g.waitClearance(t, "ds-late", "1", func(c gate.Clearance) bool { return !c.Certified })
	if a := g.post(t, ownerToken, wire.MediaJSON, first); a.status != http.StatusAccepted || a.accepted.Duplicates != 1 {
		t.Fatalf("retry of a run accepted before the rejection: %d %s, want a 202 duplicate", a.status, a.body)
	}
	refusal(t, g.post(t, ownerToken, wire.MediaJSON, marshal(t, run("late-2", "ds-late@1"))), 0, "dataset_versions[0]")
}

// TestTrainingRunWhileTheViewCatchesUp: until the view has read the topic, a request with a
// training run gets 503 with Retry-After (never a 409 decided on a partial view) and nothing
// is dead-lettered; requests without one are served. Once caught up, the run is decided.
func TestTrainingRunWhileTheViewCatchesUp(t *testing.T) {
	c, k := fakeKafka(t)
	gateviewtest.Publish(t, k, gateviewtest.Verdict("ds-ok", "1", 1, true, "meets all targets"))
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
	g := newGated(t, k, nil)
	<-held
	a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, gateviewtest.Run("early", "ds-ok@1")))
	if a.status != http.StatusServiceUnavailable || a.problem.Code != wire.CodeGateUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("run before the view caught up: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.problem.Error, "not read the datasets topic") {
		t.Errorf("503 does not say why: %s", a.problem.Error)
	}
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, ingesttest.Sample(schemas.TypeDatasetVersionCommitted, 1))); a.status != http.StatusAccepted {
		t.Fatalf("a commit while the view catches up: %d %s", a.status, a.body)
	}
	close(release)
	g.waitReady(t)
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, gateviewtest.Run("early", "ds-ok@1"))); a.status != http.StatusAccepted {
		t.Fatalf("the retry once caught up: %d %s", a.status, a.body)
	}
	if n := dlqCount(t, k); n != 0 {
		t.Errorf("%d DLQ records: a 503 refuses nothing", n)
	}
}

// TestTrainingRunsNotGated: without a gate (Config.Gate nil, -gate-training-runs=false) a run
// on a version nobody judged is accepted.
func TestTrainingRunsNotGated(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, nil)
	if a := h.post(t, ownerToken, wire.MediaJSON, marshal(t, gateviewtest.Run("free", "ds-new@1"))); a.status != http.StatusAccepted {
		t.Fatalf("ungated run: %d %s", a.status, a.body)
	}
}
