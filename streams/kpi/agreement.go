package kpi

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/runtime"
)

// AgreementName is the agreement processor's name (metrics label, consumer
// group suffix, services/processor -processors value).
const AgreementName = "kpi_agreement"

// Tables written by the agreement processor.
const (
	// TableAgreementCells holds per-partition coincidence cells.
	TableAgreementCells = "agreement_cells"
	// TableAnnotatorPairs holds per-partition pair counts of each annotator
	// with the other annotators of the same units.
	TableAnnotatorPairs = "annotator_pairs"
	// TablePairCells holds per-partition contingency tables of every pair
	// of annotators over the units both labeled: Cohen's kappa input.
	TablePairCells = "annotator_pair_cells"
	// TableAgreementCellsDaily holds the coincidence cells again, split by
	// the day a unit started, so windows of days can be merged.
	TableAgreementCellsDaily = "agreement_cells_daily"
	// TableAgreementProfiles holds per-partition counts of units by profile
	// (their multiset of values), split by the day a unit started: the input
	// of alpha's confidence interval (agreement.AlphaInterval).
	TableAgreementProfiles = "agreement_profiles"
	// TableAgreementProfilesTotal holds the same counts over all time (every
	// day summed), so an all-time read does not grow with the days
	// (migration 0073).
	TableAgreementProfilesTotal = "agreement_profiles_total"
)

// Agreement is the agreement processor: it keeps, per partition, the values
// given to every unit (an item's answers to one question) and the exact
// integer coincidence cells of streams/agreement over those units, per
// (project, question, level, scope), and writes each changed cell's current
// partition total. LabelSubmitted adds a value to its unit, LabelRetracted
// removes it again (exactly, since the cells are integers).
type Agreement struct{ base }

// NewAgreement returns the agreement processor; WithMaxStateKeys and
// WithMaxUnitLabels apply. It reads labels only, so the state of a
// partition is complete on its own.
func NewAgreement(opts ...Option) *Agreement {
	return &Agreement{newBase(AgreementName, AgreementTables(), opts, schemas.FamilyLabels)}
}

var (
	_ runtime.Processor    = (*Agreement)(nil)
	_ runtime.Instrumented = (*Agreement)(nil)
)

// AgreementTables declares the agreement processor's tables (migrations
// 0003, 0005, 0007, 0035 and 0073).
func AgreementTables() []runtime.Table {
	return []runtime.Table{
		{Name: TableAgreementCells, Columns: []string{
			"project_id", "question_id", "level", "scope", "kafka_topic", "kafka_partition",
			"unit_size", "a", "b", "count", "version",
		}},
		{Name: TableAnnotatorPairs, Columns: []string{
			"project_id", "question_id", "annotator_id", "kafka_topic", "kafka_partition",
			"pairs", "agreements", "version",
		}},
		{Name: TableAgreementCellsDaily, Columns: []string{
			"project_id", "question_id", "level", "scope", "day", "kafka_topic", "kafka_partition",
			"unit_size", "a", "b", "count", "version",
		}},
		{Name: TablePairCells, Columns: []string{
			"project_id", "question_id", "level", "annotator_a", "annotator_b", "kafka_topic", "kafka_partition",
			"value_a", "value_b", "count", "version",
		}},
		{Name: TableAgreementProfiles, Columns: []string{
			"project_id", "question_id", "level", "scope", "day", "kafka_topic", "kafka_partition",
			"profile", "values", "counts", "units", "version",
		}},
		{Name: TableAgreementProfilesTotal, Columns: []string{
			"project_id", "question_id", "level", "scope", "kafka_topic", "kafka_partition",
			"profile", "values", "counts", "units", "version",
		}},
	}
}

// unitKey addresses one unit: an item's answers to one question of a
// project at one level (a question answered at two levels is two questions
// as far as agreement goes, since the values are not comparable). No row
// names the item, so it is kept as a digest.
type unitKey struct {
	project, question, level str
	item                     id128
}

// unit is a live unit: its key, the UTC day (since the epoch) of its first
// label, which is the day the unit counts in for windowed agreement, and
// its counted labels.
type unit struct {
	key     unitKey
	day     int64
	entries []entry
}

