package kpi

import (
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// answers is the part of the state that kpi_regions and kpi_preference share: the counted
// labels of every item question of the partition, grouped by project and level (a unit), the
// item question's gold answer, and the events applied. V is a label's value as the processor
// measures it (regions, a preference).
//
// An annotator's answer on a unit is their latest counted label, by occurred_at and then
// label id (the greater wins): streams/regions compares pairs of annotators and
// streams/preference codes one label per annotator, so two labels of one annotator on one
// item are not two raters. The earlier labels stay in the unit (and count towards its cap):
// a retraction of the latest makes the one before it the answer again. Order by
// occurred_at, not by arrival, so that the answer does not depend on the order the log
// delivers an annotator's labels in, and the ledger's rows (kpi.ReadUnitizing) pick the same
// one.
type answers[V any] struct {
	items map[itemQuestion]*answerItem[V]
	// labels maps every counted label (its id's digest) to its item question, so that a
	// retraction finds it; rebuilt from the items on restore.
	labels map[id128]itemQuestion
	// applied holds every label and gold event applied, by the ledger's key of its table, so
	// that a copy delivered again changes nothing (see Agreement).
	applied map[id128]struct{}
}

func newAnswers[V any]() answers[V] {
	return answers[V]{items: map[itemQuestion]*answerItem[V]{}, labels: map[id128]itemQuestion{}, applied: map[id128]struct{}{}}
}

// keys is the number of keys the answers hold (a part of StateKeys).
func (a *answers[V]) keys() int { return len(a.items) + len(a.labels) + len(a.applied) }

// answerItem is one item question: its units (one per project and level that labeled it,
// nearly always one) and its gold answer, nil when none was set.
type answerItem[V any] struct {
	units []*answerUnit[V]
	gold  *answerGold[V]
}

// answerGold is an item question's latest gold answer and its level.
type answerGold[V any] struct {
	level str
	value V
}

// answerUnit is one unit: an item's labels to one question in one project at one level, and
// the UTC day (since the epoch) of the first label it counted, the day its figures count in
// for windows (as agreement_cells_daily). A unit whose labels are all retracted is
// forgotten, and starts again with its next label.
type answerUnit[V any] struct {
	project, level str
	day            int64
	entries        []answerEntry[V]
}

// answerEntry is one counted label. producer is its LabelSubmitted's producer, the only one
// that may retract it (access, rule labeler.own_labels).
type answerEntry[V any] struct {
	labelID                             string
	annotator, cohort, vendor, producer str
	at                                  int64 // occurred_at, ms since the epoch
	value                               V
}

// later reports whether x is a later answer of its annotator than y.
func (x *answerEntry[V]) later(y *answerEntry[V]) bool {
	return x.at > y.at || (x.at == y.at && x.labelID > y.labelID)
}

// current returns a copy of annotator's answer on u (their latest label), or nil.
func (u *answerUnit[V]) current(annotator str) *answerEntry[V] {
	var best *answerEntry[V]
	for i := range u.entries {
		if e := &u.entries[i]; e.annotator == annotator && (best == nil || e.later(best)) {
			best = e
		}
	}
	if best == nil {
		return nil
	}
	c := *best
	return &c
}

// currents returns every annotator's answer on u, in byte order of the annotators.
func (u *answerUnit[V]) currents() []answerEntry[V] {
	var out []answerEntry[V]
	for i := range u.entries {
		e := &u.entries[i]
		j := slices.IndexFunc(out, func(o answerEntry[V]) bool { return o.annotator == e.annotator })
		switch {
		case j < 0:
			out = append(out, *e)
		case e.later(&out[j]):
			out[j] = *e
		}
	}
	slices.SortFunc(out, func(x, y answerEntry[V]) int { return strings.Compare(x.annotator.Value(), y.annotator.Value()) })
	return out
}

// unit returns the item's unit of project and level, or nil.
func (it *answerItem[V]) unit(project, level str) *answerUnit[V] {
	if it == nil {
		return nil
	}
	for _, u := range it.units {
		if u.project == project && u.level == level {
			return u
		}
	}
	return nil
}

// project is the project the item's counted labels name (the first unit's), "" when it has
// none: a gold answer names no project, and this is the one its rule is checked against.
func (it *answerItem[V]) project() string {
	if it == nil || len(it.units) == 0 {
		return ""
	}
	return it.units[0].project.Value()
}

// answerChange is what a label event did to one annotator's answer on a unit: before and
// after are their answer before and after the event (copies; nil when they had none or have
// none). The figures move only when the two differ.
type answerChange[V any] struct {
	iq            itemQuestion
	item          *answerItem[V]
	unit          *answerUnit[V]
	before, after *answerEntry[V]
	// sign is +1 when the event added the label value, -1 when it removed it: the state
	// counts what its values hold (RegionsState.held).
	value V
	sign  int
}

// moved reports whether the annotator's answer changed.
func (c answerChange[V]) moved() bool {
	switch {
	case c.before == nil || c.after == nil:
		return c.before != c.after
	default:
		return c.before.labelID != c.after.labelID
	}
}

// submit counts the label e, of value v at level, in its unit, after the checks that leave
// the state unchanged when they fail: a copy of an applied event, or a label id submitted
// again while it counts, changes nothing (done); a full state or unit refuses the label
// (ErrStateLimit); admit, given the item question (nil when new), may refuse the value.
// keys is the state's StateKeys.
func (a *answers[V]) submit(l limits, keys int, e *schemas.LabelSubmitted, level string, v V, admit func(*answerItem[V]) error) (c answerChange[V], done bool, err error) {
	ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
	id := idOf(e.LabelID)
	_, live := a.labels[id]
	what := "label " + e.LabelID
	if done, err := l.seen(a.applied, keys, ek, live, what); done {
		return c, true, err
	}
	if err := l.full(keys, what); err != nil {
		return c, true, err
	}
	iq := itemQuestion{idOf(e.ItemID), intern(e.QuestionID)}
	it := a.items[iq]
	project, lv, annotator := intern(e.ProjectID), intern(level), intern(e.AnnotatorID)
	u := it.unit(project, lv)
	if u != nil {
		if err := l.unitFull(len(u.entries), what); err != nil {
			return c, true, err
		}
	}
	if admit != nil {
		if err := admit(it); err != nil {
			return c, true, err
		}
	}
	if it == nil {
		it = &answerItem[V]{}
		a.items[iq] = it
	}
	if u == nil {
		u = &answerUnit[V]{project: project, level: lv, day: floorDiv(e.OccurredAt, msPerDay)}
		it.units = append(it.units, u)
	}
	c = answerChange[V]{iq: iq, item: it, unit: u, before: u.current(annotator)}
	u.entries = append(slices.Clip(u.entries), answerEntry[V]{labelID: e.LabelID, annotator: annotator,
		cohort: intern(e.Cohort), vendor: intern(e.Vendor), producer: intern(e.Producer), at: e.OccurredAt, value: v})
	c.after = u.current(annotator)
	c.value, c.sign = v, +1
	a.labels[id] = iq
	a.applied[ek] = struct{}{}
	return c, false, nil
}

// retract takes the label e retracts out of its unit. A retraction of a label the partition
// does not count changes nothing (done); one by another producer than the label's, or (with
// an authorizer) outside the principal's projects, is refused (rec.Authorized).
func (a *answers[V]) retract(l limits, keys int, rec runtime.Record, e *schemas.LabelRetracted) (c answerChange[V], done bool, err error) {
	ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
	id := idOf(e.LabelID)
	iq, live := a.labels[id]
	if done, err := l.seen(a.applied, keys, ek, !live, "retraction of label "+e.LabelID); done {
		return c, true, err
	}
	it := a.items[iq]
	var u *answerUnit[V]
	i := -1
	for _, x := range it.units {
		if i = slices.IndexFunc(x.entries, func(en answerEntry[V]) bool { return en.labelID == e.LabelID }); i >= 0 {
			u = x
			break
		}
	}
	gone := u.entries[i]
	// Only the label's producer retracts it, in the label's project: a refusal changes
	// nothing and is not remembered, so every copy of it is refused alike.
	if err := rec.Authorized(access.Facts{LabelProducer: gone.producer.Value(), Project: u.project.Value()}); err != nil {
		return c, true, err
	}
	// A retraction of a counted label frees more keys than it takes: never refused for room.
	a.applied[ek] = struct{}{}
	c = answerChange[V]{iq: iq, item: it, unit: u, before: u.current(gone.annotator)}
	u.entries = slices.Delete(slices.Clone(u.entries), i, i+1)
	c.after = u.current(gone.annotator)
	c.value, c.sign = gone.value, -1
	delete(a.labels, id)
	if len(u.entries) == 0 {
		it.units = slices.DeleteFunc(slices.Clone(it.units), func(x *answerUnit[V]) bool { return x == u })
		if len(it.units) == 0 {
			it.units = nil
		}
	}
	if len(it.units) == 0 && it.gold == nil {
		delete(a.items, iq)
	}
	return c, false, nil
}

// setGold makes g, of value v at level, its item question's gold answer. A copy of an applied
// gold event changes nothing (done), and so does the same answer again (changed false). The
// gold's project is that of the item's counted labels: with an authorizer, a qa principal
// outside it is refused (rec.Authorized). admit may refuse the value given the item
// question (nil when new).
func (a *answers[V]) setGold(l limits, keys int, rec runtime.Record, g *schemas.GoldLabelSet, level string, v V,
	equal func(x, y V) bool, admit func(*answerItem[V]) error) (iq itemQuestion, it *answerItem[V], old *answerGold[V], changed bool, err error) {
	ek := idOf(string(g.Type()), g.ItemID, g.QuestionID, g.EventID)
	if _, dup := a.applied[ek]; dup {
		return iq, nil, nil, false, nil
	}
	iq = itemQuestion{idOf(g.ItemID), intern(g.QuestionID)}
	it = a.items[iq]
	if err := rec.Authorized(access.Facts{Project: it.project()}); err != nil {
		return iq, nil, nil, false, err
	}
	if err := l.full(keys, "gold of "+g.ItemID+"/"+g.QuestionID); err != nil {
		return iq, nil, nil, false, err
	}
	if admit != nil {
		if err := admit(it); err != nil {
			return iq, nil, nil, false, err
		}
	}
	a.applied[ek] = struct{}{}
	if it == nil {
		it = &answerItem[V]{}
		a.items[iq] = it
	}
	lv := intern(level)
	old = it.gold
	if old != nil && old.level == lv && equal(old.value, v) {
		return iq, it, old, false, nil
	}
	it.gold = &answerGold[V]{level: lv, value: v}
	return iq, it, old, true, nil
}

// scopesOfEntry lists the scopes a label counts in for figures per label (accuracy, bias):
// all, its cohort's and vendor's, and its annotator's.
func scopesOfEntry[V any](e *answerEntry[V]) []string {
	return append(scopesOf(e.cohort.Value(), e.vendor.Value()), AnnotatorScope(e.annotator.Value()))
}
