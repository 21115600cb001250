package readside

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
)

// Program is the shape of the synthetic annotation program Generate plays. Everything is
// derived from Labels, in the proportions of issue 17's measurement (3M items, 9M labels, 3M
// reviews, 3M dataset members): about three labels, one review and one dataset member an
// item.
type Program struct {
	// Labels is the number of LabelSubmitted events to generate (about; the program stops
	// after the item that reaches it).
	Labels int
	// Seed drives every random choice: equal programs give equal events.
	Seed uint64
}

// The fixed shape of the program: how many projects, datasets, annotators; the shares of
// the optional events. They are constants so that a loaded database is identified by its
// Program alone (Fingerprint).
const (
	projects          = 8
	datasetsPerProj   = 2
	cohorts           = 8
	annotatorsCohort  = 30
	cohortsPerProject = 3
	ratersPerItem     = 3
	retractShare      = 0.02
	goldShare         = 0.05
	prelabelShare     = 0.3
	edgeCaseShare     = 0.1
	// versionsPerDataset dataset versions are committed per dataset over the program, each
	// holding the items reviewed since the one before (one member an item).
	versionsPerDataset = 20
	// itemsPerFinding: one evaluation finding per that many items (at least one a project).
	itemsPerFinding = 20_000
	// span is how much time the program covers; items arrive evenly over it.
	span = 360 * 24 * time.Hour
)

// base is when the program starts: 2025-12-06T00:00:00Z.
var base = time.Date(2025, 12, 6, 0, 0, 0, 0, time.UTC)

// Items is the number of items the program ingests.
func (p Program) Items() int {
	return max(int(float64(p.Labels)/(ratersPerItem*(1+retractShare))), projects*datasetsPerProj)
}

// Fingerprint names the program's events: a loaded database with the same fingerprint
// holds the same rows.
func (p Program) Fingerprint() string {
	return fmt.Sprintf("readside-v1 labels=%d seed=%d", p.Labels, p.Seed)
}

var (
	classes   = []string{"car", "truck", "bus", "bicycle", "pedestrian"}
	qualities = []string{"unusable", "poor", "fair", "good", "excellent"}
	sliceTags = []string{"day", "night", "rain", "urban", "highway"}
	edgeTags  = []string{"occluded", "blurry", "glare"}
	vendors   = []string{"", "", "acme", "acme", "globex", "globex", "initech", "initech"}
	accuracy  = []float64{0.95, 0.9, 0.85, 0.8, 0.9, 0.75, 0.85, 0.7}
)

// Project names the i-th project of the program.
func Project(i int) string { return fmt.Sprintf("rs-proj-%d", i) }

// Dataset names the j-th dataset of project i.
func Dataset(i, j int) string { return fmt.Sprintf("rs-ds-%d-%d", i, j) }

// Version names the n-th version (from 1) of a dataset.
func Version(n int) string { return fmt.Sprintf("v%d", n) }

// Cohort names the c-th cohort.
func Cohort(c int) string { return fmt.Sprintf("rs-cohort-%d", c) }

// Vendor is the vendor of the c-th cohort ("" in house).
func Vendor(c int) string { return vendors[c] }

func annotatorID(c, i int) string { return fmt.Sprintf("rs-annotator-%d-%02d", c, i) }

// labeler is the principal id that writes a cohort's labels (and retracts them).
func labeler(c int) string {
	if v := vendors[c]; v != "" {
		return "rs-labeler-" + v
	}
	return "rs-labeler-inhouse"
}

// projectCohorts are the cohorts labeling project p.
func projectCohorts(p int) [cohortsPerProject]int {
	return [cohortsPerProject]int{p % cohorts, (p + 1) % cohorts, (p + 3) % cohorts}
}

// gen is the state of one generation.
type gen struct {
	p     Program
	rnd   *rand.Rand
	emit  func(schemas.Event)
	n     uint64 // events emitted, for event ids
	items int
	// per dataset: members reviewed since the latest version, versions committed, the
	// item count at which the next version is due.
	pending  [projects * datasetsPerProj][]schemas.Member
	versions [projects * datasetsPerProj]int
	findings int
	runs     int
}

// uuid makes a deterministic UUID-shaped id from a kind and a counter, so ids have the
// length and spread of the gateway's.
func uuid(kind byte, n uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], n)
	b[8] = kind
	h := sha256.Sum256(b[:9])
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-7" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