// entry is one counted label of a unit. producer is the producer of its
// LabelSubmitted: only that producer may retract it (access, rule
// labeler.own_labels).
type entry struct {
	label                               id128
	annotator, cohort, vendor, producer str
	value                               value
}

// inScope reports whether the entry counts in scope.
func (e entry) inScope(scope string) bool {
	return scope == ScopeAll || (e.cohort.Value() != "" && scope == CohortScope(e.cohort.Value())) ||
		(e.vendor.Value() != "" && scope == VendorScope(e.vendor.Value()))
}

// cellKey addresses one partition total of agreement_cells.
type cellKey struct {
	project, question, level, scope str
	size                            int
	a, b                            value
}

// dayCellKey addresses one partition total of agreement_cells_daily.
type dayCellKey struct {
	cellKey
	day int64 // days since the epoch, UTC
}

// profileKey addresses one partition total of agreement_profiles: the units
// of one scope that started on day and hold the values profile names
// (agreement.ProfileKey, interned: few distinct profiles recur).
type profileKey struct {
	project, question, level, scope str
	day                             int64
	profile                         str
}

// profileTotalKey addresses one partition total of agreement_profiles_total:
// a profileKey without its day.
type profileTotalKey struct {
	project, question, level, scope str
	profile                         str
}

// annKey addresses one partition total of annotator_pairs.
type annKey struct{ project, question, annotator str }

// pairCellKey addresses one partition total of annotator_pair_cells:
// annotator a < annotator b, and the values they gave one unit.
type pairCellKey struct {
	project, question, level, a, b str
	va, vb                         value
}

// pairCount is an annotator's pairs with others and how many of them agree.
type pairCount struct{ pairs, agreements int64 }

// AgreementState is the state of one labels partition.
type AgreementState struct {
	topic     string
	partition int32
	// labels maps a counted label (its id's digest) to its unit, so a
	// retraction finds it.
	labels map[id128]*unit
	units  map[unitKey]*unit
	cells  map[cellKey]int64
	pairs  map[annKey]pairCount
	kappa  map[pairCellKey]int64
	daily  map[dayCellKey]int64
	// profiles counts the pairable units of each scope by profile and day,
	// and profileTotals by profile over every day (the sums of profiles).
	profiles      map[profileKey]int64
	profileTotals map[profileTotalKey]int64
	// applied holds every label event applied, by the ledger's key of its
	// table (item, label, event id), so that a duplicate delivery (the
	// same event at a second offset) changes nothing, even after the label
	// was retracted or its id reused.
	applied map[id128]struct{}
}

// StateKeys is the number of keys the state holds (runtime.StateSizer).
func (s *AgreementState) StateKeys() int {
	return len(s.labels) + len(s.units) + len(s.cells) + len(s.pairs) + len(s.kappa) + len(s.daily) + len(s.profiles) + len(s.profileTotals) + len(s.applied)
}

// NewState implements runtime.Processor.
func (*Agreement) NewState(topic string, partition int32) any {
	return &AgreementState{
		topic: topic, partition: partition,
		labels: map[id128]*unit{}, units: map[unitKey]*unit{},
		cells: map[cellKey]int64{}, pairs: map[annKey]pairCount{}, kappa: map[pairCellKey]int64{},
		daily: map[dayCellKey]int64{}, profiles: map[profileKey]int64{}, profileTotals: map[profileTotalKey]int64{},
		applied: map[id128]struct{}{},
	}
}

// labelEventKey is the ledger's key of a label event in its table: the
// same event delivered twice has the same key.
func labelEventKey(t schemas.EventType, item, label, eventID string) id128 {
	return idOf(string(t), item, label, eventID)
}

