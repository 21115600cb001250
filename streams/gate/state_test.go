package gate

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
)

// gate is a live gate under test: its state, and the log it has written (the targets, the
// commits and every verdict it emitted, as the topics would give them back).
type gate struct {
	t   *testing.T
	s   *State
	log []schemas.Event
}

func newGate(t *testing.T, opts ...StateOption) *gate { return &gate{t: t, s: NewState(opts...)} }

// append applies ev as read from the log.
func (g *gate) append(ev schemas.Event) {
	g.t.Helper()
	ev = roundTrip(g.t, ev)
	g.log = append(g.log, ev)
	g.s.Apply(ev)
}

// decide decides ref on f at now and, like the runner once its transaction commits, appends
// the verdict to the log. It returns the verdict, or nil.
func (g *gate) decide(ref VersionRef, f Figures, now time.Time) schemas.Event {
	g.t.Helper()
	ev, ok := g.s.Decide(ref, f, now)
	if !ok {
		return nil
	}
	g.append(ev)
	return ev
}

func TestDecideFirstVerdict(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	c := commit("1", t0)
	c.Trace.CorrelationID = "corr-1"
	g.append(c)
	ev := g.decide(ref1, goodFigures(), ms(time.Second))
	if ev == nil {
		t.Fatal("no verdict")
	}
	v, certified := verdictOf(t, ev)
	m := ev.Meta()
	if !certified || v.Sequence != 1 || v.Supersedes != "" || v.DatasetID != dataset || v.Version != "1" || v.ProjectID != project ||
		!slices.Equal(v.TargetsVersions, []string{"t-1"}) {
		t.Fatalf("verdict %+v certified %v", v, certified)
	}
	if m.EventID != VerdictID(ref1, 1) || m.Producer != Producer || m.Trace.CausationID != "ev-commit-1" ||
		m.Trace.CorrelationID != "corr-1" || m.OccurredAt != t0+1000 {
		t.Fatalf("envelope %+v", m)
	}
	if c := g.s.Clearance(ref1); !c.Known || !c.Certified || c.Sequence != 1 || !c.Cleared() {
		t.Fatalf("clearance %+v", c)
	}
	if n := g.s.Pending(); n != 0 {
		t.Fatalf("pending %d", n)
	}
}

func TestDecideUnknownVersion(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	if ev, ok := g.s.Decide(ref1, goodFigures(), ms(0)); ok || ev != nil {
		t.Fatalf("verdict on a version never committed: %v", ev)
	}
	// A verdict or an override alone does not make a version committed.
	g.append(override("1", "signed off by the owner for the ablation"))
	if _, ok := g.s.Decide(ref1, goodFigures(), ms(0)); ok {
		t.Fatal("verdict on a version never committed")
	}
	if due := g.s.Due(ms(0)); len(due) != 0 {
		t.Fatalf("due %v", due)
	}
}

func TestNoTargetsInForce(t *testing.T) {
	g := newGate(t)
	g.append(targets("later", "", "", t0+1, full)) // takes effect after the commit
	g.append(targets("other", "", "", t0-1, full, func(s *schemas.QualityTargetsSet) { s.ProjectID = "p-2" }))
	g.append(commit("1", t0))
	v, certified := verdictOf(t, g.decide(ref1, goodFigures(), ms(0)))
	if certified || len(v.TargetsVersions) != 0 || !slices.Equal(describeChecks(v.Checks), []string{"targets_in_force=not_enough_data"}) {
		t.Fatalf("verdict %+v", v)
	}
	if c := g.s.Clearance(ref1); !c.Known || c.Certified || c.Cleared() || !strings.Contains(c.Reason, "no quality targets") {
		t.Fatalf("clearance %+v", c)
	}
}

