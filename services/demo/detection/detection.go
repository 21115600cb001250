package detection

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/internal/sim"
)

// Labels are the question's object classes, in the order QuestionDefined states them.
var Labels = []string{"car", "pedestrian", "cyclist"}

// classShare is how often each of Labels is an object's class on a city dashcam.
var classShare = []float64{0.55, 0.3, 0.15}

// confusions are, for each class, the classes it is taken for, with their weights.
var confusions = map[string]map[string]float64{
	"car":        {"pedestrian": 0.3, "cyclist": 0.7},
	"pedestrian": {"cyclist": 0.85, "car": 0.15},
	"cyclist":    {"pedestrian": 0.85, "car": 0.15},
}

// Frame is an image size in whole pixels.
type Frame struct{ Width, Height float64 }

// smallSide is the geometric-mean side, in pixels of a 1920-wide frame, below which an object
// is small (COCO calls objects under 32 x 32 small; a dashcam's are larger).
const smallSide = 48.0

// Cohort is a group of annotators with one noise profile.
type Cohort struct {
	// Name is the cohort id written on labels.
	Name string
	// Vendor is the labeling vendor; empty for in-house.
	Vendor string
	// Annotators is how many annotators the cohort has.
	Annotators int
	// Miss is the probability of leaving an object unboxed; SmallMiss is added for small ones.
	Miss, SmallMiss float64
	// Jitter is the standard deviation of each edge's error, as a share of the object's
	// width (left, right) or height (top, bottom).
	Jitter float64
	// Confuse is the probability of giving a pedestrian or a cyclist a wrong class (a car:
	// a quarter of it).
	Confuse float64
	// Spurious is the probability of drawing, in an image, a box where there is no object.
	Spurious float64
}

// Detector is the model whose pre-labels the program proposes.
type Detector struct {
	// Model and Version name it on PreLabelProposed.
	Model, Version string
	// Recall is the probability of finding an object; small objects lose a quarter of it.
	Recall float64
	// Jitter is as Cohort.Jitter, for its boxes.
	Jitter float64
	// Confuse is the probability of a found pedestrian or cyclist getting the other class,
	// with a middling score.
	Confuse float64
	// FalsePositives is the probability of a low-scoring box where there is no object; having
	// drawn one, of drawing a second.
	FalsePositives float64
}

// Config parameterizes a program. DefaultConfig gives a realistic one.
type Config struct {
	// Run prefixes every id, so runs never collide.
	Run string
	// Seed drives every random choice: equal configs give equal events.
	Seed uint64
	// Project and Question name the project and its (single, boxes) question.
	Project, Question string
	// Items is the number of images ingested.
	Items int
	// ItemEvery is the time between two images' ingests, in milliseconds.
	ItemEvery int64
	// Frames are the image sizes, drawn with weights FrameShare.
	Frames     []Frame
	FrameShare []float64
	// MaxObjects is the most objects an image has (uniform from 0).
	MaxObjects int
	// Cohorts are the annotator pool.
	Cohorts []Cohort
	// RatersPerItem distinct annotators, drawn uniformly from the pool, label each image.
	RatersPerItem int
	// GoldShare of the images get their true boxes as gold, before their labels.
	GoldShare float64
	// Detector pre-labels every image half a second after its ingest.
	Detector Detector
	// Slices are the images' slice tags (uniform).
	Slices []string
}

// DefaultConfig is a program with in-house experts and a crowd vendor that misses more
// (small) objects, draws looser boxes and confuses classes more, and a detector with a
// realistic recall and a few false positives.
func DefaultConfig(run string, seed uint64) Config {
	return Config{
		Run: run, Seed: seed, Project: run + "-detection", Question: "objects",
		Items: 200, ItemEvery: 60_000,
		Frames:     []Frame{{1920, 1080}, {1280, 720}},
		FrameShare: []float64{0.7, 0.3},
		MaxObjects: 6,
		Cohorts: []Cohort{
			{Name: "experts", Annotators: 4, Miss: 0.03, SmallMiss: 0.08, Jitter: 0.025, Confuse: 0.04, Spurious: 0.03},
			{Name: "crowd", Vendor: "acme", Annotators: 6, Miss: 0.1, SmallMiss: 0.25, Jitter: 0.07, Confuse: 0.15, Spurious: 0.15},
		},
		RatersPerItem: 3, GoldShare: 0.25,
		Detector: Detector{Model: "road-detector", Version: "2026.3", Recall: 0.9, Jitter: 0.04, Confuse: 0.1, FalsePositives: 0.25},
		Slices:   []string{"day", "night", "rain"},
	}
}

