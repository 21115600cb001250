package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/schemas"
)

// Children per parent event in PerType, so row counts of the child tables
// are known: dataset_members = MembersPerVersion × versions, and so on.
const (
	MembersPerVersion   = 3
	VersionsPerRun      = 2
	ItemsPerFinding     = 2
	SlicesPerTarget     = 2
	TypesPerRound       = 14 // every event type of the contract, once per round
	workloadProducer    = "loadtest"
	workloadBaseMillis  = 1_767_225_600_000 // 2026-01-01T00:00:00Z
	workloadStepsMillis = 1000
)

// Generator builds events; ids embed the run id, so runs never collide.
type Generator struct {
	run string
	rnd *rand.Rand
	n   int
}

// New returns a generator whose ids are prefixed with run and whose random
// choices follow seed.
func New(run string, seed uint64) *Generator {
	return &Generator{run: run, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *Generator) stamp(ev schemas.Event) schemas.Event {
	g.n++
	m := ev.Meta()
	m.EventID = fmt.Sprintf("%s-ev-%d", g.run, g.n)
	m.OccurredAt = workloadBaseMillis + int64(g.n)*workloadStepsMillis
	m.Trace.CorrelationID = fmt.Sprintf("%s-corr-%d", g.run, g.n/TypesPerRound)
	schemas.Stamp(ev, workloadProducer, time.UnixMilli(m.OccurredAt+250))
	return ev
}

// Round returns one event of every type (TypesPerRound events) about one
// item, label, dataset and finding, numbered i.
func (g *Generator) Round(i int) []schemas.Event {
	item := fmt.Sprintf("%s-item-%d", g.run, i)
	label := fmt.Sprintf("%s-label-%d", g.run, i)
	dataset := fmt.Sprintf("%s-ds-%d", g.run, i%7)
	finding := fmt.Sprintf("%s-finding-%d", g.run, i)
	version := fmt.Sprintf("v%d", i)
	sum := sha256.Sum256([]byte(item))
	share := 0.25
	minCount := int64(10)
	cats := []string{"cat", "dog", "bird"}
	members := make([]schemas.Member, MembersPerVersion)
	for m := range members {
		members[m] = schemas.Member{ItemID: fmt.Sprintf("%s-m%d", item, m), LabelID: fmt.Sprintf("%s-m%d", label, m)}
	}
	dvs := make([]schemas.DatasetVersionRef, VersionsPerRun)
	for v := range dvs {
		// The first is the version this round commits, so lineage joins find it.
		dvs[v] = schemas.DatasetVersionRef{DatasetID: dataset, Version: fmt.Sprintf("v%d.%d", i, v)}
	}
	dvs[0].Version = version
	targets := make([]schemas.SliceTarget, SlicesPerTarget)
	for s := range targets {
		targets[s] = schemas.SliceTarget{Slice: fmt.Sprintf("slice-%d", s), TargetShare: &share}
	}
	targets[0].MinCount = &minCount
	implicated := make([]string, ItemsPerFinding)
	for k := range implicated {
		implicated[k] = fmt.Sprintf("%s-imp-%d", item, k)
	}
	rank := int32(g.rnd.IntN(5))
	evs := []schemas.Event{
		&schemas.ItemIngested{ItemID: item, Source: "crawler", URI: "s3://bucket/" + item, SHA256: hex.EncodeToString(sum[:]),
			Modality: "image", SliceTags: []string{"slice-0"}, EdgeCaseTags: []string{"night"}, DatasetID: dataset, ProjectID: "proj"},
		&schemas.PreLabelProposed{ItemID: item, QuestionID: "q1", Model: "m", ModelVersion: "1", Value: schemas.Nominal(cats[g.rnd.IntN(3)]), Confidence: g.rnd.Float64()},
		&schemas.RoutingDecided{ItemID: item, QuestionID: "q1", Route: schemas.RouteHumanLabel, Rule: "low-confidence",
			Inputs: []schemas.RoutingInput{{Name: "confidence", Value: 0.4}}},
		&schemas.LabelSubmitted{LabelID: label, ItemID: item, ProjectID: "proj", TaskID: "task", QuestionID: "q1",
			AnnotatorID: fmt.Sprintf("ann-%d", g.rnd.IntN(5)), Cohort: "c1", GuidelineVersion: "g1",
			Value: schemas.Ordinal("grade", rank), TimeSpentMS: int64(g.rnd.IntN(60000)), PreLabel: &schemas.PreLabelRef{Model: "m", ModelVersion: "1"}},
		&schemas.LabelRetracted{LabelID: label + "-old", ItemID: item, Reason: "mistake"},
		&schemas.GoldLabelSet{ItemID: item, QuestionID: "q1", Value: schemas.MultiLabel("cat", "dog"), SetBy: "expert"},
		&schemas.ReviewCompleted{ReviewID: fmt.Sprintf("%s-review-%d", g.run, i), LabelID: label, ItemID: item, ReviewerID: "rev",
			Verdict: schemas.VerdictCorrect, CorrectedValue: &schemas.LabelValue{Level: schemas.LevelInterval, Number: &share}},
		&schemas.CoverageTargetSet{DatasetID: dataset, SliceTargets: targets, EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "night", MinCount: 5}}},
		&schemas.DatasetVersionCommitted{DatasetID: dataset, Version: version, Members: members, ManifestDigest: schemas.ManifestDigest(members)},
		&schemas.TrainingRunRegistered{RunID: fmt.Sprintf("%s-run-%d", g.run, i), Model: "m2", DatasetID: dataset, DatasetVersions: dvs},
		&schemas.EvalFindingReported{FindingID: finding, EvalRun: "eval", Model: "m2", Slice: "slice-0", ImplicatedItemIDs: implicated,
			Severity: schemas.SeverityHigh, ProjectID: "proj"},
		&schemas.RemediationStarted{FindingID: finding, Owner: "ops", Plan: "relabel"},
		&schemas.RemediationShipped{FindingID: finding, DatasetID: dataset, FixingVersion: version},
		&schemas.EventRejected{Source: "ingest", Original: []byte("{bad json"), Reason: "syntax error"},
	}
	for _, ev := range evs {
		g.stamp(ev)
	}
	return evs
}

