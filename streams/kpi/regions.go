package kpi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// RegionsName is the region agreement processor's name.
const RegionsName = "kpi_regions"

// Tables written by the region agreement processor (migration 0060).
const (
	// TableRegionPairs holds per-partition totals of the same-label matching of every unit
	// and pair of annotators (regions.Figures): label "" the micro totals, one row per label.
	TableRegionPairs = "region_pairs"
	// TableRegionLabelCells holds per-partition coincidence cells of the any-label matching
	// (label alpha), in agreement_cells' form.
	TableRegionLabelCells = "region_label_cells"
	// TableRegionGold holds per-partition totals of the annotators' regions scored against
	// gold regions: label "" the micro totals, one row per label.
	TableRegionGold = "region_gold"
)

// RegionsIoUThreshold is the IoU threshold kpi_regions matches regions at:
// schemas.DefaultIoUThreshold, whatever a question's QuestionDefined states. A label does not
// restate its question's threshold and QuestionDefined travels on the projects topic, which
// no labels partition sees (the runtime gives each topic partition its own state), so the
// live figures are computed at one threshold, named in every row (iou_threshold) and in
// every RegionFigure; ReadRegions sets the question's own threshold beside it
// (RegionFigure.DefinedIoUThreshold), so a figure measured at another threshold than its
// question's says so, and `assay agreement --iou` computes it at any threshold offline.
const RegionsIoUThreshold = schemas.DefaultIoUThreshold

// Regions is the region agreement processor: for every unit (an item's labels to one
// question of a project at level spans or boxes) it keeps each annotator's regions and, per
// scope and UTC day of the unit's first label, the exact integer totals of streams/regions:
// the same-label matching's counts behind pairwise F1, mean IoU and per-label F1, the
// any-label matching's coincidences behind label alpha, and the counts behind precision,
// recall and F1 against gold regions. A label, a retraction or a gold answer takes the
// contributions it changes out (those of the pairs of the annotator whose answer changed,
// computed again from the regions it kept) and puts the new ones in.
type Regions struct{ base }

// NewRegions returns the region agreement processor; WithMaxStateKeys, WithMaxUnitLabels and
// WithMaxRegionAnnotators apply. It reads labels only: an item's labels and gold answers share its partition.
func NewRegions(opts ...Option) *Regions {
	return &Regions{newBase(RegionsName, RegionsTables(), opts, schemas.FamilyLabels)}
}

var (
	_ runtime.Processor    = (*Regions)(nil)
	_ runtime.Instrumented = (*Regions)(nil)
)

// RegionsTables declares the region agreement processor's tables (migration 0060).
func RegionsTables() []runtime.Table {
	head := []string{"project_id", "question_id", "level", "scope", "day", "iou_threshold", "kafka_topic", "kafka_partition"}
	return []runtime.Table{
		{Name: TableRegionPairs, Columns: append(slices.Clone(head),
			"label", "unit_pairs", "matched", "regions_a", "regions_b", "iou_micro", "version")},
		{Name: TableRegionLabelCells, Columns: append(slices.Clone(head),
			"unit_size", "a", "b", "count", "version")},
		{Name: TableRegionGold, Columns: append(slices.Clone(head),
			"label", "values_scored", "true_positives", "predicted", "gold", "iou_micro", "version")},
	}
}

// regionValue is a spans or boxes answer as streams/regions takes it: one of the two lists,
// nil when empty (a label with no regions).
type regionValue struct {
	spans []regions.Span
	boxes []regions.Box
}

// regionValueOf converts a label value of level spans or boxes. A value with more regions
// than streams/regions matches (regions.MaxRegions; the gateway refuses it, as
// schemas.MaxRegions) is refused here too, before the state changes, so that no matching
// can fail or stall the partition later.
func regionValueOf(v schemas.LabelValue) (regionValue, error) {
	var out regionValue
	switch v.Level {
	case schemas.LevelSpans:
		if len(v.Spans) > regions.MaxRegions {
			return out, fmt.Errorf("%d spans, more than the %d a value may hold", len(v.Spans), regions.MaxRegions)
		}
		if len(v.Boxes) > 0 || v.Preference != nil {
			return out, fmt.Errorf("a spans value carries boxes or a preference")
		}
		for _, s := range v.Spans {
			out.spans = append(out.spans, regions.Span{Label: s.Label, Start: s.Start, End: s.End})
		}
	case schemas.LevelBoxes:
		if len(v.Boxes) > regions.MaxRegions {
			return out, fmt.Errorf("%d boxes, more than the %d a value may hold", len(v.Boxes), regions.MaxRegions)
		}
		if len(v.Spans) > 0 || v.Preference != nil {
			return out, fmt.Errorf("a boxes value carries spans or a preference")
		}
		for _, b := range v.Boxes {
			out.boxes = append(out.boxes, regions.Box{Label: b.Label, X: b.X, Y: b.Y, W: b.W, H: b.H, Score: b.Score})
		}
	default:
		return out, fmt.Errorf("level %q is not spans or boxes", v.Level)
	}
	return out, nil
}

