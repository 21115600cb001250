package annotation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
)

// Cohort is a group of annotators with one accuracy.
type Cohort struct {
	// Name is the cohort id written on labels.
	Name string
	// Vendor is the labeling vendor; empty for in-house.
	Vendor string
	// Annotators is how many annotators the cohort has.
	Annotators int
	// Accuracy is the probability that an annotator of the cohort answers
	// the true class; otherwise the answer is uniform over the other classes.
	Accuracy float64
}

// Config parameterizes a workload. DefaultConfig gives a realistic one.
type Config struct {
	// Run prefixes every id, so runs never collide.
	Run string
	// Seed drives every random choice: equal configs give equal events.
	Seed uint64
	// Project and Question name the (single, nominal) question labeled.
	Project, Question string
	// Items is the number of items ingested.
	Items int
	// Classes are the answer categories; the true class is uniform over them.
	Classes []string
	// Cohorts are the annotator pool.
	Cohorts []Cohort
	// RatersPerItem distinct annotators label each item (uniformly drawn
	// from the whole pool).
	RatersPerItem int
	// GoldShare of the items get a gold answer (the true class).
	GoldShare float64
	// GoldCorrectionShare of the gold items first get a wrong gold answer
	// before their labels, corrected to the true class after them.
	GoldCorrectionShare float64
	// RetractShare of the labels are retracted right away and answered
	// again (a fresh draw) by the same annotator under a new label id.
	RetractShare float64
	// ReviewShare of the final labels are reviewed: accepted when correct,
	// rejected otherwise.
	ReviewShare float64
	// Slices are the slice tags (uniform); EdgeCases the edge-case tags, each
	// item carrying one with probability EdgeCaseShare.
	Slices        []string
	EdgeCases     []string
	EdgeCaseShare float64
	// DatasetVersions dataset versions are committed over the accepted labels.
	DatasetVersions int
	// PreLabelers are the model versions proposing a pre-label (PreLabelProposed) for each
	// item, half a second after its ingest: the items are split into len(PreLabelers)
	// consecutive runs of equal length and the i-th version pre-labels the i-th run (a newer
	// version replaces the older one mid-program). Empty: no pre-labels. Pre-labels are drawn
	// from a random stream of their own and carry ids of their own, so adding or removing them
	// changes no other event of the workload.
	PreLabelers []PreLabeler
}

// PreLabeler is a model version proposing pre-labels. Its answer is the true class with
// probability Accuracy, otherwise uniform over the other classes. Its confidence is
// calibrated the way a usable classifier's is: a right answer gets a confidence in
// [0.80, 1), mostly above 0.9 (three in four), a wrong one a confidence in [0.45, 0.95),
// mostly below 0.9 (about nine in ten). So under the router's default rules (threshold 0.9)
// most right answers are auto-accepted and most wrong ones go to humans.
type PreLabeler struct {
	Model, Version string
	Accuracy       float64
}

// DefaultConfig is a mid-sized workload with two cohorts of clearly
// different quality (0.9 and 0.7).
func DefaultConfig(run string, seed uint64) Config {
	return Config{
		Run: run, Seed: seed, Project: run + "-proj", Question: "species",
		Items:   1500,
		Classes: []string{"cat", "dog", "bird", "fish"},
		Cohorts: []Cohort{
			{Name: "experts", Annotators: 6, Accuracy: 0.9},
			{Name: "crowd", Vendor: "acme", Annotators: 6, Accuracy: 0.7},
		},
		RatersPerItem: 3, GoldShare: 0.3, GoldCorrectionShare: 0.2,
		RetractShare: 0.05, ReviewShare: 0.5,
		Slices: []string{"day", "night", "indoor"}, EdgeCases: []string{"blurry", "occluded"}, EdgeCaseShare: 0.1,
		DatasetVersions: 3,
		PreLabelers: []PreLabeler{
			{Model: "species-clf", Version: "2026.1", Accuracy: 0.85},
			{Model: "species-clf", Version: "2026.2", Accuracy: 0.92},
		},
	}
}

// Label is a label of the final state (not retracted), with its ground truth.
type Label struct {
	LabelID, ItemID, Annotator, Cohort, Vendor string
	Answer, Truth                              string
	Gold                                       bool // the item has a gold answer
}

// PreLabel is a generated model pre-label, with its ground truth.
type PreLabel struct {
	ItemID, Model, Version string
	Answer, Truth          string
	Confidence             float64
}

