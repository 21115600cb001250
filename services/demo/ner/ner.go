package ner

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/internal/sim"
)

// Labels are the question's entity types (CoNLL-2003's), in the order QuestionDefined states
// them.
var Labels = []string{"PER", "ORG", "LOC", "MISC"}

// labelShare is how often each of Labels is an entity's true type (about CoNLL-2003's
// training shares).
var labelShare = []float64{0.29, 0.27, 0.29, 0.15}

// lengths are the shortest and longest entity of each of Labels, in characters ("UN" is an
// ORG, "Deutsche Bank AG" too).
var lengths = [][2]int{{6, 24}, {2, 28}, {4, 18}, {5, 20}}

// Confusions are, for each entity type, the types annotators mark it as when they get it
// wrong, with their weights: organisations named after places (LOC), nationalities and
// events (MISC) taken for organisations, and persons least often confused.
var Confusions = map[string]map[string]float64{
	"PER":  {"ORG": 0.45, "LOC": 0.25, "MISC": 0.3},
	"ORG":  {"LOC": 0.5, "MISC": 0.3, "PER": 0.2},
	"LOC":  {"ORG": 0.6, "MISC": 0.25, "PER": 0.15},
	"MISC": {"ORG": 0.45, "LOC": 0.35, "PER": 0.2},
}

// MaxShift is the most characters a jittered boundary moves.
const MaxShift = 3

// minGap is the least plain text between two entities: room for both neighbours' boundaries
// to move by MaxShift without their spans touching.
const minGap = 2*MaxShift + 1

// Cohort is a group of annotators with one noise profile.
type Cohort struct {
	// Name is the cohort id written on labels.
	Name string
	// Vendor is the labeling vendor; empty for in-house.
	Vendor string
	// Annotators is how many annotators the cohort has.
	Annotators int
	// Miss is the probability of leaving a true entity unmarked.
	Miss float64
	// Jitter is the probability that each boundary of a marked entity is off, by 1 to
	// MaxShift characters either way.
	Jitter float64
	// Confuse is the probability of marking an entity with a wrong type (drawn from
	// Confusions).
	Confuse float64
	// Spurious is the probability of marking, in a text, a span where there is no entity;
	// having marked one, of marking a second.
	Spurious float64
}

// Config parameterizes a program. DefaultConfig gives a realistic one.
type Config struct {
	// Run prefixes every id, so runs never collide.
	Run string
	// Seed drives every random choice: equal configs give equal events.
	Seed uint64
	// Project and Question name the project and its (single, spans) question.
	Project, Question string
	// Items is the number of texts ingested.
	Items int
	// ItemEvery is the time between two texts' ingests, in milliseconds.
	ItemEvery int64
	// Cohorts are the annotator pool.
	Cohorts []Cohort
	// RatersPerItem distinct annotators, drawn uniformly from the pool, label each text.
	RatersPerItem int
	// GoldShare of the texts get their true entities as gold, before their labels.
	GoldShare float64
	// Genres are the texts' slice tags (uniform).
	Genres []string
	// MaxEntities is the most entities a text has (uniform from 0).
	MaxEntities int
}

// DefaultConfig is a program with two vendors of clearly different quality: a specialist
// vendor's linguists, and a crowd vendor that misses more entities, places boundaries less
// carefully, confuses types more and marks more spurious spans.
func DefaultConfig(run string, seed uint64) Config {
	return Config{
		Run: run, Seed: seed, Project: run + "-ner", Question: "entities",
		Items: 200, ItemEvery: 60_000,
		Cohorts: []Cohort{
			{Name: "linguists", Vendor: "lexica", Annotators: 2, Miss: 0.04, Jitter: 0.08, Confuse: 0.03, Spurious: 0.05},
			{Name: "crowd", Vendor: "acme", Annotators: 2, Miss: 0.12, Jitter: 0.25, Confuse: 0.1, Spurious: 0.2},
		},
		// Every annotator labels every text, as in an NER pilot measured for unitizing alpha:
		// it is defined over the items every annotator in scope labeled (DKPro's rule).
		RatersPerItem: 4, GoldShare: 0.25,
		Genres:      []string{"news", "forum", "finance"},
		MaxEntities: 6,
	}
}