func (x regionValue) equal(y regionValue) bool {
	return slices.Equal(x.spans, y.spans) && slices.EqualFunc(x.boxes, y.boxes, func(a, b regions.Box) bool {
		return a.Label == b.Label && a.X == b.X && a.Y == b.Y && a.W == b.W && a.H == b.H
	})
}

// compareRegions is one unit pair's contribution (first, second: the annotator whose id
// sorts first, then the other, as regions.CompareUnitSpans takes them).
func compareRegions(level str, first, second regionValue) (regions.Agreement, error) {
	if level.Value() == string(schemas.LevelBoxes) {
		return regions.CompareBoxes(first.boxes, second.boxes, RegionsIoUThreshold)
	}
	return regions.CompareSpans(first.spans, second.spans, RegionsIoUThreshold)
}

// scoreRegions is one answer's contribution to accuracy against gold.
func scoreRegions(level str, predicted, gold regionValue) (regions.Figures, error) {
	if level.Value() == string(schemas.LevelBoxes) {
		return regions.ScoreBoxes(predicted.boxes, gold.boxes, RegionsIoUThreshold)
	}
	return regions.ScoreSpans(predicted.spans, gold.spans, RegionsIoUThreshold)
}

// regionKey addresses the totals of one (project, question, level, scope, day).
type regionKey struct {
	project, question, level, scope str
	day                             int64
}

// regionLabelKey addresses one row of region_pairs or region_gold: label "" holds the
// micro totals (and the unit pairs or values scored), any other label the label's.
type regionLabelKey struct {
	regionKey
	label str
}

// regionCellKey addresses one label-alpha coincidence cell (every unit of label alpha is a
// matched pair: size 2).
type regionCellKey struct {
	regionKey
	a, b str
}

// tally is the additive counts of regions.Figures (units, matched, regions of each side,
// micro-IoU), for a label or all of them.
type tally struct{ units, matched, a, b, iou int64 }

func (t tally) zero() bool { return t == tally{} }

// RegionsState is the state of one labels partition.
type RegionsState struct {
	topic     string
	partition int32
	answers[regionValue]
	pairs map[regionLabelKey]tally
	cells map[regionCellKey]int64
	gold  map[regionLabelKey]tally
	// held counts the regions the counted labels and gold answers hold: a value holds up to
	// regions.MaxRegions of them, so the state's size is its keys and its regions.
	held int
}

// StateKeys is the number of keys the state holds (runtime.StateSizer), each region held
// counted as a key: a region (40-60 bytes) costs what a key of the other maps does, so the
// state cap bounds memory whatever the regions a label holds.
func (s *RegionsState) StateKeys() int {
	return s.answers.keys() + len(s.pairs) + len(s.cells) + len(s.gold) + s.held
}

// size is the number of regions a value holds.
func (v regionValue) size() int { return len(v.spans) + len(v.boxes) }

// NewState implements runtime.Processor.
func (*Regions) NewState(topic string, partition int32) any {
	return &RegionsState{topic: topic, partition: partition, answers: newAnswers[regionValue](),
		pairs: map[regionLabelKey]tally{}, cells: map[regionCellKey]int64{}, gold: map[regionLabelKey]tally{}}
}

// regionTouched collects the totals a record changed, for the rows it writes.
type regionTouched struct {
	pairs, gold map[regionLabelKey]bool
	cells       map[regionCellKey]bool
}