// TestSuperseding: a figure change that flips a check supersedes the verdict with sequence 2
// naming the first; an unchanged outcome, or a figure that moves less than FigurePrecision,
// emits nothing; a change of a figure alone (same statuses) supersedes too.
func TestSuperseding(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("1", t0))
	first := g.decide(ref1, goodFigures(), ms(0))
	if first == nil {
		t.Fatal("no first verdict")
	}
	if ev := g.decide(ref1, goodFigures(), ms(time.Minute)); ev != nil {
		t.Fatalf("unchanged figures emitted %v", ev)
	}
	f := goodFigures()
	f.Agreement[0].Alpha = f64(0.8104) // rounds to the same figure
	f.Agreement[0].PairableValues = 250
	if ev := g.decide(ref1, f, ms(2*time.Minute)); ev != nil {
		t.Fatalf("a figure that moved less than the precision emitted %v", ev)
	}

	// A gold correction: q-1's accuracy falls below its target.
	f = goodFigures()
	f.Accuracy[1].Correct = 30
	second := g.decide(ref1, f, ms(3*time.Minute))
	if second == nil {
		t.Fatal("no superseding verdict")
	}
	v, certified := verdictOf(t, second)
	if certified || v.Sequence != 2 || v.Supersedes != first.Meta().EventID || second.Meta().EventID != VerdictID(ref1, 2) {
		t.Fatalf("superseding verdict %+v (id %s), first id %s", v, second.Meta().EventID, first.Meta().EventID)
	}
	if c := g.s.Clearance(ref1); c.Certified || c.Sequence != 2 || !strings.Contains(c.Reason, "min_accuracy on q-1 failed") {
		t.Fatalf("clearance %+v", c)
	}
	if ev := g.decide(ref1, f, ms(4*time.Minute)); ev != nil {
		t.Fatalf("the same rejection again: %v", ev)
	}

	// Still failing, with another figure: superseded (the verdict states the figure).
	f.Accuracy[1].Correct = 20
	third := g.decide(ref1, f, ms(5*time.Minute))
	if third == nil {
		t.Fatal("a changed figure did not supersede")
	}
	if v, _ := verdictOf(t, third); v.Sequence != 3 || v.Supersedes != second.Meta().EventID {
		t.Fatalf("third verdict %+v", v)
	}

	// Corrected back: certified again, sequence 4.
	fourth := g.decide(ref1, goodFigures(), ms(6*time.Minute))
	if v, certified := verdictOf(t, fourth); !certified || v.Sequence != 4 || v.Supersedes != third.Meta().EventID {
		t.Fatalf("fourth verdict %+v", v)
	}
}

// TestLaterTargetsNeverRewrite: targets set after a version's commit, effective from then,
// judge later versions and leave the old verdict as it stands.
func TestLaterTargetsNeverRewrite(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("1", t0))
	if v, certified := verdictOf(t, g.decide(ref1, goodFigures(), ms(0))); !certified || v.TargetsVersions[0] != "t-1" {
		t.Fatalf("first verdict %+v", v)
	}
	g.append(targets("t-2", "", "", t0+1000, full, withAlpha(schemas.LevelNominal, 0.95, 20)))
	g.append(commit("2", t0+2000))
	if ev := g.decide(ref1, goodFigures(), ms(time.Hour)); ev != nil {
		t.Fatalf("a later target rewrote an old verdict: %v", ev)
	}
	v, certified := verdictOf(t, g.decide(VersionRef{dataset, "2"}, goodFigures(), ms(time.Hour)))
	if certified || !slices.Equal(v.TargetsVersions, []string{"t-2"}) || !strings.Contains(v.Reason, "min_alpha on q-1 failed") {
		t.Fatalf("version 2's verdict %+v", v)
	}
}

// TestNarrowing: a dataset's targets and a question's narrowed targets take over from the
// project's for that dataset and question only.
func TestNarrowing(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-p", "", "", t0-1000, full, withAlpha(schemas.LevelNominal, 0.95, 20)))
	g.append(targets("t-d", "ds-2", "", t0-1000, full))
	g.append(targets("t-q1", "ds-3", "q-1", t0-1000, withAlpha(schemas.LevelNominal, 0.8, 20)))
	for _, ds := range []string{dataset, "ds-2", "ds-3"} {
		c := commit("1", t0)
		c.DatasetID = ds
		g.append(c)
	}
	want := map[string]struct {
		certified bool
		versions  []string
	}{
		dataset: {false, []string{"t-p"}},
		"ds-2":  {true, []string{"t-d"}},
		"ds-3":  {true, []string{"t-p", "t-q1"}},
	}
	for ds, w := range want {
		v, certified := verdictOf(t, g.decide(VersionRef{ds, "1"}, goodFigures(), ms(0)))
		if certified != w.certified || !slices.Equal(v.TargetsVersions, w.versions) {
			t.Errorf("%s: certified %v versions %v (%s), want %v %v", ds, certified, v.TargetsVersions, v.Reason, w.certified, w.versions)
		}
	}
}