// Apply implements runtime.Processor. A label event delivered twice (the
// same event id at two offsets) is applied once. A label submitted again
// under a new event id while it counts (the same label_id reused) is
// ignored; a retraction of a label the partition never counted changes
// nothing, since the retraction may be the only trace of a label that was
// poison. A retraction of a counted label by another producer than the
// label's, or (with an authorizer) by a principal whose projects do not
// hold the label's, is refused (rec.Authorized): the runner sends it to
// the DLQ.
func (a *Agreement) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*AgreementState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("agreement: state is %T, want *AgreementState", state)
	}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if measuredApart(e.Value.Level) {
			return runtime.Output{}, nil // kpi_regions and kpi_preference measure it
		}
		ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
		id := idOf(e.LabelID)
		_, live := s.labels[id]
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
		k := unitKey{intern(e.ProjectID), intern(e.QuestionID), intern(string(e.Value.Level)), idOf(e.ItemID)}
		u := s.units[k]
		if u != nil {
			if err := a.limits.unitFull(len(u.entries), "label "+e.LabelID); err != nil {
				return runtime.Output{}, err
			}
		} else {
			u = &unit{key: k, day: floorDiv(e.OccurredAt, msPerDay)}
			s.units[k] = u
		}
		n := entry{label: id, annotator: intern(e.AnnotatorID), cohort: intern(e.Cohort), vendor: intern(e.Vendor),
			producer: intern(e.Producer), value: internValue(v)}
		old := u.entries
		u.entries = append(slices.Clip(old), n)
		s.labels[id] = u
		s.applied[ek] = struct{}{}
		return s.changed(rec.Offset, u, old, n, +1), nil
	case *schemas.LabelRetracted:
		ek := labelEventKey(e.Type(), e.ItemID, e.LabelID, e.EventID)
		id := idOf(e.LabelID)
		u, live := s.labels[id]
		if done, err := a.limits.seen(s.applied, s.StateKeys(), ek, !live, "retraction of label "+e.LabelID); done {
			return runtime.Output{}, err
		}
		old := u.entries
		i := slices.IndexFunc(old, func(x entry) bool { return x.label == id })
		gone := old[i]
		// Only the label's producer retracts it, in the label's project: a
		// refusal changes nothing and is not remembered, so every copy of
		// it is refused alike.
		if err := rec.Authorized(access.Facts{LabelProducer: gone.producer.Value(), Project: u.key.project.Value()}); err != nil {
			return runtime.Output{}, err // the violation names the rule first, as the DLQ reason should
		}
		// A retraction of a counted label frees more keys than it takes, so
		// it is never refused for room.
		s.applied[ek] = struct{}{}
		u.entries = slices.Delete(slices.Clone(old), i, i+1)
		delete(s.labels, id)
		if len(u.entries) == 0 {
			delete(s.units, u.key)
		}
		return s.changed(rec.Offset, u, old, gone, -1), nil
	}
	// GoldLabelSet and future label events do not change agreement.
	return runtime.Output{}, nil
}