// annotatorsAdmit refuses the label e when its unit already compares the regions of the
// annotator cap's annotators and e's annotator is not one of them: the cap bounds the
// matchings one record moves (DefaultMaxRegionAnnotators says how far).
func (p *Regions) annotatorsAdmit(e *schemas.LabelSubmitted) func(*answerItem[regionValue]) error {
	return func(it *answerItem[regionValue]) error {
		u := it.unit(intern(e.ProjectID), intern(string(e.Value.Level)))
		if u == nil || p.limits.maxRegionAnnotators < 1 {
			return nil
		}
		annotator := intern(e.AnnotatorID)
		seen := map[str]bool{}
		for _, en := range u.entries {
			if en.annotator == annotator {
				return nil
			}
			seen[en.annotator] = true
		}
		if len(seen) >= p.limits.maxRegionAnnotators {
			return fmt.Errorf("%w: its unit already compares %d annotators' regions (limit %d); label %s of annotator %s not counted",
				ErrStateLimit, len(seen), p.limits.maxRegionAnnotators, e.LabelID, e.AnnotatorID)
		}
		return nil
	}
}

// Apply implements runtime.Processor. Labels and gold answers of levels spans and boxes
// count; every other event and level is ignored. A label event delivered twice is applied
// once, a label id submitted again while it counts is ignored, and a retraction of a label
// the partition does not count changes nothing, as in the agreement processor; a retraction
// by another producer than the label's, and (with an authorizer) a retraction or gold answer
// outside the principal's projects, is refused (rec.Authorized). A value with more regions
// than regions.MaxRegions is refused (DLQ), and so is a label that would exceed the state or
// unit cap (ErrStateLimit).
func (p *Regions) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*RegionsState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("regions: state is %T, want *RegionsState", state)
	}
	touched := regionTouched{pairs: map[regionLabelKey]bool{}, gold: map[regionLabelKey]bool{}, cells: map[regionCellKey]bool{}}
	switch e := rec.Event.(type) {
	case *schemas.LabelSubmitted:
		if !e.Value.Level.Regional() {
			return runtime.Output{}, nil
		}
		v, err := regionValueOf(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("label %s: %w", e.LabelID, err)
		}
		c, done, err := s.submit(p.limits, s.StateKeys(), e, string(e.Value.Level), v, p.annotatorsAdmit(e))
		if done {
			return runtime.Output{}, err
		}
		s.held += c.value.size()
		if err := s.moved(c, touched); err != nil {
			return runtime.Output{}, err
		}
	case *schemas.LabelRetracted:
		c, done, err := s.retract(p.limits, s.StateKeys(), rec, e)
		if done {
			return runtime.Output{}, err
		}
		s.held -= c.value.size()
		if err := s.moved(c, touched); err != nil {
			return runtime.Output{}, err
		}
	case *schemas.GoldLabelSet:
		if !e.Value.Level.Regional() {
			return runtime.Output{}, nil
		}
		v, err := regionValueOf(e.Value)
		if err != nil {
			return runtime.Output{}, fmt.Errorf("gold of %s/%s: %w", e.ItemID, e.QuestionID, err)
		}
		iq, it, old, changed, err := s.setGold(p.limits, s.StateKeys(), rec, e, string(e.Value.Level), v, regionValue.equal, nil)
		if err != nil || !changed {
			return runtime.Output{}, err
		}
		s.held += v.size()
		if old != nil {
			s.held -= old.value.size()
		}
		// A corrected gold answer re-scores every answer of the item: out with the old
		// verdicts, in with the new.
		for _, u := range it.units {
			for _, en := range u.currents() {
				if old != nil && old.level == u.level {
					if err := s.score(iq.question, u, &en, old.value, -1, touched); err != nil {
						return runtime.Output{}, err
					}
				}
				if it.gold.level == u.level {
					if err := s.score(iq.question, u, &en, it.gold.value, +1, touched); err != nil {
						return runtime.Output{}, err
					}
				}
			}
		}
	default:
		return runtime.Output{}, nil
	}
	return s.rows(rec.Offset, touched), nil
}

// moved applies a change of one annotator's answer on a unit: the pairs of that annotator
// with every other annotator of the unit, and its score against the item's gold, go out as
// they were and in as they are. The other annotators' answers did not change, so no other
// pair moves. The errors are those of streams/regions for inputs regionValueOf refuses, so
// they cannot happen after a change was made.
func (s *RegionsState) moved(c answerChange[regionValue], touched regionTouched) error {
	if !c.moved() {
		return nil
	}
	annotator := c.before
	if annotator == nil {
		annotator = c.after
	}
	for _, o := range c.unit.currents() {
		if o.annotator == annotator.annotator {
			continue
		}
		for _, m := range []struct {
			e    *answerEntry[regionValue]
			sign int64
		}{{c.before, -1}, {c.after, +1}} {
			if m.e == nil {
				continue
			}
			if err := s.pair(c.iq.question, c.unit, m.e, &o, m.sign, touched); err != nil {
				return err
			}
		}
	}
	if g := c.item.gold; g != nil && g.level == c.unit.level {
		if c.before != nil {
			if err := s.score(c.iq.question, c.unit, c.before, g.value, -1, touched); err != nil {
				return err
			}
		}
		if c.after != nil {
			if err := s.score(c.iq.question, c.unit, c.after, g.value, +1, touched); err != nil {
				return err
			}
		}
	}
	return nil
}