// Rounds returns n rounds: n events of every type.
func (g *Generator) Rounds(n int) []schemas.Event {
	out := make([]schemas.Event, 0, n*TypesPerRound)
	for i := range n {
		out = append(out, g.Round(i)...)
	}
	return out
}

// Records encodes events as Kafka records for the namespace of k.
func Records(k config.Kafka, evs []schemas.Event) ([]*kgo.Record, error) {
	out := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", ev.Type(), ev.Meta().EventID, err)
		}
		out[i] = &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val}
	}
	return out, nil
}

// Produce encodes and produces events, waiting until all are acknowledged.
func Produce(ctx context.Context, cl *kgo.Client, k config.Kafka, evs []schemas.Event) error {
	recs, err := Records(k, evs)
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d events: %w", len(recs), err)
	}
	return nil
}

// ExpectedRows returns how many rows (after FINAL) each ledger table holds
// once rounds rounds of one generator were processed.
func ExpectedRows(rounds int) map[string]int {
	return map[string]int{
		"events": rounds * TypesPerRound, "items": rounds, "prelabels": rounds, "routing": rounds,
		"labels": rounds, "label_retractions": rounds, "gold_labels": rounds, "reviews": rounds,
		"coverage_targets": rounds, "dataset_versions": rounds, "dataset_members": rounds * MembersPerVersion,
		"training_runs": rounds, "training_run_datasets": rounds * VersionsPerRun, "findings": rounds,
		"finding_items": rounds * ItemsPerFinding, "remediations": 2 * rounds, "dlq": rounds,
	}
}