func TestNotInLedger(t *testing.T) {
	const settle = 2 * time.Minute
	none := Figures{}
	t.Run("re-measured until the settle time, then rejected", func(t *testing.T) {
		g := newGate(t, SettleTimeout(settle))
		g.append(targets("t-1", "", "", t0-1000, full))
		// An earlier verdict on the dataset names its project.
		g.append(commit("0", t0-5000))
		g.decide(VersionRef{dataset, "0"}, goodFigures(), ms(-4*time.Second))
		g.append(commit("1", t0))
		if ev := g.decide(ref1, none, ms(settle-time.Millisecond)); ev != nil {
			t.Fatalf("rejected before the settle time: %v", ev)
		}
		if due := g.s.Due(ms(settle - time.Millisecond)); !slices.Contains(due, ref1) {
			t.Fatalf("a pending version is not due: %v", due)
		}
		ev := g.decide(ref1, none, ms(settle))
		v, certified := verdictOf(t, ev)
		if certified || v.ProjectID != project || len(v.Checks) != 0 || !strings.HasPrefix(v.Reason, NotInLedger) || v.Sequence != 1 {
			t.Fatalf("verdict %+v", v)
		}
		// The members arrive: the figures supersede the rejection.
		v, certified = verdictOf(t, g.decide(ref1, goodFigures(), ms(settle+time.Minute)))
		if !certified || v.Sequence != 2 {
			t.Fatalf("verdict once in the ledger %+v", v)
		}
		// A ledger that lost the rows (a rebuild in progress) does not rewrite it.
		if ev := g.decide(ref1, none, ms(settle+2*time.Minute)); ev != nil {
			t.Fatalf("a version no longer in the ledger emitted %v", ev)
		}
	})
	t.Run("a dataset of no known project is rejected without one", func(t *testing.T) {
		g := newGate(t, SettleTimeout(settle))
		g.append(commit("1", t0))
		if ev := g.decide(ref1, none, ms(settle-time.Millisecond)); ev != nil {
			t.Fatalf("rejected before the settle time: %v", ev)
		}
		ev := g.decide(ref1, none, ms(time.Hour))
		if err := ev.Validate(); err != nil {
			t.Fatalf("the rejection does not validate: %v", err)
		}
		v, certified := verdictOf(t, ev)
		if certified || v.ProjectID != "" || !strings.HasPrefix(v.Reason, NotInLedger) {
			t.Fatalf("verdict %+v", v)
		}
	})
	t.Run("an override names no project for the dataset", func(t *testing.T) {
		g := newGate(t, SettleTimeout(settle))
		g.append(override("0", "signed off by the owner for the ablation"))
		g.append(commit("1", t0))
		if v, _ := verdictOf(t, g.decide(ref1, none, ms(time.Hour))); v.ProjectID != "" {
			t.Fatalf("verdict %+v", v)
		}
	})
}

func TestDue(t *testing.T) {
	g := newGate(t, RecheckInterval(time.Minute))
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("2", t0))
	g.append(commit("1", t0))
	if due := g.s.Due(ms(0)); !slices.Equal(due, []VersionRef{ref1, {dataset, "2"}}) {
		t.Fatalf("due %v", due)
	}
	g.decide(ref1, goodFigures(), ms(0))
	if due := g.s.Due(ms(time.Second)); !slices.Equal(due, []VersionRef{{dataset, "2"}}) {
		t.Fatalf("due after a verdict %v", due)
	}
	if due := g.s.Due(ms(time.Minute)); !slices.Equal(due, []VersionRef{ref1, {dataset, "2"}}) {
		t.Fatalf("due after the recheck interval %v", due)
	}
	if at, ok := g.s.Committed(ref1); !ok || at != t0 {
		t.Fatalf("committed %d %v", at, ok)
	}
}