// Definition is the owner's definition of the program's question.
func (c Config) Definition() *schemas.QuestionDefined {
	iou := schemas.DefaultIoUThreshold
	return &schemas.QuestionDefined{ProjectID: c.Project, QuestionID: c.Question, Level: schemas.LevelSpans,
		Labels: slices.Clone(Labels), IoUThreshold: &iou,
		Description: "mark every named entity, CoNLL-2003 style: persons (PER), organisations (ORG), locations (LOC), other names (MISC)"}
}

// Label is a generated label with its annotator.
type Label struct {
	LabelID, ItemID, Annotator, Cohort, Vendor string
	// Spans are the label's spans, sorted by start, none overlapping.
	Spans []schemas.Span
}

// Workload is a generated program and the ground truth behind it.
type Workload struct {
	Config Config
	// Question is the program's question, its first event.
	Question *schemas.QuestionDefined
	// Events in production order: the question, then per text its ingest, its gold and its
	// labels.
	Events []schemas.Event
	// Labels are every label, in production order.
	Labels []Label
	// Truth is every text's entities, sorted by start; Length its length in characters.
	Truth  map[string][]schemas.Span
	Length map[string]int64
	// Gold are the texts with a gold answer (their Truth).
	Gold map[string]bool
}

// The salts of the program's random sources (sim.Rand).
const (
	saltTexts  = 0x6e65722d74657874 // "ner-text"
	saltLabels = 0x6e65722d6c61626c // "ner-labl"
)

// Generate builds the program of cfg.
func Generate(cfg Config) *Workload {
	texts, marks := sim.Rand(cfg.Seed, saltTexts), sim.Rand(cfg.Seed, saltLabels)
	w := &Workload{Config: cfg, Question: cfg.Definition(), Truth: map[string][]schemas.Span{}, Length: map[string]int64{}, Gold: map[string]bool{}}
	s := &sim.Stream{Prefix: cfg.Run + "-ner", Producer: "demo/ner"}
	teams := make([]sim.Team, len(cfg.Cohorts))
	for i, c := range cfg.Cohorts {
		teams[i] = sim.Team{Name: c.Name, Vendor: c.Vendor, Annotators: c.Annotators}
	}
	// The pool is the project's, the same in every program the demo plays, so that the items
	// every annotator labeled keep growing (unitizing alpha's scope) instead of each program
	// bringing annotators of its own.
	pool := sim.Pool(cfg.Project, teams)
	s.Emit(w.Question, -60_000)
	for i := range cfg.Items {
		item := fmt.Sprintf("%s-ner-doc-%d", cfg.Run, i)
		t := int64(i) * cfg.ItemEvery
		length, truth := text(texts, cfg.MaxEntities)
		w.Truth[item], w.Length[item] = truth, length
		ing := &schemas.ItemIngested{ItemID: item, Source: "newsroom-" + cfg.Run, URI: "s3://assay-demo/ner/" + item + ".txt",
			SHA256: sim.SHA256(item), Modality: "text", ProjectID: cfg.Project,
			Extent: &schemas.Extent{Unit: schemas.UnitCharacters, Length: &length}}
		if len(cfg.Genres) > 0 {
			ing.SliceTags = []string{cfg.Genres[texts.IntN(len(cfg.Genres))]}
		}
		s.Emit(ing, t)
		if texts.Float64() < cfg.GoldShare {
			w.Gold[item] = true
			s.Emit(&schemas.GoldLabelSet{ItemID: item, QuestionID: cfg.Question,
				Value: schemas.Spans(schemas.UnitCharacters, length, slices.Clone(truth)...), SetBy: cfg.Run + "-ner-lead"}, t+1000)
		}
		at := t + sim.Delay(marks, 20)
		for j, a := range sim.Raters(marks, pool, cfg.RatersPerItem) {
			spans := mark(marks, cfg.Cohorts[a.Team], truth, length)
			id := fmt.Sprintf("%s-ner-label-%d-%d", cfg.Run, i, j)
			s.Emit(&schemas.LabelSubmitted{LabelID: id, ItemID: item, ProjectID: cfg.Project, TaskID: cfg.Run + "-ner-task",
				QuestionID: cfg.Question, AnnotatorID: a.ID, Cohort: a.Cohort, Vendor: a.Vendor, GuidelineVersion: "conll-v1",
				Value:       schemas.Spans(schemas.UnitCharacters, length, spans...),
				TimeSpentMS: 15_000 + int64(length)*80 + int64(marks.IntN(20_000))}, at)
			w.Labels = append(w.Labels, Label{LabelID: id, ItemID: item, Annotator: a.ID, Cohort: a.Cohort, Vendor: a.Vendor, Spans: spans})
			at += 1000 + int64(marks.IntN(60_000))
		}
	}
	w.Events = s.Events
	return w
}

