package kpi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/runtime"
)

// PreferenceName is the preference processor's name.
const PreferenceName = "kpi_preference"

// Tables written by the preference processor (migration 0065).
const (
	// TablePreferenceCells holds per-partition coincidence cells of the preference codings
	// (coding 'nominal' or 'ordinal'), in agreement_cells' form.
	TablePreferenceCells = "preference_cells"
	// TablePreferenceProfiles holds per-partition counts of units by profile, per coding: the
	// input of alpha's interval, in agreement_profiles' form.
	TablePreferenceProfiles = "preference_profiles"
	// TablePreferenceBias holds per-partition position-bias counts (preference.BiasCounts).
	TablePreferenceBias = "preference_bias"
	// TablePreferenceAccuracy holds per-partition counts of answers scored against gold
	// preferences (preference.AccuracyCounts).
	TablePreferenceAccuracy = "preference_accuracy"
)

// The codings of a preference for alpha, the values of preference_cells' coding column.
const (
	// CodingNominal is preference.NominalValue: the chosen response's index in the item's
	// canonical order.
	CodingNominal = "nominal"
	// CodingOrdinal is the signed strength (OrdinalCode), which orders answers as
	// preference.OrdinalValue's 2S ranks without knowing S.
	CodingOrdinal = "ordinal"
)

// Preference is the preference processor: for every unit (an item's preference labels to one
// question of a project) it keeps each annotator's answer and, per scope and UTC day of the
// unit's first label, the exact integer totals of streams/preference: the coincidences of the
// nominal and ordinal codings (alpha) and their unit profiles (alpha's interval), the
// position-bias counts and the counts against gold preferences. Every label of an item, and
// its gold, must compare the same responses in the same order; a record that does not is
// refused (DLQ) with the reason.
type Preference struct{ base }

// NewPreference returns the preference processor; WithMaxStateKeys and WithMaxUnitLabels
// apply. It reads labels only: an item's labels and gold answers share its partition.
func NewPreference(opts ...Option) *Preference {
	return &Preference{newBase(PreferenceName, PreferenceTables(), opts, schemas.FamilyLabels)}
}

var (
	_ runtime.Processor    = (*Preference)(nil)
	_ runtime.Instrumented = (*Preference)(nil)
)

// PreferenceTables declares the preference processor's tables (migration 0065).
func PreferenceTables() []runtime.Table {
	return []runtime.Table{
		{Name: TablePreferenceCells, Columns: []string{
			"project_id", "question_id", "coding", "scope", "day", "kafka_topic", "kafka_partition",
			"unit_size", "a", "b", "count", "version",
		}},
		{Name: TablePreferenceProfiles, Columns: []string{
			"project_id", "question_id", "coding", "scope", "day", "kafka_topic", "kafka_partition",
			"profile", "values", "counts", "units", "version",
		}},
		{Name: TablePreferenceBias, Columns: []string{
			"project_id", "question_id", "scope", "day", "kafka_topic", "kafka_partition",
			"first_chosen", "labels", "expected_scaled", "version",
		}},
		{Name: TablePreferenceAccuracy, Columns: []string{
			"project_id", "question_id", "scope", "day", "kafka_topic", "kafka_partition",
			"correct", "labels", "version",
		}},
	}
}

// preferenceOf converts and checks a preference value: a valid preference.Label (Validate at
// the scale its strength implies: a label cannot know its question's scale, and the gateway
// checked it against the question's definition).
func preferenceOf(v schemas.LabelValue) (preference.Label, error) {
	p := v.Preference
	if p == nil {
		return preference.Label{}, fmt.Errorf("preference value without a preference")
	}
	l := preference.Label{Responses: p.Responses, Choice: p.Choice, ShownFirst: p.ShownFirst, Strength: p.Strength}
	scale := preference.NoScale
	if p.Strength != nil {
		if *p.Strength < 1 {
			return preference.Label{}, &preference.FieldError{Field: "strength", Reason: fmt.Sprintf("must be at least 1, got %d", *p.Strength)}
		}
		scale = preference.Scale(*p.Strength)
	}
	if err := l.Validate(scale); err != nil {
		return preference.Label{}, err
	}
	return l, nil
}

