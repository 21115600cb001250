package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// Name is the processor name (metrics label, consumer group suffix).
const Name = "ledger"

// Ledger is the ledger processor. The zero value is ready to use.
type Ledger struct{}

// New returns the ledger processor.
func New() *Ledger { return &Ledger{} }

var _ runtime.Processor = (*Ledger)(nil)

// Name implements runtime.Processor.
func (*Ledger) Name() string { return Name }

// Families implements runtime.Processor: every family, the DLQ included.
func (*Ledger) Families() []schemas.Family { return schemas.Families() }

// Tables implements runtime.Processor.
func (*Ledger) Tables() []runtime.Table { return Tables() }

// NewState implements runtime.Processor: a *Findings for a findings partition (the write rules
// need a finding's project), nil (no state, no rebuild) for every other partition.
func (*Ledger) NewState(topic string, _ int32) any {
	if strings.HasSuffix(topic, schemas.FamilyFindings.Topic()) {
		return &Findings{projects: map[[16]byte]unique.Handle[string]{}}
	}
	return nil
}

// Findings is the state of a findings partition: the project of every finding reported (the
// first report of a finding id wins), by a 128-bit digest of its id. A remediation names no
// project, so it is checked against its finding's (rule scope.project) when the runner has a
// principals registry.
type Findings struct {
	projects map[[16]byte]unique.Handle[string]
}

// StateKeys is the number of findings held (runtime.StateSizer).
func (f *Findings) StateKeys() int { return len(f.projects) }

func findingKey(id string) [16]byte {
	sum := sha256.Sum256([]byte(id))
	return [16]byte(sum[:16])
}

// project returns the project of a finding, "" when it was not reported in the partition (or
// there is no state).
func (f *Findings) project(id string) string {
	if f == nil {
		return ""
	}
	if p, ok := f.projects[findingKey(id)]; ok {
		return p.Value()
	}
	return ""
}

// RouterProducer is the producer of the router's decisions (streams/router.Producer; a test
// keeps them equal). With a principals registry the ledger refuses a RoutingDecided of any other
// producer (rule router.own_decisions, as the router names it), so its routing table holds only
// decisions the router made: the registry alone lets any reserved producer id (assay-...) write
// the internal types. Without a registry the ledger copies every decision, as it always did
// (the load-test workload writes its own); the router itself refuses foreign decisions either
// way.
const RouterProducer = "assay-processor/router"

// RuleOwnDecisions is the rule name of a refused foreign RoutingDecided (router.RuleOwnDecisions).
const RuleOwnDecisions = "router.own_decisions"

// authorize completes the write rules the ledger knows the facts of, before any row: with a
// registry, the router's own decisions only, and a remediation only in its finding's project.
func authorize(f *Findings, rec runtime.Record) error {
	switch e := rec.Event.(type) {
	case *schemas.RoutingDecided:
		if rec.Authorize != nil && e.Producer != RouterProducer {
			return &access.Violation{Rule: RuleOwnDecisions, Field: "producer", Reason: fmt.Sprintf(
				"routing decisions are the router's (producer %s), not %q's", RouterProducer, e.Producer)}
		}
	case *schemas.RemediationStarted:
		return rec.Authorized(access.Facts{Project: f.project(e.FindingID)})
	case *schemas.RemediationShipped:
		return rec.Authorized(access.Facts{Project: f.project(e.FindingID)})
	}
	return nil
}

// maxDateTimeMillis is the last instant a ClickHouse DateTime (UInt32
// seconds) can hold; times outside [0, max] are rejected, not truncated.
const maxDateTimeMillis = int64(^uint32(0)) * 1000

