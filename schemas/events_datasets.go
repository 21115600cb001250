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