// pairScopes lists the scopes a pair of answers counts in: all; the cohort (vendor) when both
// are of it; and each annotator's.
func pairScopes(x, y *answerEntry[regionValue]) []string {
	out := []string{ScopeAll}
	if c := x.cohort.Value(); c != "" && x.cohort == y.cohort {
		out = append(out, CohortScope(c))
	}
	if v := x.vendor.Value(); v != "" && x.vendor == y.vendor {
		out = append(out, VendorScope(v))
	}
	return append(out, AnnotatorScope(x.annotator.Value()), AnnotatorScope(y.annotator.Value()))
}

// pair adds (sign +1) or takes out (-1) the contribution of the unit pair of answers x and y
// in every scope of the pair.
func (s *RegionsState) pair(question str, u *answerUnit[regionValue], x, y *answerEntry[regionValue], sign int64, touched regionTouched) error {
	first, second := x, y
	if first.annotator.Value() > second.annotator.Value() {
		first, second = second, first
	}
	c, err := compareRegions(u.level, first.value, second.value)
	if err != nil {
		return fmt.Errorf("compare the regions of %s and %s: %w", first.labelID, second.labelID, err)
	}
	var cells []agreement.Cell
	if c.LabelAlpha != nil {
		cells = c.LabelAlpha.Cells()
	}
	for _, scope := range pairScopes(x, y) {
		k := regionKey{u.project, question, u.level, intern(scope), u.day}
		addFigures(s.pairs, touched.pairs, k, c.Figures, sign)
		for _, cell := range cells {
			ck := regionCellKey{k, intern(string(cell.A)), intern(string(cell.B))}
			s.cells[ck] += sign * cell.Count
			touched.cells[ck] = true
		}
	}
	return nil
}

// score adds (sign +1) or takes out (-1) the verdict of answer e against gold in every scope
// of the answer.
func (s *RegionsState) score(question str, u *answerUnit[regionValue], e *answerEntry[regionValue], gold regionValue, sign int64, touched regionTouched) error {
	f, err := scoreRegions(u.level, e.value, gold)
	if err != nil {
		return fmt.Errorf("score the regions of %s: %w", e.labelID, err)
	}
	for _, scope := range scopesOfEntry(e) {
		addFigures(s.gold, touched.gold, regionKey{u.project, question, u.level, intern(scope), u.day}, f, sign)
	}
	return nil
}

// addFigures adds sign times f to the totals of k: the micro totals under label "" and each
// label's under its name.
func addFigures(m map[regionLabelKey]tally, touched map[regionLabelKey]bool, k regionKey, f regions.Figures, sign int64) {
	add := func(label string, units int64, c regions.Counts) {
		lk := regionLabelKey{k, intern(label)}
		t := m[lk]
		t.units += sign * units
		t.matched += sign * c.Matched
		t.a += sign * c.RegionsA
		t.b += sign * c.RegionsB
		t.iou += sign * c.IoUMicro
		m[lk] = t
		touched[lk] = true
	}
	add("", f.Units, f.Counts)
	for l, c := range f.Labels {
		add(l, 0, c)
	}
}

func cmpRegionKey(x, y regionKey) int {
	return cmp.Or(cmpStr(x.project, y.project), cmpStr(x.question, y.question), cmpStr(x.level, y.level),
		cmpStr(x.scope, y.scope), cmp.Compare(x.day, y.day))
}

func cmpRegionLabelKey(x, y regionLabelKey) int {
	return cmp.Or(cmpRegionKey(x.regionKey, y.regionKey), cmpStr(x.label, y.label))
}

func cmpRegionCellKey(x, y regionCellKey) int {
	return cmp.Or(cmpRegionKey(x.regionKey, y.regionKey), cmpStr(x.a, y.a), cmpStr(x.b, y.b))
}

// head is the leading columns of a row of the totals of k.
func (s *RegionsState) head(k regionKey) []any {
	return []any{k.project.Value(), k.question.Value(), k.level.Value(), k.scope.Value(), time.Unix(k.day*86400, 0).UTC(),
		RegionsIoUThreshold, s.topic, uint32(s.partition)}
}

