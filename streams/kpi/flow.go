package kpi

import (
	"fmt"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// FlowName is the flow (cycle time and rework) processor's name.
const FlowName = "kpi_flow"

// Tables written by the flow processor.
const (
	// TableItemFlow holds one row per (item, stage): when the item reached it.
	TableItemFlow = "item_flow"
	// TableReworkCounts holds per-partition review and rework counts.
	TableReworkCounts = "rework_counts"
)

// The stages of item_flow. Each comes from one topic, so its rows of one
// item are versioned by offsets of one partition.
const (
	StageIngested    = "ingested"     // ItemIngested (items): first occurred_at
	StageFirstLabel  = "first_label"  // LabelSubmitted (labels): earliest occurred_at
	StageLastLabel   = "last_label"   // LabelSubmitted (labels): latest occurred_at
	StageAccepted    = "accepted"     // ReviewCompleted accept (reviews): earliest occurred_at
	StageFirstRework = "first_rework" // ReviewCompleted reject/correct (reviews): earliest occurred_at
)

// Flow is the flow processor: it consumes items, labels and reviews and
// writes when each item reached each stage (item_flow), plus the rework
// counts of the reviews (rework_counts). Cycle times are differences of the
// stages, computed in the kpi_item_cycle and kpi_cycle_time views, because
// the stages come from different topics whose partitions the runtime keeps
// in separate states (see the package documentation).
type Flow struct{}

// NewFlow returns the flow processor.
func NewFlow() *Flow { return &Flow{} }

var _ runtime.Processor = (*Flow)(nil)

// Name implements runtime.Processor.
func (*Flow) Name() string { return FlowName }

// Families implements runtime.Processor.
func (*Flow) Families() []schemas.Family {
	return []schemas.Family{schemas.FamilyItems, schemas.FamilyLabels, schemas.FamilyReviews}
}

// Tables implements runtime.Processor.
func (*Flow) Tables() []runtime.Table { return FlowTables() }

// FlowTables declares the flow processor's tables (migration 0003).
func FlowTables() []runtime.Table {
	return []runtime.Table{
		{Name: TableItemFlow, Columns: []string{"item_id", "stage", "project_id", "at_ms", "kafka_topic", "kafka_partition", "version"}},
		{Name: TableReworkCounts, Columns: []string{
			"kafka_topic", "kafka_partition", "reviews", "rework_reviews", "labels_reviewed", "labels_reworked", "version",
		}},
	}
}

// stageKey addresses one item's stage.
type stageKey struct{ item, stage string }

// reviewedLabel is what the partition knows of a reviewed label.
type reviewedLabel struct{ reworked bool }

// FlowState is the state of one partition of one of the three topics; each
// topic's partitions only ever fill their own part.
type FlowState struct {
	topic     string
	partition int32
	stages    map[stageKey]int64
	projects  map[string]string // item -> project, from items or labels
	labels    map[string]reviewedLabel
	rework    reworkCounts
}

// reworkCounts are the partition totals of rework_counts.
type reworkCounts struct {
	reviews, reworkReviews, labelsReviewed, labelsReworked int64
}

// NewState implements runtime.Processor.
func (*Flow) NewState(topic string, partition int32) any {
	return &FlowState{
		topic: topic, partition: partition,
		stages: map[stageKey]int64{}, projects: map[string]string{}, labels: map[string]reviewedLabel{},
	}
}

// Apply implements runtime.Processor.
func (*Flow) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*FlowState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("flow: state is %T, want *FlowState", state)
	}
	var out runtime.Output
	at := rec.Event.Meta().OccurredAt
	switch e := rec.Event.(type) {
	case *schemas.ItemIngested:
		s.projects[e.ItemID] = e.ProjectID
		s.stage(&out, rec.Offset, e.ItemID, StageIngested, at, true)
	case *schemas.LabelSubmitted:
		s.projects[e.ItemID] = e.ProjectID
		s.stage(&out, rec.Offset, e.ItemID, StageFirstLabel, at, true)
		s.stage(&out, rec.Offset, e.ItemID, StageLastLabel, at, false)
	case *schemas.ReviewCompleted:
		rework := e.Verdict != schemas.VerdictAccept
		if rework {
			s.stage(&out, rec.Offset, e.ItemID, StageFirstRework, at, true)
		} else {
			s.stage(&out, rec.Offset, e.ItemID, StageAccepted, at, true)
		}
		// Rework rate over labels: a label counts as reviewed once and as
		// reworked once, however many reviews it gets; reviews are counted
		// too, for the per-review rate.
		s.rework.reviews++
		if rework {
			s.rework.reworkReviews++
		}
		l, seen := s.labels[e.LabelID]
		if !seen {
			s.rework.labelsReviewed++
		}
		if rework && !l.reworked {
			s.rework.labelsReworked++
			l.reworked = true
		}
		s.labels[e.LabelID] = l
		out.Rows = append(out.Rows, runtime.Row{Table: TableReworkCounts, Values: []any{
			s.topic, uint32(s.partition), s.rework.reviews, s.rework.reworkReviews,
			s.rework.labelsReviewed, s.rework.labelsReworked, uint64(rec.Offset),
		}})
	}
	return out, nil
}

// stage records that item reached stage at ms, keeping the earliest time
// (earliest=true) or the latest, and writes a row only when it moved:
// events can arrive out of occurred_at order.
func (s *FlowState) stage(out *runtime.Output, offset int64, item, stage string, ms int64, earliest bool) {
	k := stageKey{item, stage}
	old, ok := s.stages[k]
	if ok && (earliest && ms >= old || !earliest && ms <= old) {
		return
	}
	s.stages[k] = ms
	out.Rows = append(out.Rows, runtime.Row{Table: TableItemFlow, Values: []any{
		item, stage, s.projects[item], ms, s.topic, uint32(s.partition), uint64(offset),
	}})
}
