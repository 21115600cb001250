package lineage_test

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/schemas/schematest"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// withGate folds History and the gate's word on it (lineagetest.Gate), shuffled or not, each
// event twice.
func withGate(asOf int64, shuffle bool) *lineage.Graph {
	evs := append(lineagetest.History(), lineagetest.Gate()...)
	if shuffle {
		rand.New(rand.NewSource(11)).Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	}
	g := lineage.New(asOf)
	for range 2 {
		for _, ev := range evs {
			g.Apply(ev)
		}
	}
	return g
}

// summary is a Gate reduced to what the tests name: each verdict as sequence:outcome:event,
// each override's granter, each run as run:sequence:certified:overridden.
func summary(gt lineage.Gate) (verdicts, overrides, runs []string) {
	for _, v := range gt.Verdicts {
		verdicts = append(verdicts, jsonString(v.Sequence)+":"+v.Outcome()+":"+v.EventID)
	}
	for _, o := range gt.Overrides {
		overrides = append(overrides, o.Producer)
	}
	for _, r := range gt.Runs {
		runs = append(runs, r.RunID+":"+jsonString(r.Sequence)+":"+jsonString(r.Certified)+":"+jsonString(r.Overridden))
	}
	return
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestGateFold: the graph keeps every verdict of the gate by sequence and every override, in
// any fold order and with duplicates; a verdict another producer wrote is not applied; each
// run that used a version says whether it was certified (or overridden) at its registration;
// AsOf bounds verdicts like any fact.
func TestGateFold(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		g := withGate(0, shuffle)
		tests := []struct {
			version             string
			status              string
			verdicts, overrides []string
			runs                []string
		}{
			{"1", "certified", []string{"1:certified:ev-verdict-1-1"}, nil, nil},
			{"2", "rejected", []string{"1:rejected:ev-verdict-2-1", "2:rejected:ev-verdict-2-2"}, []string{lineagetest.Owner},
				[]string{"run-1:1:false:true"}},
			{"3", "certified", []string{"1:certified:ev-verdict-3-1"}, nil, nil},
		}
		for _, tc := range tests {
			gt := g.Gate(ref(tc.version))
			v, o, r := summary(gt)
			if gt.Status() != tc.status || !reflect.DeepEqual(v, tc.verdicts) || !reflect.DeepEqual(o, tc.overrides) || !reflect.DeepEqual(r, tc.runs) {
				t.Errorf("shuffle %v, v%s: status %s verdicts %q overrides %q runs %q;\nwant %s %q %q %q",
					shuffle, tc.version, gt.Status(), v, o, r, tc.status, tc.verdicts, tc.overrides, tc.runs)
			}
			a, err := g.Audit(ref(tc.version))
			if err != nil || !reflect.DeepEqual(a.Gate, gt) {
				t.Errorf("v%s: the audit's gate %+v (%v), want %+v", tc.version, a.Gate, err, gt)
			}
		}
		latest, _ := g.Gate(ref("2")).Latest()
		if latest.Supersedes != "ev-verdict-2-1" || latest.Reason != "min_lineage_completeness: 0.75 < 1" ||
			len(latest.Failing()) != 1 || latest.Failing()[0].Target != "min_lineage_completeness" || *latest.Failing()[0].Figure != 0.75 {
			t.Errorf("verdict in force on v2: %+v, failing %+v", latest, latest.Failing())
		}
		if o := g.Gate(ref("2")).Overrides[0]; o.Reason == "" || o.ProjectID != "proj" || o.EventID != "ev-override-2" || o.OccurredAt != lineagetest.At(35) {
			t.Errorf("override of v2: %+v", o)
		}
	}
	for _, ev := range lineagetest.Gate() {
		if ev.Meta().Producer == lineagetest.Forger && lineage.New(0).Apply(ev) {
			t.Error("a verdict by another producer than the gate was applied")
		}
	}
	if gt := lineage.New(0).Gate(ref("2")); gt.Status() != "unjudged" || gt.Overridden() || gt.Verdicts == nil || gt.Overrides == nil || gt.Runs == nil {
		t.Errorf("a version nobody judged: %+v, status %s", gt, gt.Status())
	}

	// Minute 50: the second verdict on v2 and v3's did not exist yet.
	g := withGate(lineagetest.At(50), true)
	if v, _, r := summary(g.Gate(ref("2"))); !reflect.DeepEqual(v, []string{"1:rejected:ev-verdict-2-1"}) || !reflect.DeepEqual(r, []string{"run-1:1:false:true"}) {
		t.Errorf("v2 as of minute 50: verdicts %q runs %q", v, r)
	}
	if g.Gate(ref("3")).Status() != "unjudged" {
		t.Error("v3 judged as of minute 50")
	}
}

// TestGateDoesNotChangeTheLineageVerdict: the gate's events change the audit's Gate and
// nothing else: the same versions are complete, with the same chains, rejected or certified.
func TestGateDoesNotChangeTheLineageVerdict(t *testing.T) {
	with, without := withGate(0, false), build(0, false)
	for _, v := range []string{"1", "2", "3"} {
		a, _ := with.Audit(ref(v))
		b, _ := without.Audit(ref(v))
		a.Gate, b.Gate = lineage.Gate{}, lineage.Gate{}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("v%s: the gate's events changed the audit beyond its gate:\n %+v\n %+v", v, a, b)
		}
	}
	if with.Completeness("") != without.Completeness("") {
		t.Error("the gate's events changed lineage completeness")
	}
}