// rows returns the current totals of the touched keys, sorted; a total back at zero is
// written (it replaces the partition's last one) and forgotten.
func (s *RegionsState) rows(offset int64, touched regionTouched) runtime.Output {
	var out runtime.Output
	for _, t := range []struct {
		table string
		m     map[regionLabelKey]tally
		keys  map[regionLabelKey]bool
	}{{TableRegionPairs, s.pairs, touched.pairs}, {TableRegionGold, s.gold, touched.gold}} {
		for _, k := range slices.SortedFunc(maps.Keys(t.keys), cmpRegionLabelKey) {
			n := t.m[k]
			if n.zero() {
				delete(t.m, k)
			}
			out.Rows = append(out.Rows, runtime.Row{Table: t.table, Values: append(s.head(k.regionKey),
				k.label.Value(), n.units, n.matched, n.a, n.b, n.iou, uint64(offset))})
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(touched.cells), cmpRegionCellKey) {
		n := s.cells[k]
		if n == 0 {
			delete(s.cells, k)
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableRegionLabelCells, Values: append(s.head(k.regionKey),
			uint32(2), k.a.Value(), k.b.Value(), n, uint64(offset))})
	}
	// region_pairs and region_gold rows first, as declared; the cells last.
	slices.SortStableFunc(out.Rows, func(x, y runtime.Row) int { return cmp.Compare(tableOrder(x.Table), tableOrder(y.Table)) })
	return out
}

func tableOrder(t string) int {
	switch t {
	case TableRegionPairs:
		return 0
	case TableRegionLabelCells:
		return 1
	}
	return 2
}

// Agreement returns the partition's current region agreement of one (project, question,
// level, scope) over every day, as the tally streams/regions defines, for tests and for
// checking a partition's state against ClickHouse.
func (s *RegionsState) Agreement(project, question, level, scope string) (regions.Agreement, error) {
	var rows []regionRow
	for k, t := range s.pairs {
		if k.matches(project, question, level, scope) {
			rows = append(rows, regionRow{label: k.label.Value(), t: t})
		}
	}
	var cells []agreement.Cell
	for k, n := range s.cells {
		if k.matches(project, question, level, scope) {
			cells = append(cells, agreement.Cell{UnitSize: 2, A: agreement.Value(k.a.Value()), B: agreement.Value(k.b.Value()), Count: n})
		}
	}
	return regionAgreementOf(rows, cells)
}

// Gold returns the partition's current accuracy tally against gold regions of one
// (project, question, level, scope) over every day, for tests.
func (s *RegionsState) Gold(project, question, level, scope string) regions.Figures {
	var rows []regionRow
	for k, t := range s.gold {
		if k.matches(project, question, level, scope) {
			rows = append(rows, regionRow{label: k.label.Value(), t: t})
		}
	}
	return regionFiguresOf(rows)
}

func (k regionKey) matches(project, question, level, scope string) bool {
	return k.project.Value() == project && k.question.Value() == question && k.level.Value() == level && k.scope.Value() == scope
}

// regionRow is one row of region_pairs or region_gold, summed over partitions and days.
type regionRow struct {
	label string
	t     tally
}

// regionFiguresOf rebuilds the regions.Figures the rows of one figure hold: label "" the
// micro totals, the others per label. Rows of one label add up (days, partitions).
func regionFiguresOf(rows []regionRow) regions.Figures {
	var f regions.Figures
	for _, r := range rows {
		c := regions.Counts{Matched: r.t.matched, RegionsA: r.t.a, RegionsB: r.t.b, IoUMicro: r.t.iou}
		if r.label == "" {
			f.Merge(regions.Figures{Units: r.t.units, Counts: c})
			continue
		}
		f.Merge(regions.Figures{Labels: map[string]regions.Counts{r.label: c}})
	}
	return f // Merge drops a label whose counts are all zero (a row written as zero)
}

// regionAgreementOf rebuilds the regions.Agreement of one figure from its rows and its
// label-alpha cells.
func regionAgreementOf(rows []regionRow, cells []agreement.Cell) (regions.Agreement, error) {
	a := regions.Agreement{Figures: regionFiguresOf(rows)}
	co, err := agreement.CoincidencesFromCells(slices.DeleteFunc(cells, func(c agreement.Cell) bool { return c.Count == 0 }))
	if err != nil {
		return regions.Agreement{}, fmt.Errorf("label alpha cells: %w", err)
	}
	if len(co.Cells()) > 0 {
		a.LabelAlpha = co
	}
	return a, nil
}
