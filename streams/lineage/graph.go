package lineage

import (
	"sort"

	"github.com/assay-data/assay/schemas"
)

// VersionRef names one version of one dataset; it prints as dataset@version.
type VersionRef = schemas.DatasetVersionRef

// Item is an ingested item: the head of every chain.
type Item struct {
	ItemID     string
	Source     string
	URI        string
	SHA256     string
	ProjectID  string
	DatasetID  string
	OccurredAt int64
	EventID    string
}

// Label is a submitted label with who made it under which guideline.
type Label struct {
	LabelID          string
	ItemID           string
	QuestionID       string
	AnnotatorID      string
	Cohort           string
	Vendor           string
	GuidelineVersion string
	// PreLabelModel is "model@version" when the annotator started from a model's proposal.
	PreLabelModel string
	Value         schemas.LabelValue
	OccurredAt    int64
	EventID       string
	// Producer submitted the label: only it may retract it (rule labeler.own_labels, which
	// the Processor enforces too, so the graph and the chain tables agree).
	Producer string
	// Retracted is set by a LabelRetracted of this label from its Producer.
	Retracted bool
}

// Review is one ReviewCompleted of a label.
type Review struct {
	ReviewID   string
	LabelID    string
	ItemID     string
	ReviewerID string
	Verdict    schemas.Verdict
	OccurredAt int64
	EventID    string
}

// Gold is the latest GoldLabelSet of an item's question.
type Gold struct {
	Value      schemas.LabelValue
	SetBy      string
	OccurredAt int64
	EventID    string
}

// Version is a committed dataset version.
type Version struct {
	Ref            VersionRef
	Parent         string
	Members        []schemas.Member
	ManifestDigest string
	OccurredAt     int64
	EventID        string
}

// Run is a registered training run and the dataset versions it used.
type Run struct {
	RunID      string
	Model      string
	Versions   []VersionRef
	OccurredAt int64
	EventID    string
}

// Finding is an evaluation finding with its remediation, if any.
type Finding struct {
	FindingID     string
	EvalRun       string
	Model         string
	TrainingRunID string
	Slice         string
	Severity      schemas.Severity
	ItemIDs       []string
	ReportedAt    int64
	EventID       string
	// StartedAt is the first RemediationStarted, 0 if none.
	StartedAt int64
	// ShippedAt is the first RemediationShipped, 0 while the finding is open.
	ShippedAt int64
	// Fix is the fixing dataset version of the first RemediationShipped (by occurred_at, then
	// event id).
	Fix VersionRef

	shippedEvent string
}

type goldKey struct{ item, question string }

// Graph is the lineage projection. Build it with New and Apply; read it with the query methods.
// Maps are exported read-only views for reports; do not modify them.
type Graph struct {
	// AsOf, when not zero, is an instant in epoch milliseconds: events that occurred after it
	// are ignored, so the graph is the lineage as it was known then.
	AsOf int64
	// Clock, when not zero and AsOf is zero, is "now" for the age of open findings (the CLI
	// sets the wall clock); the model itself never reads a clock.
	Clock int64

	// Items by item id.
	Items map[string]*Item
	// Labels by label id.
	Labels map[string]*Label
	// Reviews by the id of the label reviewed.
	Reviews map[string][]*Review
	// Versions by dataset and version.
	Versions map[VersionRef]*Version
	// Runs by training run id.
	Runs map[string]*Run
	// Findings by finding id.
	Findings map[string]*Finding
	// Verdicts are the gate's verdicts by the version they judge, in no order (Gate orders
	// them); a verdict from any producer but GateProducer is not applied.
	Verdicts map[VersionRef][]*Verdict
	// Overrides are the owners' GateOverrideGranted by version, in no order.
	Overrides map[VersionRef][]*Override

	// latest is the largest occurred_at applied: "now" for ages when AsOf is not set, so a
	// report depends on the log alone, not on the clock of the machine running it.
	latest int64

	// firstRegistered is, per training run and dataset version, the earliest recorded_at of
	// the run's registrations naming the version: when Assay accepted the run on it.
	firstRegistered map[string]map[VersionRef]int64

	gold       map[goldKey]*Gold
	retracted  map[string]map[string]bool // label id -> producers that retracted it
	seenEvents map[string]bool
}

// New returns an empty graph; asOf (epoch ms, 0 for none) bounds the events it accepts.
func New(asOf int64) *Graph {
	return &Graph{
		AsOf:      asOf,
		Items:     map[string]*Item{},
		Labels:    map[string]*Label{},
		Reviews:   map[string][]*Review{},
		Versions:  map[VersionRef]*Version{},
		Runs:      map[string]*Run{},
		Findings:  map[string]*Finding{},
		Verdicts:  map[VersionRef][]*Verdict{},
		Overrides: map[VersionRef][]*Override{},
		gold:      map[goldKey]*Gold{},

		firstRegistered: map[string]map[VersionRef]int64{},
		retracted:       map[string]map[string]bool{},
		seenEvents:      map[string]bool{},
	}
}

