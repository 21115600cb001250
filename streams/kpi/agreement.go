package kpi

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
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
)

// Agreement is the agreement processor: it keeps, per partition, the values
// given to every unit (an item's answers to one question) and the exact
// integer coincidence cells of streams/agreement over those units, per
// (project, question, level, scope), and writes each changed cell's current
// partition total. LabelSubmitted adds a value to its unit, LabelRetracted
// removes it again (exactly, since the cells are integers).
type Agreement struct{}

// NewAgreement returns the agreement processor.
func NewAgreement() *Agreement { return &Agreement{} }

var _ runtime.Processor = (*Agreement)(nil)

// Name implements runtime.Processor.
func (*Agreement) Name() string { return AgreementName }

// Families implements runtime.Processor: labels only, so the state of a
// partition is complete on its own.
func (*Agreement) Families() []schemas.Family { return []schemas.Family{schemas.FamilyLabels} }

// Tables implements runtime.Processor.
func (*Agreement) Tables() []runtime.Table { return AgreementTables() }

// AgreementTables declares the agreement processor's tables (migration 0003).
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
	}
}

// unitKey addresses one unit: an item's answers to one question of a
// project at one level (a question answered at two levels is two questions
// as far as agreement goes, since the values are not comparable).
type unitKey struct {
	project, question, level, item string
}

// entry is one counted label of a unit.
type entry struct {
	labelID, annotator, cohort, vendor string
	value                              agreement.Value
}

// inScope reports whether the entry counts in scope.
func (e entry) inScope(scope string) bool {
	return scope == ScopeAll || (e.cohort != "" && scope == CohortScope(e.cohort)) || (e.vendor != "" && scope == VendorScope(e.vendor))
}

// cellKey addresses one partition total of agreement_cells.
type cellKey struct {
	project, question, level, scope string
	size                            int
	a, b                            agreement.Value
}

// dayCellKey addresses one partition total of agreement_cells_daily.
type dayCellKey struct {
	cellKey
	day int64 // days since the epoch, UTC
}

// annKey addresses one partition total of annotator_pairs.
type annKey struct{ project, question, annotator string }

// pairCellKey addresses one partition total of annotator_pair_cells:
// annotator a < annotator b, and the values they gave one unit.
type pairCellKey struct {
	project, question, level, a, b string
	va, vb                         agreement.Value
}

// pairCount is an annotator's pairs with others and how many of them agree.
type pairCount struct{ pairs, agreements int64 }

// AgreementState is the state of one labels partition.
type AgreementState struct {
	topic     string
	partition int32
	// labels maps a counted label to its unit, so a retraction finds it.
	labels map[string]unitKey
	units  map[unitKey][]entry
	cells  map[cellKey]int64
	pairs  map[annKey]pairCount
	kappa  map[pairCellKey]int64
	// unitDay is the UTC day (since the epoch) of the first label of each
	// live unit: the day the unit counts in for windowed agreement.
	unitDay map[unitKey]int64
	daily   map[dayCellKey]int64
}

// NewState implements runtime.Processor.
func (*Agreement) NewState(topic string, partition int32) any {
	return &AgreementState{
		topic: topic, partition: partition,
		labels: map[string]unitKey{}, units: map[unitKey][]entry{},
		cells: map[cellKey]int64{}, pairs: map[annKey]pairCount{}, kappa: map[pairCellKey]int64{},
		unitDay: map[unitKey]int64{}, daily: map[dayCellKey]int64{},
	}
}

// Apply implements runtime.Processor. A label submitted twice (a client
// retry, or the same label_id reused) counts once; a retraction of a label
// the partition never counted changes nothing, since the retraction may be
// the only trace of a label that was poison.
func (*Agreement) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*AgreementState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("agreement: state is %T, want *AgreementState", state)
	}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if _, dup := s.labels[e.LabelID]; dup {
			return runtime.Output{}, nil
		}
		v, err := canonical(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("label %s: %w", e.LabelID, err)
		}
		k := unitKey{e.ProjectID, e.QuestionID, string(e.Value.Level), e.ItemID}
		n := entry{labelID: e.LabelID, annotator: e.AnnotatorID, cohort: e.Cohort, vendor: e.Vendor, value: v}
		old := s.units[k]
		if len(old) == 0 {
			s.unitDay[k] = floorDiv(e.OccurredAt, msPerDay)
		}
		now := append(slices.Clip(old), n)
		s.labels[e.LabelID] = k
		s.units[k] = now
		return s.changed(rec.Offset, k, old, now, n, +1), nil
	case *schemas.LabelRetracted:
		k, ok := s.labels[e.LabelID]
		if !ok {
			return runtime.Output{}, nil
		}
		old := s.units[k]
		i := slices.IndexFunc(old, func(x entry) bool { return x.labelID == e.LabelID })
		gone := old[i]
		now := slices.Delete(slices.Clone(old), i, i+1)
		delete(s.labels, e.LabelID)
		if len(now) == 0 {
			delete(s.units, k)
		} else {
			s.units[k] = now
		}
		out := s.changed(rec.Offset, k, old, now, gone, -1)
		if len(now) == 0 {
			delete(s.unitDay, k)
		}
		return out, nil
	}
	// GoldLabelSet and future label events do not change agreement.
	return runtime.Output{}, nil
}

