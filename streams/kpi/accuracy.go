package kpi

import (
	"fmt"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/runtime"
)

// AccuracyName is the accuracy processor's name.
const AccuracyName = "kpi_accuracy"

// TableAccuracyCounts holds per-partition correct/total counts of labels on
// items with a gold answer.
const TableAccuracyCounts = "accuracy_counts"

// Accuracy is the accuracy-against-gold processor. A label is scored when
// its item and question have a gold answer (GoldLabelSet; the latest one
// counts): it is correct when its value equals the gold value exactly (same
// level, and the same category, rank, number or set; see canonical). The
// counts are kept per (project, question, scope) with one scope for all
// labels, one per cohort, vendor and annotator. A new gold value for an item
// re-scores the item's labels; a retraction takes the label out of both the
// numerator and the denominator.
type Accuracy struct{}

// NewAccuracy returns the accuracy processor.
func NewAccuracy() *Accuracy { return &Accuracy{} }

var _ runtime.Processor = (*Accuracy)(nil)

// Name implements runtime.Processor.
func (*Accuracy) Name() string { return AccuracyName }

// Families implements runtime.Processor: labels and gold share the labels
// topic, keyed by item, so an item's labels and gold meet in one partition.
func (*Accuracy) Families() []schemas.Family { return []schemas.Family{schemas.FamilyLabels} }

// Tables implements runtime.Processor.
func (*Accuracy) Tables() []runtime.Table { return AccuracyTables() }

// AccuracyTables declares the accuracy processor's table (migration 0003).
func AccuracyTables() []runtime.Table {
	return []runtime.Table{{Name: TableAccuracyCounts, Columns: []string{
		"project_id", "question_id", "scope", "kafka_topic", "kafka_partition", "correct", "total", "version",
	}}}
}

// itemQuestion addresses the gold answer of one item and question.
type itemQuestion struct{ item, question string }

// scoredLabel is a counted label and what it is compared on.
type scoredLabel struct {
	id, project, annotator, cohort, vendor, level string
	value                                         agreement.Value
}

// accKey addresses one partition total of accuracy_counts.
type accKey struct{ project, question, scope string }

// score is one correct/total pair.
type score struct{ correct, total int64 }

// gold is an item's current gold answer.
type gold struct {
	level string
	value agreement.Value
}

// AccuracyState is the state of one labels partition.
type AccuracyState struct {
	topic     string
	partition int32
	gold      map[itemQuestion]gold
	labels    map[itemQuestion][]scoredLabel
	labelIQ   map[string]itemQuestion
	counts    map[accKey]score
}

// NewState implements runtime.Processor.
func (*Accuracy) NewState(topic string, partition int32) any {
	return &AccuracyState{
		topic: topic, partition: partition,
		gold: map[itemQuestion]gold{}, labels: map[itemQuestion][]scoredLabel{},
		labelIQ: map[string]itemQuestion{}, counts: map[accKey]score{},
	}
}

// Apply implements runtime.Processor.
func (*Accuracy) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*AccuracyState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("accuracy: state is %T, want *AccuracyState", state)
	}
	touched := map[accKey]bool{}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if _, dup := s.labelIQ[e.LabelID]; dup {
			return runtime.Output{}, nil
		}
		v, err := canonical(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("label %s: %w", e.LabelID, err)
		}
		iq := itemQuestion{e.ItemID, e.QuestionID}
		l := scoredLabel{id: e.LabelID, project: e.ProjectID, annotator: e.AnnotatorID, cohort: e.Cohort, vendor: e.Vendor, level: string(e.Value.Level), value: v}
		s.labelIQ[e.LabelID] = iq
		s.labels[iq] = append(s.labels[iq], l)
		if g, ok := s.gold[iq]; ok {
			s.score(iq.question, l, g, +1, touched)
		}
	case *schemas.LabelRetracted:
		iq, ok := s.labelIQ[e.LabelID]
		if !ok {
			return runtime.Output{}, nil
		}
		ls := s.labels[iq]
		i := slices.IndexFunc(ls, func(x scoredLabel) bool { return x.id == e.LabelID })
		if g, ok := s.gold[iq]; ok {
			s.score(iq.question, ls[i], g, -1, touched)
		}
		delete(s.labelIQ, e.LabelID)
		if ls = slices.Delete(ls, i, i+1); len(ls) == 0 {
			delete(s.labels, iq)
		} else {
			s.labels[iq] = ls
		}
	case *schemas.GoldLabelSet:
		v, err := canonical(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("gold of %s/%s: %w", e.ItemID, e.QuestionID, err)
		}
		iq := itemQuestion{e.ItemID, e.QuestionID}
		ng := gold{level: string(e.Value.Level), value: v}
		old, had := s.gold[iq]
		if had && old == ng {
			return runtime.Output{}, nil
		}
		// A corrected gold answer re-scores every label of the item: take
		// out the old verdicts, put in the new ones.
		for _, l := range s.labels[iq] {
			if had {
				s.score(iq.question, l, old, -1, touched)
			}
			s.score(iq.question, l, ng, +1, touched)
		}
		s.gold[iq] = ng
	default:
		return runtime.Output{}, nil
	}
	return s.rows(rec.Offset, touched), nil
}

// score adds (sign +1) or removes (-1) the verdict of l against g in every
// scope of l.
func (s *AccuracyState) score(question string, l scoredLabel, g gold, sign int64, touched map[accKey]bool) {
	correct := int64(0)
	if l.level == g.level && l.value == g.value {
		correct = 1
	}
	for _, scope := range append(scopesOf(l.cohort, l.vendor), AnnotatorScope(l.annotator)) {
		k := accKey{l.project, question, scope}
		c := s.counts[k]
		c.correct += sign * correct
		c.total += sign
		s.counts[k] = c
		touched[k] = true
	}
}

// rows returns the current totals of the touched keys, sorted.
func (s *AccuracyState) rows(offset int64, touched map[accKey]bool) runtime.Output {
	keys := make([]accKey, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y accKey) int {
		for _, p := range [][2]string{{x.project, y.project}, {x.question, y.question}, {x.scope, y.scope}} {
			if p[0] != p[1] {
				if p[0] < p[1] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	var out runtime.Output
	for _, k := range keys {
		c := s.counts[k]
		if c.total == 0 {
			delete(s.counts, k)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableAccuracyCounts, Values: []any{
			k.project, k.question, k.scope, s.topic, uint32(s.partition), c.correct, c.total, uint64(offset),
		}})
	}
	return out
}

// Score returns the partition's correct/total of one (project, question,
// scope), for tests.
func (s *AccuracyState) Score(project, question, scope string) (correct, total int64) {
	c := s.counts[accKey{project, question, scope}]
	return c.correct, c.total
}