// OrdinalCode codes a preference for ordinal alpha without the question's strength scale S:
// the signed strength, −s when the first response of the canonical order is chosen with
// strength s and +s when the second is. preference.OrdinalValue's ranks are S−s and S−1+s,
// a strictly increasing function of the signed strength for every S, and Krippendorff's
// ordinal distance depends only on the order of the values and their frequencies, so alpha
// over these codes equals alpha over OrdinalValue's for the scale the labels were given on
// (TestOrdinalCodeEqualsOrdinalValues). ok is false where OrdinalValue finds no ordinal value:
// no strength, or other than two responses.
func OrdinalCode(l preference.Label) (v agreement.Value, ok bool) {
	if len(l.Responses) != 2 || l.Strength == nil {
		return "", false
	}
	switch l.ChoiceIndex() {
	case 0:
		return agreement.Rank(-int(*l.Strength)), true
	case 1:
		return agreement.Rank(int(*l.Strength)), true
	}
	return "", false
}

// codes returns the values of the answers of one coding.
func codes(coding string, es []answerEntry[preference.Label]) []agreement.Value {
	var out []agreement.Value
	for _, e := range es {
		if coding == CodingNominal {
			if v, err := preference.NominalValue(e.value); err == nil { // valid labels only: always
				out = append(out, v)
			}
			continue
		}
		if v, ok := OrdinalCode(e.value); ok {
			out = append(out, v)
		}
	}
	return out
}

// prefKey addresses the totals of one (project, question, scope, day).
type prefKey struct {
	project, question, scope str
	day                      int64
}

// prefCellKey addresses one coincidence cell of a coding.
type prefCellKey struct {
	prefKey
	coding str
	size   int
	a, b   value
}

// prefProfileKey addresses the units of one profile of a coding.
type prefProfileKey struct {
	prefKey
	coding, profile str
}

// PreferenceState is the state of one labels partition.
type PreferenceState struct {
	topic     string
	partition int32
	answers[preference.Label]
	cells    map[prefCellKey]int64
	profiles map[prefProfileKey]int64
	bias     map[prefKey]preference.BiasCounts
	accuracy map[prefKey]preference.AccuracyCounts
}

// StateKeys is the number of keys the state holds (runtime.StateSizer).
func (s *PreferenceState) StateKeys() int {
	return s.answers.keys() + len(s.cells) + len(s.profiles) + len(s.bias) + len(s.accuracy)
}

// NewState implements runtime.Processor.
func (*Preference) NewState(topic string, partition int32) any {
	return &PreferenceState{topic: topic, partition: partition, answers: newAnswers[preference.Label](),
		cells: map[prefCellKey]int64{}, profiles: map[prefProfileKey]int64{},
		bias: map[prefKey]preference.BiasCounts{}, accuracy: map[prefKey]preference.AccuracyCounts{}}
}

// prefTouched collects the totals a record changed.
type prefTouched struct {
	cells    map[prefCellKey]bool
	profiles map[prefProfileKey]bool
	bias     map[prefKey]bool
	accuracy map[prefKey]bool
}

// sameResponses refuses a preference whose responses are not those of its item question's
// labels and gold answer: codes and scores are defined only within one canonical order.
// what names the record in the error.
func sameResponses(what string, l preference.Label) func(*answerItem[preference.Label]) error {
	return func(it *answerItem[preference.Label]) error {
		var first *preference.Label
		switch {
		case it == nil:
		case len(it.units) > 0:
			first = &it.units[0].entries[0].value
		case it.gold != nil:
			first = &it.gold.value
		}
		if first != nil && !preference.SameResponses(*first, l) {
			return fmt.Errorf("%s: preference: %w", what, &preference.FieldError{Field: "responses", Reason: fmt.Sprintf(
				"%q differs from %q, the responses the item's other preferences compare: every label and gold answer of an item compares the same responses in the same order",
				l.Responses, first.Responses)})
		}
		return nil
	}
}