// Generate calls emit with every event of the program, in the order a live program would
// produce them (each event stamped: id, times, producer).
func Generate(p Program, emit func(schemas.Event)) {
	g := &gen{p: p, rnd: rand.New(rand.NewPCG(p.Seed, p.Seed^0x5851f42d4c957f2d)), emit: emit}
	g.items = p.Items()
	g.setup()
	step := span / time.Duration(g.items)
	for i := range g.items {
		g.item(i, base.Add(time.Duration(i)*step))
	}
	end := base.Add(span)
	for d := range g.pending {
		if len(g.pending[d]) > 0 {
			g.commit(d, end)
		}
	}
	g.closeFindings(end)
}

// send stamps ev and emits it.
func (g *gen) send(ev schemas.Event, at time.Time, producer string) {
	g.n++
	m := ev.Meta()
	m.EventID = uuid('e', g.n)
	m.OccurredAt = at.UnixMilli()
	m.Trace.CorrelationID = ev.Key()
	schemas.Stamp(ev, producer, at.Add(150*time.Millisecond))
	g.emit(ev)
}

func (g *gen) setup() {
	for p := range projects {
		proj := Project(p)
		for q, level := range []schemas.MeasurementLevel{schemas.LevelNominal, schemas.LevelOrdinal} {
			labels := classes
			if level == schemas.LevelOrdinal {
				labels = qualities
			}
			g.send(&schemas.QuestionDefined{ProjectID: proj, QuestionID: question(q), Level: level, Labels: labels}, base, "rs-owner")
		}
		g.send(&schemas.GuidelineReleased{ProjectID: proj, GuidelineVersion: "g1", URI: "https://wiki.example.com/" + proj + "/g1",
			SHA256: hex.EncodeToString(make([]byte, 32))}, base, "rs-owner")
		minAlpha, minAcc, minLineage := 0.6, 0.8, 0.9
		g.send(&schemas.QualityTargetsSet{ProjectID: proj, TargetsVersion: "t1", EffectiveAt: base.UnixMilli(),
			Agreement:              &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: minAlpha, MinPairableValues: 100},
			Accuracy:               &schemas.AccuracyTarget{MinAccuracy: minAcc, Denominator: schemas.DenominatorAllSubmitted, MinGoldLabels: 50},
			MinLineageCompleteness: &minLineage,
			MaxOpenFindings:        []schemas.FindingLimit{{Severity: schemas.SeverityCritical, Max: 0}}}, base, "rs-owner")
		for d := range datasetsPerProj {
			share := 0.15
			minCount := int64(g.items / (projects * datasetsPerProj * 20))
			g.send(&schemas.CoverageTargetSet{DatasetID: Dataset(p, d),
				SliceTargets:     []schemas.SliceTarget{{Slice: "night", TargetShare: &share}, {Slice: "rain", MinCount: &minCount}, {Slice: "urban", TargetShare: &share, MinCount: &minCount}},
				EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "occluded", MinCount: minCount / 4}, {Tag: "glare", MinCount: minCount / 4}}},
				base, "rs-owner")
		}
	}
}

func question(q int) string { return []string{"q-class", "q-quality"}[q] }

// value is an annotator's answer: the truth with the cohort's accuracy, another answer
// otherwise.
func (g *gen) value(q, truth, cohort int) (schemas.LabelValue, int) {
	v := truth
	if g.rnd.Float64() >= accuracy[cohort] {
		v = (truth + 1 + g.rnd.IntN(len(classes)-1)) % len(classes)
	}
	return labelValue(q, v), v
}

func labelValue(q, v int) schemas.LabelValue {
	if q == 0 {
		return schemas.LabelValue{Level: schemas.LevelNominal, Category: classes[v]}
	}
	r := int32(v)
	return schemas.LabelValue{Level: schemas.LevelOrdinal, Category: qualities[v], Rank: &r}
}

