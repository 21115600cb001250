package demo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/router"
	"github.com/assay-data/assay/streams/runtime"
)

func TestBuild(t *testing.T) {
	p := Build("t", "proj", 3, 120)
	q := Build("t", "proj", 3, 120)
	if len(p.Events) != len(q.Events) {
		t.Fatalf("not deterministic: %d vs %d events", len(p.Events), len(q.Events))
	}
	ids := map[string]bool{}
	var reported, started, shipped int64
	var runs, findings int
	for i, ev := range p.Events {
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d (%s) invalid: %v", i, ev.Type(), err)
		}
		id := ev.Meta().EventID
		if ids[id] {
			t.Fatalf("duplicate event id %s", id)
		}
		ids[id] = true
		if ev.Meta().EventID != q.Events[i].Meta().EventID {
			t.Fatalf("event %d differs between equal builds", i)
		}
		switch e := ev.(type) {
		case *schemas.TrainingRunRegistered:
			runs++
		case *schemas.EvalFindingReported:
			findings++
			if e.FindingID == p.Findings[0] {
				reported = e.OccurredAt
			}
			if e.ProjectID != "proj" || len(e.ImplicatedItemIDs) == 0 {
				t.Errorf("finding %+v", e)
			}
		case *schemas.RemediationStarted:
			started = e.OccurredAt
		case *schemas.RemediationShipped:
			shipped = e.OccurredAt
		}
	}
	if runs != 1 || findings != 2 {
		t.Errorf("%d training runs and %d findings, want 1 and 2", runs, findings)
	}
	if !(reported < started && started < shipped) {
		t.Errorf("remediation out of order: reported %d, started %d, shipped %d", reported, started, shipped)
	}
	if len(p.Workload.Config.Cohorts) != 3 {
		t.Errorf("cohorts %+v", p.Workload.Config.Cohorts)
	}
}

func TestShift(t *testing.T) {
	p := Build("t", "proj", 1, 30)
	first, last := Span(p.Events)
	end := time.UnixMilli(1_900_000_000_000)
	Shift(p.Events, end)
	f2, l2 := Span(p.Events)
	if l2 != end.UnixMilli() || l2-f2 != last-first {
		t.Fatalf("span %d..%d after shift, want it to end at %d and last %d ms", f2, l2, end.UnixMilli(), last-first)
	}
	for _, ev := range p.Events {
		if ev.Meta().RecordedAt != 0 {
			t.Fatal("recorded_at kept: the gateway stamps it")
		}
	}
}