// changed moves unit k from old to now entries (one entry, e, added with
// sign +1 or removed with -1) and returns the rows of every total that moved.
func (s *AgreementState) changed(offset int64, k unitKey, old, now []entry, e entry, sign int64) runtime.Output {
	var out runtime.Output
	for _, scope := range scopesOf(e.cohort, e.vendor) {
		before, after := agreement.NewCoincidences(), agreement.NewCoincidences()
		before.AddUnit(valuesIn(old, scope))
		after.AddUnit(valuesIn(now, scope))
		touched := map[cellKey]bool{}
		day := s.unitDay[k]
		for _, c := range before.Cells() {
			ck := cellKey{k.project, k.question, k.level, scope, c.UnitSize, c.A, c.B}
			s.cells[ck] -= c.Count
			s.daily[dayCellKey{ck, day}] -= c.Count
			touched[ck] = true
		}
		for _, c := range after.Cells() {
			ck := cellKey{k.project, k.question, k.level, scope, c.UnitSize, c.A, c.B}
			s.cells[ck] += c.Count
			s.daily[dayCellKey{ck, day}] += c.Count
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
				ck.project, ck.question, ck.level, ck.scope, s.topic, uint32(s.partition),
				uint32(ck.size), string(ck.a), string(ck.b), n, uint64(offset),
			}})
			dk := dayCellKey{ck, day}
			dn := s.daily[dk]
			if dn == 0 {
				delete(s.daily, dk)
			}
			out.Rows = append(out.Rows, runtime.Row{Table: TableAgreementCellsDaily, Values: []any{
				ck.project, ck.question, ck.level, ck.scope, time.Unix(day*86400, 0).UTC(), s.topic, uint32(s.partition),
				uint32(ck.size), string(ck.a), string(ck.b), dn, uint64(offset),
			}})
		}
	}
	// Per-annotator agreement: the new (or retracted) label pairs with every
	// label of the unit by another annotator; both annotators gain (lose) a
	// pair, and an agreement when the values are equal.
	touched := map[annKey]bool{}
	touchedCells := map[pairCellKey]bool{}
	for _, o := range old {
		if o.labelID == e.labelID || o.annotator == e.annotator {
			continue
		}
		pk := pairCellKey{k.project, k.question, k.level, e.annotator, o.annotator, e.value, o.value}
		if o.annotator < e.annotator {
			pk.a, pk.b, pk.va, pk.vb = o.annotator, e.annotator, o.value, e.value
		}
		s.kappa[pk] += sign
		touchedCells[pk] = true
		agree := int64(0)
		if o.value == e.value {
			agree = 1
		}
		for _, a := range []string{e.annotator, o.annotator} {
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
	slices.SortFunc(akeys, func(x, y annKey) int {
		if x.annotator < y.annotator {
			return -1
		}
		if x.annotator > y.annotator {
			return 1
		}
		return 0
	})
	for _, ak := range akeys {
		pc := s.pairs[ak]
		if pc.pairs == 0 {
			delete(s.pairs, ak)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableAnnotatorPairs, Values: []any{
			ak.project, ak.question, ak.annotator, s.topic, uint32(s.partition),
			pc.pairs, pc.agreements, uint64(offset),
		}})
	}
	pkeys := make([]pairCellKey, 0, len(touchedCells))
	for pk := range touchedCells {
		pkeys = append(pkeys, pk)
	}
	slices.SortFunc(pkeys, func(x, y pairCellKey) int {
		return strings.Compare(x.a+"\x00"+x.b+"\x00"+string(x.va)+"\x00"+string(x.vb), y.a+"\x00"+y.b+"\x00"+string(y.va)+"\x00"+string(y.vb))
	})
	for _, pk := range pkeys {
		n := s.kappa[pk]
		if n == 0 {
			delete(s.kappa, pk)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TablePairCells, Values: []any{
			pk.project, pk.question, pk.level, pk.a, pk.b, s.topic, uint32(s.partition),
			string(pk.va), string(pk.vb), n, uint64(offset),
		}})
	}
	return out
}

// valuesIn returns the values of the entries that count in scope.
func valuesIn(es []entry, scope string) []agreement.Value {
	var out []agreement.Value
	for _, e := range es {
		if e.inScope(scope) {
			out = append(out, e.value)
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
		if x.a < y.a {
			return -1
		}
		return 1
	case x.b != y.b:
		if x.b < y.b {
			return -1
		}
		return 1
	}
	return 0
}

// Coincidences returns the partition's current coincidence totals of one
// (project, question, level, scope), for tests and for checking a
// partition's state against ClickHouse.
func (s *AgreementState) Coincidences(project, question, level, scope string) (*agreement.Coincidences, error) {
	var cells []agreement.Cell
	for k, n := range s.cells {
		if k.project == project && k.question == question && k.level == level && k.scope == scope {
			cells = append(cells, agreement.Cell{UnitSize: k.size, A: k.a, B: k.b, Count: n})
		}
	}
	return agreement.CoincidencesFromCells(cells)
}