// text draws a text: its length and its entities, runs of plain text at least minGap long
// between them and around them.
func text(rnd *rand.Rand, maxEntities int) (int64, []schemas.Span) {
	n := rnd.IntN(maxEntities + 1)
	spans := []schemas.Span{}
	pos := int64(0)
	for range n {
		k := sim.Weighted(rnd, labelShare)
		start := pos + minGap + int64(rnd.IntN(45))
		end := start + int64(lengths[k][0]+rnd.IntN(lengths[k][1]-lengths[k][0]+1))
		spans = append(spans, schemas.Span{Label: Labels[k], Start: start, End: end})
		pos = end
	}
	return pos + minGap + int64(rnd.IntN(60)), spans
}

// mark draws a cohort's annotator's spans on a text of length with entities truth: each
// entity missed, or marked with its boundaries jittered and its type perhaps confused, and
// perhaps a spurious span in the plain text; sorted by start, never overlapping.
func mark(rnd *rand.Rand, c Cohort, truth []schemas.Span, length int64) []schemas.Span {
	out := []schemas.Span{}
	for _, e := range truth {
		if rnd.Float64() < c.Miss {
			continue
		}
		s := e
		if rnd.Float64() < c.Jitter {
			s.Start += shift(rnd)
		}
		if rnd.Float64() < c.Jitter {
			s.End += shift(rnd)
		}
		if rnd.Float64() < c.Confuse {
			s.Label = confuse(rnd, e.Label)
		}
		out = append(out, s)
	}
	for k := 0; k < 2 && rnd.Float64() < c.Spurious; k++ {
		if s, ok := spurious(rnd, truth, length); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b schemas.Span) int { return int(a.Start - b.Start) })
	// Clamp into the text and off the previous span: a jittered boundary never crosses
	// minGap of plain text, but a spurious span may sit beside an entity.
	kept := out[:0]
	prev := int64(0)
	for _, s := range out {
		s.Start = max(s.Start, prev, 0)
		s.End = min(s.End, length)
		if s.End <= s.Start {
			continue
		}
		kept = append(kept, s)
		prev = s.End
	}
	return kept
}

// shift is a boundary's error: 1 to MaxShift characters, either way.
func shift(rnd *rand.Rand) int64 {
	d := int64(1 + rnd.IntN(MaxShift))
	if rnd.IntN(2) == 0 {
		return -d
	}
	return d
}

// confuse draws the wrong type an annotator gives an entity of type l.
func confuse(rnd *rand.Rand, l string) string {
	var to []string
	var ws []float64
	for _, o := range Labels {
		if wt, ok := Confusions[l][o]; ok {
			to, ws = append(to, o), append(ws, wt)
		}
	}
	return to[sim.Weighted(rnd, ws)]
}

// spurious draws a span of 3 to 9 characters inside the plain text between entities, or
// false when the chosen stretch of plain text is too short.
func spurious(rnd *rand.Rand, truth []schemas.Span, length int64) (schemas.Span, bool) {
	g := rnd.IntN(len(truth) + 1)
	from, to := int64(0), length
	if g > 0 {
		from = truth[g-1].End + 1
	}
	if g < len(truth) {
		to = truth[g].Start - 1
	}
	n := int64(3 + rnd.IntN(7))
	if to-from < n {
		return schemas.Span{}, false
	}
	start := from + rnd.Int64N(to-from-n+1)
	return schemas.Span{Label: Labels[sim.Weighted(rnd, labelShare)], Start: start, End: start + n}, true
}