// Definition is the owner's definition of the program's question.
func (c Config) Definition() *schemas.QuestionDefined {
	iou := schemas.DefaultIoUThreshold
	return &schemas.QuestionDefined{ProjectID: c.Project, QuestionID: c.Question, Level: schemas.LevelBoxes,
		Labels: slices.Clone(Labels), IoUThreshold: &iou,
		Description: "box every car, pedestrian and cyclist, tight to its visible extent; a rider and bicycle are one cyclist"}
}

// Label is a generated label with its annotator.
type Label struct {
	LabelID, ItemID, Annotator, Cohort, Vendor string
	Boxes                                      []schemas.Box
}

// PreLabel is a generated pre-label.
type PreLabel struct {
	ItemID string
	// Boxes carry their scores.
	Boxes []schemas.Box
	// Confidence is the lowest score (PreLabelProposed.Confidence).
	Confidence float64
}

// Workload is a generated program and the ground truth behind it.
type Workload struct {
	Config Config
	// Question is the program's question, its first event.
	Question *schemas.QuestionDefined
	// Events in production order: the question, then per image its ingest, its pre-label, its
	// gold and its labels.
	Events []schemas.Event
	// Labels and PreLabels are every label and pre-label, in production order.
	Labels    []Label
	PreLabels []PreLabel
	// Truth is every image's objects; Frames its size.
	Truth  map[string][]schemas.Box
	Frames map[string]Frame
	// Gold are the images with a gold answer (their Truth).
	Gold map[string]bool
}

// The salts of the program's random sources (sim.Rand).
const (
	saltImages = 0x6465742d696d6167 // "det-imag"
	saltLabels = 0x6465742d6c61626c // "det-labl"
	saltModel  = 0x6465742d6d6f646c // "det-modl"
)