// Apply implements runtime.Processor. Preference labels and gold answers count; every other
// event and level is ignored. Copies, repeated label ids, retractions and their rules are
// those of the region agreement processor (Regions.Apply). A preference that is not valid
// (preference.Label.Validate) or compares other responses than its item's other labels and
// gold is refused (DLQ) with the field it is wrong in.
func (p *Preference) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*PreferenceState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("preference: state is %T, want *PreferenceState", state)
	}
	touched := prefTouched{cells: map[prefCellKey]bool{}, profiles: map[prefProfileKey]bool{}, bias: map[prefKey]bool{}, accuracy: map[prefKey]bool{}}
	level := string(schemas.LevelPreference)
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if e.Value.Level != schemas.LevelPreference {
			return runtime.Output{}, nil
		}
		l, err := preferenceOf(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("label %s: preference: %w", e.LabelID, err)
		}
		c, done, err := s.submit(p.limits, s.StateKeys(), e, level, l, sameResponses("label "+e.LabelID, l))
		if done {
			return runtime.Output{}, err
		}
		s.moved(c, touched)
	case *schemas.LabelRetracted:
		c, done, err := s.retract(p.limits, s.StateKeys(), rec, e)
		if done {
			return runtime.Output{}, err
		}
		s.moved(c, touched)
	case *schemas.GoldLabelSet:
		if e.Value.Level != schemas.LevelPreference {
			return runtime.Output{}, nil
		}
		g, err := preferenceOf(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("gold of %s/%s: preference: %w", e.ItemID, e.QuestionID, err)
		}
		equal := func(x, y preference.Label) bool {
			return preference.SameResponses(x, y) && x.Choice == y.Choice // what scoring compares
		}
		iq, it, old, changed, err := s.setGold(p.limits, s.StateKeys(), rec, e, level, g, equal, sameResponses("gold of "+e.ItemID+"/"+e.QuestionID, g))
		if err != nil || !changed {
			return runtime.Output{}, err
		}
		for _, u := range it.units {
			for _, en := range u.currents() {
				if old != nil {
					s.score(iq.question, u, &en, &old.value, -1, touched)
				}
				s.score(iq.question, u, &en, &it.gold.value, +1, touched)
			}
		}
	default:
		return runtime.Output{}, nil
	}
	return s.rows(rec.Offset, touched), nil
}

// moved applies a change of one annotator's answer on a unit: the unit's coincidences and
// profile in each scope of the old and new answer move from the unit's answers before to its
// answers now, and the answer's position-bias counts and score against gold go out as they
// were and in as they are.
func (s *PreferenceState) moved(c answerChange[preference.Label], touched prefTouched) {
	if !c.moved() {
		return
	}
	u, question := c.unit, c.iq.question
	now := u.currents()
	annotator := c.before
	if annotator == nil {
		annotator = c.after
	}
	was := slices.DeleteFunc(slices.Clone(now), func(e answerEntry[preference.Label]) bool { return e.annotator == annotator.annotator })
	if c.before != nil {
		was = append(was, *c.before)
	}
	scopes := map[string]bool{}
	for _, e := range []*answerEntry[preference.Label]{c.before, c.after} {
		if e != nil {
			for _, sc := range scopesOf(e.cohort.Value(), e.vendor.Value()) {
				scopes[sc] = true
			}
		}
	}
	for _, scope := range slices.Sorted(maps.Keys(scopes)) {
		k := prefKey{u.project, question, intern(scope), u.day}
		for _, coding := range []string{CodingNominal, CodingOrdinal} {
			s.moveUnit(k, intern(coding), codes(coding, inScope(was, scope)), codes(coding, inScope(now, scope)), touched)
		}
	}
	g := c.item.gold
	for _, m := range []struct {
		e    *answerEntry[preference.Label]
		sign int64
	}{{c.before, -1}, {c.after, +1}} {
		if m.e == nil {
			continue
		}
		b, _ := preference.BiasOf(m.e.value) // valid labels only: no error
		for _, scope := range scopesOfEntry(m.e) {
			k := prefKey{u.project, question, intern(scope), u.day}
			if m.sign > 0 {
				s.bias[k] = s.bias[k].Add(b)
			} else {
				s.bias[k] = s.bias[k].Sub(b)
			}
			touched.bias[k] = true
		}
		if g != nil {
			s.score(question, u, m.e, &g.value, m.sign, touched)
		}
	}
}

