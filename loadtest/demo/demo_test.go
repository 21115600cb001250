package demo

import (
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
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
