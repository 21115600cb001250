package ledger

import (
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// This file is the ledger's schema: for each table, the Go struct of its
// rows (columns by name, see table), the event struct itself where the
// table is the event as it is (eventTable), and for each event type the
// rows it becomes (eventTable, oneRow, on). The migrations in
// ops/clickhouse/migrations create the tables; TestTablesMatchMigrations
// checks every column by name and type on the 18.16 server and on current
// ClickHouse (chdb).

// The ledger's tables.
const (
	TableEvents              = "events"
	TableItems               = "items"
	TablePrelabels           = "prelabels"
	TableRouting             = "routing"
	TableLabels              = "labels"
	TableLabelRetractions    = "label_retractions"
	TableGoldLabels          = "gold_labels"
	TableReviews             = "reviews"
	TableCoverageTargets     = "coverage_targets"
	TableDatasetVersions     = "dataset_versions"
	TableDatasetMembers      = "dataset_members"
	TableTrainingRuns        = "training_runs"
	TableTrainingRunDatasets = "training_run_datasets"
	TableFindings            = "findings"
	TableFindingItems        = "finding_items"
	TableRemediations        = "remediations"
	TableGuidelines          = "guidelines"
	TableQualityTargets      = "quality_targets"
	TableDatasetVerdicts     = "dataset_verdicts"
	TableGateOverrides       = "gate_overrides"
	TableQuestions           = "questions"
	TableDLQ                 = "dlq"
)

// The remediations.stage values.
const (
	StageStarted = "started"
	StageShipped = "shipped"
)

// Tables lists the ledger's tables with the columns Apply fills, in order.
func Tables() []runtime.Table {
	out := make([]runtime.Table, len(declared))
	for i, t := range declared {
		out[i] = t.Table()
	}
	return out
}

// meta is the envelope of an event as columns, in the events table and in
// every typed table.
type meta struct {
	EventID       string    `ch:"event_id"`
	EventType     string    `ch:"event_type"`
	OccurredAt    time.Time `ch:"occurred_at"`
	OccurredAtMS  int64     `ch:"occurred_at_ms"`
	RecordedAt    time.Time `ch:"recorded_at"`
	RecordedAtMS  int64     `ch:"recorded_at_ms"`
	Producer      string    `ch:"producer"`
	CorrelationID string    `ch:"correlation_id"`
	CausationID   string    `ch:"causation_id"`
}

// eventRow is a row of events: one per Kafka record of every contract
// topic, the payload as JSON.
type eventRow struct {
	Topic             string `ch:"topic"`
	Partition         uint32 `ch:"partition"`
	Offset            uint64 `ch:"offset"`
	RecordKey         string `ch:"record_key"`
	Meta              meta   `ch:",inline"`
	SchemaFingerprint uint64 `ch:"schema_fingerprint"`
	Payload           string `ch:"payload"`
}

var events = declare[eventRow](TableEvents, false)

// envelope starts every typed table: the event's envelope and the record's
// place in the log.
type envelope struct {
	Meta           meta   `ch:",inline"`
	KafkaTopic     string `ch:"kafka_topic"`
	KafkaPartition uint32 `ch:"kafka_partition"`
	KafkaOffset    uint64 `ch:"kafka_offset"`
}

// makers lists, for each event type, what makes its typed rows, in
// declaration order.
var makers = map[schemas.EventType][]func(*envelopeValues, schemas.Event) []runtime.Row{}

// on adds rows to what an event of the type of P becomes.
func on[E any, P interface {
	*E
	schemas.Event
}](rows func(*envelopeValues, P) []runtime.Row) struct{} {
	var zero P = new(E)
	makers[zero.Type()] = append(makers[zero.Type()], func(env *envelopeValues, ev schemas.Event) []runtime.Row { return rows(env, ev.(P)) })
	return struct{}{}
}

// oneRow makes row(e) of t the row an event e of the type of P becomes
// (next to rows declared before for the type).
func oneRow[E any, P interface {
	*E
	schemas.Event
}, R any](t table[R], row func(P) R) struct{} {
	return on(func(env *envelopeValues, e P) []runtime.Row {
		r := row(e)
		return []runtime.Row{t.row(env, &r)}
	})
}

// eventTable declares a typed table whose row is the event of type E as it
// is: its fields by JSON name, less those in omit (lists, whose rows go to
// child tables). Its row is the first an event of the type becomes.
func eventTable[E any, P interface {
	*E
	schemas.Event
}](name string, omit ...string) table[E] {
	t := declare[E](name, true, omit...)
	on(func(env *envelopeValues, e P) []runtime.Row { return []runtime.Row{t.row(env, e)} })
	return t
}

// each makes a row of the child table t per element of an event's list.
func each[T, R any](env *envelopeValues, t table[R], list []T, row func(T) R) []runtime.Row {
	out := make([]runtime.Row, len(list))
	for i, x := range list {
		r := row(x)
		out[i] = t.row(env, &r)
	}
	return out
}

var (
	_ = eventTable[schemas.ItemIngested](TableItems)
	_ = eventTable[schemas.PreLabelProposed](TablePrelabels)
	_ = eventTable[schemas.LabelRetracted](TableLabelRetractions)
	_ = eventTable[schemas.GoldLabelSet](TableGoldLabels)
	_ = eventTable[schemas.GuidelineReleased](TableGuidelines)
	_ = eventTable[schemas.GateOverrideGranted](TableGateOverrides)
	_ = eventTable[schemas.QuestionDefined](TableQuestions)
	_ = eventTable[schemas.EventRejected](TableDLQ)
)

// RoutingDecided, its inputs as parallel arrays.
type routingRow struct {
	Event       *schemas.RoutingDecided `ch:",inline"`
	InputNames  []string                `ch:"input_names"`
	InputValues []float64               `ch:"input_values"`
}

var _ = oneRow(declare[routingRow](TableRouting, true, "inputs"), func(e *schemas.RoutingDecided) routingRow {
	r := routingRow{Event: e, InputNames: make([]string, len(e.Inputs)), InputValues: make([]float64, len(e.Inputs))}
	for i, in := range e.Inputs {
		r.InputNames[i], r.InputValues[i] = in.Name, in.Value
	}
	return r
})

// LabelSubmitted, the pre-label shown (if any) as prelabel_model and
// prelabel_model_version.
type labelRow struct {
	Event    *schemas.LabelSubmitted `ch:",inline"`
	Prelabel schemas.PreLabelRef     `ch:"prelabel"`
}

var _ = oneRow(declare[labelRow](TableLabels, true, "pre_label"), func(e *schemas.LabelSubmitted) labelRow {
	return labelRow{Event: e, Prelabel: valueOrZero(e.PreLabel)}
})

// ReviewCompleted; the corrected_* columns are empty unless the verdict is
// correct.
type reviewRow struct {
	Event     *schemas.ReviewCompleted `ch:",inline"`
	Corrected schemas.LabelValue       `ch:"corrected"`
}

var _ = oneRow(declare[reviewRow](TableReviews, true, "corrected_value"), func(e *schemas.ReviewCompleted) reviewRow {
	return reviewRow{Event: e, Corrected: valueOrZero(e.CorrectedValue)}
})

func valueOrZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// CoverageTargetSet, slice and edge-case targets as parallel arrays.
type coverageTargetRow struct {
	DatasetID         string     `ch:"dataset_id"`
	SliceNames        []string   `ch:"slice_names"`
	SliceTargetShares []*float64 `ch:"slice_target_shares"`
	SliceMinCounts    []*int64   `ch:"slice_min_counts"`
	EdgeCaseTags      []string   `ch:"edge_case_tags"`
	EdgeCaseMinCounts []int64    `ch:"edge_case_min_counts"`
}

var _ = oneRow(declare[coverageTargetRow](TableCoverageTargets, true), func(e *schemas.CoverageTargetSet) coverageTargetRow {
	n, m := len(e.SliceTargets), len(e.EdgeCaseMinimums)
	r := coverageTargetRow{DatasetID: e.DatasetID, SliceNames: make([]string, n), SliceTargetShares: make([]*float64, n),
		SliceMinCounts: make([]*int64, n), EdgeCaseTags: make([]string, m), EdgeCaseMinCounts: make([]int64, m)}
	for i, t := range e.SliceTargets {
		r.SliceNames[i], r.SliceTargetShares[i], r.SliceMinCounts[i] = t.Slice, t.TargetShare, t.MinCount
	}
	for i, t := range e.EdgeCaseMinimums {
		r.EdgeCaseTags[i], r.EdgeCaseMinCounts[i] = t.Tag, t.MinCount
	}
	return r
})

// DatasetVersionCommitted: one row per version with its member count, one
// per member.
type datasetVersionRow struct {
	Event       *schemas.DatasetVersionCommitted `ch:",inline"`
	MemberCount uint64                           `ch:"member_count"`
}

type datasetMemberRow struct {
	DatasetID string         `ch:"dataset_id"`
	Version   string         `ch:"version"`
	Member    schemas.Member `ch:",inline"`
}

var (
	datasetVersions = declare[datasetVersionRow](TableDatasetVersions, true, "members")
	datasetMembers  = declare[datasetMemberRow](TableDatasetMembers, true)
)

var _ = on(func(env *envelopeValues, e *schemas.DatasetVersionCommitted) []runtime.Row {
	version := datasetVersions.row(env, &datasetVersionRow{Event: e, MemberCount: uint64(len(e.Members))})
	return append([]runtime.Row{version}, each(env, datasetMembers, e.Members, func(m schemas.Member) datasetMemberRow {
		return datasetMemberRow{DatasetID: e.DatasetID, Version: e.Version, Member: m}
	})...)
})

// TrainingRunRegistered: one row per run, one per dataset version it used.
type trainingRunDatasetRow struct {
	RunID string                    `ch:"run_id"`
	Ref   schemas.DatasetVersionRef `ch:",inline"`
}

var (
	_                   = eventTable[schemas.TrainingRunRegistered](TableTrainingRuns, "dataset_versions")
	trainingRunDatasets = declare[trainingRunDatasetRow](TableTrainingRunDatasets, true)
)

var _ = on(func(env *envelopeValues, e *schemas.TrainingRunRegistered) []runtime.Row {
	return each(env, trainingRunDatasets, e.DatasetVersions, func(dv schemas.DatasetVersionRef) trainingRunDatasetRow {
		return trainingRunDatasetRow{RunID: e.RunID, Ref: dv}
	})
})

// EvalFindingReported: one row per finding, one per implicated item.
type findingItemRow struct {
	FindingID string `ch:"finding_id"`
	ItemID    string `ch:"item_id"`
}

var (
	_            = eventTable[schemas.EvalFindingReported](TableFindings, "implicated_item_ids")
	findingItems = declare[findingItemRow](TableFindingItems, true)
)

var _ = on(func(env *envelopeValues, e *schemas.EvalFindingReported) []runtime.Row {
	return each(env, findingItems, e.ImplicatedItemIDs, func(item string) findingItemRow {
		return findingItemRow{FindingID: e.FindingID, ItemID: item}
	})
})

// RemediationStarted (stage started: owner, plan) and RemediationShipped
// (stage shipped: dataset_id, fixing_version), in one table.
type remediationRow struct {
	FindingID     string `ch:"finding_id"`
	Stage         string `ch:"stage"`
	Owner         string `ch:"owner"`
	Plan          string `ch:"plan"`
	DatasetID     string `ch:"dataset_id"`
	FixingVersion string `ch:"fixing_version"`
}

var remediations = declare[remediationRow](TableRemediations, true)

var (
	_ = oneRow(remediations, func(e *schemas.RemediationStarted) remediationRow {
		return remediationRow{FindingID: e.FindingID, Stage: StageStarted, Owner: e.Owner, Plan: e.Plan}
	})
	_ = oneRow(remediations, func(e *schemas.RemediationShipped) remediationRow {
		return remediationRow{FindingID: e.FindingID, Stage: StageShipped, DatasetID: e.DatasetID, FixingVersion: e.FixingVersion}
	})
)

// QualityTargetsSet, every target flattened into columns: a target left out is NULL (its
// figures) or empty (its level, its denominator), the agreement and accuracy targets' columns
// are prefixed with their record's name, the finding limits are parallel arrays, and the
// flags are UInt8 (18.16 has no Bool). effective_at is kept in milliseconds only
// (effective_at_ms): the contract bounds it below, not to a DateTime's range, and it is
// compared with occurred_at_ms.
type qualityTargetsRow struct {
	ProjectID                  string   `ch:"project_id"`
	TargetsVersion             string   `ch:"targets_version"`
	DatasetID                  string   `ch:"dataset_id"`
	QuestionID                 string   `ch:"question_id"`
	EffectiveAtMS              int64    `ch:"effective_at_ms"`
	AgreementLevel             string   `ch:"agreement_level"`
	AgreementMinAlpha          *float64 `ch:"agreement_min_alpha"`
	AgreementMinPairableValues *int64   `ch:"agreement_min_pairable_values"`
	AgreementOnLowerBound      uint8    `ch:"agreement_on_lower_bound"`
	AccuracyMinAccuracy        *float64 `ch:"accuracy_min_accuracy"`
	AccuracyDenominator        string   `ch:"accuracy_denominator"`
	AccuracyMinGoldLabels      *int64   `ch:"accuracy_min_gold_labels"`
	MinSliceCoverage           *float64 `ch:"min_slice_coverage"`
	MinEdgeCaseCoverage        *float64 `ch:"min_edge_case_coverage"`
	MinLineageCompleteness     *float64 `ch:"min_lineage_completeness"`
	MaxReworkRate              *float64 `ch:"max_rework_rate"`
	FindingSeverities          []string `ch:"max_open_findings_severities"`
	FindingMax                 []int64  `ch:"max_open_findings_max"`
	AllowGoldInTraining        uint8    `ch:"allow_gold_in_training"`
	MaxLabelDrift              *float64 `ch:"max_label_drift"`
}

var _ = oneRow(declare[qualityTargetsRow](TableQualityTargets, true), func(e *schemas.QualityTargetsSet) qualityTargetsRow {
	r := qualityTargetsRow{ProjectID: e.ProjectID, TargetsVersion: e.TargetsVersion, DatasetID: e.DatasetID, QuestionID: e.QuestionID,
		EffectiveAtMS: e.EffectiveAt, MinLineageCompleteness: e.MinLineageCompleteness, MaxReworkRate: e.MaxReworkRate,
		AllowGoldInTraining: flag(e.AllowGoldInTraining), MaxLabelDrift: e.MaxLabelDrift}
	if a := e.Agreement; a != nil {
		r.AgreementLevel, r.AgreementMinAlpha, r.AgreementMinPairableValues = string(a.Level), &a.MinAlpha, &a.MinPairableValues
		r.AgreementOnLowerBound = flag(a.OnLowerBound)
	}
	if a := e.Accuracy; a != nil {
		r.AccuracyMinAccuracy, r.AccuracyDenominator, r.AccuracyMinGoldLabels = &a.MinAccuracy, string(a.Denominator), &a.MinGoldLabels
	}
	if c := e.Coverage; c != nil {
		r.MinSliceCoverage, r.MinEdgeCaseCoverage = c.MinSliceCoverage, c.MinEdgeCaseCoverage
	}
	r.FindingSeverities, r.FindingMax = make([]string, len(e.MaxOpenFindings)), make([]int64, len(e.MaxOpenFindings))
	for i, l := range e.MaxOpenFindings {
		r.FindingSeverities[i], r.FindingMax[i] = string(l.Severity), l.Max
	}
	return r
})

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// DatasetVersionCertified (certified = 1) and DatasetVersionRejected (certified = 0) in one
// table, the checks as parallel arrays (check_figure, check_low and check_high NULL where the
// check has none).
type verdictRow struct {
	Certified      uint8                `ch:"certified"`
	Verdict        *schemas.GateVerdict `ch:",inline"`
	CheckTarget    []string             `ch:"check_target"`
	CheckScope     []string             `ch:"check_scope"`
	CheckThreshold []float64            `ch:"check_threshold"`
	CheckFigure    []*float64           `ch:"check_figure"`
	CheckLow       []*float64           `ch:"check_low"`
	CheckHigh      []*float64           `ch:"check_high"`
	CheckEvidence  []int64              `ch:"check_evidence"`
	CheckStatus    []string             `ch:"check_status"`
	CheckDetail    []string             `ch:"check_detail"`
}

var datasetVerdicts = declare[verdictRow](TableDatasetVerdicts, true, "checks")

func newVerdictRow(certified bool, v *schemas.GateVerdict) verdictRow {
	n := len(v.Checks)
	r := verdictRow{Certified: flag(certified), Verdict: v, CheckTarget: make([]string, n), CheckScope: make([]string, n),
		CheckThreshold: make([]float64, n), CheckFigure: make([]*float64, n), CheckLow: make([]*float64, n),
		CheckHigh: make([]*float64, n), CheckEvidence: make([]int64, n), CheckStatus: make([]string, n), CheckDetail: make([]string, n)}
	for i, c := range v.Checks {
		r.CheckTarget[i], r.CheckScope[i], r.CheckThreshold[i] = c.Target, c.Scope, c.Threshold
		r.CheckFigure[i], r.CheckLow[i], r.CheckHigh[i] = c.Figure, c.Low, c.High
		r.CheckEvidence[i], r.CheckStatus[i], r.CheckDetail[i] = c.Evidence, string(c.Status), c.Detail
	}
	return r
}

var (
	_ = oneRow(datasetVerdicts, func(e *schemas.DatasetVersionCertified) verdictRow { return newVerdictRow(true, &e.GateVerdict) })
	_ = oneRow(datasetVerdicts, func(e *schemas.DatasetVersionRejected) verdictRow { return newVerdictRow(false, &e.GateVerdict) })
)