// TestDecideIsDeterministic: deciding again before the verdict is applied (a transaction
// that aborted) yields the same event id and body.
func TestDecideIsDeterministic(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("1", t0))
	a, _ := g.s.Decide(ref1, goodFigures(), ms(0))
	b, _ := g.s.Decide(ref1, goodFigures(), ms(time.Second))
	if a.Meta().EventID != b.Meta().EventID {
		t.Fatalf("ids %s and %s", a.Meta().EventID, b.Meta().EventID)
	}
	va, _ := verdictOf(t, a)
	vb, _ := verdictOf(t, b)
	if !reflect.DeepEqual(va, vb) {
		t.Fatalf("bodies differ:\n%+v\n%+v", va, vb)
	}
	if VerdictID(ref1, 1) == VerdictID(ref1, 2) || VerdictID(ref1, 1) == VerdictID(VersionRef{dataset, "2"}, 1) {
		t.Fatal("verdict ids collide")
	}
}

// TestTrustsOnlyItsOwnVerdicts: a verdict another producer wrote to the log is ignored, and
// of the gate's own the highest sequence counts in any order.
func TestTrustsOnlyItsOwnVerdicts(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("1", t0))
	forged := &schemas.DatasetVersionCertified{
		Envelope: schemas.Envelope{EventID: "ev-forged", OccurredAt: t0, RecordedAt: t0, Producer: "collector-1"},
		GateVerdict: schemas.GateVerdict{DatasetID: dataset, Version: "1", ProjectID: project, TargetsVersions: []string{"t-1"},
			Sequence: 1, Checks: []schemas.TargetCheck{{Target: TargetLineage, Threshold: 1, Figure: f64(1), Status: schemas.CheckPass}}, Reason: "trust me"},
	}
	g.append(forged)
	if c := g.s.Clearance(ref1); c.Known || c.Certified {
		t.Fatalf("a forged verdict counted: %+v", c)
	}

	first, _ := g.s.Decide(ref1, goodFigures(), ms(0))
	g.s.Apply(first)
	f := goodFigures()
	f.GoldMembers = 1
	second, _ := g.s.Decide(ref1, f, ms(time.Minute))
	// The second is applied before the first is read back from the log.
	s := NewState()
	for _, ev := range []schemas.Event{commit("1", t0), second, first} {
		s.Apply(ev)
	}
	if c := s.Clearance(ref1); c.Sequence != 2 || c.Certified {
		t.Fatalf("clearance %+v", c)
	}
}

func TestClearance(t *testing.T) {
	g := newGate(t)
	if c := g.s.Clearance(ref1); c != (Clearance{}) || c.Cleared() {
		t.Fatalf("unknown version: %+v", c)
	}
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(commit("1", t0))
	if c := g.s.Clearance(ref1); c.Known || c.Cleared() {
		t.Fatalf("no verdict yet: %+v", c)
	}
	f := goodFigures()
	f.GoldMembers = 2
	g.decide(ref1, f, ms(0))
	c := g.s.Clearance(ref1)
	if !c.Known || c.Certified || c.Overridden || c.Cleared() || c.Sequence != 1 || c.Reason == "" {
		t.Fatalf("rejected: %+v", c)
	}
	g.append(override("1", "gold items kept on purpose for the ablation run"))
	c = g.s.Clearance(ref1)
	if !c.Known || c.Certified || !c.Overridden || c.OverrideReason != "gold items kept on purpose for the ablation run" || !c.Cleared() {
		t.Fatalf("overridden: %+v", c)
	}
	// An override granted before any commit or verdict counts once a verdict names its
	// project: until then nothing says which project's owner may clear the version.
	ref2 := VersionRef{dataset, "2"}
	g.append(override("2", "the owner signs off ahead of the commit"))
	g.append(commit("2", t0))
	if c := g.s.Clearance(ref2); c.Known || c.Overridden || c.Cleared() {
		t.Fatalf("override ahead of the verdict: %+v", c)
	}
	g.decide(ref2, badFiguresForClearance(), ms(time.Minute))
	if c := g.s.Clearance(ref2); !c.Known || c.Certified || !c.Overridden || c.ProjectID != project || !c.Cleared() {
		t.Fatalf("override once judged: %+v", c)
	}
	// An owner of another project names their own project in the override: it does not
	// clear this project's version.
	ref3 := VersionRef{dataset, "3"}
	g.append(commit("3", t0))
	g.decide(ref3, badFiguresForClearance(), ms(time.Minute))
	foreign := override("3", "cleared by the owner of another project")
	foreign.ProjectID = "proj-other"
	g.append(foreign)
	if c := g.s.Clearance(ref3); !c.Known || c.Overridden || c.Cleared() {
		t.Fatalf("another project's override cleared the version: %+v", c)
	}
}

