package lineage

import "testing"

// TestOverrideOfAnotherProject: an override counts only when it names the project of the
// verdict in force, for the version and for each run on it, as the gateway's Clearance has it.
func TestOverrideOfAnotherProject(t *testing.T) {
	v := Verdict{Sequence: 1, ProjectID: "p", RecordedAt: 10, EventID: "v1"}
	foreign := Override{ProjectID: "x", Reason: "cleared by the owner of x", RecordedAt: 20, EventID: "o1"}
	own := Override{ProjectID: "p", Reason: "signed off by the owner of p", RecordedAt: 40, EventID: "o2"}
	g := newGate([]Verdict{v}, []Override{foreign}, []runAt{{id: "r1", at: 30}})
	if g.Overridden() || g.Runs[0].Overridden {
		t.Fatalf("another project's override counts: %+v", g)
	}
	g = newGate([]Verdict{v}, []Override{foreign, own}, []runAt{{id: "r1", at: 30}, {id: "r2", at: 50}})
	if !g.Overridden() || g.Runs[0].Overridden || !g.Runs[1].Overridden || len(g.Overrides) != 2 {
		t.Fatalf("own override: %+v", g)
	}
	if g := newGate(nil, []Override{own}, nil); g.Overridden() {
		t.Fatal("an override of a version the gate has not judged counts")
	}
}