// changed moves unit u from old to its current entries (one entry, e, added
// with sign +1 or removed with -1) and returns the rows of every total that
// moved.
func (s *AgreementState) changed(offset int64, u *unit, old []entry, e entry, sign int64) runtime.Output {
	var out runtime.Output
	k, now := u.key, u.entries
	project, question, level := k.project.Value(), k.question.Value(), k.level.Value()
	for _, scope := range scopesOf(e.cohort.Value(), e.vendor.Value()) {
		was, is := valuesIn(old, scope), valuesIn(now, scope)
		before, after := agreement.NewCoincidences(), agreement.NewCoincidences()
		before.AddUnit(was)
		after.AddUnit(is)
		sc := intern(scope)
		touched := map[cellKey]bool{}
		for _, c := range before.Cells() {
			ck := cellKey{k.project, k.question, k.level, sc, c.UnitSize, internValue(c.A), internValue(c.B)}
			s.cells[ck] -= c.Count
			s.daily[dayCellKey{ck, u.day}] -= c.Count
			touched[ck] = true
		}
		for _, c := range after.Cells() {
			ck := cellKey{k.project, k.question, k.level, sc, c.UnitSize, internValue(c.A), internValue(c.B)}
			s.cells[ck] += c.Count
			s.daily[dayCellKey{ck, u.day}] += c.Count
			touched[ck] = true
		}
		keys := make([]cellKey, 0, len(touched))
		for ck := range touched {
			keys = append(keys, ck)
		}
		// Sorted so the output (and the tests) are deterministic.
		slices.SortFunc(keys, compareCells)
		for _, ck := range keys {
			n := s.cells[ck]
			if n == 0 {
				// The zero is written (it replaces the partition's last total)
				// and then forgotten, so the state does not grow with dead cells.
				delete(s.cells, ck)
			}
			out.Rows = append(out.Rows, runtime.Row{Table: TableAgreementCells, Values: []any{
				project, question, level, scope, s.topic, uint32(s.partition),
				uint32(ck.size), string(ck.a.Value()), string(ck.b.Value()), n, uint64(offset),
			}})
			dk := dayCellKey{ck, u.day}
			dn := s.daily[dk]
			if dn == 0 {
				delete(s.daily, dk)
			}
			out.Rows = append(out.Rows, runtime.Row{Table: TableAgreementCellsDaily, Values: []any{
				project, question, level, scope, time.Unix(u.day*86400, 0).UTC(), s.topic, uint32(s.partition),
				uint32(ck.size), string(ck.a.Value()), string(ck.b.Value()), dn, uint64(offset),
			}})
		}
		out.Rows = append(out.Rows, s.moveProfile(offset, k, sc, u.day, was, is)...)
	}
	// Per-annotator agreement: the new (or retracted) label pairs with every
	// label of the unit by another annotator; both annotators gain (lose) a
	// pair, and an agreement when the values are equal.
	touched := map[annKey]bool{}
	touchedCells := map[pairCellKey]bool{}
	for _, o := range old {
		if o.label == e.label || o.annotator == e.annotator {
			continue
		}
		pk := pairCellKey{k.project, k.question, k.level, e.annotator, o.annotator, e.value, o.value}
		if o.annotator.Value() < e.annotator.Value() {
			pk.a, pk.b, pk.va, pk.vb = o.annotator, e.annotator, o.value, e.value
		}
		s.kappa[pk] += sign
		touchedCells[pk] = true
		agree := int64(0)
		if o.value == e.value {
			agree = 1
		}
		for _, a := range []str{e.annotator, o.annotator} {
			ak := annKey{k.project, k.question, a}
			pc := s.pairs[ak]
			pc.pairs += sign
			pc.agreements += sign * agree
			s.pairs[ak] = pc
			touched[ak] = true
		}
	}
	akeys := make([]annKey, 0, len(touched))
	for ak := range touched {
		akeys = append(akeys, ak)
	}
	slices.SortFunc(akeys, func(x, y annKey) int { return strings.Compare(x.annotator.Value(), y.annotator.Value()) })
	for _, ak := range akeys {
		pc := s.pairs[ak]
		if pc.pairs == 0 {
			delete(s.pairs, ak)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableAnnotatorPairs, Values: []any{
			project, question, ak.annotator.Value(), s.topic, uint32(s.partition),
			pc.pairs, pc.agreements, uint64(offset),
		}})
	}
	pkeys := make([]pairCellKey, 0, len(touchedCells))
	for pk := range touchedCells {
		pkeys = append(pkeys, pk)
	}
	slices.SortFunc(pkeys, func(x, y pairCellKey) int {
		return strings.Compare(x.a.Value()+"\x00"+x.b.Value()+"\x00"+string(x.va.Value())+"\x00"+string(x.vb.Value()),
			y.a.Value()+"\x00"+y.b.Value()+"\x00"+string(y.va.Value())+"\x00"+string(y.vb.Value()))
	})
	for _, pk := range pkeys {
		n := s.kappa[pk]
		if n == 0 {
			delete(s.kappa, pk)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TablePairCells, Values: []any{
			project, question, level, pk.a.Value(), pk.b.Value(), s.topic, uint32(s.partition),
			string(pk.va.Value()), string(pk.vb.Value()), n, uint64(offset),
		}})
	}
	return out
}

