package kpi_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// The processors complete the write rules that need their state (see
// streams/runtime, "Write rules"): a label is retracted only by its
// producer (with or without a principals registry), and, with one, a
// retraction or a gold answer only in the project of the item's labels.

const principals = `
acme    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=labeler projects=p vendor=acme
globex  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=labeler projects=p,q vendor=globex
qa-p    cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc role=qa projects=p
qa-q    dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd role=qa projects=q
`

// authFeed applies events like feed, and, when reg is set, gives each
// record the runner's hook (Record.Authorize) over reg. It checks, as the
// runner does before Apply, the rules that need no state.
type authFeed struct {
	*feed
	reg *access.Registry
}

func (f *authFeed) apply(ev schemas.Event) ([]runtime.Row, error) {
	rec := runtime.Record{Topic: f.topic, Family: ev.Family(), Offset: f.off, Event: ev}
	f.off++
	if f.reg != nil {
		if err := f.reg.Check(ev, access.Facts{}); err != nil {
			return nil, err
		}
		rec.Authorize = func(fa access.Facts) error { return f.reg.Check(ev, fa) }
	}
	out, err := f.p.Apply(f.state, rec)
	return out.Rows, err
}

func (f *authFeed) must(t *testing.T, ev schemas.Event) []runtime.Row {
	t.Helper()
	rows, err := f.apply(ev)
	if err != nil {
		t.Fatalf("apply %s: %v", ev.Type(), err)
	}
	return rows
}

// refused checks that ev is refused by rule and writes nothing.
func (f *authFeed) refused(t *testing.T, ev schemas.Event, rule string) {
	t.Helper()
	rows, err := f.apply(ev)
	var v *access.Violation
	if !errors.As(err, &v) || v.Rule != rule {
		t.Fatalf("%s by %s: err %v, want a %s violation", ev.Type(), ev.Meta().Producer, err, rule)
	}
	if len(rows) != 0 {
		t.Fatalf("refused %s wrote %v", ev.Type(), rows)
	}
}

func stamped[E schemas.Event](producer string, ev E) E {
	ev.Meta().Producer = producer
	return ev
}

func vendorLabel(producer, id, item, annotator string, v schemas.LabelValue) *schemas.LabelSubmitted {
	l := stamped(producer, label(id, item, annotator, "", v))
	l.Vendor = producer
	return l
}

func registryOf(t *testing.T) *access.Registry {
	t.Helper()
	r, err := access.Parse("principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAgreementRetractionsOnlyByTheLabelsProducer: another producer's
// retraction of a counted label is refused and changes no cell, with and
// without a registry; the label's own producer retracts it.
func TestAgreementRetractionsOnlyByTheLabelsProducer(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	for _, withRegistry := range []bool{false, true} {
		f := &authFeed{feed: newFeed(kpi.NewAgreement(), "labels", 0)}
		if withRegistry {
			f.reg = registryOf(t)
		}
		f.must(t, vendorLabel("acme", "l1", "i1", "ann1", cat))
		f.must(t, vendorLabel("globex", "l2", "i1", "ann2", dog))
		s := f.state.(*kpi.AgreementState)
		before, _ := s.Coincidences("p", "q", "nominal", kpi.ScopeAll)
		f.refused(t, stamped("globex", retract("l1", "i1")), access.RuleOwnLabels)
		after, _ := s.Coincidences("p", "q", "nominal", kpi.ScopeAll)
		if !reflect.DeepEqual(before.Cells(), after.Cells()) {
			t.Fatalf("registry %v: a refused retraction moved the cells: %v -> %v", withRegistry, before.Cells(), after.Cells())
		}
		// Refused, so not remembered: the label's owner retracts it under
		// the same event id and it leaves the figure.
		own := stamped("acme", retract("l1", "i1"))
		if rows := f.must(t, own); len(rows) == 0 {
			t.Fatalf("registry %v: the owner's retraction wrote nothing", withRegistry)
		}
		if c, _ := s.Coincidences("p", "q", "nominal", kpi.ScopeAll); len(c.Cells()) != 0 {
			t.Fatalf("registry %v: cells after the owner's retraction: %v", withRegistry, c.Cells())
		}
	}
}

// TestAgreementRetractionInTheLabelsProject: with a registry, a producer
// that submitted a label in a project no longer in its scope (its scope
// was narrowed: principal ids must not be reused) may not retract it.
func TestAgreementRetractionInTheLabelsProject(t *testing.T) {
	f := &authFeed{feed: newFeed(kpi.NewAgreement(), "labels", 0)}
	l := vendorLabel("globex", "l1", "i1", "ann1", schemas.Nominal("cat"))
	l.ProjectID = "q"
	f.must(t, l)
	narrowed, err := access.Parse("principals", "globex bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=labeler projects=p vendor=globex\n")
	if err != nil {
		t.Fatal(err)
	}
	f.reg = narrowed
	f.refused(t, stamped("globex", retract("l1", "i1")), access.RuleProject)
}

// TestAccuracyRetractionsAndGold: the accuracy processor refuses another
// producer's retraction of a counted label (registry or not), and, with a
// registry, a gold answer of a qa principal whose projects do not hold the
// project of the item's labels; neither moves a count. Gold for an item
// without labels cannot be checked for its project.
func TestAccuracyRetractionsAndGold(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	for _, withRegistry := range []bool{false, true} {
		f := &authFeed{feed: newFeed(kpi.NewAccuracy(), "labels", 0)}
		if withRegistry {
			f.reg = registryOf(t)
		}
		f.must(t, stamped("qa-p", goldSet("i1", cat)))
		f.must(t, vendorLabel("acme", "l1", "i1", "ann1", cat))
		f.must(t, vendorLabel("globex", "l2", "i1", "ann2", dog))
		s := f.state.(*kpi.AccuracyState)
		score := func() [2]int64 { c, n := s.Score("p", "q", kpi.ScopeAll); return [2]int64{c, n} }
		if got := score(); got != [2]int64{1, 2} {
			t.Fatalf("registry %v: score %v, want 1 of 2", withRegistry, got)
		}
		f.refused(t, stamped("globex", retract("l1", "i1")), access.RuleOwnLabels)
		if got := score(); got != [2]int64{1, 2} {
			t.Fatalf("registry %v: a refused retraction moved the score to %v", withRegistry, got)
		}
		if withRegistry {
			// qa-q may set gold in q only; i1's labels are in p.
			f.refused(t, stamped("qa-q", goldSet("i1", dog)), access.RuleProject)
			if got := score(); got != [2]int64{1, 2} {
				t.Fatalf("a refused gold moved the score to %v", got)
			}
			// The stateless rules are the runner's: a labeler's gold is refused before Apply.
			f.refused(t, stamped("acme", goldSet("i1", dog)), access.RuleEventType)
			// An item without labels has no known project: qa-q's gold passes.
			f.must(t, stamped("qa-q", goldSet("i2", dog)))
		}
		f.must(t, stamped("globex", retract("l2", "i1")))
		if got := score(); got != [2]int64{1, 1} {
			t.Fatalf("registry %v: after the owner's retraction the score is %v, want 1 of 1", withRegistry, got)
		}
	}
}