// badFiguresForClearance are figures that fail the full targets (gold members).
func badFiguresForClearance() Figures {
	f := goodFigures()
	f.GoldMembers = 3
	return f
}

// TestRebuildEqualsLive: a State rebuilt from the log of its own verdicts (and the targets
// and commits) equals the live one, so a restarted gate emits nothing twice and supersedes
// exactly as the live one would.
func TestRebuildEqualsLive(t *testing.T) {
	g := newGate(t)
	g.append(targets("t-1", "", "", t0-1000, full))
	g.append(targets("t-q1", dataset, "q-1", t0-1000, withAlpha(schemas.LevelNominal, 0.5, 20)))
	for _, v := range []string{"1", "2", "3"} {
		g.append(commit(v, t0))
	}
	g.append(override("3", "vendor relabel in progress, owner accepts"))
	bad := goodFigures()
	bad.LineageComplete = 50
	g.decide(ref1, goodFigures(), ms(0))
	g.decide(VersionRef{dataset, "2"}, bad, ms(0))
	g.decide(ref1, bad, ms(time.Minute))                                          // supersedes
	if g.decide(VersionRef{dataset, "3"}, Figures{}, ms(10*time.Minute)) == nil { // not in the ledger
		t.Fatal("no rejection of version 3")
	}

	rebuilt := NewState()
	for _, ev := range g.log {
		rebuilt.Apply(ev)
	}
	live := *g.s
	live.measured, rebuilt.measured = nil, nil
	if !reflect.DeepEqual(&live, rebuilt) {
		t.Fatalf("rebuilt state differs from the live one:\nlive    %+v\nrebuilt %+v", live, *rebuilt)
	}
	rebuilt.measured = map[VersionRef]time.Time{}

	// Same figures after the restart: nothing emitted twice.
	now := ms(time.Hour)
	for ref, f := range map[VersionRef]Figures{ref1: bad, {dataset, "2"}: bad, {dataset, "3"}: Figures{}} {
		if ev, ok := rebuilt.Decide(ref, f, now); ok {
			t.Errorf("%s: the restarted gate emitted again: %+v", ref, ev)
		}
	}
	// A change: the restarted gate supersedes exactly as the live one.
	want, ok1 := g.s.Decide(ref1, goodFigures(), now)
	got, ok2 := rebuilt.Decide(ref1, goodFigures(), now)
	if !ok1 || !ok2 || !reflect.DeepEqual(want, got) {
		t.Fatalf("live %v %+v, rebuilt %v %+v", ok1, want, ok2, got)
	}
	if v, _ := verdictOf(t, got); v.Sequence != 3 {
		t.Fatalf("sequence %d", v.Sequence)
	}
	for _, ref := range []VersionRef{ref1, {dataset, "2"}, {dataset, "3"}} {
		if a, b := g.s.Clearance(ref), rebuilt.Clearance(ref); a != b {
			t.Errorf("%s: clearance live %+v rebuilt %+v", ref, a, b)
		}
	}
}