// moveProfile moves one unit of scope sc from the profile of its values
// was to that of is (one value more or less) and returns the changed
// totals, the one left first, each of its day and over all days. Units with fewer than two values are not
// pairable: they have no profile, as they have no coincidence cells.
func (s *AgreementState) moveProfile(offset int64, k unitKey, sc str, day int64, was, is []agreement.Value) []runtime.Row {
	var rows []runtime.Row
	for _, m := range []struct {
		vals []agreement.Value
		d    int64
	}{{was, -1}, {is, +1}} {
		if len(m.vals) < 2 {
			continue
		}
		pk := profileKey{k.project, k.question, k.level, sc, day, intern(agreement.ProfileKey(m.vals))}
		n := s.profiles[pk] + m.d
		if n == 0 {
			delete(s.profiles, pk) // written as 0, then forgotten, like a cell
		} else {
			s.profiles[pk] = n
		}
		tk := profileTotalKey{k.project, k.question, k.level, sc, pk.profile}
		total := s.profileTotals[tk] + m.d
		if total == 0 {
			delete(s.profileTotals, tk)
		} else {
			s.profileTotals[tk] = total
		}
		values, counts := profileColumns(m.vals)
		rows = append(rows, runtime.Row{Table: TableAgreementProfiles, Values: []any{
			k.project.Value(), k.question.Value(), k.level.Value(), sc.Value(), time.Unix(day*86400, 0).UTC(),
			s.topic, uint32(s.partition), pk.profile.Value(), values, counts, n, uint64(offset),
		}}, runtime.Row{Table: TableAgreementProfilesTotal, Values: []any{
			k.project.Value(), k.question.Value(), k.level.Value(), sc.Value(),
			s.topic, uint32(s.partition), pk.profile.Value(), values, counts, total, uint64(offset),
		}})
	}
	return rows
}

// profileColumns returns a profile's distinct values, sorted, and how many
// times each occurs: the readable form of the key, in two arrays.
func profileColumns(vals []agreement.Value) ([]string, []uint32) {
	sorted := slices.Sorted(slices.Values(vals))
	var values []string
	var counts []uint32
	for i, v := range sorted {
		if i > 0 && v == sorted[i-1] {
			counts[len(counts)-1]++
			continue
		}
		values = append(values, string(v))
		counts = append(counts, 1)
	}
	return values, counts
}

// valuesIn returns the values of the entries that count in scope.
func valuesIn(es []entry, scope string) []agreement.Value {
	var out []agreement.Value
	for _, e := range es {
		if e.inScope(scope) {
			out = append(out, e.value.Value())
		}
	}
	return out
}

const msPerDay = 86_400_000

// floorDiv divides rounding toward minus infinity, so instants before the
// epoch land on the right day.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func compareCells(x, y cellKey) int {
	switch {
	case x.size != y.size:
		return x.size - y.size
	case x.a != y.a:
		return strings.Compare(string(x.a.Value()), string(y.a.Value()))
	case x.b != y.b:
		return strings.Compare(string(x.b.Value()), string(y.b.Value()))
	}
	return 0
}

// Coincidences returns the partition's current coincidence totals of one
// (project, question, level, scope), for tests and for checking a
// partition's state against ClickHouse.
func (s *AgreementState) Coincidences(project, question, level, scope string) (*agreement.Coincidences, error) {
	var cells []agreement.Cell
	for k, n := range s.cells {
		if k.project.Value() == project && k.question.Value() == question && k.level.Value() == level && k.scope.Value() == scope {
			cells = append(cells, agreement.Cell{UnitSize: k.size, A: k.a.Value(), B: k.b.Value(), Count: n})
		}
	}
	return agreement.CoincidencesFromCells(cells)
}

// Profiles returns the partition's current unit profiles of one (project,
// question, level, scope), over every day, for tests and for checking a
// partition's state against ClickHouse.
func (s *AgreementState) Profiles(project, question, level, scope string) ([]agreement.UnitProfile, error) {
	byKey := map[string]int64{}
	for k, n := range s.profiles {
		if k.project.Value() == project && k.question.Value() == question && k.level.Value() == level && k.scope.Value() == scope {
			byKey[k.profile.Value()] += n
		}
	}
	out := make([]agreement.UnitProfile, 0, len(byKey))
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		vals, err := agreement.ParseProfileKey(key)
		if err != nil {
			return nil, err
		}
		out = append(out, agreement.UnitProfile{Values: vals, Units: byKey[key]})
	}
	return out, nil
}
