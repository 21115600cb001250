package lineage

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// Name is the processor's registry name.
const Name = "lineage"

// Tables written by the Processor: the graph as nodes and edges for walking it in SQL
// (migration 0010_lineage.sql), and the chain read model that ReadVersion and
// ReadCompleteness judge chains from (migration 0025_lineage_chains.sql) and ReadGate reads
// the gate's verdicts and the owners' overrides from (migration 0046_lineage_gate.sql).
const (
	TableNodes     = "lineage_nodes"
	TableEdges     = "lineage_edges"
	TableItems     = "lineage_items"
	TableLabels    = "lineage_labels"
	TableReviews   = "lineage_reviews"
	TableVersions  = "lineage_versions"
	TableMembers   = "lineage_members"
	TableVerdicts  = "lineage_verdicts"
	TableOverrides = "lineage_overrides"
	TableRuns      = "lineage_runs"
	// TableProjectDatasets holds, per items partition, how many items' latest ingest names
	// each (project, dataset): the datasets of a project (migration 0071).
	TableProjectDatasets = "lineage_project_datasets"
)

// Node kinds and edge relations. An edge reads "src rel dst", e.g. item labeled label.
const (
	KindSource         = "source"
	KindItem           = "item"
	KindModel          = "model"
	KindLabel          = "label"
	KindAnnotator      = "annotator"
	KindCohort         = "cohort"
	KindReview         = "review"
	KindDatasetVersion = "dataset_version"
	KindTrainingRun    = "training_run"
	KindFinding        = "finding"
	KindRemediation    = "remediation"
	KindVerdict        = "verdict"  // id: the verdict's event id
	KindOverride       = "override" // id: the override's event id

	RelIngested   = "ingested"   // source → item
	RelProposed   = "proposed"   // model → item (a pre-label)
	RelLabeled    = "labeled"    // item → label
	RelPrelabeled = "prelabeled" // model → label the annotator started from
	RelBy         = "by"         // label → annotator, review → annotator (reviewer)
	RelInCohort   = "in_cohort"  // label → cohort
	RelReviewed   = "reviewed"   // label → review
	RelRetracted  = "retracted"  // label → label (a self edge: the label was retracted)
	RelMemberOf   = "member_of"  // item → dataset_version, label → dataset_version
	RelParentOf   = "parent_of"  // dataset_version → dataset_version
	RelTrained    = "trained"    // dataset_version → training_run
	RelEvaluated  = "evaluated"  // training_run → finding
	RelImplicates = "implicates" // finding → item
	RelRemediated = "remediated" // finding → remediation
	RelShipped    = "shipped"    // remediation → dataset_version (the fixing version)
	RelJudged     = "judged"     // dataset_version → verdict (the gate's)
	RelSupersedes = "supersedes" // verdict → verdict it replaces
	RelOverridden = "overridden" // dataset_version → override (an owner's)
)

var logColumns = []string{"event_id", "occurred_at", "occurred_at_ms", "kafka_topic", "kafka_partition", "kafka_offset"}

// Processor writes the lineage graph as node and edge rows, and the facts a member's chain is
// judged from as typed rows of the chain read model (items, labels and retractions, reviews,
// version commits and their members), with the gate's verdicts, owners' overrides and training
// runs' registrations that a version's Gate is read from. Every row follows from one event,
// and the tables (ReplacingMergeTree versioned by kafka_offset) make replays and duplicates
// collapse. The
// chain tables keep one row per event (keyed by event_id), so what "latest" means is decided
// when they are read, by the rule of the in-memory model. Its state (see State) is what the
// write rules of schemas/access need, who submitted each label of a labels partition and each
// finding's project in a findings partition, and in an items partition each item's latest
// ingest, from which it keeps the partition's count of items per (project, dataset) in
// lineage_project_datasets (the datasets of a project, Graph.DatasetsOf's rule, read without
// reading every item); the reviews and datasets partitions are stateless (NewState returns
// nil).
//
// A duplicate delivery (the same event_id in a second record) writes the same rows at a later
// offset. lineage_edges is keyed by (edge, event_id), so each copy collapses into the first
// row. lineage_nodes is keyed by (kind, id) and keeps the latest offset: the copy re-states the
// node with the attributes it carried the first time, which changes the row only when another
// event re-stated the same node differently in between (an item ingested again under its id,
// a label or review id reused). That is the table's documented rule for any two events of one
// node ("the latest offset wins"), not a count: no figure is computed from lineage_nodes, and
// the lineage model (Graph) decides "latest" by occurred_at, then event id, whatever the order.
type Processor struct{}

