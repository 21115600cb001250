package demo

import (
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/detection"
	"github.com/assay-data/assay/services/demo/ner"
	"github.com/assay-data/assay/services/demo/preference"
)

// Structured is a program whose question is answered at a structured level: the named-entity
// program (spans, services/demo/ner), the detection program (boxes, services/demo/detection)
// and the preference program (services/demo/preference). Each plays in a project of its own
// beside the main program's, so the main program's targets, gate and figures are what they
// were without them.
type Structured struct {
	// Name is the program's name and its project's suffix: ner, detection or preference.
	Name string
	// Project is the program's project, <project>-<name>.
	Project string
	// Question is the owner's definition of the program's question, its first event.
	Question *schemas.QuestionDefined
	// Events in production order.
	Events []schemas.Event
}

// The structured programs' names, in the order BuildStructured returns them.
const (
	NameNER        = "ner"
	NameDetection  = "detection"
	NamePreference = "preference"
)

// Projects are the projects the demo plays in for project: project itself (the main program)
// and one per structured program, <project>-ner, <project>-detection, <project>-preference.
// The demo's principals are scoped to all of them (Principals(Projects(p)...)).
func Projects(project string) []string {
	return []string{project, project + "-" + NameNER, project + "-" + NameDetection, project + "-" + NamePreference}
}

// StructuredItems is how many items each structured program has beside a main program of
// items items: a sixth (at least six), so the three add about a third to the events played.
func StructuredItems(items int) int { return max(items/6, 6) }

// spacing is the time between two of n items spread over the main program's span (one item
// a minute for items items), so every program of a round runs over the same hours.
func spacing(items, n int) int64 { return int64(max(items, 3)) * 60_000 / int64(n) }

// NERConfig is the named-entity program the demo plays beside the main program of run,
// project, seed and items.
func NERConfig(run, project string, seed uint64, items int) ner.Config {
	cfg := ner.DefaultConfig(run, seed)
	cfg.Project = project + "-" + NameNER
	cfg.Items = StructuredItems(items)
	cfg.ItemEvery = spacing(items, cfg.Items)
	return cfg
}

// DetectionConfig is the detection program the demo plays beside the main program of run,
// project, seed and items.
func DetectionConfig(run, project string, seed uint64, items int) detection.Config {
	cfg := detection.DefaultConfig(run, seed)
	cfg.Project = project + "-" + NameDetection
	cfg.Items = StructuredItems(items)
	cfg.ItemEvery = spacing(items, cfg.Items)
	return cfg
}

// PreferenceConfig is the preference program the demo plays beside the main program of run,
// project, seed and items.
func PreferenceConfig(run, project string, seed uint64, items int) preference.Config {
	cfg := preference.DefaultConfig(run, seed)
	cfg.Project = project + "-" + NamePreference
	cfg.Items = StructuredItems(items)
	cfg.ItemEvery = spacing(items, cfg.Items)
	return cfg
}

// BuildStructured returns the structured programs played beside the main program of run,
// project, seed and items (Build): named entities, detection and preference, in that order,
// each deterministic for seed and with ids of its own.
func BuildStructured(run, project string, seed uint64, items int) []*Structured {
	n := ner.Generate(NERConfig(run, project, seed, items))
	d := detection.Generate(DetectionConfig(run, project, seed, items))
	p := preference.Generate(PreferenceConfig(run, project, seed, items))
	return []*Structured{
		{Name: NameNER, Project: n.Config.Project, Question: n.Question, Events: n.Events},
		{Name: NameDetection, Project: d.Config.Project, Question: d.Question, Events: d.Events},
		{Name: NamePreference, Project: p.Config.Project, Question: p.Question, Events: p.Events},
	}
}

// Merge interleaves programs' events for playing them together: each program's events keep
// their order, and the next event played is that of the program least far through its events
// (the first program's on a tie), so every program is played from its start to its end over
// the whole round, and a question's definition, its program's first event, is played before
// the program's items. A program's first event is played before any program's second.
func Merge(programs ...[]schemas.Event) []schemas.Event {
	n := 0
	for _, p := range programs {
		n += len(p)
	}
	out := make([]schemas.Event, 0, n)
	next := make([]int, len(programs))
	for len(out) < n {
		best := -1
		for i, p := range programs {
			// Compare the shares played, next[i]/len(p), in integers: next[i]*len(q) < next[j]*len(p).
			if next[i] < len(p) && (best < 0 || next[i]*len(programs[best]) < next[best]*len(p)) {
				best = i
			}
		}
		out = append(out, programs[best][next[best]])
		next[best]++
	}
	return out
}
