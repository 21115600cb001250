package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The event types of the datasets family (topic assay.datasets.v1, keyed by
// dataset_id).
const (
	TypeCoverageTargetSet       EventType = "CoverageTargetSet"
	TypeDatasetVersionCommitted EventType = "DatasetVersionCommitted"
	TypeTrainingRunRegistered   EventType = "TrainingRunRegistered"
)

// SliceTarget is the wanted presence of one slice in a dataset: a share, a
// minimum count, or both.
type SliceTarget struct {
	// Slice is the slice tag (as in ItemIngested.SliceTags).
	Slice string `json:"slice"`
	// TargetShare is the wanted share of the dataset, in [0, 1]; nil if only
	// a count is targeted.
	TargetShare *float64 `json:"target_share,omitempty"`
	// MinCount is the wanted minimum number of accepted items; nil if only a
	// share is targeted.
	MinCount *int64 `json:"min_count,omitempty"`
}

// EdgeCaseMinimum is the number of accepted labeled items an edge-case tag
// needs for the dataset to count as covering it.
type EdgeCaseMinimum struct {
	// Tag is the edge-case tag (as in ItemIngested.EdgeCaseTags).
	Tag string `json:"tag"`
	// MinCount is the minimum number of accepted items.
	MinCount int64 `json:"min_count"`
}

// CoverageTargetSet (re)defines the coverage targets of a dataset; the
// latest event per dataset wins.
type CoverageTargetSet struct {
	Envelope
	// DatasetID is the dataset (partition key).
	DatasetID string `json:"dataset_id"`
	// SliceTargets are the per-slice targets.
	SliceTargets []SliceTarget `json:"slice_targets,omitempty"`
	// EdgeCaseMinimums are the per-edge-case minimum counts.
	EdgeCaseMinimums []EdgeCaseMinimum `json:"edge_case_minimums,omitempty"`
}

// Type implements Event.
func (*CoverageTargetSet) Type() EventType { return TypeCoverageTargetSet }

// Family implements Event.
func (*CoverageTargetSet) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *CoverageTargetSet) Key() string { return e.DatasetID }

var _ = describe(func(s Subject) *CoverageTargetSet {
	return &CoverageTargetSet{Envelope: s.envelope("coverage", 7), DatasetID: s.id("ds"),
		SliceTargets:     []SliceTarget{{Slice: "night", TargetShare: ptr(0.3)}, {Slice: "urban", MinCount: ptr(int64(500))}},
		EdgeCaseMinimums: []EdgeCaseMinimum{{Tag: "occluded", MinCount: 50}}}
})

// Validate implements Event: every slice target has a share or a count,
// slices and tags are unique, and the shares sum to at most 1.
func (e *CoverageTargetSet) Validate() error {
	var c check
	c.envelope(e)
	c.required("dataset_id", e.DatasetID)
	seen := map[string]bool{}
	sum := 0.0
	for i, t := range e.SliceTargets {
		f := fmt.Sprintf("slice_targets[%d]", i)
		c.required(f+".slice", t.Slice)
		if seen[t.Slice] {
			c.fail(f+".slice", "duplicate %q", t.Slice)
		}
		seen[t.Slice] = true
		if t.TargetShare == nil && t.MinCount == nil {
			c.fail(f, "needs target_share or min_count")
		}
		if t.TargetShare != nil {
			c.unit(f+".target_share", *t.TargetShare)
			sum += *t.TargetShare
		}
		if t.MinCount != nil {
			c.nonNegative(f+".min_count", *t.MinCount)
		}
	}
	if sum > 1+1e-9 && !math.IsNaN(sum) {
		c.fail("slice_targets", "target shares sum to %v, more than 1", sum)
	}
	tags := map[string]bool{}
	for i, m := range e.EdgeCaseMinimums {
		f := fmt.Sprintf("edge_case_minimums[%d]", i)
		c.required(f+".tag", m.Tag)
		if tags[m.Tag] {
			c.fail(f+".tag", "duplicate %q", m.Tag)
		}
		tags[m.Tag] = true
		c.nonNegative(f+".min_count", m.MinCount)
	}
	return c.err
}