// NewProcessor returns the lineage processor.
func NewProcessor() *Processor { return &Processor{} }

// Name implements runtime.Processor.
func (*Processor) Name() string { return Name }

// Families implements runtime.Processor: every family that carries lineage.
func (*Processor) Families() []schemas.Family {
	return []schemas.Family{schemas.FamilyItems, schemas.FamilyLabels, schemas.FamilyReviews, schemas.FamilyDatasets, schemas.FamilyFindings}
}

// Tables implements runtime.Processor.
func (*Processor) Tables() []runtime.Table {
	return []runtime.Table{
		{Name: TableNodes, Columns: append([]string{"kind", "id", "attr_names", "attr_values"}, logColumns...)},
		{Name: TableEdges, Columns: append([]string{"src_kind", "src_id", "rel", "dst_kind", "dst_id"}, logColumns...)},
		{Name: TableItems, Columns: append([]string{"item_id", "source", "sha256", "project_id", "dataset_id"}, logColumns...)},
		{Name: TableLabels, Columns: append([]string{"label_id", "retracted", "item_id", "annotator_id", "cohort", "vendor", "guideline_version", "prelabel_model"}, logColumns...)},
		{Name: TableReviews, Columns: append([]string{"label_id", "review_id", "reviewer_id", "verdict"}, logColumns...)},
		{Name: TableVersions, Columns: append([]string{"dataset_id", "version", "parent_version", "manifest_digest", "manifest_ok", "member_count"}, logColumns...)},
		{Name: TableMembers, Columns: append([]string{"dataset_id", "version", "item_id", "label_id"}, logColumns...)},
		{Name: TableVerdicts, Columns: append([]string{"dataset_id", "version", "sequence", "certified", "supersedes", "project_id",
			"targets_versions", "reason", "check_target", "check_scope", "check_threshold", "check_figure", "check_low", "check_high",
			"check_evidence", "check_status", "check_detail", "recorded_at_ms"}, logColumns...)},
		{Name: TableOverrides, Columns: append([]string{"dataset_id", "version", "project_id", "reason", "producer", "recorded_at_ms"}, logColumns...)},
		{Name: TableRuns, Columns: append([]string{"run_id", "dataset_id", "version", "recorded_at_ms"}, logColumns...)},
		{Name: TableProjectDatasets, Columns: []string{"project_id", "dataset_id", "kafka_topic", "kafka_partition", "items", "version"}},
	}
}

// NewState implements runtime.Processor: a *State for a labels, findings or items partition,
// nil (no state, no rebuild) for the others.
func (*Processor) NewState(topic string, _ int32) any {
	switch {
	case strings.HasSuffix(topic, schemas.FamilyLabels.Topic()), strings.HasSuffix(topic, schemas.FamilyFindings.Topic()),
		strings.HasSuffix(topic, schemas.FamilyItems.Topic()):
		return newState()
	}
	return nil
}

func newState() *State {
	return &State{labels: map[digest]unique.Handle[string]{}, findings: map[digest]unique.Handle[string]{},
		items: map[digest]ingest{}, datasets: map[projectDataset]int64{}}
}

// State is what a partition keeps. For the write rules, in a labels or findings partition: the
// producer of every label not retracted (only it may retract the label, rule
// labeler.own_labels) and the project of every finding (a remediation names none, rule
// scope.project). In an items partition: each item's latest ingest (by occurred_at, then event
// id, Graph's rule), and how many items' latest ingest names each (project, dataset), the
// totals lineage_project_datasets holds. Ids are kept as 128-bit digests, producers, projects
// and datasets interned. Nothing is kept of the reviews and datasets topics.
type State struct {
	labels   map[digest]unique.Handle[string]
	findings map[digest]unique.Handle[string]
	items    map[digest]ingest
	datasets map[projectDataset]int64
}

// ingest is an item's latest ItemIngested: when, which event, and the project and dataset it
// names.
type ingest struct {
	at    int64
	event string
	where projectDataset
}

type projectDataset struct{ project, dataset unique.Handle[string] }

// StateKeys is the number of labels, findings and items the state holds (runtime.StateSizer).
func (s *State) StateKeys() int { return len(s.labels) + len(s.findings) + len(s.items) }

