package lineage

import (
	"fmt"
	"slices"
	"sort"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// GateProducer is the envelope producer of the gate's verdicts (DatasetVersionCertified,
// DatasetVersionRejected): streams/gate emits them under this id. Lineage trusts no other
// producer's verdict (RuleOwnVerdicts).
const GateProducer = "assay-processor/gate"

// RuleOwnVerdicts names the refusal of a verdict the gate did not emit (its producer is not
// GateProducer), as the router trusts only its own decisions (streams/router
// RuleOwnDecisions): with or without a principals registry the Processor refuses it (the
// runner sends it to the DLQ, cause "forbidden") and the Graph ignores it, so no one but the
// gate can make a version certified, or rejected, in the lineage or the audit. The ledger
// refuses the same verdicts under the same rule name when it has a registry
// (streams/ledger RuleOwnVerdicts).
const RuleOwnVerdicts = "gate.own_verdicts"

// Verdict is one of the gate's verdicts on a dataset version: a DatasetVersionCertified or a
// DatasetVersionRejected, with every check it judged.
type Verdict struct {
	// Certified: a DatasetVersionCertified; otherwise a DatasetVersionRejected.
	Certified bool `json:"certified"`
	// Sequence is 1 for the gate's first verdict on the version, growing by one with each
	// superseding verdict; Supersedes names the verdict (event id) this one replaces.
	Sequence   int64  `json:"sequence"`
	Supersedes string `json:"supersedes,omitempty"`
	// ProjectID is the project whose targets judged the version; TargetsVersions are the
	// QualityTargetsSet versions in force at its commit.
	ProjectID       string   `json:"project_id"`
	TargetsVersions []string `json:"targets_versions"`
	Reason          string   `json:"reason"`
	// Checks are the targets judged, in the gate's order.
	Checks     []schemas.TargetCheck `json:"checks"`
	OccurredAt int64                 `json:"occurred_at_ms"`
	// RecordedAt is when the gate recorded the verdict: what a training run's registration is
	// compared with (RunGate).
	RecordedAt int64  `json:"recorded_at_ms"`
	EventID    string `json:"event_id"`
}

// Outcome is "certified" or "rejected".
func (v Verdict) Outcome() string {
	if v.Certified {
		return "certified"
	}
	return "rejected"
}

// Failing lists the checks that did not pass (fail or not_enough_data), in the verdict's order.
func (v Verdict) Failing() []schemas.TargetCheck {
	var out []schemas.TargetCheck
	for _, c := range v.Checks {
		if c.Status != schemas.CheckPass {
			out = append(out, c)
		}
	}
	return out
}

// Override is a project owner's GateOverrideGranted of a dataset version: training runs may
// use the version although the gate has not certified it. Every override is kept: the audit
// lists each with its reason and who granted it.
type Override struct {
	ProjectID  string `json:"project_id"`
	Reason     string `json:"reason"`
	Producer   string `json:"granted_by"`
	OccurredAt int64  `json:"occurred_at_ms"`
	RecordedAt int64  `json:"recorded_at_ms"`
	EventID    string `json:"event_id"`
}

// RunGate is what the gate had said about a dataset version when a training run that used it
// registered, as Assay knew it when it accepted the run: the verdict in force then (the
// highest sequence among the verdicts recorded at or before the run's registration) and
// whether an owner's override had been recorded by then. Unlike the rest of the model, which
// orders facts by occurred_at (the producers' clocks), this compares recorded_at, the time
// Assay's own components stamped: the gateway on the run, the gate on its verdict. It is the
// rule of the ledger's view kpi_training_runs_uncertified (migration 0040), so the audit and
// the KPI "training runs on uncertified data" count the same runs.
type RunGate struct {
	RunID string `json:"run_id"`
	// RegisteredAt is the earliest recorded_at of the run's registrations naming the version.
	RegisteredAt int64 `json:"registered_at_ms"`
	// Sequence is the verdict in force at the registration, 0 when the version had none yet.
	Sequence int64 `json:"verdict_sequence"`
	// Certified: that verdict certified the version.
	Certified bool `json:"certified"`
	// Overridden: an owner's override of the version had been recorded by the registration.
	Overridden bool `json:"overridden"`
}

// Gate is what the gate and the owners said about one dataset version: every verdict (its
// history, the last in force), every override, and for each training run that used the
// version whether it was certified at the run's registration. Graph.Gate builds it from the
// replayed log and ReadGate from the chain read model, through the same newGate.
type Gate struct {
	// Verdicts are ordered by sequence (then occurred_at, event id): the last one is in force.
	Verdicts []Verdict `json:"verdicts"`
	// Overrides are ordered by occurred_at, then event id.
	Overrides []Override `json:"overrides"`
	// Runs are the training runs that used the version, by run id.
	Runs []RunGate `json:"training_runs"`
}

// Latest returns the verdict in force, false when the gate has not judged the version.
func (g Gate) Latest() (Verdict, bool) {
	if len(g.Verdicts) == 0 {
		return Verdict{}, false
	}
	return g.Verdicts[len(g.Verdicts)-1], true
}

// Status is "certified" or "rejected" (the verdict in force), or "unjudged".
func (g Gate) Status() string {
	if v, ok := g.Latest(); ok {
		return v.Outcome()
	}
	return "unjudged"
}

// Overridden reports whether an owner of the version's project granted an override of it:
// an override counts only when it names the project of the verdict in force (as
// streams/gate's Clearance, which the gateway applies), so an owner of another project
// cannot clear the version by naming their own. Every override stays in Overrides, for the
// audit.
func (g Gate) Overridden() bool {
	v, ok := g.Latest()
	return ok && v.ProjectID != "" && slices.ContainsFunc(g.Overrides, func(o Override) bool { return o.ProjectID == v.ProjectID })
}

// verdictBefore orders verdicts by sequence, then occurred_at, then event id: two verdicts of
// one sequence are a gate bug or a forgery, and still sort the same in every fold order.
func verdictBefore(a, b Verdict) bool {
	if a.Sequence != b.Sequence {
		return a.Sequence < b.Sequence
	}
	return later(b.OccurredAt, b.EventID, a.OccurredAt, a.EventID)
}

// runAt is a training run that used a version, with its registration's recorded_at (RunGate).
type runAt struct {
	id string
	at int64
}

// newGate assembles a version's Gate from its verdicts, overrides and the runs that used it,
// in any order: the one assembly of a Gate, for both models.
func newGate(verdicts []Verdict, overrides []Override, runs []runAt) Gate {
	g := Gate{Verdicts: make([]Verdict, 0, len(verdicts)), Overrides: make([]Override, 0, len(overrides)), Runs: make([]RunGate, 0, len(runs))}
	for _, v := range verdicts {
		v.TargetsVersions = nonNil(v.TargetsVersions)
		if v.Checks == nil {
			v.Checks = []schemas.TargetCheck{}
		}
		g.Verdicts = append(g.Verdicts, v)
	}
	sort.Slice(g.Verdicts, func(i, j int) bool { return verdictBefore(g.Verdicts[i], g.Verdicts[j]) })
	g.Overrides = append(g.Overrides, overrides...)
	sort.Slice(g.Overrides, func(i, j int) bool {
		return later(g.Overrides[j].OccurredAt, g.Overrides[j].EventID, g.Overrides[i].OccurredAt, g.Overrides[i].EventID)
	})
	for _, r := range runs {
		rg := RunGate{RunID: r.id, RegisteredAt: r.at}
		project := ""
		for _, v := range g.Verdicts { // by sequence: the last one recorded by then is in force
			if v.RecordedAt <= r.at {
				rg.Sequence, rg.Certified, project = v.Sequence, v.Certified, v.ProjectID
			}
		}
		rg.Overridden = project != "" && slices.ContainsFunc(g.Overrides, func(o Override) bool {
			return o.RecordedAt <= r.at && o.ProjectID == project
		})
		g.Runs = append(g.Runs, rg)
	}
	sort.Slice(g.Runs, func(i, j int) bool { return g.Runs[i].RunID < g.Runs[j].RunID })
	return g
}

// verdictOf returns the verdict an event states, false for any other event.
func verdictOf(ev schemas.Event) (*schemas.GateVerdict, bool, bool) {
	switch e := ev.(type) {
	case *schemas.DatasetVersionCertified:
		return &e.GateVerdict, true, true
	case *schemas.DatasetVersionRejected:
		return &e.GateVerdict, false, true
	}
	return nil, false, false
}

// authorizeVerdict refuses a verdict whose producer is not the gate (RuleOwnVerdicts); any
// other event passes.
func authorizeVerdict(rec runtime.Record) error {
	if _, _, ok := verdictOf(rec.Event); !ok {
		return nil
	}
	if p := rec.Event.Meta().Producer; p != GateProducer {
		return &access.Violation{Rule: RuleOwnVerdicts, Field: "producer", Reason: fmt.Sprintf(
			"lineage trusts only the gate's verdicts (producer %s), not %q's", GateProducer, p)}
	}
	return nil
}

// Gate returns what the gate and the owners said about a version as the graph knows it (the
// version need not be committed in the graph: a verdict read before its commit still counts).
func (g *Graph) Gate(ref VersionRef) Gate {
	var verdicts []Verdict
	for _, v := range g.Verdicts[ref] {
		verdicts = append(verdicts, *v)
	}
	var overrides []Override
	for _, o := range g.Overrides[ref] {
		overrides = append(overrides, *o)
	}
	var runs []runAt
	for _, id := range g.RunsUsing(ref) {
		runs = append(runs, runAt{id: id, at: g.firstRegistered[id][ref]})
	}
	return newGate(verdicts, overrides, runs)
}