// Member is one labeled item in a dataset version.
type Member struct {
	// ItemID is the item.
	ItemID string `json:"item_id"`
	// LabelID is the label of the item the version uses.
	LabelID string `json:"label_id"`
}

// ManifestDigest is the digest over a dataset version's members that
// DatasetVersionCommitted.ManifestDigest must carry, defined here so that
// committers and auditors compute it the same way. It is "sha256:" + hex of
// SHA-256 over the lines "item_id<TAB>label_id<LF>", sorted bytewise and
// deduplicated, i.e. what this shell pipeline prints:
//
//	LC_ALL=C sort -u members.tsv | sha256sum
//
// Member order in the event therefore does not matter.
func ManifestDigest(members []Member) string {
	lines := make([]string, len(members))
	for i, m := range members {
		lines[i] = m.ItemID + "\t" + m.LabelID + "\n"
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// DatasetVersionCommitted records an immutable dataset version: exactly
// which label of which item it contains. Lineage and audits start here.
type DatasetVersionCommitted struct {
	Envelope
	// DatasetID is the dataset (partition key).
	DatasetID string `json:"dataset_id"`
	// Version names this version, unique within the dataset.
	Version string `json:"version"`
	// ParentVersion is the version this one derives from; empty for the first.
	ParentVersion string `json:"parent_version,omitempty"`
	// Members are the (item, label) pairs of the version. The whole list
	// travels in one Kafka record, so very large versions are bounded by the
	// broker's message size (roughly 60 bytes a member).
	Members []Member `json:"members"`
	// ManifestDigest is ManifestDigest(Members); Validate recomputes it.
	ManifestDigest string `json:"manifest_digest"`
}

// Type implements Event.
func (*DatasetVersionCommitted) Type() EventType { return TypeDatasetVersionCommitted }

// Family implements Event.
func (*DatasetVersionCommitted) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *DatasetVersionCommitted) Key() string { return e.DatasetID }

// The example commits version N+1 (parent N) with two members: the
// subject's item and label and the next ones.
var _ = describe(func(s Subject) *DatasetVersionCommitted {
	members := []Member{{ItemID: s.idAt("item", 0), LabelID: s.idAt("label", 0)}, {ItemID: s.idAt("item", 1), LabelID: s.idAt("label", 1)}}
	return &DatasetVersionCommitted{Envelope: s.envelope("version", 8), DatasetID: s.id("ds"), Version: s.number(1),
		ParentVersion: s.number(0), Members: members, ManifestDigest: ManifestDigest(members)}
})

// Validate implements Event: members are non-empty and unique, ids hold no
// tab or newline (they would make the digest ambiguous), and
// manifest_digest equals ManifestDigest(members).
func (e *DatasetVersionCommitted) Validate() error {
	var c check
	c.envelope(e)
	c.required("dataset_id", e.DatasetID)
	c.required("version", e.Version)
	c.predecessor("parent_version", e.ParentVersion, "version", e.Version)
	if len(e.Members) == 0 {
		c.fail("members", "required (at least one member)")
	}
	seen := make(map[Member]struct{}, len(e.Members))
	for i, m := range e.Members {
		f := fmt.Sprintf("members[%d]", i)
		c.required(f+".item_id", m.ItemID)
		c.required(f+".label_id", m.LabelID)
		if strings.ContainsAny(m.ItemID, "\t\n") {
			c.fail(f+".item_id", "must not contain tab or newline")
		}
		if strings.ContainsAny(m.LabelID, "\t\n") {
			c.fail(f+".label_id", "must not contain tab or newline")
		}
		if _, dup := seen[m]; dup {
			c.fail(f, "duplicate member %s/%s", m.ItemID, m.LabelID)
		}
		seen[m] = struct{}{}
	}
	if c.err == nil {
		if want := ManifestDigest(e.Members); e.ManifestDigest != want {
			c.fail("manifest_digest", "is %q, members digest to %q", e.ManifestDigest, want)
		}
	}
	return c.err
}

// DatasetVersionRef names one version of one dataset.
type DatasetVersionRef struct {
	// DatasetID is the dataset.
	DatasetID string `json:"dataset_id"`
	// Version is the committed version.
	Version string `json:"version"`
}

// TrainingRunRegistered links a training run to the dataset versions it
// trained on, closing the lineage from source to model.
type TrainingRunRegistered struct {
	Envelope
	// RunID identifies the training run.
	RunID string `json:"run_id"`
	// Model names the model trained.
	Model string `json:"model"`
	// DatasetID is the primary dataset (partition key); it must appear in
	// DatasetVersions.
	DatasetID string `json:"dataset_id"`
	// DatasetVersions are all dataset versions the run used.
	DatasetVersions []DatasetVersionRef `json:"dataset_versions"`
}

// Type implements Event.
func (*TrainingRunRegistered) Type() EventType { return TypeTrainingRunRegistered }

// Family implements Event.
func (*TrainingRunRegistered) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *TrainingRunRegistered) Key() string { return e.DatasetID }

