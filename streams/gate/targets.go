package gate

import (
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
)

// Targets are the quality targets in force for one dataset version: what Evaluate judges it
// against. Resolve builds them from a project's QualityTargetsSet events.
type Targets struct {
	// Base is the set judged for the version as a whole: the dataset's own (DatasetID = the
	// version's dataset, no question) if one is in force, else the project's (no dataset, no
	// question); nil when neither is.
	Base *schemas.QualityTargetsSet
	// Questions are the question-narrowed sets in force, one per question (the dataset's
	// over the project's), sorted by QuestionID. Each replaces the agreement and accuracy
	// targets of Base for its question.
	Questions []*schemas.QualityTargetsSet
}

// Empty reports whether no targets are in force: such a version is not certified.
func (t Targets) Empty() bool { return t.Base == nil && len(t.Questions) == 0 }

// Versions are the TargetsVersion of every set in t, the base first, then the
// question-narrowed ones by question: what a verdict names in TargetsVersions.
func (t Targets) Versions() []string {
	var out []string
	if t.Base != nil {
		out = append(out, t.Base.TargetsVersion)
	}
	for _, q := range t.Questions {
		out = append(out, q.TargetsVersion)
	}
	return out
}

// question returns the question-narrowed set of q, or nil.
func (t Targets) question(q string) *schemas.QualityTargetsSet {
	for _, s := range t.Questions {
		if s.QuestionID == q {
			return s
		}
	}
	return nil
}

// Resolve returns the targets in force for a version of datasetID committed at committedAt
// (the DatasetVersionCommitted's occurred_at, epoch milliseconds), from sets, one project's
// QualityTargetsSet events in log order.
//
// A set is in force when its EffectiveAt is at or before the commit and it is the project's
// (DatasetID "") or the dataset's; per (DatasetID, QuestionID) the one with the latest
// EffectiveAt wins, ties going to the later in the log. A set that takes effect after the
// commit never judges the version, whenever it was written. The base set is the dataset's
// if any, else the project's; per question, the dataset's narrowed set replaces the
// project's. Sets of the project's other datasets are ignored.
func Resolve(sets []*schemas.QualityTargetsSet, datasetID string, committedAt int64) Targets {
	type slot struct{ dataset, question string }
	latest := map[slot]*schemas.QualityTargetsSet{}
	for _, s := range sets {
		if s == nil || s.EffectiveAt > committedAt || (s.DatasetID != "" && s.DatasetID != datasetID) {
			continue
		}
		k := slot{s.DatasetID, s.QuestionID}
		// >= so that of two sets effective at the same instant the later in the log wins.
		if cur := latest[k]; cur == nil || s.EffectiveAt >= cur.EffectiveAt {
			latest[k] = s
		}
	}
	var t Targets
	if datasetID != "" {
		t.Base = latest[slot{datasetID, ""}]
	}
	if t.Base == nil {
		t.Base = latest[slot{"", ""}]
	}
	byQuestion := map[string]*schemas.QualityTargetsSet{}
	for k, s := range latest {
		if k.question == "" {
			continue
		}
		if cur := byQuestion[k.question]; cur == nil || k.dataset != "" {
			byQuestion[k.question] = s
		}
	}
	for _, s := range byQuestion {
		t.Questions = append(t.Questions, s)
	}
	slices.SortFunc(t.Questions, func(a, b *schemas.QualityTargetsSet) int {
		return strings.Compare(a.QuestionID, b.QuestionID)
	})
	return t
}
