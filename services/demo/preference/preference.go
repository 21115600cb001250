package preference

import (
	"fmt"
	"math/rand/v2"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/internal/sim"
)

// Scale is the question's strength scale: 1 slightly, 2 clearly, 3 much better.
const Scale int32 = 3

// marginShare is how often a pair's true margin is 1, 2 and 3: most pairs are close.
var marginShare = []float64{0.4, 0.35, 0.25}

// Cohort is a group of annotators with one skill.
type Cohort struct {
	// Name is the cohort id written on labels.
	Name string
	// Vendor is the labeling vendor; empty for in-house.
	Vendor string
	// Annotators is how many annotators the cohort has.
	Annotators int
	// Accuracy[m-1] is the probability of choosing the truly preferred response of a pair
	// whose margin is m.
	Accuracy [Scale]float64
}

// Bias is an annotator with a position bias.
type Bias struct {
	// Cohort and Member name the annotator: the Member-th of the cohort.
	Cohort string
	Member int
	// FirstShown is the probability that it picks the response it saw first outright;
	// otherwise it judges as its cohort does. Its share of first-shown choices is then
	// FirstShown + (1 - FirstShown) / 2.
	FirstShown float64
}

// Config parameterizes a program. DefaultConfig gives a realistic one.
type Config struct {
	// Run prefixes every id, so runs never collide.
	Run string
	// Seed drives every random choice: equal configs give equal events.
	Seed uint64
	// Project and Question name the project and its (single, preference) question.
	Project, Question string
	// Items is the number of pairs ingested.
	Items int
	// ItemEvery is the time between two pairs' ingests, in milliseconds.
	ItemEvery int64
	// Cohorts are the annotator pool.
	Cohorts []Cohort
	// Bias is the annotator with a position bias; its FirstShown 0 means none.
	Bias Bias
	// RatersPerItem distinct annotators, drawn uniformly from the pool, label each pair.
	RatersPerItem int
	// GoldShare of the pairs get their true preference as gold, before their labels.
	GoldShare float64
	// Domains are the prompts' slice tags (uniform).
	Domains []string
}

// DefaultConfig is a program with in-house experts and a crowd vendor that separates close
// pairs less well, one of whose raters favours the response shown first.
func DefaultConfig(run string, seed uint64) Config {
	return Config{
		Run: run, Seed: seed, Project: run + "-preference", Question: "better-response",
		Items: 200, ItemEvery: 60_000,
		Cohorts: []Cohort{
			{Name: "experts", Annotators: 3, Accuracy: [Scale]float64{0.72, 0.88, 0.97}},
			{Name: "crowd", Vendor: "acme", Annotators: 4, Accuracy: [Scale]float64{0.6, 0.74, 0.87}},
		},
		Bias:          Bias{Cohort: "crowd", Member: 1, FirstShown: 0.6},
		RatersPerItem: 3, GoldShare: 0.25,
		Domains: []string{"coding", "advice", "facts", "creative"},
	}
}

// Definition is the owner's definition of the program's question.
func (c Config) Definition() *schemas.QuestionDefined {
	scale := Scale
	return &schemas.QuestionDefined{ProjectID: c.Project, QuestionID: c.Question, Level: schemas.LevelPreference,
		StrengthScale: &scale,
		Description:   "which response is more helpful, honest and harmless; strength 1 slightly, 2 clearly, 3 much better"}
}

// Label is a generated label with its annotator.
type Label struct {
	LabelID, ItemID, Annotator, Cohort, Vendor string
	// Choice, ShownFirst and Strength are the label's (Preference).
	Choice, ShownFirst string
	Strength           int32
	// Biased: the annotator picked the first-shown response outright.
	Biased bool
}

// Pair is an item's ground truth.
type Pair struct {
	// Responses are the response ids in the item's order.
	Responses []string
	// Preferred is the truly better one; Margin by how much (1 to Scale).
	Preferred string
	Margin    int32
}

// Workload is a generated program and the ground truth behind it.
type Workload struct {
	Config Config
	// Question is the program's question, its first event.
	Question *schemas.QuestionDefined
	// Events in production order: the question, then per pair its ingest, its gold and its
	// labels.
	Events []schemas.Event
	// Labels are every label, in production order.
	Labels []Label
	// Truth is every pair's ground truth.
	Truth map[string]Pair
	// Gold are the pairs with a gold answer (their Truth, shown first in the item's order).
	Gold map[string]bool
	// Biased is the id of the annotator with the position bias ("" when none).
	Biased string
}

// The salts of the program's random sources (sim.Rand).
const (
	saltPairs  = 0x7072662d70616972 // "prf-pair"
	saltLabels = 0x7072662d6c61626c // "prf-labl"
)

