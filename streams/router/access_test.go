package router

import (
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// try applies one event to its topic's partition 0 of f, as the runner does
// with an authorizer over reg (nil: none): the stateless check first, then
// Apply with the Authorize hook. It does not read back emitted decisions.
func (f *feed) try(reg *access.Registry, ev schemas.Event) (runtime.Output, error) {
	f.t.Helper()
	topic := "pfx." + ev.Family().Topic()
	st, ok := f.states[topic]
	if !ok {
		st = f.r.NewState(topic, 0)
		f.states[topic] = st
	}
	rec := runtime.Record{Topic: topic, Family: ev.Family(), Offset: f.offs[topic], Key: []byte(ev.Key()), Event: ev}
	f.offs[topic]++
	if reg != nil {
		if err := reg.Check(ev, access.Facts{}); err != nil {
			return runtime.Output{}, err
		}
		rec.Authorize = func(fa access.Facts) error { return reg.Check(ev, fa) }
	}
	return f.r.Apply(st, rec)
}

func by[E schemas.Event](producer string, ev E) E {
	ev.Meta().Producer = producer
	return ev
}

// TestForeignDecisionsAreRefused: the router trusts only the decisions it
// emitted, with or without principals: a RoutingDecided from any other
// producer (a principal, or one that merely looks like the router) is
// refused, writes no routing_decisions row and does not mark the question
// decided, so the router still decides it on its own pre-label.
func TestForeignDecisionsAreRefused(t *testing.T) {
	for _, forger := range []string{"ops-console", "assay-processor/router-fake", "assay-processor/router "} {
		f := newFeed(t, testRules())
		out, err := f.try(nil, routed("i1", "q-vehicle", schemas.RouteHumanReview, RuleLowConfidence, forger))
		runtimetest.Refused(t, forger, out, err, RuleOwnDecisions)
		if got := decided(f.apply(ingest("i1", "daylight"), pre("i1", "q-vehicle", 0.99))); !slices.Equal(got, []string{"i1/q-vehicle auto_accept confident"}) {
			t.Fatalf("%s: after a refused decision the router decided %q", forger, got)
		}
	}
}

// TestRetractionsOnlyByTheLabelsProducer: another producer's retraction is
// refused (no routing_label_retractions row, the label keeps counting for
// agreement), escalated question or not; the label's producer retracts it.
func TestRetractionsOnlyByTheLabelsProducer(t *testing.T) {
	rules := testRules()
	rules.Agreement.MinLabels = 3
	f := newFeed(t, rules)
	f.apply(by("acme", label("l1", "i1", "q", "a1", "car")), by("globex", label("l2", "i1", "q", "a2", "bus")))
	out, err := f.try(nil, by("globex", retract("l1", "i1")))
	runtimetest.Refused(t, "globex retracting acme's label", out, err, access.RuleOwnLabels)
	// l1 still counts: a third label that disagrees with it escalates.
	if got := decided(f.apply(by("globex", label("l3", "i1", "q", "a3", "van")))); len(got) != 1 {
		t.Fatalf("l1 no longer counted after a refused retraction: %q", got)
	}
	// Escalated or not, the producer is known: refused again; the owner may.
	out, err = f.try(nil, by("globex", retract("l1", "i1")))
	runtimetest.Refused(t, "after the escalation", out, err, access.RuleOwnLabels)
	out, err = f.try(nil, by("acme", retract("l1", "i1")))
	if err != nil || len(out.Rows) != 1 || out.Rows[0].Table != TableRetractions {
		t.Fatalf("the owner's retraction: %v rows, %v", out.Rows, err)
	}
	// A label the partition never saw has no known producer: its retraction passes.
	if _, err := f.try(nil, by("globex", retract("l9", "i9"))); err != nil {
		t.Fatal(err)
	}
}

// TestPrelabelsOfIngestedItemsInTheModelsProjects: with principals, a
// pre-label of an ingested item is refused unless the item's project is
// one of its model principal's; a pre-label waiting for its item is not
// checked for its project.
func TestPrelabelsOfIngestedItemsInTheModelsProjects(t *testing.T) {
	reg, err := access.Parse("principals", `
cam  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=collector projects=proj-1,proj-2
det  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=model projects=proj-1 models=det
`)
	if err != nil {
		t.Fatal(err)
	}
	f := newFeed(t, testRules())
	if _, err := f.try(reg, by("cam", ingest("i2"))); err != nil { // proj-2
		t.Fatal(err)
	}
	out, err := f.try(reg, by("det", pre("i2", "q-vehicle", 0.99)))
	runtimetest.Refused(t, "a pre-label of a proj-2 item", out, err, access.RuleProject)
	if _, err := f.try(reg, by("cam", ingestP1("i1"))); err != nil {
		t.Fatal(err)
	}
	out, err = f.try(reg, by("det", pre("i1", "q-vehicle", 0.99)))
	if err != nil || len(out.Emit) != 1 {
		t.Fatalf("a pre-label of a proj-1 item: %d decisions, %v", len(out.Emit), err)
	}
	if _, err := f.try(reg, by("det", pre("i-later", "q-vehicle", 0.99))); err != nil {
		t.Fatalf("a pending pre-label: %v", err)
	}
}
