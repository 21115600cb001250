package lineage_test

import (
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// apply runs one event through p with state st as the runner would with an authorizer over reg
// (nil: none).
func apply(p *lineage.Processor, st any, reg *access.Registry, ev schemas.Event) (runtime.Output, error) {
	rec := runtime.Record{Topic: "x." + ev.Family().Topic(), Event: ev}
	if reg != nil {
		if err := reg.Check(ev, access.Facts{}); err != nil {
			return runtime.Output{}, err
		}
		rec.Authorize = func(f access.Facts) error { return reg.Check(ev, f) }
	}
	return p.Apply(st, rec)
}

func by[E schemas.Event](producer string, ev E) E {
	m := ev.Meta()
	m.Producer, m.OccurredAt = producer, 1_700_000_000_000
	return ev
}

// TestLineageRetractionsOnlyByTheLabelsProducer: no retracted edge for another producer's
// retraction, with or without principals; the label's producer retracts it.
func TestLineageRetractionsOnlyByTheLabelsProducer(t *testing.T) {
	p := lineage.NewProcessor()
	st := p.NewState("x."+schemas.FamilyLabels.Topic(), 0)
	if st == nil || p.NewState("x."+schemas.FamilyReviews.Topic(), 0) != nil {
		t.Fatal("a labels partition has state, a reviews partition none")
	}
	l := by("acme", &schemas.LabelSubmitted{LabelID: "l1", ItemID: "i1", ProjectID: "p", TaskID: "t", QuestionID: "q",
		AnnotatorID: "a", GuidelineVersion: "g", Value: schemas.Nominal("x")})
	if _, err := apply(p, st, nil, l); err != nil {
		t.Fatal(err)
	}
	out, err := apply(p, st, nil, by("globex", &schemas.LabelRetracted{LabelID: "l1", ItemID: "i1", Reason: "r"}))
	runtimetest.Refused(t, "globex retracting acme's label", out, err, access.RuleOwnLabels)
	if k := st.(runtime.StateSizer).StateKeys(); k != 1 {
		t.Fatalf("StateKeys %d, want 1", k)
	}
	out, err = apply(p, st, nil, by("acme", &schemas.LabelRetracted{LabelID: "l1", ItemID: "i1", Reason: "r"}))
	// Written: the retracted edge and the retraction's row of the chain read model.
	if err != nil || len(out.Rows) != 2 || out.Rows[0].Table != lineage.TableEdges || out.Rows[1].Table != lineage.TableLabels {
		t.Fatalf("the owner's retraction: %v, %v", out.Rows, err)
	}
	if k := st.(runtime.StateSizer).StateKeys(); k != 0 {
		t.Fatalf("a retracted label is kept: StateKeys %d", k)
	}
}

// TestLineageRemediationsInTheFindingsProject: with principals, an owner of another project
// cannot mark a finding remediated; the finding's own owner can.
func TestLineageRemediationsInTheFindingsProject(t *testing.T) {
	reg, err := access.Parse("principals", `
own-p  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=owner projects=p
own-q  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=owner projects=q
`)
	if err != nil {
		t.Fatal(err)
	}
	p := lineage.NewProcessor()
	st := p.NewState("x."+schemas.FamilyFindings.Topic(), 0)
	f := by("own-p", &schemas.EvalFindingReported{FindingID: "f1", EvalRun: "e", Model: "m", Slice: "s", Severity: schemas.SeverityHigh, ProjectID: "p"})
	if _, err := apply(p, st, reg, f); err != nil {
		t.Fatal(err)
	}
	started := func(producer string) *schemas.RemediationStarted {
		return by(producer, &schemas.RemediationStarted{FindingID: "f1", Owner: "o", Plan: "fix"})
	}
	shipped := by("own-q", &schemas.RemediationShipped{FindingID: "f1", DatasetID: "d", FixingVersion: "2"})
	out, err := apply(p, st, reg, started("own-q"))
	runtimetest.Refused(t, "own-q starting p's remediation", out, err, access.RuleProject)
	out, err = apply(p, st, reg, shipped)
	runtimetest.Refused(t, "own-q shipping p's remediation", out, err, access.RuleProject)
	if out, err := apply(p, st, reg, started("own-p")); err != nil || len(out.Rows) == 0 {
		t.Fatalf("own-p starting its remediation: %v, %v", out.Rows, err)
	}
	// Without principals the project is not checked.
	if _, err := apply(p, st, nil, shipped); err != nil {
		t.Fatal(err)
	}
}

// TestGraphRetractionsOnlyByTheLabelsProducer: the audit's in-memory graph applies the same
// rule as the Processor, in either order of label and retraction, so a forged retraction
// cannot make the audit and the chain tables disagree.
func TestGraphRetractionsOnlyByTheLabelsProducer(t *testing.T) {
	label := func() schemas.Event {
		return by("acme", &schemas.LabelSubmitted{LabelID: "l1", ItemID: "i1", ProjectID: "p", TaskID: "t", QuestionID: "q",
			AnnotatorID: "a", GuidelineVersion: "g", Value: schemas.Nominal("x")})
	}
	retract := func(producer, id string) schemas.Event {
		ev := by(producer, &schemas.LabelRetracted{LabelID: "l1", ItemID: "i1", Reason: "r"})
		ev.Meta().EventID = id
		return ev
	}
	for _, c := range []struct {
		name   string
		events []schemas.Event
		want   bool
	}{
		{"another producer's retraction after the label", []schemas.Event{label(), retract("globex", "r1")}, false},
		{"another producer's retraction before the label", []schemas.Event{retract("globex", "r1"), label()}, false},
		{"the owner's retraction after the label", []schemas.Event{label(), retract("globex", "r1"), retract("acme", "r2")}, true},
		{"the owner's retraction before the label", []schemas.Event{retract("acme", "r2"), label()}, true},
	} {
		g := lineage.New(0)
		for _, ev := range c.events {
			g.Apply(ev)
		}
		if got := g.Labels["l1"].Retracted; got != c.want {
			t.Errorf("%s: retracted %v, want %v", c.name, got, c.want)
		}
	}
}
