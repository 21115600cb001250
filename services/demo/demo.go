package demo

import (
	"fmt"
	"slices"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
)

// Program is one played annotation program.
type Program struct {
	// Events in production order.
	Events []schemas.Event
	// Workload is the annotation workload inside, with its ground truth.
	Workload *annotation.Workload
	// Project and Dataset name the program's project and dataset.
	Project, Dataset string
	// Findings are the finding ids, the first remediated, the second left open.
	Findings []string
}

// Cohorts are the demo's annotator cohorts: in-house experts, an in-house team and a crowd
// vendor, so the cohort table of the dashboard shows three clearly different qualities.
func Cohorts() []annotation.Cohort {
	return []annotation.Cohort{
		{Name: "experts", Annotators: 4, Accuracy: 0.93},
		{Name: "inhouse", Annotators: 5, Accuracy: 0.82},
		{Name: "crowd", Vendor: "acme", Annotators: 6, Accuracy: 0.62},
	}
}

// producer stamps the built events; the gateway replaces it with the principal that sends
// each one (Principals). Never "assay-...": that prefix is Assay's own components'.
const producer = "demo"

// Build returns the program of run (the id prefix; distinct runs never share ids) in
// project, with items items, deterministic for seed.
func Build(run, project string, seed uint64, items int) *Program {
	cfg := annotation.DefaultConfig(run, seed)
	cfg.Project = project
	cfg.Items = max(items, 3)
	cfg.Cohorts = Cohorts()
	w := annotation.Generate(cfg)
	p := &Program{Workload: w, Project: project, Dataset: run + "-ds"}
	n := 0
	add := func(ev schemas.Event, at int64) {
		n++
		m := ev.Meta()
		m.EventID = fmt.Sprintf("%s-demo-ev-%d", run, n)
		m.OccurredAt = at
		m.Trace.CorrelationID = ev.Key()
		schemas.Stamp(ev, producer, time.UnixMilli(at+100))
		p.Events = append(p.Events, ev)
	}
	// The owner states the quality targets before any work starts (in force for every version
	// of the program): agreement at least 0.4 (this pilot's crowd pulls it down; README), final
	// labels at least 70% right on gold, every member fully traced, no open high or critical
	// finding, no gold item in training data. v1 contains the gold items its accepted labels
	// came with, so the gate rejects it; the pilot training run on it needs the owner's
	// recorded override. Later versions leave the gold items out and are certified.
	gold := map[string]bool{}
	for _, ev := range w.Events {
		if g, ok := ev.(*schemas.GoldLabelSet); ok {
			gold[g.ItemID] = true
		}
	}
	if len(w.Events) > 0 {
		first, _ := Span(w.Events)
		t := Targets(project)
		add(t, first-60_000)
		t.EffectiveAt = t.OccurredAt
	}
	runID := run + "-train-1"
	found := [2]string{run + "-finding-night", run + "-finding-blurry"}
	p.Findings = found[:]
	versions := 0
	var lastAt, startedAt int64
	for _, ev := range w.Events {
		p.Events = append(p.Events, ev)
		lastAt = ev.Meta().OccurredAt
		dv, ok := ev.(*schemas.DatasetVersionCommitted)
		if !ok {
			continue
		}
		versions++
		if versions > 1 {
			dv.Members = slices.DeleteFunc(dv.Members, func(m schemas.Member) bool { return gold[m.ItemID] })
			dv.ManifestDigest = schemas.ManifestDigest(dv.Members)
		}
		switch versions {
		case 1:
			add(&schemas.GateOverrideGranted{DatasetID: dv.DatasetID, Version: dv.Version, ProjectID: project,
				Reason: "pilot run on v1 before its gold items were split out; signed off by the data owner"}, lastAt+30_000)
			// The model is trained on v1 and evaluated; the eval finds trouble on the night
			// slice, among items the crowd labeled, and a fix is started at once.
			add(&schemas.TrainingRunRegistered{RunID: runID, Model: "detector", DatasetID: dv.DatasetID,
				DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: dv.DatasetID, Version: dv.Version}}}, lastAt+60_000)
			add(&schemas.EvalFindingReported{FindingID: found[0], EvalRun: run + "-eval-1", Model: "detector", TrainingRunID: runID,
				Slice: "night", ImplicatedItemIDs: implicated(w, "crowd", 5), Severity: schemas.SeverityHigh, ProjectID: project}, lastAt+2*3600_000)
			startedAt = lastAt + 3*3600_000
			add(&schemas.RemediationStarted{FindingID: found[0], Owner: "data-ops", Plan: "relabel crowd night items with experts"}, startedAt)
		case 2:
			// The fix ships in v2 (never before the work on it started, however fast the
			// items came); a second, lower-severity finding stays open.
			shipAt := max(lastAt+600_000, startedAt+3600_000)
			add(&schemas.RemediationShipped{FindingID: found[0], DatasetID: dv.DatasetID, FixingVersion: dv.Version}, shipAt)
			lastAt = shipAt
			add(&schemas.EvalFindingReported{FindingID: found[1], EvalRun: run + "-eval-2", Model: "detector", TrainingRunID: runID,
				Slice: "day", ImplicatedItemIDs: implicated(w, "inhouse", 3), Severity: schemas.SeverityMedium, ProjectID: project}, lastAt+1800_000)
		}
	}
	return p
}