// later reports whether (at, id) comes after (bat, bid): occurred_at first, event id breaking
// ties, so "latest" does not depend on the order a replay happens to read partitions in.
func later(at int64, id string, bat int64, bid string) bool {
	if at != bat {
		return at > bat
	}
	return id > bid
}

// Apply folds one event into the graph and reports whether it was used. Events after AsOf,
// duplicates of an event id already applied (the log is at-least-once), event types that
// carry no lineage and verdicts the gate did not emit (RuleOwnVerdicts) are ignored.
func (g *Graph) Apply(ev schemas.Event) bool {
	m := ev.Meta()
	if g.AsOf != 0 && m.OccurredAt > g.AsOf {
		return false
	}
	if m.EventID != "" && g.seenEvents[m.EventID] {
		return false
	}
	if v, certified, ok := verdictOf(ev); ok {
		if m.Producer != GateProducer {
			return false
		}
		ref := VersionRef{DatasetID: v.DatasetID, Version: v.Version}
		g.Verdicts[ref] = append(g.Verdicts[ref], &Verdict{Certified: certified, Sequence: v.Sequence, Supersedes: v.Supersedes,
			ProjectID: v.ProjectID, TargetsVersions: append([]string(nil), v.TargetsVersions...), Reason: v.Reason,
			Checks: append([]schemas.TargetCheck(nil), v.Checks...), OccurredAt: m.OccurredAt, RecordedAt: m.RecordedAt, EventID: m.EventID})
	}
	switch e := ev.(type) {
	case *schemas.DatasetVersionCertified, *schemas.DatasetVersionRejected:
		// applied above
	case *schemas.GateOverrideGranted:
		ref := VersionRef{DatasetID: e.DatasetID, Version: e.Version}
		g.Overrides[ref] = append(g.Overrides[ref], &Override{ProjectID: e.ProjectID, Reason: e.Reason, Producer: m.Producer,
			OccurredAt: m.OccurredAt, RecordedAt: m.RecordedAt, EventID: m.EventID})
	case *schemas.ItemIngested:
		if old, ok := g.Items[e.ItemID]; ok && !later(m.OccurredAt, m.EventID, old.OccurredAt, old.EventID) {
			break // a re-ingest earlier than the one kept: the latest description wins
		}
		g.Items[e.ItemID] = &Item{ItemID: e.ItemID, Source: e.Source, URI: e.URI, SHA256: e.SHA256,
			ProjectID: e.ProjectID, DatasetID: e.DatasetID, OccurredAt: m.OccurredAt, EventID: m.EventID}
	case *schemas.LabelSubmitted:
		l := &Label{LabelID: e.LabelID, ItemID: e.ItemID, QuestionID: e.QuestionID, AnnotatorID: e.AnnotatorID,
			Cohort: e.Cohort, Vendor: e.Vendor, GuidelineVersion: e.GuidelineVersion, Value: e.Value,
			OccurredAt: m.OccurredAt, EventID: m.EventID, Producer: m.Producer, Retracted: g.retracted[e.LabelID][m.Producer]}
		if e.PreLabel != nil {
			l.PreLabelModel = e.PreLabel.Model + "@" + e.PreLabel.ModelVersion
		}
		if old, ok := g.Labels[e.LabelID]; ok && !later(m.OccurredAt, m.EventID, old.OccurredAt, old.EventID) {
			break // a label id reused by a client: the latest submission describes it
		}
		g.Labels[e.LabelID] = l
	case *schemas.LabelRetracted:
		// The retraction may be read before the label (another partition order is not
		// possible for one item, but a replay of a truncated range could start mid-way).
		// Only the label's own producer retracts it (labeler.own_labels): a retraction by
		// anyone else is kept aside and never applies, as the Processor refuses it.
		if g.retracted[e.LabelID] == nil {
			g.retracted[e.LabelID] = map[string]bool{}
		}
		g.retracted[e.LabelID][m.Producer] = true
		if l, ok := g.Labels[e.LabelID]; ok && l.Producer == m.Producer {
			l.Retracted = true
		}
	case *schemas.GoldLabelSet:
		k := goldKey{e.ItemID, e.QuestionID}
		if old, ok := g.gold[k]; ok && !later(m.OccurredAt, m.EventID, old.OccurredAt, old.EventID) {
			break
		}
		g.gold[k] = &Gold{Value: e.Value, SetBy: e.SetBy, OccurredAt: m.OccurredAt, EventID: m.EventID}
	case *schemas.ReviewCompleted:
		g.Reviews[e.LabelID] = append(g.Reviews[e.LabelID], &Review{ReviewID: e.ReviewID, LabelID: e.LabelID,
			ItemID: e.ItemID, ReviewerID: e.ReviewerID, Verdict: e.Verdict, OccurredAt: m.OccurredAt, EventID: m.EventID})
	case *schemas.DatasetVersionCommitted:
		ref := VersionRef{DatasetID: e.DatasetID, Version: e.Version}
		if old, ok := g.Versions[ref]; ok && !later(old.OccurredAt, old.EventID, m.OccurredAt, m.EventID) {
			break // a version is immutable: the earliest commit stands (a second one is a producer bug)
		}
		g.Versions[ref] = &Version{Ref: ref, Parent: e.ParentVersion, Members: append([]schemas.Member(nil), e.Members...),
			ManifestDigest: e.ManifestDigest, OccurredAt: m.OccurredAt, EventID: m.EventID}
	case *schemas.TrainingRunRegistered:
		g.registered(e.RunID, e.DatasetVersions, m.RecordedAt)
		if old, ok := g.Runs[e.RunID]; ok && !later(m.OccurredAt, m.EventID, old.OccurredAt, old.EventID) {
			break
		}
		g.Runs[e.RunID] = &Run{RunID: e.RunID, Model: e.Model, Versions: append([]VersionRef(nil), e.DatasetVersions...),
			OccurredAt: m.OccurredAt, EventID: m.EventID}
	case *schemas.EvalFindingReported:
		f := g.finding(e.FindingID)
		f.EvalRun, f.Model, f.TrainingRunID, f.Slice, f.Severity = e.EvalRun, e.Model, e.TrainingRunID, e.Slice, e.Severity
		f.ItemIDs = append([]string(nil), e.ImplicatedItemIDs...)
		f.ReportedAt, f.EventID = m.OccurredAt, m.EventID
	case *schemas.RemediationStarted:
		f := g.finding(e.FindingID)
		if f.StartedAt == 0 || m.OccurredAt < f.StartedAt {
			f.StartedAt = m.OccurredAt
		}
	case *schemas.RemediationShipped:
		f := g.finding(e.FindingID)
		if f.ShippedAt == 0 || later(f.ShippedAt, f.shippedEvent, m.OccurredAt, m.EventID) {
			f.ShippedAt, f.shippedEvent = m.OccurredAt, m.EventID
			f.Fix = VersionRef{DatasetID: e.DatasetID, Version: e.FixingVersion}
		}
	default:
		return false
	}
	if m.EventID != "" {
		g.seenEvents[m.EventID] = true
	}
	g.latest = max(g.latest, m.OccurredAt)
	return true
}