// ingested folds an item's ingest into the state and returns the rows of the (project,
// dataset) totals it changed: none when an ingest of the item that is later or the same (a
// copy) is kept, or when the item stays where it was.
func (s *State) ingested(e *schemas.ItemIngested, rec runtime.Record) []runtime.Row {
	if s == nil {
		return nil
	}
	m := e.Meta()
	d := digestOf(e.ItemID)
	old, had := s.items[d]
	if had && !later(m.OccurredAt, m.EventID, old.at, old.event) {
		return nil
	}
	now := projectDataset{unique.Make(e.ProjectID), unique.Make(e.DatasetID)}
	s.items[d] = ingest{at: m.OccurredAt, event: m.EventID, where: now}
	if had && old.where == now {
		return nil
	}
	var rows []runtime.Row
	total := func(pd projectDataset, delta int64) {
		n := s.datasets[pd] + delta
		if n == 0 {
			delete(s.datasets, pd)
		} else {
			s.datasets[pd] = n
		}
		rows = append(rows, runtime.Row{Table: TableProjectDatasets, Values: []any{pd.project.Value(), pd.dataset.Value(), rec.Topic,
			uint32(rec.Partition), n, uint64(rec.Offset)}})
	}
	if had {
		total(old.where, -1)
	}
	total(now, 1)
	return rows
}

// digest stands for a label or finding id: SHA-256 truncated to 128 bits, so no producer can aim
// for a collision.
type digest [16]byte

func digestOf(id string) digest {
	sum := sha256.Sum256([]byte(id))
	return digest(sum[:16])
}

// authorize completes the write rules the state knows the facts of, before the record changes
// anything: a retraction of a label only by the label's producer, a remediation only in its
// finding's project. A nil state (a caller that keeps none) checks nothing.
func (s *State) authorize(rec runtime.Record) error {
	if s == nil {
		return nil
	}
	var f access.Facts
	switch e := rec.Event.(type) {
	case *schemas.LabelRetracted:
		if p, ok := s.labels[digestOf(e.LabelID)]; ok {
			f.LabelProducer = p.Value()
		}
	case *schemas.RemediationStarted:
		f.Project = s.projectOf(e.FindingID)
	case *schemas.RemediationShipped:
		f.Project = s.projectOf(e.FindingID)
	default:
		return nil
	}
	return rec.Authorized(f)
}

func (s *State) projectOf(finding string) string {
	if p, ok := s.findings[digestOf(finding)]; ok {
		return p.Value()
	}
	return ""
}

// remember records what a later record's rules need of an accepted one. The first submission of
// a label id is the label, and the first report of a finding its project, until the label is
// retracted.
func (s *State) remember(ev schemas.Event) {
	if s == nil {
		return
	}
	switch e := ev.(type) {
	case *schemas.LabelSubmitted:
		if d := digestOf(e.LabelID); s.labels[d] == (unique.Handle[string]{}) {
			s.labels[d] = unique.Make(e.Producer)
		}
	case *schemas.LabelRetracted:
		delete(s.labels, digestOf(e.LabelID))
	case *schemas.EvalFindingReported:
		if d := digestOf(e.FindingID); s.findings[d] == (unique.Handle[string]{}) {
			s.findings[d] = unique.Make(e.ProjectID)
		}
	}
}

// maxDateTimeMillis is the last millisecond a ClickHouse DateTime (UInt32 seconds) holds.
const maxDateTimeMillis = int64(^uint32(0)) * 1000

// VersionID is the node id of a dataset version: dataset@version.
func VersionID(datasetID, version string) string { return datasetID + "@" + version }