// TargetsVersion names the demo's quality targets. Every program restates the same targets
// under this one version (as an owner's tooling would on every sync), in force from the
// program's start, so a later program's restatement changes no verdict of an earlier one.
const TargetsVersion = "demo-t1"

// Targets are the quality targets the demo's owner sets for project, in force from when the
// event occurred.
func Targets(project string) *schemas.QualityTargetsSet {
	return &schemas.QualityTargetsSet{ProjectID: project, TargetsVersion: TargetsVersion,
		Agreement:              &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: 0.4, MinPairableValues: 100},
		Accuracy:               &schemas.AccuracyTarget{MinAccuracy: 0.7, Denominator: schemas.DenominatorFinalAfterReview, MinGoldLabels: 20},
		MinLineageCompleteness: ptr(0.99),
		MaxOpenFindings:        []schemas.FindingLimit{{Severity: schemas.SeverityCritical, Max: 0}, {Severity: schemas.SeverityHigh, Max: 0}},
		MaxLabelDrift:          ptr(0.3)}
}

func ptr[T any](v T) *T { return &v }

// implicated lists up to n items with a wrong label from cohort.
func implicated(w *annotation.Workload, cohort string, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range w.Labels {
		if l.Cohort == cohort && l.Answer != l.Truth && !seen[l.ItemID] {
			seen[l.ItemID] = true
			out = append(out, l.ItemID)
			if len(out) == n {
				break
			}
		}
	}
	if len(out) == 0 && len(w.Labels) > 0 {
		out = append(out, w.Labels[0].ItemID)
	}
	return out
}

// Span returns the first and last occurred_at of evs (epoch ms).
func Span(evs []schemas.Event) (first, last int64) {
	for i, ev := range evs {
		at := ev.Meta().OccurredAt
		if i == 0 || at < first {
			first = at
		}
		if at > last {
			last = at
		}
	}
	return first, last
}

// Shift moves every occurred_at of evs so that the latest is end, keeping intervals, and
// clears recorded_at (the gateway stamps it on arrival).
func Shift(evs []schemas.Event, end time.Time) {
	_, last := Span(evs)
	d := end.UnixMilli() - last
	for _, ev := range evs {
		m := ev.Meta()
		m.OccurredAt += d
		m.RecordedAt = 0
		if t, ok := ev.(*schemas.QualityTargetsSet); ok {
			t.EffectiveAt += d // in force from when it occurred, wherever that moves
		}
	}
}