// item plays one item's life: ingest, maybe a pre-label and gold, three labels (some
// retracted and answered again), a review of the first label; a dataset version when its
// dataset has enough reviewed items, a finding now and then.
func (g *gen) item(i int, at time.Time) {
	p := i % projects
	d := p*datasetsPerProj + (i/projects)%datasetsPerProj
	q := (i / (projects * datasetsPerProj)) % 2
	proj, ds := Project(p), Dataset(p, d%datasetsPerProj)
	item := "rs-item-" + uuid('i', uint64(i))[:23]
	sum := sha256.Sum256([]byte(item))
	ing := &schemas.ItemIngested{ItemID: item, Source: "fleet-camera-" + proj, URI: "s3://rs-fleet/" + item + ".jpg",
		SHA256: hex.EncodeToString(sum[:]), Modality: "image", SliceTags: []string{sliceTags[g.rnd.IntN(len(sliceTags))]},
		DatasetID: ds, ProjectID: proj}
	if g.rnd.Float64() < edgeCaseShare {
		ing.EdgeCaseTags = []string{edgeTags[g.rnd.IntN(len(edgeTags))]}
	}
	g.send(ing, at, "rs-collector")
	truth := g.rnd.IntN(len(classes))
	if g.rnd.Float64() < prelabelShare {
		guess := truth
		conf := 0.8 + 0.2*g.rnd.Float64()
		if g.rnd.Float64() < 0.15 {
			guess, conf = (truth+1)%len(classes), 0.45+0.5*g.rnd.Float64()
		}
		g.send(&schemas.PreLabelProposed{ItemID: item, QuestionID: question(q), Model: "rs-detector", ModelVersion: "2026.1",
			Value: labelValue(q, guess), Confidence: conf}, at.Add(500*time.Millisecond), "rs-model")
	}
	if g.rnd.Float64() < goldShare {
		g.send(&schemas.GoldLabelSet{ItemID: item, QuestionID: question(q), Value: labelValue(q, truth), SetBy: "rs-qa"}, at.Add(time.Second), "rs-qa")
	}
	t := at.Add(time.Minute + time.Duration(g.rnd.ExpFloat64()*float64(30*time.Minute)))
	pc := projectCohorts(p)
	used := map[int]bool{}
	var first struct {
		id     string
		answer int
	}
	for j := range ratersPerItem {
		var c, a int
		for {
			c, a = pc[g.rnd.IntN(len(pc))], g.rnd.IntN(annotatorsCohort)
			if !used[c*annotatorsCohort+a] {
				used[c*annotatorsCohort+a] = true
				break
			}
		}
		id := uuid('l', uint64(i)*8+uint64(j))
		label := func(id string) int {
			v, ans := g.value(q, truth, c)
			g.send(&schemas.LabelSubmitted{LabelID: id, ItemID: item, ProjectID: proj, TaskID: "task-" + ds, QuestionID: question(q),
				AnnotatorID: annotatorID(c, a), Cohort: Cohort(c), Vendor: Vendor(c), GuidelineVersion: "g1", Value: v,
				TimeSpentMS: 5000 + int64(g.rnd.IntN(60_000))}, t, labeler(c))
			t = t.Add(time.Second)
			return ans
		}
		ans := label(id)
		if g.rnd.Float64() < retractShare {
			g.send(&schemas.LabelRetracted{LabelID: id, ItemID: item, Reason: "annotator revised"}, t, labeler(c))
			t = t.Add(time.Second)
			id = uuid('l', uint64(i)*8+4+uint64(j))
			ans = label(id)
		}
		if j == 0 {
			first.id, first.answer = id, ans
		}
	}
	t = t.Add(time.Duration(g.rnd.ExpFloat64() * float64(time.Hour)))
	verdict := schemas.VerdictAccept
	if first.answer != truth {
		verdict = schemas.VerdictReject
	}
	g.send(&schemas.ReviewCompleted{ReviewID: uuid('r', uint64(i)), LabelID: first.id, ItemID: item, ReviewerID: fmt.Sprintf("rs-reviewer-%d", p),
		Verdict: verdict}, t, "rs-qa")
	g.pending[d] = append(g.pending[d], schemas.Member{ItemID: item, LabelID: first.id})
	perVersion := max(g.items/(projects*datasetsPerProj*versionsPerDataset), 1)
	if len(g.pending[d]) >= perVersion {
		g.commit(d, t.Add(time.Minute))
	}
	if i > 0 && i%itemsPerFinding == 0 {
		g.finding(p, item, t)
	}
}