// TestRunGateAtRegistration: a run counts as certified when the verdict in force at its
// registration (the highest sequence among verdicts recorded by then) certified the version,
// and as overridden when an override was recorded by then. Registration is the earliest
// recorded_at of the run's registrations naming the version; occurred_at plays no part
// (lineagetest.Clearances tells each case).
func TestRunGateAtRegistration(t *testing.T) {
	evs, want := lineagetest.Clearances()
	ref := lineage.VersionRef{DatasetID: lineagetest.ClearanceDataset, Version: "v"}
	for _, shuffle := range []int64{0, 1, 2} {
		g := lineage.New(0)
		order := append([]schemas.Event(nil), evs...)
		if shuffle > 0 {
			rand.New(rand.NewSource(shuffle)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, ev := range order {
			g.Apply(ev)
		}
		if got := g.Gate(ref).Runs; !reflect.DeepEqual(got, want) {
			t.Errorf("order %d: runs\n %+v\nwant\n %+v", shuffle, got, want)
		}
	}
}

// TestVerdictsOnlyFromTheGate: the processor refuses a verdict of any producer but the gate,
// with or without principals (rule gate.own_verdicts), and writes the gate's own: its
// node, judged and supersedes edges and its lineage_verdicts row with every check; an
// override writes its node, the overridden edge and its lineage_overrides row.
func TestVerdictsOnlyFromTheGate(t *testing.T) {
	p := lineage.NewProcessor()
	if st := p.NewState("x."+schemas.FamilyDatasets.Topic(), 0); st != nil {
		t.Fatal("a datasets partition keeps state")
	}
	byID := map[string]schemas.Event{}
	for _, ev := range lineagetest.Gate() {
		byID[ev.Meta().EventID] = ev
	}
	out, err := p.Apply(nil, runtime.Record{Topic: "t", Event: byID["ev-forged-verdict"]})
	runtimetest.Refused(t, "a certification by mallory", out, err, lineage.RuleOwnVerdicts)
	// The contract's own example, under another producer id that looks internal.
	ex := schematest.Example(schemas.TypeDatasetVersionRejected)
	ex.Meta().Producer = "assay-processor/gate2"
	out, err = apply(p, nil, nil, ex)
	runtimetest.Refused(t, "a rejection by assay-processor/gate2", out, err, lineage.RuleOwnVerdicts)

	// With principals, the runner refuses mallory's verdict before Apply (an internal type, even
	// for a project's owner), and lets the gate's through to be written.
	reg, err := access.Parse("principals", `
mallory  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=owner projects=proj
`)
	if err != nil {
		t.Fatal(err)
	}
	out, err = apply(p, nil, reg, byID["ev-forged-verdict"])
	runtimetest.Refused(t, "mallory's certification with principals", out, err, access.RuleInternal)
	if out, err := apply(p, nil, reg, byID["ev-verdict-2-1"]); err != nil || len(out.Rows) == 0 {
		t.Errorf("the gate's verdict with principals: %v, %v", out.Rows, err)
	}

	n, e := edges(t, byID["ev-verdict-2-2"])
	if want := []string{"verdict:ev-verdict-2-2"}; !reflect.DeepEqual(n, want) {
		t.Errorf("nodes %q, want %q", n, want)
	}
	if want := []string{"dataset_version:ds-cars@2 judged verdict:ev-verdict-2-2", "verdict:ev-verdict-2-2 supersedes verdict:ev-verdict-2-1"}; !reflect.DeepEqual(e, want) {
		t.Errorf("edges %q, want %q", e, want)
	}
	n, e = edges(t, byID["ev-override-2"])
	if !reflect.DeepEqual(n, []string{"override:ev-override-2"}) || !reflect.DeepEqual(e, []string{"dataset_version:ds-cars@2 overridden override:ev-override-2"}) {
		t.Errorf("override: nodes %q edges %q", n, e)
	}

	res, err := p.Apply(nil, runtime.Record{Topic: "t", Offset: 3, Event: byID["ev-verdict-2-1"]})
	if err != nil {
		t.Fatal(err)
	}
	var row []any
	for _, r := range res.Rows {
		if r.Table == lineage.TableVerdicts {
			row = r.Values
		}
	}
	f := func(v float64) *float64 { return &v }
	want := []any{"ds-cars", "2", int64(1), uint8(0), "", "proj", []string{"t1"}, "min_lineage_completeness: 0.5 < 1",
		[]string{"min_alpha", "min_lineage_completeness"}, []string{"q", ""}, []float64{0.667, 1},
		[]*float64{nil, f(0.5)}, []*float64{nil, nil}, []*float64{nil, nil}, []int64{3, 4},
		[]string{"not_enough_data", "fail"}, []string{"3 pairable values, fewer than the 10 the target needs", "2 of 4 members have a complete chain"}}
	if len(row) < len(want) || !reflect.DeepEqual(row[:len(want)], want) {
		t.Errorf("lineage_verdicts row\n %v\nwant\n %v", row, want)
	}

}