// TestPreLabelsRouted: the program pre-labels every item, and the router of make run (its
// default rules) has something to decide both ways: some pre-labels are auto-accepted, some
// audited, some sent to humans for low confidence.
func TestPreLabelsRouted(t *testing.T) {
	p := Build("t", "proj", 1, 600)
	r, err := router.New(router.Config{}) // the built-in rules
	if err != nil {
		t.Fatal(err)
	}
	topic := schemas.FamilyItems.Topic()
	st := r.NewState(topic, 0)
	rules := map[string]int{}
	prelabels, off := 0, int64(0)
	for _, ev := range p.Events {
		if ev.Family() != schemas.FamilyItems {
			continue
		}
		if ev.Type() == schemas.TypePreLabelProposed {
			prelabels++
		}
		out, err := r.Apply(st, runtime.Record{Topic: topic, Family: ev.Family(), Offset: off, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		off++
		for _, em := range out.Emit {
			rules[em.(*schemas.RoutingDecided).Rule]++
		}
	}
	if prelabels != 600 {
		t.Errorf("%d pre-labels, want one per item (600)", prelabels)
	}
	for _, rule := range []string{router.RuleConfident, router.RuleAuditSample, router.RuleLowConfidence} {
		if rules[rule] == 0 {
			t.Errorf("no decision by rule %s: %v", rule, rules)
		}
	}
	if n := rules[router.RuleConfident] + rules[router.RuleAuditSample] + rules[router.RuleLowConfidence]; n != 600 {
		t.Errorf("decisions %v, want 600", rules)
	}
	t.Logf("decisions under the default rules: %v", rules)
}

// TestPrincipalsWriteEveryEvent: each event of a program has exactly the principal of
// Principals that may write it (access.Writers), every writing principal writes something,
// and a retraction goes to the labeler that submitted the label.
func TestPrincipalsWriteEveryEvent(t *testing.T) {
	ps := Principals("proj")
	var text strings.Builder
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		text.WriteString(p.Line(access.HashToken(fmt.Sprint("token-", i))) + "\n")
	}
	reg, err := access.Parse("demo principals", text.String())
	if err != nil {
		t.Fatal(err)
	}
	w := access.NewWriters(reg)
	used := map[string]int{}
	submitter := map[string]string{}
	for _, ev := range Build("t", "proj", 1, 200).Events {
		p, err := w.Pick(ev)
		if err != nil {
			t.Fatalf("%s %s: no principal: %v", ev.Type(), ev.Meta().EventID, err)
		}
		used[p.ID]++
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			submitter[e.LabelID] = p.ID
			if want := "demo-labelers-inhouse"; e.Vendor == "" && p.ID != want || e.Vendor == "acme" && p.ID != "demo-labelers-acme" {
				t.Errorf("label of vendor %q cohort %q sent by %s", e.Vendor, e.Cohort, p.ID)
			}
		case *schemas.LabelRetracted:
			if submitter[e.LabelID] != p.ID {
				t.Errorf("retraction of %s sent by %s, submitted by %s", e.LabelID, p.ID, submitter[e.LabelID])
			}
		}
	}
	// Every writing principal writes something of the program but the labeler of the vendor
	// only the structured programs employ (TestStructuredPrincipals: it writes their labels).
	for _, p := range ps {
		if idle := p.ID == "demo-labelers-lexica"; p.Role.Writes() && (used[p.ID] == 0) != idle {
			t.Errorf("%s writes %d events of the program", p.ID, used[p.ID])
		}
	}
	t.Logf("events per principal: %v", used)
}

// TestGatePlayed: the program plays the gate's two outcomes: targets in force before any
// version, a v1 with gold items (rejected: no gold in training data) that the pilot run uses
// only after the owner's recorded override, and later versions without gold items.
func TestGatePlayed(t *testing.T) {
	p := Build("t", "proj", 3, 120)
	gold := map[string]bool{}
	var targetsAt, overrideAt, runAt int64
	versions := 0
	for _, ev := range p.Events {
		switch e := ev.(type) {
		case *schemas.QualityTargetsSet:
			targetsAt = e.EffectiveAt
			if e.OccurredAt != e.EffectiveAt || e.ProjectID != "proj" {
				t.Errorf("targets %+v", e)
			}
		case *schemas.GoldLabelSet:
			gold[e.ItemID] = true
		case *schemas.GateOverrideGranted:
			overrideAt = e.OccurredAt
			if e.Version != "v1" {
				t.Errorf("override of %s, want v1", e.Version)
			}
		case *schemas.TrainingRunRegistered:
			runAt = e.OccurredAt
		case *schemas.DatasetVersionCommitted:
			versions++
			if targetsAt == 0 || targetsAt > e.OccurredAt {
				t.Errorf("%s committed before the targets were in force", e.Version)
			}
			withGold := 0
			for _, m := range e.Members {
				if gold[m.ItemID] {
					withGold++
				}
			}
			if versions == 1 && withGold == 0 {
				t.Errorf("v1 has no gold item: the demo would not show a rejection")
			}
			if versions > 1 && withGold > 0 {
				t.Errorf("%s has %d gold members", e.Version, withGold)
			}
		}
	}
	if versions < 2 || overrideAt == 0 || runAt <= overrideAt {
		t.Fatalf("versions %d, override at %d, run at %d", versions, overrideAt, runAt)
	}
	end := time.UnixMilli(1_900_000_000_000)
	Shift(p.Events, end)
	for _, ev := range p.Events {
		if e, ok := ev.(*schemas.QualityTargetsSet); ok && e.EffectiveAt != e.OccurredAt {
			t.Errorf("shift moved occurred_at to %d but effective_at to %d", e.OccurredAt, e.EffectiveAt)
		}
	}
}