// registered keeps the earliest recorded_at at which run was registered on each of versions.
func (g *Graph) registered(run string, versions []VersionRef, recordedAt int64) {
	if g.firstRegistered[run] == nil {
		g.firstRegistered[run] = map[VersionRef]int64{}
	}
	for _, v := range versions {
		if at, ok := g.firstRegistered[run][v]; !ok || recordedAt < at {
			g.firstRegistered[run][v] = recordedAt
		}
	}
}

// finding returns the finding, creating a placeholder when a remediation is read before its
// report (they share a partition, but Apply does not rely on that).
func (g *Graph) finding(id string) *Finding {
	f, ok := g.Findings[id]
	if !ok {
		f = &Finding{FindingID: id}
		g.Findings[id] = f
	}
	return f
}

// Gold returns the latest gold answer of an item's question.
func (g *Graph) Gold(itemID, questionID string) (*Gold, bool) {
	v, ok := g.gold[goldKey{itemID, questionID}]
	return v, ok
}

// LatestReview returns the latest review of a label by occurred_at (event id breaking ties).
func (g *Graph) LatestReview(labelID string) *Review {
	var best *Review
	for _, r := range g.Reviews[labelID] {
		if best == nil || later(r.OccurredAt, r.EventID, best.OccurredAt, best.EventID) {
			best = r
		}
	}
	return best
}

// RunsUsing lists the training runs that used a version, sorted by run id.
func (g *Graph) RunsUsing(ref VersionRef) []string {
	var out []string
	for id, r := range g.Runs {
		for _, v := range r.Versions {
			if v == ref {
				out = append(out, id)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Now is the instant the graph describes: AsOf when set, else Clock when set, else the latest
// occurred_at applied.
func (g *Graph) Now() int64 {
	switch {
	case g.AsOf != 0:
		return g.AsOf
	case g.Clock != 0:
		return g.Clock
	}
	return g.latest
}

// Completeness is the lineage completeness KPI (Tally) over the versions of the datasets of
// project (DatasetsOf), or over every version when project is empty.
func (g *Graph) Completeness(project string) Completeness {
	versions := make(map[VersionRef]VersionStatus, len(g.Versions))
	for ref, v := range g.Versions {
		versions[ref] = newVersionLineage(v, g.Chain, nil, nil, Gate{}).Status()
	}
	runs := make(map[string][]VersionRef, len(g.Runs))
	for id, r := range g.Runs {
		runs[id] = r.Versions
	}
	var keep func(string) bool
	if project != "" {
		datasets := g.DatasetsOf(project)
		keep = func(d string) bool { return datasets[d] }
	}
	return Tally(versions, runs, keep)
}

// DatasetsOf lists the datasets of a project: those its items were ingested into (each
// item's latest ingest names its project and dataset). ReadCompleteness filters by the same
// rule.
func (g *Graph) DatasetsOf(project string) map[string]bool {
	out := map[string]bool{}
	for _, it := range g.Items {
		if it.ProjectID == project && it.DatasetID != "" {
			out[it.DatasetID] = true
		}
	}
	return out
}