// Workload is a generated stream and the ground truth behind it.
type Workload struct {
	Config Config
	// Events in production order: per item, ingest, pre-label, labels, retractions and
	// re-answers, gold, reviews; dataset events at the end.
	Events []schemas.Event
	// Labels are the labels that count at the end (retracted ones left out).
	Labels []Label
	// PreLabels are the model pre-labels, one per item when Config.PreLabelers is set.
	PreLabels []PreLabel
	// Truth is every item's true class.
	Truth map[string]string
}

const (
	baseMillis = 1_767_225_600_000 // 2026-01-01T00:00:00Z
	producer   = "loadtest/annotation"
)

type annotator struct {
	id     string
	cohort Cohort
}

// Generate builds the workload of cfg.
func Generate(cfg Config) *Workload {
	g := &gen{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d)), w: &Workload{Config: cfg, Truth: map[string]string{}},
		pre: rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, cfg.Seed+0x2545f4914f6cdd1d))}
	var pool []annotator
	for _, c := range cfg.Cohorts {
		for i := range c.Annotators {
			pool = append(pool, annotator{id: fmt.Sprintf("%s-%s-%d", cfg.Run, c.Name, i), cohort: c})
		}
	}
	var accepted []schemas.Member
	versionEvery := max(1, cfg.Items/max(1, cfg.DatasetVersions))
	dataset := cfg.Run + "-ds"
	g.emit(&schemas.CoverageTargetSet{DatasetID: dataset, SliceTargets: g.sliceTargets(), EdgeCaseMinimums: g.edgeMinimums()}, 0)
	version := 0
	for i := range cfg.Items {
		item := fmt.Sprintf("%s-item-%d", cfg.Run, i)
		t := int64(i) * 60_000 // one item a minute
		truth := cfg.Classes[g.rnd.IntN(len(cfg.Classes))]
		g.w.Truth[item] = truth
		sum := sha256.Sum256([]byte(item))
		ing := &schemas.ItemIngested{
			ItemID: item, Source: "camera-" + cfg.Run, URI: "s3://assay-load/" + item, SHA256: hex.EncodeToString(sum[:]),
			Modality: "image", SliceTags: []string{cfg.Slices[g.rnd.IntN(len(cfg.Slices))]}, DatasetID: dataset, ProjectID: cfg.Project,
		}
		if len(cfg.EdgeCases) > 0 && g.rnd.Float64() < cfg.EdgeCaseShare {
			ing.EdgeCaseTags = []string{cfg.EdgeCases[g.rnd.IntN(len(cfg.EdgeCases))]}
		}
		g.emit(ing, t)
		if n := len(cfg.PreLabelers); n > 0 {
			g.preLabel(item, truth, cfg.PreLabelers[min(i*n/max(cfg.Items, 1), n-1)], t+500)
		}
		isGold := g.rnd.Float64() < cfg.GoldShare
		corrected := isGold && g.rnd.Float64() < cfg.GoldCorrectionShare
		switch {
		case corrected:
			g.emit(g.gold(item, g.other(truth)), t+1000)
		case isGold:
			g.emit(g.gold(item, truth), t+1000)
		}
		// Labels arrive minutes to hours after ingest: a skewed delay makes
		// cycle-time quantiles meaningful.
		at := t + 60_000 + int64(g.rnd.ExpFloat64()*30*60_000)
		perm := g.rnd.Perm(len(pool))[:min(cfg.RatersPerItem, len(pool))]
		var final []Label
		for j, pi := range perm {
			a := pool[pi]
			id := fmt.Sprintf("%s-label-%d-%d", cfg.Run, i, j)
			l := g.label(item, id, a, truth, isGold, at)
			at += 1000
			if g.rnd.Float64() < cfg.RetractShare {
				g.emit(&schemas.LabelRetracted{LabelID: id, ItemID: item, Reason: "annotator revised"}, at)
				at += 1000
				l = g.label(item, id+"-r", a, truth, isGold, at)
				at += 1000
			}
			final = append(final, l)
		}
		if corrected {
			g.emit(g.gold(item, truth), at)
			at += 1000
		}
		at += int64(g.rnd.ExpFloat64() * 60 * 60_000)
		for j, l := range final {
			if g.rnd.Float64() >= cfg.ReviewShare {
				continue
			}
			v := schemas.VerdictAccept
			if l.Answer != l.Truth {
				v = schemas.VerdictReject
			} else {
				accepted = append(accepted, schemas.Member{ItemID: item, LabelID: l.LabelID})
			}
			g.emit(&schemas.ReviewCompleted{ReviewID: fmt.Sprintf("%s-review-%d-%d", cfg.Run, i, j), LabelID: l.LabelID, ItemID: item, ReviewerID: cfg.Run + "-reviewer", Verdict: v}, at)
			at += 1000
		}
		g.w.Labels = append(g.w.Labels, final...)
		if (i+1)%versionEvery == 0 && version < cfg.DatasetVersions && len(accepted) > 0 {
			parent := ""
			if version > 0 {
				parent = fmt.Sprintf("v%d", version)
			}
			version++
			members := append([]schemas.Member(nil), accepted...)
			g.emit(&schemas.DatasetVersionCommitted{DatasetID: dataset, Version: fmt.Sprintf("v%d", version), ParentVersion: parent, Members: members, ManifestDigest: schemas.ManifestDigest(members)}, at)
		}
	}
	return g.w
}