// commit commits dataset d's pending members as its next version, then plays what follows
// a commit: the gate's verdict (certified three times in four), an owner's override of
// some rejected versions, and a training run on every fourth version.
func (g *gen) commit(d int, at time.Time) {
	p, j := d/datasetsPerProj, d%datasetsPerProj
	ds, proj := Dataset(p, j), Project(p)
	g.versions[d]++
	n := g.versions[d]
	parent := ""
	if n > 1 {
		parent = Version(n - 1)
	}
	members := g.pending[d]
	g.pending[d] = nil
	g.send(&schemas.DatasetVersionCommitted{DatasetID: ds, Version: Version(n), ParentVersion: parent, Members: members,
		ManifestDigest: schemas.ManifestDigest(members)}, at, "rs-pipeline")
	alpha, low, high := 0.72, 0.69, 0.75
	checks := []schemas.TargetCheck{
		{Target: "min_alpha", Scope: "q-class", Threshold: 0.6, Figure: &alpha, Low: &low, High: &high, Evidence: 900, Status: schemas.CheckPass, Detail: "nominal alpha"},
		{Target: "min_lineage_completeness", Threshold: 0.9, Figure: &alpha, Evidence: int64(len(members)), Status: schemas.CheckPass},
	}
	verdict := schemas.GateVerdict{DatasetID: ds, Version: Version(n), ProjectID: proj, TargetsVersions: []string{"t1"}, Sequence: 1, Checks: checks,
		Reason: "meets all 2 targets of t1"}
	certified := g.rnd.IntN(4) != 0
	if certified {
		g.send(&schemas.DatasetVersionCertified{GateVerdict: verdict}, at.Add(5*time.Second), lineage.GateProducer)
	} else {
		verdict.Checks[1].Status = schemas.CheckFail
		verdict.Reason = "min_lineage_completeness: below 0.9"
		g.send(&schemas.DatasetVersionRejected{GateVerdict: verdict}, at.Add(5*time.Second), lineage.GateProducer)
		if g.rnd.IntN(3) == 0 {
			g.send(&schemas.GateOverrideGranted{DatasetID: ds, Version: Version(n), ProjectID: proj, Reason: "pilot run"}, at.Add(time.Minute), "rs-owner")
		}
	}
	if n%4 == 0 {
		g.runs++
		refs := []schemas.DatasetVersionRef{{DatasetID: ds, Version: Version(n)}, {DatasetID: ds, Version: Version(n - 1)}}
		g.send(&schemas.TrainingRunRegistered{RunID: fmt.Sprintf("rs-run-%d", g.runs), Model: "rs-detector", DatasetID: ds, DatasetVersions: refs},
			at.Add(2*time.Minute), "rs-trainer")
	}
}

// finding reports an evaluation finding in project p; most are remediated later
// (closeFindings), a few stay open.
func (g *gen) finding(p int, item string, at time.Time) {
	g.findings++
	sev := []schemas.Severity{schemas.SeverityLow, schemas.SeverityMedium, schemas.SeverityHigh, schemas.SeverityCritical}[g.findings%4]
	id := fmt.Sprintf("rs-finding-%d", g.findings)
	g.send(&schemas.EvalFindingReported{FindingID: id, EvalRun: "rs-eval", Model: "rs-detector", Slice: "night",
		ImplicatedItemIDs: []string{item}, Severity: sev, ProjectID: Project(p)}, at, "rs-evaluator")
	if g.findings%5 == 0 {
		return // stays open
	}
	g.send(&schemas.RemediationStarted{FindingID: id, Owner: "rs-owner", Plan: "relabel night slice"}, at.Add(time.Hour), "rs-owner")
	d := p * datasetsPerProj
	g.send(&schemas.RemediationShipped{FindingID: id, DatasetID: Dataset(p, 0), FixingVersion: Version(g.versions[d] + 1)},
		at.Add(time.Duration(24+g.rnd.IntN(24*14))*time.Hour), "rs-owner")
}

// closeFindings rejects a few events at the end (the DLQ's rows).
func (g *gen) closeFindings(at time.Time) {
	for i := range max(g.items/10_000, 3) {
		part, off := int32(i%6), int64(i)
		g.send(&schemas.EventRejected{Source: "gateway", Original: []byte(`{"event_type":"LabelSubmitted"}`), Reason: "value: not a category of the question",
			Field: "value", OriginalProducer: "rs-labeler-acme", OriginalTopic: "assay.labels.v1", OriginalPartition: &part, OriginalOffset: &off}, at, "assay-ingest")
	}
}