var _ = describe(func(s Subject) *TrainingRunRegistered {
	return &TrainingRunRegistered{Envelope: s.envelope("run", 9), RunID: s.id("run"), Model: "detector-2",
		DatasetID: s.id("ds"), DatasetVersions: []DatasetVersionRef{{DatasetID: s.id("ds"), Version: s.number(1)}}}
})

// Validate implements Event.
func (e *TrainingRunRegistered) Validate() error {
	var c check
	c.envelope(e)
	c.required("run_id", e.RunID)
	c.required("model", e.Model)
	c.required("dataset_id", e.DatasetID)
	if len(e.DatasetVersions) == 0 {
		c.fail("dataset_versions", "required (at least one)")
	}
	primary := false
	seen := map[DatasetVersionRef]bool{}
	for i, r := range e.DatasetVersions {
		f := fmt.Sprintf("dataset_versions[%d]", i)
		c.required(f+".dataset_id", r.DatasetID)
		c.required(f+".version", r.Version)
		if seen[r] {
			c.fail(f, "duplicate %s@%s", r.DatasetID, r.Version)
		}
		seen[r] = true
		primary = primary || r.DatasetID == e.DatasetID
	}
	if len(e.DatasetVersions) > 0 && e.DatasetID != "" && !primary {
		c.fail("dataset_id", "%q is not among dataset_versions", e.DatasetID)
	}
	return c.err
}

// The gate's event types (datasets family): its verdicts, and an owner's override.
const (
	TypeDatasetVersionCertified EventType = "DatasetVersionCertified"
	TypeDatasetVersionRejected  EventType = "DatasetVersionRejected"
	TypeGateOverrideGranted     EventType = "GateOverrideGranted"
)

// CheckStatus is the outcome of one target in a verdict (Avro enum
// io.assay.datasets.CheckStatus).
type CheckStatus string

// The outcomes: only pass certifies.
const (
	CheckPass CheckStatus = "pass"
	CheckFail CheckStatus = "fail"
	// CheckNotEnoughData: the figure's evidence is below the target's minimum (or there is
	// none), so the target is neither met nor missed; it does not certify.
	CheckNotEnoughData CheckStatus = "not_enough_data"
)

// Valid reports whether s is a defined outcome.
func (s CheckStatus) Valid() bool {
	return s == CheckPass || s == CheckFail || s == CheckNotEnoughData
}

// TargetCheck is one target judged in a verdict: the target, the figure it was judged on, the
// figure's interval where it has one, the evidence behind it and the outcome.
type TargetCheck struct {
	// Target names the target: min_alpha, min_accuracy, min_slice_coverage,
	// min_edge_case_coverage, min_lineage_completeness, max_rework_rate, max_open_findings,
	// no_gold_in_training, targets_in_force.
	Target string `json:"target"`
	// Scope narrows the target: a question id (alpha, accuracy), a severity (findings);
	// empty for the version as a whole.
	Scope string `json:"scope,omitempty"`
	// Threshold is the target's bound (a minimum or a maximum, as Target says).
	Threshold float64 `json:"threshold"`
	// Figure is the measured value; nil when there is none.
	Figure *float64 `json:"figure,omitempty"`
	// Low and High bound the figure's confidence interval, where it has one.
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
	// Evidence counts what the figure stands on (pairable values, counted gold labels,
	// members, findings).
	Evidence int64 `json:"evidence"`
	// Status is the outcome.
	Status CheckStatus `json:"status"`
	// Detail says how the figure was measured and why it passed or not, in words.
	Detail string `json:"detail,omitempty"`
}