type gen struct {
	cfg Config
	rnd *rand.Rand
	w   *Workload
	n   int
	// pre and npre are the random stream and the id counter of the pre-labels, apart from
	// the rest, so the other events are the same with or without pre-labels.
	pre  *rand.Rand
	npre int
}

// emit stamps ev deterministically (ids from the run and a counter, times
// from the base instant) and appends it.
func (g *gen) emit(ev schemas.Event, offsetMillis int64) {
	g.n++
	g.append(ev, fmt.Sprintf("%s-ev-%d", g.cfg.Run, g.n), offsetMillis)
}

// append stamps ev with id, its time from the base instant and its key as correlation id,
// and appends it.
func (g *gen) append(ev schemas.Event, id string, offsetMillis int64) {
	m := ev.Meta()
	m.EventID = id
	m.OccurredAt = baseMillis + offsetMillis
	m.Trace.CorrelationID = ev.Key()
	schemas.Stamp(ev, producer, time.UnixMilli(m.OccurredAt+100))
	g.w.Events = append(g.w.Events, ev)
}

// preLabel draws model m's pre-label of item and emits it under an id of its own.
func (g *gen) preLabel(item, truth string, m PreLabeler, at int64) {
	answer, conf := truth, 0.80+0.1999*math.Sqrt(g.pre.Float64())
	if g.pre.Float64() >= m.Accuracy {
		answer = g.cfg.Classes[g.pre.IntN(len(g.cfg.Classes))]
		for answer == truth {
			answer = g.cfg.Classes[g.pre.IntN(len(g.cfg.Classes))]
		}
		conf = 0.45 + 0.5*g.pre.Float64()
	}
	conf = math.Floor(conf*1000) / 1000 // three decimals, below 1
	g.npre++
	ev := &schemas.PreLabelProposed{ItemID: item, QuestionID: g.cfg.Question, Model: m.Model, ModelVersion: m.Version,
		Value: schemas.Nominal(answer), Confidence: conf}
	g.append(ev, fmt.Sprintf("%s-prelabel-%d", g.cfg.Run, g.npre), at)
	g.w.PreLabels = append(g.w.PreLabels, PreLabel{ItemID: item, Model: m.Model, Version: m.Version, Answer: answer, Truth: truth, Confidence: conf})
}

func (g *gen) gold(item, class string) *schemas.GoldLabelSet {
	return &schemas.GoldLabelSet{ItemID: item, QuestionID: g.cfg.Question, Value: schemas.Nominal(class), SetBy: g.cfg.Run + "-lead"}
}

// other is a uniformly random class other than c.
func (g *gen) other(c string) string {
	for {
		if o := g.cfg.Classes[g.rnd.IntN(len(g.cfg.Classes))]; o != c {
			return o
		}
	}
}

// label draws annotator a's answer and emits it.
func (g *gen) label(item, id string, a annotator, truth string, isGold bool, at int64) Label {
	answer := truth
	if g.rnd.Float64() >= a.cohort.Accuracy {
		answer = g.other(truth)
	}
	g.emit(&schemas.LabelSubmitted{
		LabelID: id, ItemID: item, ProjectID: g.cfg.Project, TaskID: g.cfg.Run + "-task", QuestionID: g.cfg.Question,
		AnnotatorID: a.id, Cohort: a.cohort.Name, Vendor: a.cohort.Vendor, GuidelineVersion: "v1",
		Value: schemas.Nominal(answer), TimeSpentMS: 5000 + int64(g.rnd.IntN(20_000)),
	}, at)
	return Label{LabelID: id, ItemID: item, Annotator: a.id, Cohort: a.cohort.Name, Vendor: a.cohort.Vendor, Answer: answer, Truth: truth, Gold: isGold}
}

