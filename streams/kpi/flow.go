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
type Flow struct{ base }

// NewFlow returns the flow processor; WithMaxStateKeys applies.
func NewFlow(opts ...Option) *Flow {
	return &Flow{newBase(FlowName, FlowTables(), opts, schemas.FamilyItems, schemas.FamilyLabels, schemas.FamilyReviews)}
}

var (
	_ runtime.Processor    = (*Flow)(nil)
	_ runtime.Instrumented = (*Flow)(nil)
)

// FlowTables declares the flow processor's tables (migration 0003).
func FlowTables() []runtime.Table {
	return []runtime.Table{
		{Name: TableItemFlow, Columns: []string{"item_id", "stage", "project_id", "at_ms", "kafka_topic", "kafka_partition", "version"}},
		{Name: TableReworkCounts, Columns: []string{
			"kafka_topic", "kafka_partition", "reviews", "rework_reviews", "labels_reviewed", "labels_reworked", "version",
		}},
	}
}

// stage numbers the stages in state keys; rows use the names.
type stage uint8

const (
	stIngested stage = iota
	stFirstLabel
	stLastLabel
	stAccepted
	stFirstRework
)

var stageNames = [...]string{StageIngested, StageFirstLabel, StageLastLabel, StageAccepted, StageFirstRework}

// stageKey addresses one item's stage; the item id comes back from the
// event when a row is written, so the state keeps only its digest.
type stageKey struct {
	item  id128
	stage stage
}

// FlowState is the state of one partition of one of the three topics; each
// topic's partitions only ever fill their own part.
type FlowState struct {
	topic     string
	partition int32
	// stages is when each item reached each stage of this topic.
	stages map[stageKey]int64
	// reviewed says, per reviewed label, whether a review reworked it.
	reviewed map[id128]bool
	// reviews holds every review counted, by the ledger's key of the
	// reviews table (item, label, review, event id): a review delivered
	// twice (a client retry written as a second record) is counted once,
	// as the ledger's reviews table collapses it.
	reviews map[id128]struct{}
	rework  reworkCounts
}

// reworkCounts are the partition totals of rework_counts.
type reworkCounts struct {
	reviews, reworkReviews, labelsReviewed, labelsReworked int64
}

// StateKeys is the number of keys the state holds (runtime.StateSizer).
func (s *FlowState) StateKeys() int { return len(s.stages) + len(s.reviewed) + len(s.reviews) }

// NewState implements runtime.Processor.
func (*Flow) NewState(topic string, partition int32) any {
	return &FlowState{
		topic: topic, partition: partition,
		stages: map[stageKey]int64{}, reviewed: map[id128]bool{}, reviews: map[id128]struct{}{},
	}
}

// Apply implements runtime.Processor. Items and labels move stages to their
// earliest or latest time, which a duplicate cannot move again; reviews are
// counted once by event id.
func (f *Flow) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	s, ok := state.(*FlowState)
	if !ok {
		return runtime.Output{}, fmt.Errorf("flow: state is %T, want *FlowState", state)
	}
	var out runtime.Output
	at := rec.Event.Meta().OccurredAt
	switch e := rec.Event.(type) {
	case *schemas.ItemIngested:
		item := idOf(e.ItemID)
		if err := s.room(f.limits, item, "item "+e.ItemID, stIngested); err != nil {
			return runtime.Output{}, err
		}
		s.stage(&out, rec.Offset, e.ItemID, item, e.ProjectID, stIngested, at, true)
	case *schemas.LabelSubmitted:
		item := idOf(e.ItemID)
		if err := s.room(f.limits, item, "label "+e.LabelID, stFirstLabel, stLastLabel); err != nil {
			return runtime.Output{}, err
		}
		s.stage(&out, rec.Offset, e.ItemID, item, e.ProjectID, stFirstLabel, at, true)
		s.stage(&out, rec.Offset, e.ItemID, item, e.ProjectID, stLastLabel, at, false)
	case *schemas.ReviewCompleted:
		key := idOf(string(e.Type()), e.ItemID, e.LabelID, e.ReviewID, e.EventID)
		if _, dup := s.reviews[key]; dup {
			return runtime.Output{}, nil
		}
		if err := f.limits.full(s.StateKeys(), "review "+e.ReviewID); err != nil {
			return runtime.Output{}, err
		}
		s.reviews[key] = struct{}{}
		item := idOf(e.ItemID)
		rework := e.Verdict != schemas.VerdictAccept
		// Reviews carry no project; the items topic's row has it.
		if rework {
			s.stage(&out, rec.Offset, e.ItemID, item, "", stFirstRework, at, true)
		} else {
			s.stage(&out, rec.Offset, e.ItemID, item, "", stAccepted, at, true)
		}
		// Rework rate over labels: a label counts as reviewed once and as
		// reworked once, however many reviews it gets; reviews are counted
		// too, for the per-review rate.
		s.rework.reviews++
		if rework {
			s.rework.reworkReviews++
		}
		label := idOf(e.LabelID)
		reworked, seen := s.reviewed[label]
		if !seen {
			s.rework.labelsReviewed++
		}
		if rework && !reworked {
			s.rework.labelsReworked++
			reworked = true
		}
		s.reviewed[label] = reworked
		out.Rows = append(out.Rows, runtime.Row{Table: TableReworkCounts, Values: []any{
			s.topic, uint32(s.partition), s.rework.reviews, s.rework.reworkReviews,
			s.rework.labelsReviewed, s.rework.labelsReworked, uint64(rec.Offset),
		}})
	}
	return out, nil
}

// room refuses a record that would add a stage of item to a full state; a
// stage the item already reached takes no room.
func (s *FlowState) room(l limits, item id128, what string, stages ...stage) error {
	for _, st := range stages {
		if _, ok := s.stages[stageKey{item, st}]; !ok {
			return l.full(s.StateKeys(), what)
		}
	}
	return nil
}

// stage records that item reached st at ms, keeping the earliest time
// (earliest=true) or the latest, and writes a row only when it moved:
// events can arrive out of occurred_at order.
func (s *FlowState) stage(out *runtime.Output, offset int64, itemID string, item id128, project string, st stage, ms int64, earliest bool) {
	k := stageKey{item, st}
	old, ok := s.stages[k]
	if ok && (earliest && ms >= old || !earliest && ms <= old) {
		return
	}
	s.stages[k] = ms
	out.Rows = append(out.Rows, runtime.Row{Table: TableItemFlow, Values: []any{
		itemID, stageNames[st], project, ms, s.topic, uint32(s.partition), uint64(offset),
	}})
}