// Apply implements runtime.Processor. A retraction by another producer than the label's, and
// (with a principals registry) a remediation outside its finding's project, are refused
// (runtime.Record.Authorized), and so is a verdict the gate did not emit (RuleOwnVerdicts):
// the runner sends them to the DLQ and no edge says the label was retracted, the finding
// remediated or the version judged.
func (*Processor) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	m := rec.Event.Meta()
	if m.OccurredAt < 0 || m.OccurredAt > maxDateTimeMillis {
		return runtime.Output{}, fmt.Errorf("occurred_at %d ms is outside the range of a ClickHouse DateTime", m.OccurredAt)
	}
	if err := authorizeVerdict(rec); err != nil {
		return runtime.Output{}, err
	}
	st, _ := state.(*State)
	if err := st.authorize(rec); err != nil {
		return runtime.Output{}, err
	}
	st.remember(rec.Event)
	logVals := []any{m.EventID, time.UnixMilli(m.OccurredAt).UTC(), m.OccurredAt, rec.Topic, uint32(rec.Partition), uint64(rec.Offset)}
	var out runtime.Output
	node := func(kind, id string, kv ...string) {
		var names, values []string
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				names, values = append(names, kv[i]), append(values, kv[i+1])
			}
		}
		if names == nil {
			names, values = []string{}, []string{}
		}
		out.Rows = append(out.Rows, runtime.Row{Table: TableNodes, Values: append([]any{kind, id, names, values}, logVals...)})
	}
	edge := func(sk, sid, rel, dk, did string) {
		out.Rows = append(out.Rows, runtime.Row{Table: TableEdges, Values: append([]any{sk, sid, rel, dk, did}, logVals...)})
	}
	fact := func(table string, vals ...any) {
		out.Rows = append(out.Rows, runtime.Row{Table: table, Values: append(vals, logVals...)})
	}
	switch e := rec.Event.(type) {
	case *schemas.ItemIngested:
		node(KindItem, e.ItemID, "source", e.Source, "uri", e.URI, "sha256", e.SHA256, "modality", e.Modality, "project_id", e.ProjectID, "dataset_id", e.DatasetID)
		node(KindSource, e.Source)
		edge(KindSource, e.Source, RelIngested, KindItem, e.ItemID)
		fact(TableItems, e.ItemID, e.Source, e.SHA256, e.ProjectID, e.DatasetID)
		out.Rows = append(out.Rows, st.ingested(e, rec)...)
	case *schemas.PreLabelProposed:
		model := e.Model + "@" + e.ModelVersion
		node(KindModel, model)
		edge(KindModel, model, RelProposed, KindItem, e.ItemID)
	case *schemas.LabelSubmitted:
		node(KindLabel, e.LabelID, "item_id", e.ItemID, "question_id", e.QuestionID, "annotator_id", e.AnnotatorID, "cohort", e.Cohort,
			"vendor", e.Vendor, "guideline_version", e.GuidelineVersion, "value", e.Value.String())
		edge(KindItem, e.ItemID, RelLabeled, KindLabel, e.LabelID)
		node(KindAnnotator, e.AnnotatorID)
		edge(KindLabel, e.LabelID, RelBy, KindAnnotator, e.AnnotatorID)
		if e.Cohort != "" {
			node(KindCohort, e.Cohort)
			edge(KindLabel, e.LabelID, RelInCohort, KindCohort, e.Cohort)
		}
		prelabel := ""
		if e.PreLabel != nil {
			prelabel = e.PreLabel.Model + "@" + e.PreLabel.ModelVersion
			node(KindModel, prelabel)
			edge(KindModel, prelabel, RelPrelabeled, KindLabel, e.LabelID)
		}
		fact(TableLabels, e.LabelID, uint8(0), e.ItemID, e.AnnotatorID, e.Cohort, e.Vendor, e.GuidelineVersion, prelabel)
	case *schemas.LabelRetracted:
		edge(KindLabel, e.LabelID, RelRetracted, KindLabel, e.LabelID)
		fact(TableLabels, e.LabelID, uint8(1), "", "", "", "", "", "")
	case *schemas.ReviewCompleted:
		node(KindReview, e.ReviewID, "label_id", e.LabelID, "reviewer_id", e.ReviewerID, "verdict", string(e.Verdict))
		edge(KindLabel, e.LabelID, RelReviewed, KindReview, e.ReviewID)
		node(KindAnnotator, e.ReviewerID)
		edge(KindReview, e.ReviewID, RelBy, KindAnnotator, e.ReviewerID)
		fact(TableReviews, e.LabelID, e.ReviewID, e.ReviewerID, string(e.Verdict))
	case *schemas.DatasetVersionCommitted:
		v := VersionID(e.DatasetID, e.Version)
		node(KindDatasetVersion, v, "dataset_id", e.DatasetID, "version", e.Version, "parent_version", e.ParentVersion,
			"manifest_digest", e.ManifestDigest, "member_count", fmt.Sprint(len(e.Members)))
		if e.ParentVersion != "" {
			edge(KindDatasetVersion, VersionID(e.DatasetID, e.ParentVersion), RelParentOf, KindDatasetVersion, v)
		}
		manifestOK := uint8(0)
		if schemas.ManifestDigest(e.Members) == e.ManifestDigest {
			manifestOK = 1
		}
		fact(TableVersions, e.DatasetID, e.Version, e.ParentVersion, e.ManifestDigest, manifestOK, uint32(len(e.Members)))
		for _, mem := range e.Members {
			edge(KindItem, mem.ItemID, RelMemberOf, KindDatasetVersion, v)
			edge(KindLabel, mem.LabelID, RelMemberOf, KindDatasetVersion, v)
			fact(TableMembers, e.DatasetID, e.Version, mem.ItemID, mem.LabelID)
		}
	case *schemas.TrainingRunRegistered:
		node(KindTrainingRun, e.RunID, "model", e.Model, "dataset_id", e.DatasetID)
		for _, r := range e.DatasetVersions {
			edge(KindDatasetVersion, VersionID(r.DatasetID, r.Version), RelTrained, KindTrainingRun, e.RunID)
			fact(TableRuns, e.RunID, r.DatasetID, r.Version, m.RecordedAt)
		}
	case *schemas.EvalFindingReported:
		node(KindFinding, e.FindingID, "eval_run", e.EvalRun, "model", e.Model, "training_run_id", e.TrainingRunID, "slice", e.Slice,
			"severity", string(e.Severity), "project_id", e.ProjectID)
		if e.TrainingRunID != "" {
			edge(KindTrainingRun, e.TrainingRunID, RelEvaluated, KindFinding, e.FindingID)
		}
		for _, it := range e.ImplicatedItemIDs {
			edge(KindFinding, e.FindingID, RelImplicates, KindItem, it)
		}
	case *schemas.RemediationStarted:
		// A finding has one remediation, so the remediation node shares the finding's id.
		node(KindRemediation, e.FindingID, "owner", e.Owner, "plan", e.Plan)
		edge(KindFinding, e.FindingID, RelRemediated, KindRemediation, e.FindingID)
	case *schemas.RemediationShipped:
		edge(KindFinding, e.FindingID, RelRemediated, KindRemediation, e.FindingID)
		edge(KindRemediation, e.FindingID, RelShipped, KindDatasetVersion, VersionID(e.DatasetID, e.FixingVersion))
	case *schemas.DatasetVersionCertified:
		verdict(&e.GateVerdict, true, m, node, edge, fact)
	case *schemas.DatasetVersionRejected:
		verdict(&e.GateVerdict, false, m, node, edge, fact)
	case *schemas.GateOverrideGranted:
		node(KindOverride, m.EventID, "dataset_id", e.DatasetID, "version", e.Version, "project_id", e.ProjectID,
			"reason", e.Reason, "granted_by", e.Producer)
		edge(KindDatasetVersion, VersionID(e.DatasetID, e.Version), RelOverridden, KindOverride, m.EventID)
		fact(TableOverrides, e.DatasetID, e.Version, e.ProjectID, e.Reason, e.Producer, m.RecordedAt)
	}
	return out, nil
}