func (g *gen) sliceTargets() []schemas.SliceTarget {
	out := make([]schemas.SliceTarget, len(g.cfg.Slices))
	share := 1 / float64(len(g.cfg.Slices))
	for i, s := range g.cfg.Slices {
		out[i] = schemas.SliceTarget{Slice: s, TargetShare: &share}
	}
	return out
}

func (g *gen) edgeMinimums() []schemas.EdgeCaseMinimum {
	out := make([]schemas.EdgeCaseMinimum, len(g.cfg.EdgeCases))
	for i, t := range g.cfg.EdgeCases {
		out[i] = schemas.EdgeCaseMinimum{Tag: t, MinCount: 10}
	}
	return out
}

// pairAgreement is the probability that two annotators with accuracies p and
// q give the same answer to an item: both right, or both wrong the same way
// (each wrong answer is uniform over the K−1 other classes).
func pairAgreement(p, q float64, k int) float64 {
	return p*q + (1-p)*(1-q)/float64(k-1)
}

// expectedAlpha is nominal alpha of the model for raters drawn uniformly
// without replacement from pool: the pairs within an item are uniform over
// distinct annotator pairs, and with a uniform true class and symmetric
// errors the answer marginal is uniform, so D_e = (K−1)/K and
// alpha = 1 − (1 − P(agree)) / D_e.
func expectedAlpha(pool []float64, k int) float64 {
	var sum float64
	var n int
	for i, p := range pool {
		for j, q := range pool {
			if i != j {
				sum += pairAgreement(p, q, k)
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	de := float64(k-1) / float64(k)
	return 1 - (1-sum/float64(n))/de
}

// ExpectedAlpha is the model's nominal alpha over all labels (scope "all").
func (c Config) ExpectedAlpha() float64 {
	var pool []float64
	for _, co := range c.Cohorts {
		for range co.Annotators {
			pool = append(pool, co.Accuracy)
		}
	}
	return expectedAlpha(pool, len(c.Classes))
}

// ExpectedCohortAlpha is the model's within-cohort alpha: every pair inside
// the cohort agrees with probability a² + (1−a)²/(K−1).
func (c Config) ExpectedCohortAlpha(cohort string) float64 {
	for _, co := range c.Cohorts {
		if co.Name == cohort {
			return expectedAlpha([]float64{co.Accuracy, co.Accuracy}, len(c.Classes))
		}
	}
	return 0
}

// ExpectedPairKappa is the model's Cohen's kappa between two annotators of
// a cohort: with uniform answer marginals chance agreement is 1/K, so
// kappa = (P(agree) − 1/K) / (1 − 1/K).
func (c Config) ExpectedPairKappa(cohort string) float64 {
	k := float64(len(c.Classes))
	for _, co := range c.Cohorts {
		if co.Name == cohort {
			pa := pairAgreement(co.Accuracy, co.Accuracy, len(c.Classes))
			return (pa - 1/k) / (1 - 1/k)
		}
	}
	return 0
}

// ExpectedAccuracy is the model's accuracy of a cohort, or of everyone
// (cohort "") as the mean accuracy of the pool, since raters are uniform
// over annotators.
func (c Config) ExpectedAccuracy(cohort string) float64 {
	var sum float64
	n := 0
	for _, co := range c.Cohorts {
		if cohort == "" || co.Name == cohort {
			sum += co.Accuracy * float64(co.Annotators)
			n += co.Annotators
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// ExactCoincidences are the coincidences of the final labels of a cohort
// (or of all labels, cohort ""), computed in one batch: what the pipeline's
// merged cells must equal.
func (w *Workload) ExactCoincidences(cohort string) *agreement.Coincidences {
	units := map[string][]agreement.Value{}
	for _, l := range w.Labels {
		if cohort == "" || l.Cohort == cohort {
			units[l.ItemID] = append(units[l.ItemID], agreement.Category(l.Answer))
		}
	}
	co := agreement.NewCoincidences()
	for _, vs := range units {
		co.AddUnit(vs)
	}
	return co
}

// ExactAccuracy counts the final labels on gold items of a cohort (or all,
// cohort "") and those equal to the truth (= the final gold answer).
func (w *Workload) ExactAccuracy(cohort string) (correct, total int64) {
	for _, l := range w.Labels {
		if l.Gold && (cohort == "" || l.Cohort == cohort) {
			total++
			if l.Answer == l.Truth {
				correct++
			}
		}
	}
	return correct, total
}