// GateVerdict is the body of a gate verdict (DatasetVersionCertified, DatasetVersionRejected):
// which version, against which targets, every check, and which verdict it supersedes.
type GateVerdict struct {
	// DatasetID is the dataset (partition key).
	DatasetID string `json:"dataset_id"`
	// Version is the dataset version judged.
	Version string `json:"version"`
	// ProjectID is the project whose targets judged it (the project of its members' items);
	// empty only in a rejection of a version none of whose members' items is known, which
	// no project's targets can judge.
	ProjectID string `json:"project_id"`
	// TargetsVersions are the QualityTargetsSet versions in force at the commit time that
	// judged it; empty when none was in force (then the version is not certified).
	TargetsVersions []string `json:"targets_versions"`
	// Sequence is 1 for the first verdict on the version and grows by one with every
	// superseding verdict.
	Sequence int64 `json:"sequence"`
	// Supersedes is the event id of the verdict this one replaces; empty for the first.
	Supersedes string `json:"supersedes,omitempty"`
	// Checks are the targets judged, in a stable order.
	Checks []TargetCheck `json:"checks"`
	// Reason says in one line why the version is certified or rejected.
	Reason string `json:"reason"`
}

func (v *GateVerdict) validate(c *check, certified bool) {
	c.required("dataset_id", v.DatasetID)
	c.required("version", v.Version)
	if certified {
		c.required("project_id", v.ProjectID)
	}
	if v.Sequence < 1 {
		c.fail("sequence", "must be >= 1, got %d", v.Sequence)
	}
	if v.Sequence == 1 && v.Supersedes != "" {
		c.fail("supersedes", "the first verdict supersedes nothing")
	}
	if v.Sequence > 1 && v.Supersedes == "" {
		c.fail("supersedes", "required when sequence > 1")
	}
	c.required("reason", v.Reason)
	for i, k := range v.Checks {
		f := fmt.Sprintf("checks[%d]", i)
		c.required(f+".target", k.Target)
		if !k.Status.Valid() {
			c.fail(f+".status", "unknown status %q", k.Status)
		}
		// Finite, so the verdict has a JSON form (the ledger's payload, the API): a figure
		// that does not exist is nil, never NaN.
		for _, n := range []struct {
			name string
			v    *float64
		}{{"threshold", &k.Threshold}, {"figure", k.Figure}, {"low", k.Low}, {"high", k.High}} {
			if n.v != nil && (math.IsNaN(*n.v) || math.IsInf(*n.v, 0)) {
				c.fail(f+"."+n.name, "must be a finite number, got %v", *n.v)
			}
		}
		if certified && k.Status != CheckPass {
			c.fail(f+".status", "a certified version passes every check, %s is %s", k.Target, k.Status)
		}
	}
	if certified && (len(v.Checks) == 0 || len(v.TargetsVersions) == 0) {
		c.fail("checks", "a certified version was judged against targets in force")
	}
}

// DatasetVersionCertified is the gate's verdict that a dataset version meets every target in
// force at its commit time: training runs may use it. Written only by the gate.
type DatasetVersionCertified struct {
	Envelope
	GateVerdict
}

// Type implements Event.
func (*DatasetVersionCertified) Type() EventType { return TypeDatasetVersionCertified }

// Family implements Event.
func (*DatasetVersionCertified) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *DatasetVersionCertified) Key() string { return e.DatasetID }

// The example is the second verdict on its version: it supersedes a first one (a rejection
// for want of gold labels, not among the examples), so every field is set.
var _ = describe(func(s Subject) *DatasetVersionCertified {
	env := s.envelope("certified", 16)
	env.Producer = "assay-processor/gate"
	return &DatasetVersionCertified{Envelope: env, GateVerdict: GateVerdict{DatasetID: s.id("ds"), Version: s.number(1),
		ProjectID: exampleProject, TargetsVersions: []string{"t-" + s.number(0)}, Sequence: 2,
		Supersedes: s.envelope("first-verdict", 15).EventID,
		Checks: []TargetCheck{
			{Target: "min_alpha", Scope: "q-1", Threshold: 0.667, Figure: ptr(0.81), Low: ptr(0.74), High: ptr(0.87),
				Evidence: 240, Status: CheckPass, Detail: "nominal alpha over 96 pairable units"},
			{Target: "min_lineage_completeness", Threshold: 1, Figure: ptr(1.0), Evidence: 2, Status: CheckPass},
		},
		Reason: "meets all 2 targets of t-" + s.number(0)}}
})