// inScope keeps the answers that count in scope (all, a cohort's, a vendor's).
func inScope(es []answerEntry[preference.Label], scope string) []answerEntry[preference.Label] {
	var out []answerEntry[preference.Label]
	for _, e := range es {
		if scope == ScopeAll || (e.cohort.Value() != "" && scope == CohortScope(e.cohort.Value())) ||
			(e.vendor.Value() != "" && scope == VendorScope(e.vendor.Value())) {
			out = append(out, e)
		}
	}
	return out
}

// moveUnit moves one unit of one coding from the values was to the values is: its
// coincidence cells and its profile.
func (s *PreferenceState) moveUnit(k prefKey, coding str, was, is []agreement.Value, touched prefTouched) {
	before, after := agreement.NewCoincidences(), agreement.NewCoincidences()
	before.AddUnit(was)
	after.AddUnit(is)
	for _, m := range []struct {
		co   *agreement.Coincidences
		sign int64
	}{{before, -1}, {after, +1}} {
		for _, c := range m.co.Cells() {
			ck := prefCellKey{k, coding, c.UnitSize, internValue(c.A), internValue(c.B)}
			s.cells[ck] += m.sign * c.Count
			touched.cells[ck] = true
		}
	}
	for _, m := range []struct {
		vals []agreement.Value
		sign int64
	}{{was, -1}, {is, +1}} {
		if len(m.vals) < 2 { // not pairable: no profile, as no cells
			continue
		}
		pk := prefProfileKey{k, coding, intern(agreement.ProfileKey(m.vals))}
		s.profiles[pk] += m.sign
		touched.profiles[pk] = true
	}
}

// score adds (sign +1) or takes out (-1) the verdict of answer e against gold in every scope
// of the answer.
func (s *PreferenceState) score(question str, u *answerUnit[preference.Label], e *answerEntry[preference.Label], gold *preference.Label, sign int64, touched prefTouched) {
	a, err := preference.AccuracyOf(e.value, *gold)
	if err != nil { // the responses of an item's labels and gold are checked equal on arrival
		return
	}
	for _, scope := range scopesOfEntry(e) {
		k := prefKey{u.project, question, intern(scope), u.day}
		if sign > 0 {
			s.accuracy[k] = s.accuracy[k].Add(a)
		} else {
			s.accuracy[k] = s.accuracy[k].Sub(a)
		}
		touched.accuracy[k] = true
	}
}

func cmpPrefKey(x, y prefKey) int {
	return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.scope, y.scope), cmp.Compare(x.day, y.day))
}

func cmpPrefCellKey(x, y prefCellKey) int {
	return cmp.Or(cmpPrefKey(x.prefKey, y.prefKey), cmpStr(x.coding, y.coding), cmp.Compare(x.size, y.size), cmpVal(x.a, y.a), cmpVal(x.b, y.b))
}

func cmpPrefProfileKey(x, y prefProfileKey) int {
	return cmp.Or(cmpPrefKey(x.prefKey, y.prefKey), cmpStr(x.coding, y.coding), cmpStr(x.profile, y.profile))
}