// Generate builds the program of cfg.
func Generate(cfg Config) *Workload {
	images, draws, model := sim.Rand(cfg.Seed, saltImages), sim.Rand(cfg.Seed, saltLabels), sim.Rand(cfg.Seed, saltModel)
	w := &Workload{Config: cfg, Question: cfg.Definition(), Truth: map[string][]schemas.Box{}, Frames: map[string]Frame{}, Gold: map[string]bool{}}
	s := &sim.Stream{Prefix: cfg.Run + "-det", Producer: "demo/detection"}
	teams := make([]sim.Team, len(cfg.Cohorts))
	for i, c := range cfg.Cohorts {
		teams[i] = sim.Team{Name: c.Name, Vendor: c.Vendor, Annotators: c.Annotators}
	}
	pool := sim.Pool(cfg.Run+"-det", teams)
	s.Emit(w.Question, -60_000)
	for i := range cfg.Items {
		item := fmt.Sprintf("%s-det-img-%d", cfg.Run, i)
		t := int64(i) * cfg.ItemEvery
		f := cfg.Frames[sim.Weighted(images, cfg.FrameShare)]
		truth := scene(images, f, cfg.MaxObjects)
		w.Truth[item], w.Frames[item] = truth, f
		ing := &schemas.ItemIngested{ItemID: item, Source: "dashcam-" + cfg.Run, URI: "s3://assay-demo/detection/" + item + ".jpg",
			SHA256: sim.SHA256(item), Modality: "image", ProjectID: cfg.Project,
			Extent: &schemas.Extent{Unit: schemas.UnitPixels, Width: ptr(f.Width), Height: ptr(f.Height)}}
		if len(cfg.Slices) > 0 {
			ing.SliceTags = []string{cfg.Slices[images.IntN(len(cfg.Slices))]}
		}
		s.Emit(ing, t)
		pre := detect(model, cfg.Detector, f, truth)
		pre.ItemID = item
		w.PreLabels = append(w.PreLabels, pre)
		s.Emit(&schemas.PreLabelProposed{ItemID: item, QuestionID: cfg.Question, Model: cfg.Detector.Model, ModelVersion: cfg.Detector.Version,
			Value: schemas.Boxes(f.Width, f.Height, pre.Boxes...), Confidence: pre.Confidence}, t+500)
		if images.Float64() < cfg.GoldShare {
			w.Gold[item] = true
			s.Emit(&schemas.GoldLabelSet{ItemID: item, QuestionID: cfg.Question,
				Value: schemas.Boxes(f.Width, f.Height, slices.Clone(truth)...), SetBy: cfg.Run + "-det-lead"}, t+1000)
		}
		at := t + sim.Delay(draws, 30)
		for j, a := range sim.Raters(draws, pool, cfg.RatersPerItem) {
			boxes := draw(draws, cfg.Cohorts[a.Team], f, truth)
			id := fmt.Sprintf("%s-det-label-%d-%d", cfg.Run, i, j)
			s.Emit(&schemas.LabelSubmitted{LabelID: id, ItemID: item, ProjectID: cfg.Project, TaskID: cfg.Run + "-det-task",
				QuestionID: cfg.Question, AnnotatorID: a.ID, Cohort: a.Cohort, Vendor: a.Vendor, GuidelineVersion: "boxes-v1",
				Value:       schemas.Boxes(f.Width, f.Height, boxes...),
				TimeSpentMS: 8_000 + int64(len(truth))*9_000 + int64(draws.IntN(15_000))}, at)
			w.Labels = append(w.Labels, Label{LabelID: id, ItemID: item, Annotator: a.ID, Cohort: a.Cohort, Vendor: a.Vendor, Boxes: boxes})
			at += 1000 + int64(draws.IntN(90_000))
		}
	}
	w.Events = s.Events
	return w
}

func ptr[T any](v T) *T { return &v }

// scene draws an image's objects: a class, a size that is more often small (far away) than
// large, the class's aspect, and a place below the horizon when there is room.
func scene(rnd *rand.Rand, f Frame, maxObjects int) []schemas.Box {
	n := rnd.IntN(maxObjects + 1)
	out := []schemas.Box{}
	scale := f.Width / 1920
	for range n {
		k := sim.Weighted(rnd, classShare)
		near := 0.1 + 0.9*rnd.Float64()*rnd.Float64() // most objects are far
		var w, h float64
		switch Labels[k] {
		case "car":
			w = (50 + 380*near) * scale
			h = w * (0.55 + 0.25*rnd.Float64())
		case "pedestrian":
			h = (45 + 330*near) * scale
			w = h * (0.33 + 0.12*rnd.Float64())
		default: // cyclist
			h = (55 + 300*near) * scale
			w = h * (0.55 + 0.25*rnd.Float64())
		}
		w, h = min(w, f.Width-2), min(h, f.Height-2)
		x := rnd.Float64() * (f.Width - w)
		top := min(0.35*f.Height, f.Height-h)
		y := top + rnd.Float64()*(f.Height-h-top)
		out = append(out, clamp(f, schemas.Box{Label: Labels[k], X: x, Y: y, W: w, H: h}))
	}
	return out
}

// small reports whether b is a small object on frame f.
func small(f Frame, b schemas.Box) bool {
	s := smallSide * f.Width / 1920
	return b.W*b.H < s*s
}

// draw draws a cohort's annotator's boxes on an image with objects truth.
func draw(rnd *rand.Rand, c Cohort, f Frame, truth []schemas.Box) []schemas.Box {
	out := []schemas.Box{}
	for _, o := range truth {
		miss := c.Miss
		if small(f, o) {
			miss += c.SmallMiss
		}
		if rnd.Float64() < miss {
			continue
		}
		b := jitter(rnd, f, o, c.Jitter)
		p := c.Confuse
		if o.Label == "car" {
			p /= 4
		}
		if rnd.Float64() < p {
			b.Label = confuse(rnd, o.Label)
		}
		out = append(out, b)
	}
	if rnd.Float64() < c.Spurious {
		out = append(out, ghost(rnd, f))
	}
	return out
}

