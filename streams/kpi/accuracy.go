package kpi

import (
	"fmt"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
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
type Accuracy struct{ base }

// NewAccuracy returns the accuracy processor; WithMaxStateKeys and
// WithMaxUnitLabels apply. It reads labels only: labels and gold share the
// labels topic, keyed by item, so an item's labels and gold meet in one
// partition.
func NewAccuracy(opts ...Option) *Accuracy {
	return &Accuracy{newBase(AccuracyName, AccuracyTables(), opts, schemas.FamilyLabels)}
}

var (
	_ runtime.Processor    = (*Accuracy)(nil)
	_ runtime.Instrumented = (*Accuracy)(nil)
)

// AccuracyTables declares the accuracy processor's table (migration 0003).
func AccuracyTables() []runtime.Table {
	return []runtime.Table{{Name: TableAccuracyCounts, Columns: []string{
		"project_id", "question_id", "scope", "kafka_topic", "kafka_partition", "correct", "total", "version",
	}}}
}

// itemQuestion addresses the gold answer and the labels of one item and
// question; no row names the item, so it is kept as a digest.
type itemQuestion struct {
	item     id128
	question str
}

// scoredLabel is a counted label and what it is compared on; producer is
// the producer of its LabelSubmitted, the only one that may retract it.
type scoredLabel struct {
	id                                                  id128
	project, annotator, cohort, vendor, level, producer str
	value                                               value
}

// accKey addresses one partition total of accuracy_counts.
type accKey struct{ project, question, scope str }

// score is one correct/total pair.
type score struct{ correct, total int64 }

// gold is an item's current gold answer.
type gold struct {
	level str
	value value
}

// AccuracyState is the state of one labels partition.
type AccuracyState struct {
	topic     string
	partition int32
	gold      map[itemQuestion]gold
	labels    map[itemQuestion][]scoredLabel
	labelIQ   map[id128]itemQuestion
	counts    map[accKey]score
	// applied holds every label and gold event applied, by the ledger's key
	// of its table (label events: item, label, event id; gold: item,
	// question, event id), so that a duplicate delivery changes nothing:
	// in particular an older gold answer delivered again after a newer one
	// does not become the latest.
	applied map[id128]struct{}
}

// StateKeys is the number of keys the state holds (runtime.StateSizer).
func (s *AccuracyState) StateKeys() int {
	return len(s.gold) + len(s.labels) + len(s.labelIQ) + len(s.counts) + len(s.applied)
}

// NewState implements runtime.Processor.
func (*Accuracy) NewState(topic string, partition int32) any {
	return &AccuracyState{
		topic: topic, partition: partition,
		gold: map[itemQuestion]gold{}, labels: map[itemQuestion][]scoredLabel{},
		labelIQ: map[id128]itemQuestion{}, counts: map[accKey]score{}, applied: map[id128]struct{}{},
	}
}

// Apply implements runtime.Processor. An event delivered twice (the same
// event id at two offsets) is applied once; a label id submitted again
// while it counts is ignored, as in the agreement processor. A retraction
// of a counted label by another producer than the label's is refused, and,
// with an authorizer, so are a retraction and a gold answer by a principal
// whose projects do not hold the label's (the item's labels') project
// (rec.Authorized): the runner sends them to the DLQ. A gold answer from a
// producer that is not a qa principal is refused by the runner before
// Apply, when it has an authorizer.
func (a *Accuracy) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*AccuracyState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("accuracy: state is %T, want *AccuracyState", state)
	}
	touched := map[accKey]bool{}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
		id := idOf(e.LabelID)
		_, live := s.labelIQ[id]
		if done, err := a.limits.seen(s.applied, s.StateKeys(), ek, live, "label "+e.LabelID); done {
			return runtime.Output{}, err
		}
		v, err := canonical(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("label %s: %w", e.LabelID, err)
		}
		if err := a.limits.full(s.StateKeys(), "label "+e.LabelID); err != nil {
			return runtime.Output{}, err
		}
		iq := itemQuestion{idOf(e.ItemID), intern(e.QuestionID)}
		if err := a.limits.unitFull(len(s.labels[iq]), "label "+e.LabelID); err != nil {
			return runtime.Output{}, err
		}
		l := scoredLabel{id: id, project: intern(e.ProjectID), annotator: intern(e.AnnotatorID), cohort: intern(e.Cohort),
			vendor: intern(e.Vendor), level: intern(string(e.Value.Level)), producer: intern(e.Producer), value: internValue(v)}
		s.applied[ek] = struct{}{}
		s.labelIQ[id] = iq
		s.labels[iq] = append(s.labels[iq], l)
		if g, ok := s.gold[iq]; ok {
			s.score(iq.question, l, g, +1, touched)
		}
	case *schemas.LabelRetracted:
		ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
		id := idOf(e.LabelID)
		iq, live := s.labelIQ[id]
		if done, err := a.limits.seen(s.applied, s.StateKeys(), ek, !live, "retraction of label "+e.LabelID); done {
			return runtime.Output{}, err
		}
		ls := s.labels[iq]
		i := slices.IndexFunc(ls, func(x scoredLabel) bool { return x.id == id })
		// Only the label's producer retracts it, in the label's project; a
		// refusal changes nothing and is not remembered.
		if err := rec.Authorized(access.Facts{LabelProducer: ls[i].producer.Value(), Project: ls[i].project.Value()}); err != nil {
			return runtime.Output{}, err // the violation names the rule first, as the DLQ reason should
		}
		// A retraction of a counted label frees a key for the one it takes,
		// so it is never refused for room.
		s.applied[ek] = struct{}{}
		if g, ok := s.gold[iq]; ok {
			s.score(iq.question, ls[i], g, -1, touched)
		}
		delete(s.labelIQ, id)
		if ls = slices.Delete(ls, i, i+1); len(ls) == 0 {
			delete(s.labels, iq)
		} else {
			s.labels[iq] = ls
		}
	case *schemas.GoldLabelSet:
		ek := idOf(string(e.Type()), e.ItemID, e.QuestionID, e.EventID)
		if _, dup := s.applied[ek]; dup {
			return runtime.Output{}, nil
		}
		v, err := canonical(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("gold of %s/%s: %w", e.ItemID, e.QuestionID, err)
		}
		iq := itemQuestion{idOf(e.ItemID), intern(e.QuestionID)}
		// A gold answer names no project: its item's is the one the item's
		// counted labels name, when it has any (the first's, should they
		// differ). Without labels yet the project rule cannot be checked.
		var project string
		if ls := s.labels[iq]; len(ls) > 0 {
			project = ls[0].project.Value()
		}
		if err := rec.Authorized(access.Facts{Project: project}); err != nil {
			return runtime.Output{}, err
		}
		if err := a.limits.full(s.StateKeys(), "gold of "+e.ItemID+"/"+e.QuestionID); err != nil {
			return runtime.Output{}, err
		}
		s.applied[ek] = struct{}{}
		ng := gold{level: intern(string(e.Value.Level)), value: internValue(v)}
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
func (s *AccuracyState) score(question str, l scoredLabel, g gold, sign int64, touched map[accKey]bool) {
	correct := int64(0)
	if l.level == g.level && l.value == g.value {
		correct = 1
	}
	for _, scope := range append(scopesOf(l.cohort.Value(), l.vendor.Value()), AnnotatorScope(l.annotator.Value())) {
		k := accKey{l.project, question, intern(scope)}
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
		for _, p := range [][2]string{{x.project.Value(), y.project.Value()}, {x.question.Value(), y.question.Value()}, {x.scope.Value(), y.scope.Value()}} {
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
			k.project.Value(), k.question.Value(), k.scope.Value(), s.topic, uint32(s.partition), c.correct, c.total, uint64(offset),
		}})
	}
	return out
}

// Score returns the partition's correct/total of one (project, question,
// scope), for tests.
func (s *AccuracyState) Score(project, question, scope string) (correct, total int64) {
	c := s.counts[accKey{intern(project), intern(question), intern(scope)}]
	return c.correct, c.total
}