// Apply implements runtime.Processor: one events row and the typed rows of
// the event. Events whose times do not fit a DateTime are poison, and so
// are events the write rules refuse (see the package documentation): the
// runner sends them to the DLQ, and neither events nor a typed table gets
// a row.
func (*Ledger) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	ev := rec.Event
	m := ev.Meta()
	for name, ms := range map[string]int64{"occurred_at": m.OccurredAt, "recorded_at": m.RecordedAt} {
		if ms < 0 || ms > maxDateTimeMillis {
			return runtime.Output{}, fmt.Errorf("%s %d ms is outside the range of a ClickHouse DateTime", name, ms)
		}
	}
	findings, _ := state.(*Findings)
	if err := authorize(findings, rec); err != nil {
		return runtime.Output{}, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return runtime.Output{}, fmt.Errorf("encode %s payload as JSON: %w", ev.Type(), err)
	}
	var fp uint64
	if f, _, err := schemas.Header(rec.Value); err == nil {
		fp = f
	}
	out := runtime.Output{Rows: []runtime.Row{{Table: TableEvents, Values: []any{
		rec.Topic, uint32(rec.Partition), uint64(rec.Offset), string(rec.Key),
		m.EventID, string(ev.Type()),
		dateTime(m.OccurredAt), m.OccurredAt, dateTime(m.RecordedAt), m.RecordedAt,
		m.Producer, m.Trace.CorrelationID, m.Trace.CausationID, fp, string(payload),
	}}}}
	envelope := []any{
		m.EventID, string(ev.Type()),
		dateTime(m.OccurredAt), m.OccurredAt, dateTime(m.RecordedAt), m.RecordedAt,
		m.Producer, m.Trace.CorrelationID, m.Trace.CausationID,
		rec.Topic, uint32(rec.Partition), uint64(rec.Offset),
	}
	add := func(table string, vals ...any) {
		row := make([]any, 0, len(envelope)+len(vals))
		row = append(append(row, envelope...), vals...)
		out.Rows = append(out.Rows, runtime.Row{Table: table, Values: row})
	}
	switch e := ev.(type) {
	case *schemas.ItemIngested:
		add(TableItems, e.ItemID, e.Source, e.URI, e.SHA256, e.Modality, strs(e.SliceTags), strs(e.EdgeCaseTags), e.DatasetID, e.ProjectID)
	case *schemas.PreLabelProposed:
		add(TablePrelabels, append(append([]any{e.ItemID, e.QuestionID, e.Model, e.ModelVersion}, value(&e.Value)...), e.Confidence)...)
	case *schemas.RoutingDecided:
		names, vals := make([]string, len(e.Inputs)), make([]float64, len(e.Inputs))
		for i, in := range e.Inputs {
			names[i], vals[i] = in.Name, in.Value
		}
		add(TableRouting, e.ItemID, e.QuestionID, string(e.Route), e.Rule, names, vals, e.Reason)
	case *schemas.LabelSubmitted:
		var plModel, plVersion string
		if e.PreLabel != nil {
			plModel, plVersion = e.PreLabel.Model, e.PreLabel.ModelVersion
		}
		vals := []any{e.LabelID, e.ItemID, e.ProjectID, e.TaskID, e.QuestionID, e.AnnotatorID, e.Cohort, e.Vendor, e.GuidelineVersion}
		vals = append(vals, value(&e.Value)...)
		add(TableLabels, append(vals, e.TimeSpentMS, plModel, plVersion)...)
	case *schemas.LabelRetracted:
		add(TableLabelRetractions, e.LabelID, e.ItemID, e.Reason)
	case *schemas.GoldLabelSet:
		add(TableGoldLabels, append(append([]any{e.ItemID, e.QuestionID}, value(&e.Value)...), e.SetBy)...)
	case *schemas.ReviewCompleted:
		vals := append([]any{e.ReviewID, e.LabelID, e.ItemID, e.ReviewerID, string(e.Verdict)}, value(e.CorrectedValue)...)
		add(TableReviews, append(vals, e.Reason)...)
	case *schemas.CoverageTargetSet:
		slices := make([]string, len(e.SliceTargets))
		shares := make([]*float64, len(e.SliceTargets))
		counts := make([]*int64, len(e.SliceTargets))
		for i, t := range e.SliceTargets {
			slices[i], shares[i], counts[i] = t.Slice, t.TargetShare, t.MinCount
		}
		tags := make([]string, len(e.EdgeCaseMinimums))
		mins := make([]int64, len(e.EdgeCaseMinimums))
		for i, t := range e.EdgeCaseMinimums {
			tags[i], mins[i] = t.Tag, t.MinCount
		}
		add(TableCoverageTargets, e.DatasetID, slices, shares, counts, tags, mins)
	case *schemas.DatasetVersionCommitted:
		add(TableDatasetVersions, e.DatasetID, e.Version, e.ParentVersion, uint64(len(e.Members)), e.ManifestDigest)
		for _, mem := range e.Members {
			add(TableDatasetMembers, e.DatasetID, e.Version, mem.ItemID, mem.LabelID)
		}
	case *schemas.TrainingRunRegistered:
		add(TableTrainingRuns, e.RunID, e.Model, e.DatasetID)
		for _, dv := range e.DatasetVersions {
			add(TableTrainingRunDatasets, e.RunID, dv.DatasetID, dv.Version)
		}
	case *schemas.EvalFindingReported:
		if findings != nil {
			if k := findingKey(e.FindingID); findings.projects[k] == (unique.Handle[string]{}) {
				findings.projects[k] = unique.Make(e.ProjectID)
			}
		}
		add(TableFindings, e.FindingID, e.EvalRun, e.Model, e.TrainingRunID, e.Slice, string(e.Severity), e.ProjectID)
		for _, item := range e.ImplicatedItemIDs {
			add(TableFindingItems, e.FindingID, item)
		}
	case *schemas.RemediationStarted:
		add(TableRemediations, e.FindingID, StageStarted, e.Owner, e.Plan, "", "")
	case *schemas.RemediationShipped:
		add(TableRemediations, e.FindingID, StageShipped, "", "", e.DatasetID, e.FixingVersion)
	case *schemas.EventRejected:
		var part *int32
		var off *int64
		if e.OriginalPartition != nil {
			p := *e.OriginalPartition
			part = &p
		}
		if e.OriginalOffset != nil {
			o := *e.OriginalOffset
			off = &o
		}
		add(TableDLQ, e.Source, string(e.Original), e.Reason, e.Field, e.OriginalProducer, e.OriginalTopic, part, off)
	default:
		// A type added to the contract but not to the ledger still lands in
		// events; it must not be lost, nor stop the partition.
		return runtime.Output{}, fmt.Errorf("ledger has no table for event type %s", ev.Type())
	}
	return out, nil
}

// The remediations.stage values.
const (
	StageStarted = "started"
	StageShipped = "shipped"
)

func dateTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// strs turns nil into an empty slice, which clickhouse-go needs for arrays.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// value spreads a label value over the <prefix>_level, _category, _rank,
// _number and _categories columns; a nil value is all empty.
func value(v *schemas.LabelValue) []any {
	if v == nil {
		return []any{"", "", (*int32)(nil), (*float64)(nil), []string{}}
	}
	return []any{string(v.Level), v.Category, v.Rank, v.Number, strs(v.Categories)}
}
