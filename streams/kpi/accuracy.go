package kpi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// AccuracyName is the accuracy processor's name.
const AccuracyName = "kpi_accuracy"

// Tables written by the accuracy processor.
const (
	// TableAccuracyCounts holds per-partition correct/total counts of labels
	// on items with a gold answer.
	TableAccuracyCounts = "accuracy_counts"
	// TableAccuracyConfusion holds per-partition counts of the same labels by
	// (gold value, labeled value): which errors make up the accuracy.
	TableAccuracyConfusion = "accuracy_confusion"
)

// Accuracy is the accuracy-against-gold processor. A label is scored when
// its item and question have a gold answer (GoldLabelSet; the latest one
// counts): it is correct when its value equals the gold value exactly (same
// level, and the same category, rank, number or set; see canonical). The
// counts are kept per (project, question, scope) with one scope for all
// labels, one per cohort, vendor and annotator. A new gold value for an item
// re-scores the item's labels; a retraction takes the label out of both the
// numerator and the denominator.
//
// The same scored labels are also counted by (gold value, labeled value),
// both in canonical text form: the confusion, whose row sums over labeled
// values are the denominator and whose diagonal is the numerator. A label at
// another level of measurement than the gold answer's is never correct and
// has no comparable value: its labeled value is written as NoComparableValue
// (no canonical value is empty), so it stays off the diagonal.
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

// AccuracyTables declares the accuracy processor's tables (migrations 0003
// and 0036).
func AccuracyTables() []runtime.Table {
	return []runtime.Table{
		{Name: TableAccuracyCounts, Columns: []string{
			"project_id", "question_id", "scope", "kafka_topic", "kafka_partition", "correct", "total", "version",
		}},
		{Name: TableAccuracyConfusion, Columns: []string{
			"project_id", "question_id", "scope", "kafka_topic", "kafka_partition", "gold_value", "label_value", "count", "version",
		}},
	}
}

// NoComparableValue is accuracy_confusion's label_value for a label whose
// level of measurement is not the gold answer's: an error, and not one of
// the gold's values.
const NoComparableValue = ""

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

// confKey addresses one partition total of accuracy_confusion.
type confKey struct {
	project, question, scope str
	gold, label              value
}

// touchedKeys collects the totals a record changed, for the rows it writes.
type touchedKeys struct {
	counts    map[accKey]bool
	confusion map[confKey]bool
}

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
	confusion map[confKey]int64
	// applied holds every label and gold event applied, by the ledger's key
	// of its table (label events: item, label, event id; gold: item,
	// question, event id), so that a duplicate delivery changes nothing:
	// in particular an older gold answer delivered again after a newer one
	// does not become the latest.
	applied map[id128]struct{}
}

// StateKeys is the number of keys the state holds (runtime.StateSizer).
func (s *AccuracyState) StateKeys() int {
	return len(s.gold) + len(s.labels) + len(s.labelIQ) + len(s.counts) + len(s.confusion) + len(s.applied)
}

// NewState implements runtime.Processor.
func (*Accuracy) NewState(topic string, partition int32) any {
	return &AccuracyState{
		topic: topic, partition: partition,
		gold: map[itemQuestion]gold{}, labels: map[itemQuestion][]scoredLabel{},
		labelIQ: map[id128]itemQuestion{}, counts: map[accKey]score{}, confusion: map[confKey]int64{},
		applied: map[id128]struct{}{},
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
	touched := touchedKeys{counts: map[accKey]bool{}, confusion: map[confKey]bool{}}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if measuredApart(e.Value.Level) {
			return runtime.Output{}, nil // kpi_regions and kpi_preference score it
		}
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
		if measuredApart(e.Value.Level) {
			return runtime.Output{}, nil
		}
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

// noComparableValue is NoComparableValue interned.
var noComparableValue = internValue(NoComparableValue)

// score adds (sign +1) or removes (-1) the verdict of l against g in every
// scope of l, in the counts and in the confusion.
func (s *AccuracyState) score(question str, l scoredLabel, g gold, sign int64, touched touchedKeys) {
	correct := int64(0)
	if l.level == g.level && l.value == g.value {
		correct = 1
	}
	labeled := l.value
	if l.level != g.level {
		labeled = noComparableValue
	}
	for _, scope := range append(scopesOf(l.cohort.Value(), l.vendor.Value()), AnnotatorScope(l.annotator.Value())) {
		sc := intern(scope)
		k := accKey{l.project, question, sc}
		c := s.counts[k]
		c.correct += sign * correct
		c.total += sign
		s.counts[k] = c
		touched.counts[k] = true
		ck := confKey{l.project, question, sc, g.value, labeled}
		s.confusion[ck] += sign
		touched.confusion[ck] = true
	}
}

// rows returns the current totals of the touched keys, sorted.
func (s *AccuracyState) rows(offset int64, touched touchedKeys) runtime.Output {
	keys := make([]accKey, 0, len(touched.counts))
	for k := range touched.counts {
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
	ckeys := make([]confKey, 0, len(touched.confusion))
	for k := range touched.confusion {
		ckeys = append(ckeys, k)
	}
	slices.SortFunc(ckeys, func(x, y confKey) int {
		return cmp.Or(strings.Compare(x.project.Value(), y.project.Value()), strings.Compare(x.question.Value(), y.question.Value()),
			strings.Compare(x.scope.Value(), y.scope.Value()), cmp.Compare(x.gold.Value(), y.gold.Value()), cmp.Compare(x.label.Value(), y.label.Value()))
	})
	for _, k := range ckeys {
		n := s.confusion[k]
		if n == 0 {
			delete(s.confusion, k) // written as 0, then forgotten
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableAccuracyConfusion, Values: []any{
			k.project.Value(), k.question.Value(), k.scope.Value(), s.topic, uint32(s.partition),
			string(k.gold.Value()), string(k.label.Value()), n, uint64(offset),
		}})
	}
	return out
}

// Confusion returns the partition's count of labels of one (project,
// question, scope) by gold value and labeled value, for tests.
func (s *AccuracyState) Confusion(project, question, scope string) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for k, n := range s.confusion {
		if k.project.Value() == project && k.question.Value() == question && k.scope.Value() == scope {
			out[[2]string{string(k.gold.Value()), string(k.label.Value())}] = n
		}
	}
	return out
}

// Score returns the partition's correct/total of one (project, question,
// scope), for tests.
func (s *AccuracyState) Score(project, question, scope string) (correct, total int64) {
	c := s.counts[accKey{intern(project), intern(question), intern(scope)}]
	return c.correct, c.total
}