// verdict writes a gate verdict: a verdict node (its outcome, sequence, reason and the targets
// that did not pass), judged by its version, superseding the verdict it replaces, and its row
// of lineage_verdicts with every check as parallel arrays.
func verdict(v *schemas.GateVerdict, certified bool, m *schemas.Envelope,
	node func(kind, id string, kv ...string), edge func(sk, sid, rel, dk, did string), fact func(table string, vals ...any)) {
	outcome, cert := "rejected", uint8(0)
	if certified {
		outcome, cert = "certified", 1
	}
	n := len(v.Checks)
	var (
		target, scope, status, detail = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		threshold                     = make([]float64, n)
		figure, low, high             = make([]*float64, n), make([]*float64, n), make([]*float64, n)
		evidence                      = make([]int64, n)
		failing                       []string
	)
	for i, c := range v.Checks {
		target[i], scope[i], threshold[i], figure[i], low[i], high[i] = c.Target, c.Scope, c.Threshold, c.Figure, c.Low, c.High
		evidence[i], status[i], detail[i] = c.Evidence, string(c.Status), c.Detail
		if c.Status != schemas.CheckPass {
			name := c.Target
			if c.Scope != "" {
				name += ":" + c.Scope
			}
			failing = append(failing, name)
		}
	}
	eventID := m.EventID
	node(KindVerdict, eventID, "dataset_id", v.DatasetID, "version", v.Version, "verdict", outcome, "sequence", fmt.Sprint(v.Sequence),
		"project_id", v.ProjectID, "targets_versions", strings.Join(v.TargetsVersions, ","), "reason", v.Reason,
		"failing", strings.Join(failing, ","))
	edge(KindDatasetVersion, VersionID(v.DatasetID, v.Version), RelJudged, KindVerdict, eventID)
	if v.Supersedes != "" {
		edge(KindVerdict, eventID, RelSupersedes, KindVerdict, v.Supersedes)
	}
	targets := v.TargetsVersions
	if targets == nil {
		targets = []string{}
	}
	fact(TableVerdicts, v.DatasetID, v.Version, v.Sequence, cert, v.Supersedes, v.ProjectID, targets, v.Reason,
		target, scope, threshold, figure, low, high, evidence, status, detail, m.RecordedAt)
}