// Validate implements Event: a certified version passed every check of targets in force.
func (e *DatasetVersionCertified) Validate() error {
	var c check
	c.envelope(e)
	e.GateVerdict.validate(&c, true)
	return c.err
}

// DatasetVersionRejected is the gate's verdict that a dataset version misses a target in
// force at its commit time, or could not be judged (no targets in force, not enough data):
// training runs may not use it without an owner's GateOverrideGranted. Written only by the
// gate.
type DatasetVersionRejected struct {
	Envelope
	GateVerdict
}

// Type implements Event.
func (*DatasetVersionRejected) Type() EventType { return TypeDatasetVersionRejected }

// Family implements Event.
func (*DatasetVersionRejected) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *DatasetVersionRejected) Key() string { return e.DatasetID }

// The example supersedes the certified example: accuracy fell below its target after a gold
// correction. (Its event id is ev-version-rejected: ev-rejected is EventRejected's.)
var _ = describe(func(s Subject) *DatasetVersionRejected {
	env := s.envelope("version-rejected", 17)
	env.Producer = "assay-processor/gate"
	return &DatasetVersionRejected{Envelope: env, GateVerdict: GateVerdict{DatasetID: s.id("ds"), Version: s.number(1),
		ProjectID: exampleProject, TargetsVersions: []string{"t-" + s.number(0)}, Sequence: 3,
		Supersedes: s.envelope("certified", 16).EventID,
		Checks: []TargetCheck{
			{Target: "min_accuracy", Scope: "q-1", Threshold: 0.7, Figure: ptr(0.64), Evidence: 50, Status: CheckFail,
				Detail: "final label after review equals gold on 32 of 50 gold items"},
			{Target: "no_gold_in_training", Threshold: 0, Figure: ptr(0.0), Evidence: 2, Status: CheckPass},
		},
		Reason: "min_accuracy on q-1: 0.64 < 0.7"}}
})

// Validate implements Event.
func (e *DatasetVersionRejected) Validate() error {
	var c check
	c.envelope(e)
	e.GateVerdict.validate(&c, false)
	return c.err
}

// GateOverrideGranted is a project owner's explicit decision that training runs may use a
// dataset version the gate has not certified, with the reason; it is recorded in the log,
// the lineage and the audit, and a training run on the version counts as a run on
// uncertified data.
type GateOverrideGranted struct {
	Envelope
	// DatasetID is the dataset (partition key).
	DatasetID string `json:"dataset_id"`
	// Version is the dataset version the override lets through.
	Version string `json:"version"`
	// ProjectID is the project of the version, whose owner grants the override.
	ProjectID string `json:"project_id"`
	// Reason says why, in words an auditor can read; required.
	Reason string `json:"reason"`
}

// Type implements Event.
func (*GateOverrideGranted) Type() EventType { return TypeGateOverrideGranted }

// Family implements Event.
func (*GateOverrideGranted) Family() Family { return FamilyDatasets }

// Key implements Event: dataset_id.
func (e *GateOverrideGranted) Key() string { return e.DatasetID }

var _ = describe(func(s Subject) *GateOverrideGranted {
	env := s.envelope("override", 18)
	env.Producer = "owner-1"
	return &GateOverrideGranted{Envelope: env, DatasetID: s.id("ds"), Version: s.number(1), ProjectID: exampleProject,
		Reason: "accuracy gold set under revision; signed off by the data owner for the ablation run"}
})

// Validate implements Event: the reason is required and says something (at least 10
// characters).
func (e *GateOverrideGranted) Validate() error {
	var c check
	c.envelope(e)
	c.required("dataset_id", e.DatasetID)
	c.required("version", e.Version)
	c.required("project_id", e.ProjectID)
	c.required("reason", e.Reason)
	if r := strings.TrimSpace(e.Reason); r != "" && len([]rune(r)) < 10 {
		c.fail("reason", "must say why (at least 10 characters)")
	}
	return c.err
}
