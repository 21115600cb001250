package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// principals is the registry of these tests: a collector of project p, a
// model of project q, a labeler of vendor acme in p.
const principals = `
cam    ` + hashA + ` role=collector projects=p
bot    ` + hashB + ` role=model projects=q models=*
acme   ` + hashC + ` role=labeler projects=p vendor=acme
`

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	hashC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

func registry(t *testing.T) *access.Registry {
	t.Helper()
	r, err := access.Parse("principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// by returns ev stamped with producer.
func by[E schemas.Event](producer string, ev E) E {
	ev.Meta().Producer = producer
	return ev
}

// projector remembers every item's project and completes the project rule
// of a pre-label with it: the shape of a processor whose state knows a
// fact the event does not carry.
type projector struct{}

func (projector) Name() string               { return "projector" }
func (projector) Families() []schemas.Family { return []schemas.Family{schemas.FamilyItems} }
func (projector) Tables() []runtime.Table {
	return []runtime.Table{{Name: "seen", Columns: []string{"event_id", "type"}}}
}
func (projector) NewState(string, int32) any { return map[string]string{} }
func (projector) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	projects := state.(map[string]string)
	switch e := rec.Event.(type) {
	case *schemas.ItemIngested:
		projects[e.ItemID] = e.ProjectID
	case *schemas.PreLabelProposed:
		if err := rec.Authorized(access.Facts{Project: projects[e.ItemID]}); err != nil {
			return runtime.Output{}, err
		}
	}
	m := rec.Event.Meta()
	return runtime.Output{Rows: []runtime.Row{{Table: "seen", Values: []any{m.EventID, string(rec.Event.Type())}}}}, nil
}

func prelabel(id, item string) *schemas.PreLabelProposed {
	ev := &schemas.PreLabelProposed{ItemID: item, QuestionID: "q", Model: "m", ModelVersion: "1", Value: schemas.Nominal("x"), Confidence: 0.9}
	ev.EventID = id
	schemas.Stamp(ev, "bot", time.UnixMilli(1_700_000_000_000))
	return ev
}

// TestAuthorizerSendsForbiddenEventsToTheDLQ: with an authorizer, events
// their producer may not write are refused before Apply (unknown producer,
// project out of scope, a reserved producer on a type Assay does not
// write), and after Apply when the processor completes a deferred rule
// with its state (the pre-label of an item of another project). Each goes
// to the DLQ with cause forbidden, the rule, the original producer and
// field, and changes nothing; the others are processed.
func TestAuthorizerSendsForbiddenEventsToTheDLQ(t *testing.T) {
	k := cluster(t, "p.")
	cl := client(t, k)
	outOfScope := by("cam", item("i-q", 2))
	outOfScope.ProjectID = "q"
	evs := []schemas.Event{
		by("cam", item("i-p", 1)),               // ok
		outOfScope,                              // scope.project (project_id)
		by("intruder", item("i-x", 3)),          // principal.unknown
		by("assay-processor/x", item("i-r", 4)), // assay.reserved_producer
		prelabel("pl-p", "i-p"),                 // bot is scoped to q; i-p is in p: scope.project, deferred
		prelabel("pl-unknown", "i-none"),        // item unknown to the state: the deferred rule is not checked
	}
	produce(t, cl, k, evs...)
	sink := newMemSink()
	reg := prometheus.NewRegistry()
	store := access.NewStore(registry(t))
	start(t, projector{}, k, sink, runtime.WithAuthorizer(runtime.Principals(store)), runtime.WithRegisterer(reg))
	eventually(t, "offsets committed past the refusals", func() bool { return committed(t, k, "p.assay.processor.projector") == 6 })
	var seen []string
	for _, row := range sink.snapshot("seen") {
		seen = append(seen, row[0].(string))
	}
	if strings.Join(seen, ",") != "i-p-1,pl-unknown" && strings.Join(seen, ",") != "pl-unknown,i-p-1" {
		t.Fatalf("rows of %v, want i-p-1 and pl-unknown only", seen)
	}
	want := map[string]struct{ rule, producer, field string }{
		"i-q-2": {access.RuleProject, "cam", "project_id"},
		"i-x-3": {access.RuleUnknownPrincipal, "intruder", ""},
		"i-r-4": {access.RuleReservedProducer, "assay-processor/x", "producer"},
		"pl-p":  {access.RuleProject, "bot", ""},
	}
	rs := rejections(t, k, len(want))
	if len(rs) != len(want) {
		t.Fatalf("%d DLQ records, want %d", len(rs), len(want))
	}
	for _, r := range rs {
		ev, err := schemas.Decode(r.Original)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[ev.Meta().EventID]
		if !ok {
			t.Errorf("unexpected rejection of %s: %s", ev.Meta().EventID, r.Reason)
			continue
		}
		if !strings.HasPrefix(r.Reason, "forbidden: "+w.rule+": ") || r.OriginalProducer != w.producer || r.Field != w.field ||
			r.Source != "assay-processor/projector" || r.OriginalOffset == nil {
			t.Errorf("%s: rejection %q producer %q field %q source %q, want rule %s producer %s field %q",
				ev.Meta().EventID, r.Reason, r.OriginalProducer, r.Field, r.Source, w.rule, w.producer, w.field)
		}
		t.Logf("DLQ: %s: %s", ev.Meta().EventID, r.Reason)
	}
	if got := dlqCount(t, reg, "projector", "forbidden"); got != 4 {
		t.Errorf("dlq_records_total{cause=forbidden} = %v, want 4", got)
	}

	// Replay judges the log the same way, and produces nothing.
	replayed := newMemSink()
	stats, err := runtime.Replay(context.Background(), projector{}, k, replayed, time.Time{}, runtime.WithAuthorizer(registry(t)))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rejected != 4 || replayed.count("seen") != 2 {
		t.Fatalf("replay: %+v, %d rows; want 4 rejected, 2 rows", stats, replayed.count("seen"))
	}

	// Without an authorizer everything is processed.
	open := newMemSink()
	if _, err := runtime.Replay(context.Background(), projector{}, k, open, time.Time{}); err != nil || open.count("seen") != 6 {
		t.Fatalf("replay without authorizer: %d rows, %v; want 6", open.count("seen"), err)
	}
}

// dlqCount is assay_processor_dlq_records_total of one processor and cause.
func dlqCount(t *testing.T, reg *prometheus.Registry, processor, cause string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "assay_processor_dlq_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["processor"] == processor && labels["cause"] == cause {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestRecordAuthorized: the rule that a label is retracted only by its
// producer applies with or without an authorizer; the authorizer's
// deferred rules apply only with one; empty facts check nothing.
func TestRecordAuthorized(t *testing.T) {
	rt := by("acme", &schemas.LabelRetracted{LabelID: "l1", ItemID: "i1", Reason: "typo"})
	rec := runtime.Record{Event: rt}
	if err := rec.Authorized(access.Facts{LabelProducer: "acme"}); err != nil {
		t.Fatalf("own label: %v", err)
	}
	if err := rec.Authorized(access.Facts{}); err != nil {
		t.Fatalf("unknown label producer: %v", err)
	}
	err := rec.Authorized(access.Facts{LabelProducer: "globex"})
	var v *access.Violation
	if !errors.As(err, &v) || v.Rule != access.RuleOwnLabels || v.Field != "label_id" {
		t.Fatalf("another producer's label without an authorizer: %v", err)
	}

	reg := registry(t)
	rec.Authorize = func(f access.Facts) error { return reg.Check(rt, f) }
	if err := rec.Authorized(access.Facts{LabelProducer: "acme", Project: "p"}); err != nil {
		t.Fatalf("own label in its project: %v", err)
	}
	if err := rec.Authorized(access.Facts{LabelProducer: "acme", Project: "q"}); !errors.As(err, &v) || v.Rule != access.RuleProject {
		t.Fatalf("label of another project: %v", err)
	}
	if err := rec.Authorized(access.Facts{LabelProducer: "globex"}); !errors.As(err, &v) || v.Rule != access.RuleOwnLabels {
		t.Fatalf("another producer's label with an authorizer: %v", err)
	}
}

// TestPrincipalsFollowsTheStore: the store adapter judges by the registry
// in force.
func TestPrincipalsFollowsTheStore(t *testing.T) {
	store := access.NewStore(registry(t))
	a := runtime.Principals(store)
	ev := by("cam", item("i", 1))
	if err := a.Check(ev, access.Facts{}); err != nil {
		t.Fatal(err)
	}
	r, err := access.Parse("principals", "other "+hashA+" role=collector projects=p\n")
	if err != nil {
		t.Fatal(err)
	}
	store.Swap(r)
	var v *access.Violation
	if err := a.Check(ev, access.Facts{}); !errors.As(err, &v) || v.Rule != access.RuleUnknownPrincipal {
		t.Fatalf("after the swap: %v", err)
	}
}