// detect draws the detector's pre-label of an image with objects truth.
func detect(rnd *rand.Rand, d Detector, f Frame, truth []schemas.Box) PreLabel {
	out := []schemas.Box{}
	for _, o := range truth {
		recall, score := d.Recall, 0.97-0.4*rnd.Float64()*rnd.Float64()
		if small(f, o) {
			recall *= 0.75
			score -= 0.25 * rnd.Float64()
		}
		if rnd.Float64() >= recall {
			continue
		}
		b := jitter(rnd, f, o, d.Jitter)
		if o.Label != "car" && rnd.Float64() < d.Confuse {
			b.Label = confuse(rnd, o.Label)
			score = 0.3 + 0.35*rnd.Float64()
		}
		b.Score = ptr(sim.Round(score, 3))
		out = append(out, b)
	}
	for k := 0; k < 2 && rnd.Float64() < d.FalsePositives; k++ {
		b := ghost(rnd, f)
		b.Score = ptr(sim.Round(0.05+0.4*rnd.Float64(), 3))
		out = append(out, b)
	}
	conf := 1.0
	for _, b := range out {
		conf = min(conf, *b.Score)
	}
	if len(out) == 0 {
		// Nothing found: as sure as its recall makes an empty road.
		conf = sim.Round(0.7+0.25*rnd.Float64(), 3)
	}
	return PreLabel{Boxes: out, Confidence: conf}
}

// jitter moves each edge of o by a normal error of sd share of its width or height, keeping
// the box inside f and at least a pixel wide and high.
func jitter(rnd *rand.Rand, f Frame, o schemas.Box, sd float64) schemas.Box {
	x0 := o.X + rnd.NormFloat64()*sd*o.W
	x1 := o.X + o.W + rnd.NormFloat64()*sd*o.W
	y0 := o.Y + rnd.NormFloat64()*sd*o.H
	y1 := o.Y + o.H + rnd.NormFloat64()*sd*o.H
	if x1-x0 < 1 {
		x1 = x0 + 1
	}
	if y1-y0 < 1 {
		y1 = y0 + 1
	}
	return clamp(f, schemas.Box{Label: o.Label, X: x0, Y: y0, W: x1 - x0, H: y1 - y0})
}

// ghost is a small box where there is no object (a shadow, a sign, a reflection).
func ghost(rnd *rand.Rand, f Frame) schemas.Box {
	s := f.Width / 1920
	w, h := (20+60*rnd.Float64())*s, (30+80*rnd.Float64())*s
	return clamp(f, schemas.Box{Label: Labels[sim.Weighted(rnd, classShare)],
		X: rnd.Float64() * (f.Width - w), Y: 0.3*f.Height + rnd.Float64()*(0.7*f.Height-h), W: w, H: h})
}

// clamp rounds b to whole pixels (exact in floating point, so x + w is never a rounding past
// the edge) and moves it inside f, at least a pixel wide and high (as large as the image at
// most).
func clamp(f Frame, b schemas.Box) schemas.Box {
	b.W, b.H = min(max(math.Round(b.W), 1), f.Width), min(max(math.Round(b.H), 1), f.Height)
	b.X = min(max(math.Round(b.X), 0), f.Width-b.W)
	b.Y = min(max(math.Round(b.Y), 0), f.Height-b.H)
	return b
}

// confuse draws the wrong class an annotator or the detector gives an object of class l.
func confuse(rnd *rand.Rand, l string) string {
	var to []string
	var ws []float64
	for _, o := range Labels {
		if wt, ok := confusions[l][o]; ok {
			to, ws = append(to, o), append(ws, wt)
		}
	}
	return to[sim.Weighted(rnd, ws)]
}