// rows returns the current totals of the touched keys, sorted; a total back at zero is
// written and forgotten.
func (s *PreferenceState) rows(offset int64, touched prefTouched) runtime.Output {
	var out runtime.Output
	day := func(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }
	for _, k := range slices.SortedFunc(maps.Keys(touched.cells), cmpPrefCellKey) {
		n := s.cells[k]
		if n == 0 {
			delete(s.cells, k)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TablePreferenceCells, Values: []any{
			k.project.Value(), k.question.Value(), k.coding.Value(), k.scope.Value(), day(k.day), s.topic, uint32(s.partition),
			uint32(k.size), string(k.a.Value()), string(k.b.Value()), n, uint64(offset),
		}})
	}
	for _, k := range slices.SortedFunc(maps.Keys(touched.profiles), cmpPrefProfileKey) {
		n := s.profiles[k]
		if n == 0 {
			delete(s.profiles, k)
		}
		vals, err := agreement.ParseProfileKey(k.profile.Value())
		if err != nil { // keys are made by ProfileKey
			vals = nil
		}
		values, counts := profileColumns(vals)
		out.Rows = append(out.Rows, runtime.Row{Table: TablePreferenceProfiles, Values: []any{
			k.project.Value(), k.question.Value(), k.coding.Value(), k.scope.Value(), day(k.day), s.topic, uint32(s.partition),
			k.profile.Value(), values, counts, n, uint64(offset),
		}})
	}
	for _, k := range slices.SortedFunc(maps.Keys(touched.bias), cmpPrefKey) {
		b := s.bias[k]
		if b == (preference.BiasCounts{}) {
			delete(s.bias, k)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TablePreferenceBias, Values: []any{
			k.project.Value(), k.question.Value(), k.scope.Value(), day(k.day), s.topic, uint32(s.partition),
			b.FirstChosen, b.Labels, b.ExpectedScaled, uint64(offset),
		}})
	}
	for _, k := range slices.SortedFunc(maps.Keys(touched.accuracy), cmpPrefKey) {
		a := s.accuracy[k]
		if a == (preference.AccuracyCounts{}) {
			delete(s.accuracy, k)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TablePreferenceAccuracy, Values: []any{
			k.project.Value(), k.question.Value(), k.scope.Value(), day(k.day), s.topic, uint32(s.partition),
			a.Correct, a.Labels, uint64(offset),
		}})
	}
	return out
}

// Coincidences returns the partition's current coincidences of one coding of one (project,
// question, scope) over every day, for tests and for checking a partition's state against
// ClickHouse.
func (s *PreferenceState) Coincidences(project, question, coding, scope string) (*agreement.Coincidences, error) {
	var cells []agreement.Cell
	for k, n := range s.cells {
		if k.project.Value() == project && k.question.Value() == question && k.coding.Value() == coding && k.scope.Value() == scope {
			cells = append(cells, agreement.Cell{UnitSize: k.size, A: k.a.Value(), B: k.b.Value(), Count: n})
		}
	}
	return agreement.CoincidencesFromCells(cells)
}

// Profiles returns the partition's current unit profiles of one coding of one (project,
// question, scope) over every day, for tests.
func (s *PreferenceState) Profiles(project, question, coding, scope string) ([]agreement.UnitProfile, error) {
	byKey := map[string]int64{}
	for k, n := range s.profiles {
		if k.project.Value() == project && k.question.Value() == question && k.coding.Value() == coding && k.scope.Value() == scope {
			byKey[k.profile.Value()] += n
		}
	}
	var out []agreement.UnitProfile
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		vals, err := agreement.ParseProfileKey(key)
		if err != nil {
			return nil, err
		}
		out = append(out, agreement.UnitProfile{Values: vals, Units: byKey[key]})
	}
	return out, nil
}

// Counts returns the partition's current position-bias and accuracy counts of one (project,
// question, scope) over every day, for tests.
func (s *PreferenceState) Counts(project, question, scope string) (preference.BiasCounts, preference.AccuracyCounts) {
	var b preference.BiasCounts
	var a preference.AccuracyCounts
	for k, x := range s.bias {
		if k.project.Value() == project && k.question.Value() == question && k.scope.Value() == scope {
			b = b.Add(x)
		}
	}
	for k, x := range s.accuracy {
		if k.project.Value() == project && k.question.Value() == question && k.scope.Value() == scope {
			a = a.Add(x)
		}
	}
	return b, a
}