// Generate builds the program of cfg.
func Generate(cfg Config) *Workload {
	pairs, judge := sim.Rand(cfg.Seed, saltPairs), sim.Rand(cfg.Seed, saltLabels)
	w := &Workload{Config: cfg, Question: cfg.Definition(), Truth: map[string]Pair{}, Gold: map[string]bool{}}
	s := &sim.Stream{Prefix: cfg.Run + "-pref", Producer: "demo/preference"}
	teams := make([]sim.Team, len(cfg.Cohorts))
	for i, c := range cfg.Cohorts {
		teams[i] = sim.Team{Name: c.Name, Vendor: c.Vendor, Annotators: c.Annotators}
	}
	pool := sim.Pool(cfg.Run+"-pref", teams)
	for _, a := range pool {
		if cfg.Bias.FirstShown > 0 && a.Cohort == cfg.Bias.Cohort && a.Member == cfg.Bias.Member {
			w.Biased = a.ID
		}
	}
	s.Emit(w.Question, -60_000)
	for i := range cfg.Items {
		item := fmt.Sprintf("%s-pref-pair-%d", cfg.Run, i)
		t := int64(i) * cfg.ItemEvery
		p := Pair{Responses: []string{item + "-a", item + "-b"}, Margin: int32(1 + sim.Weighted(pairs, marginShare))}
		p.Preferred = p.Responses[pairs.IntN(2)]
		w.Truth[item] = p
		ing := &schemas.ItemIngested{ItemID: item, Source: "chat-sampler-" + cfg.Run, URI: "s3://assay-demo/preference/" + item + ".json",
			SHA256: sim.SHA256(item), Modality: "text", ProjectID: cfg.Project}
		if len(cfg.Domains) > 0 {
			ing.SliceTags = []string{cfg.Domains[pairs.IntN(len(cfg.Domains))]}
		}
		s.Emit(ing, t)
		if pairs.Float64() < cfg.GoldShare {
			w.Gold[item] = true
			v := schemas.Choice(p.Preferred, p.Responses[0], p.Responses...)
			v.Preference.Strength = ptr(p.Margin)
			s.Emit(&schemas.GoldLabelSet{ItemID: item, QuestionID: cfg.Question, Value: v, SetBy: cfg.Run + "-pref-lead"}, t+1000)
		}
		at := t + sim.Delay(judge, 25)
		for j, a := range sim.Raters(judge, pool, cfg.RatersPerItem) {
			l := choose(judge, cfg.Cohorts[a.Team], a.ID == w.Biased, cfg.Bias.FirstShown, p)
			l.LabelID, l.ItemID, l.Annotator, l.Cohort, l.Vendor = fmt.Sprintf("%s-pref-label-%d-%d", cfg.Run, i, j), item, a.ID, a.Cohort, a.Vendor
			v := schemas.Choice(l.Choice, l.ShownFirst, p.Responses...)
			v.Preference.Strength = ptr(l.Strength)
			s.Emit(&schemas.LabelSubmitted{LabelID: l.LabelID, ItemID: item, ProjectID: cfg.Project, TaskID: cfg.Run + "-pref-task",
				QuestionID: cfg.Question, AnnotatorID: a.ID, Cohort: a.Cohort, Vendor: a.Vendor, GuidelineVersion: "hhh-v1",
				Value: v, TimeSpentMS: 30_000 + int64(judge.IntN(90_000))}, at)
			w.Labels = append(w.Labels, l)
			at += 1000 + int64(judge.IntN(60_000))
		}
	}
	w.Events = s.Events
	return w
}

func ptr[T any](v T) *T { return &v }

// choose draws one annotator's judgment of pair p: the display order, then the choice (the
// first shown outright when biased and the bias strikes, otherwise right with the cohort's
// accuracy at the pair's margin), then the strength: near the margin when right, low when
// wrong.
func choose(rnd *rand.Rand, c Cohort, biased bool, firstShown float64, p Pair) Label {
	l := Label{ShownFirst: p.Responses[rnd.IntN(2)]}
	other := func(r string) string {
		if r == p.Responses[0] {
			return p.Responses[1]
		}
		return p.Responses[0]
	}
	switch {
	case biased && rnd.Float64() < firstShown:
		l.Choice, l.Biased = l.ShownFirst, true
	case rnd.Float64() < c.Accuracy[p.Margin-1]:
		l.Choice = p.Preferred
	default:
		l.Choice = other(p.Preferred)
	}
	if l.Choice == p.Preferred {
		l.Strength = min(max(p.Margin+int32(sim.Weighted(rnd, []float64{0.2, 0.6, 0.2}))-1, 1), Scale)
	} else {
		l.Strength = 1 + int32(sim.Weighted(rnd, []float64{0.75, 0.25}))
	}
	return l
}
