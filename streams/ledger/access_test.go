package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

const principals = `
own-p  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=owner projects=p
own-q  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=owner projects=q
`

// authorized applies ev to st as the runner does with an authorizer over reg.
func authorized(t *testing.T, st any, reg *access.Registry, ev schemas.Event) (runtime.Output, error) {
	t.Helper()
	if err := reg.Check(ev, access.Facts{}); err != nil {
		return runtime.Output{}, err
	}
	rec := record(t, ev, 0)
	rec.Authorize = func(f access.Facts) error { return reg.Check(ev, f) }
	return ledger.New().Apply(st, rec)
}

var stamped int

func stamp[E schemas.Event](producer string, ev E) E {
	stamped++
	ev.Meta().EventID = fmt.Sprintf("%08x-6f1e-4c39-9d43-000000000000", stamped)
	schemas.Stamp(ev, producer, time.UnixMilli(1_700_000_000_000))
	return ev
}

// TestLedgerRemediationsInTheFindingsProject: with principals, a remediation of a finding of
// another project is refused and writes no row, not even in events; the findings partition
// remembers each finding's project.
func TestLedgerRemediationsInTheFindingsProject(t *testing.T) {
	reg, err := access.Parse("principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New()
	if l.NewState("p."+schemas.FamilyItems.Topic(), 0) != nil {
		t.Fatal("an items partition needs no state")
	}
	st := l.NewState("p."+schemas.FamilyFindings.Topic(), 0)
	f := stamp("own-p", &schemas.EvalFindingReported{FindingID: "f1", EvalRun: "e", Model: "m", Slice: "s", Severity: schemas.SeverityHigh, ProjectID: "p"})
	if _, err := authorized(t, st, reg, f); err != nil {
		t.Fatal(err)
	}
	if k := st.(runtime.StateSizer).StateKeys(); k != 1 {
		t.Fatalf("StateKeys %d, want 1", k)
	}
	out, err := authorized(t, st, reg, stamp("own-q", &schemas.RemediationStarted{FindingID: "f1", Owner: "o", Plan: "fix"}))
	runtimetest.Refused(t, "own-q starting p's remediation", out, err, access.RuleProject)
	out, err = authorized(t, st, reg, stamp("own-q", &schemas.RemediationShipped{FindingID: "f1", DatasetID: "d", FixingVersion: "2"}))
	runtimetest.Refused(t, "own-q shipping p's remediation", out, err, access.RuleProject)
	if out, err := authorized(t, st, reg, stamp("own-p", &schemas.RemediationStarted{FindingID: "f1", Owner: "o", Plan: "fix"})); err != nil || len(out.Rows) != 2 {
		t.Fatalf("own-p's remediation: %d rows, %v; want events and remediations", len(out.Rows), err)
	}
}

// TestLedgerRoutingDecisionsOnlyFromTheRouter: with principals, a RoutingDecided from a
// principal is refused by the registry, and one from a reserved id other than the router's
// (which the registry lets through) by the ledger; the router's own is copied. Without
// principals every decision is copied (the ledger is the log's copy).
func TestLedgerRoutingDecisionsOnlyFromTheRouter(t *testing.T) {
	if ledger.RouterProducer != router.Producer || ledger.RuleOwnDecisions != router.RuleOwnDecisions {
		t.Fatalf("ledger's %q/%q, router's %q/%q", ledger.RouterProducer, ledger.RuleOwnDecisions, router.Producer, router.RuleOwnDecisions)
	}
	reg, err := access.Parse("principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	decision := func(producer string) *schemas.RoutingDecided {
		return stamp(producer, &schemas.RoutingDecided{ItemID: "i", QuestionID: "q", Route: schemas.RouteAutoAccept, Rule: "confident", Reason: "r"})
	}
	out, err := authorized(t, nil, reg, decision("own-p"))
	runtimetest.Refused(t, "a principal's decision", out, err, access.RuleInternal)
	out, err = authorized(t, nil, reg, decision("assay-processor/router-fake"))
	runtimetest.Refused(t, "a router look-alike's decision", out, err, ledger.RuleOwnDecisions)
	if out, err := authorized(t, nil, reg, decision(router.Producer)); err != nil || len(out.Rows) != 2 {
		t.Fatalf("the router's decision: %d rows, %v", len(out.Rows), err)
	}
	if out, err := ledger.New().Apply(nil, record(t, decision("assay-processor/router-fake"), 0)); err != nil || len(out.Rows) != 2 {
		t.Fatalf("without principals: %d rows, %v", len(out.Rows), err)
	}
}

// TestLedgerVerdictsOnlyFromTheGate: with principals, a gate verdict from a principal is refused
// by the registry, one from a reserved id other than the gate's by the ledger
// [gate.own_verdicts]; the gate's own is copied, and without principals every verdict is.
func TestLedgerVerdictsOnlyFromTheGate(t *testing.T) {
	reg, err := access.Parse("principals", principals)
	if err != nil {
		t.Fatal(err)
	}
	verdict := schemas.GateVerdict{DatasetID: "d", Version: "1", ProjectID: "p", Sequence: 1, Reason: "no targets in force",
		Checks: []schemas.TargetCheck{{Target: "targets_in_force", Status: schemas.CheckFail}}}
	for _, ev := range []func(producer string) schemas.Event{
		func(producer string) schemas.Event {
			return stamp(producer, &schemas.DatasetVersionRejected{GateVerdict: verdict})
		},
		func(producer string) schemas.Event {
			v := verdict
			v.TargetsVersions, v.Reason = []string{"t1"}, "meets all 1 targets of t1"
			v.Checks = []schemas.TargetCheck{{Target: "no_gold_in_training", Figure: ptr(0.0), Status: schemas.CheckPass}}
			return stamp(producer, &schemas.DatasetVersionCertified{GateVerdict: v})
		},
	} {
		out, err := authorized(t, nil, reg, ev("own-p"))
		runtimetest.Refused(t, "an owner's verdict", out, err, access.RuleInternal)
		out, err = authorized(t, nil, reg, ev("assay-processor/router"))
		runtimetest.Refused(t, "the router's verdict", out, err, ledger.RuleOwnVerdicts)
		if out, err := authorized(t, nil, reg, ev(ledger.GateProducer)); err != nil || len(out.Rows) != 2 || out.Rows[1].Table != ledger.TableDatasetVerdicts {
			t.Fatalf("the gate's verdict: %v, %v", out.Rows, err)
		}
		if out, err := ledger.New().Apply(nil, record(t, ev("assay-processor/gate-fake"), 0)); err != nil || len(out.Rows) != 2 {
			t.Fatalf("without principals: %d rows, %v", len(out.Rows), err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
