package lineage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	"github.com/assay-data/assay/schemas"
)

// Missing links of a member chain, in chain order. They are stable strings: reports and tests
// compare them.
const (
	MissingItem      = "item not ingested"
	MissingSource    = "item has no source"
	MissingHash      = "item has no sha256"
	MissingLabel     = "label not submitted"
	MissingAnnotator = "label has no annotator"
	LabelOtherItem   = "label belongs to another item"
	LabelRetracted   = "label retracted"
	MissingReview    = "label not reviewed"
	ReviewRejected   = "label rejected in review"
)

// GoldCheck is the comparison of a member's label with the gold answer of its item's question.
type GoldCheck struct {
	Gold  string `json:"gold"`
	Label string `json:"label"`
	Match bool   `json:"match"`
}

// MemberChain is one member's lineage: item, label and its latest review, with what is missing.
type MemberChain struct {
	ItemID           string     `json:"item_id"`
	LabelID          string     `json:"label_id"`
	Source           string     `json:"source,omitempty"`
	SHA256           string     `json:"sha256,omitempty"`
	AnnotatorID      string     `json:"annotator_id,omitempty"`
	Cohort           string     `json:"cohort,omitempty"`
	Vendor           string     `json:"vendor,omitempty"`
	GuidelineVersion string     `json:"guideline_version,omitempty"`
	PreLabelModel    string     `json:"pre_label_model,omitempty"`
	ReviewID         string     `json:"review_id,omitempty"`
	ReviewerID       string     `json:"reviewer_id,omitempty"`
	Verdict          string     `json:"verdict,omitempty"`
	Gold             *GoldCheck `json:"gold,omitempty"`
	Missing          []string   `json:"missing,omitempty"`
}

// Complete reports whether the member's chain has no missing link.
func (m MemberChain) Complete() bool { return len(m.Missing) == 0 }

// VersionAudit is the audit of one dataset version as the graph knows it.
type VersionAudit struct {
	Dataset        string        `json:"dataset"`
	Version        string        `json:"version"`
	Parent         string        `json:"parent_version,omitempty"`
	CommittedAt    int64         `json:"committed_at_ms"`
	ManifestDigest string        `json:"manifest_digest"`
	ManifestOK     bool          `json:"manifest_digest_ok"`
	MerkleRoot     string        `json:"merkle_root"`
	Members        []MemberChain `json:"members"`
	CompleteCount  int           `json:"complete_members"`
	Complete       bool          `json:"complete"`
	Cohorts        []string      `json:"cohorts"`
	Annotators     []string      `json:"annotators"`
	Reviewers      []string      `json:"reviewers"`
	GoldChecked    int           `json:"gold_checked"`
	GoldMatched    int           `json:"gold_matched"`
	TrainingRuns   []string      `json:"training_runs"`
	// Findings implicate this version (through their training run and items), with their
	// remediation; ages are at the graph's Now.
	Findings []FindingImpact `json:"findings"`
	// Fixes lists the findings whose remediation shipped this version.
	Fixes []string `json:"fixes"`
}

// ErrVersionNotFound is returned by Audit for a version that was not committed (as of AsOf).
type ErrVersionNotFound struct {
	Ref  VersionRef
	AsOf int64
}

// Error names the version and, for an audit as of an instant, the instant.
func (e ErrVersionNotFound) Error() string {
	if e.AsOf != 0 {
		return fmt.Sprintf("version not found as of %s: %s@%s", msString(e.AsOf), e.Ref.DatasetID, e.Ref.Version)
	}
	return fmt.Sprintf("version not found: %s@%s", e.Ref.DatasetID, e.Ref.Version)
}

// Chain builds one member's chain. A member is complete when its item was ingested with a
// source and a hash, its label exists for that item, is not retracted and names an annotator,
// and the label's latest review accepted or corrected it.
func (g *Graph) Chain(m schemas.Member) MemberChain {
	c := MemberChain{ItemID: m.ItemID, LabelID: m.LabelID}
	miss := func(s string) { c.Missing = append(c.Missing, s) }
	if it, ok := g.Items[m.ItemID]; !ok {
		miss(MissingItem)
	} else {
		c.Source, c.SHA256 = it.Source, it.SHA256
		if it.Source == "" {
			miss(MissingSource)
		}
		if it.SHA256 == "" {
			miss(MissingHash)
		}
	}
	l, ok := g.Labels[m.LabelID]
	if !ok {
		miss(MissingLabel)
		miss(MissingReview)
		return c
	}
	c.AnnotatorID, c.Cohort, c.Vendor, c.GuidelineVersion, c.PreLabelModel = l.AnnotatorID, l.Cohort, l.Vendor, l.GuidelineVersion, l.PreLabelModel
	if l.AnnotatorID == "" {
		miss(MissingAnnotator)
	}
	if l.ItemID != m.ItemID {
		miss(LabelOtherItem)
	}
	if l.Retracted {
		miss(LabelRetracted)
	}
	if r := g.LatestReview(m.LabelID); r == nil {
		miss(MissingReview)
	} else {
		c.ReviewID, c.ReviewerID, c.Verdict = r.ReviewID, r.ReviewerID, string(r.Verdict)
		if r.Verdict == schemas.VerdictReject {
			miss(ReviewRejected)
		}
	}
	if gd, ok := g.Gold(m.ItemID, l.QuestionID); ok {
		// The submitted value is compared (not a reviewer's correction): gold checks measure
		// the annotator, as the accuracy KPI does.
		c.Gold = &GoldCheck{Gold: gd.Value.String(), Label: l.Value.String(), Match: gd.Value.String() == l.Value.String()}
	}
	return c
}

// Audit audits a dataset version: every member's chain (sorted by item, label), the cohorts,
// annotators and reviewers involved, gold checks, the manifest digest recomputed and the
// members' Merkle root. It returns ErrVersionNotFound when the version is not in the graph.
func (g *Graph) Audit(ref VersionRef) (VersionAudit, error) {
	v, ok := g.Versions[ref]
	if !ok {
		return VersionAudit{}, ErrVersionNotFound{Ref: ref, AsOf: g.AsOf}
	}
	a := VersionAudit{Dataset: ref.DatasetID, Version: ref.Version, Parent: v.Parent, CommittedAt: v.OccurredAt,
		ManifestDigest: v.ManifestDigest, ManifestOK: schemas.ManifestDigest(v.Members) == v.ManifestDigest,
		TrainingRuns: g.RunsUsing(ref)}
	members := append([]schemas.Member(nil), v.Members...)
	sort.Slice(members, func(i, j int) bool {
		if members[i].ItemID != members[j].ItemID {
			return members[i].ItemID < members[j].ItemID
		}
		return members[i].LabelID < members[j].LabelID
	})
	cohorts, annotators, reviewers := map[string]bool{}, map[string]bool{}, map[string]bool{}
	leaves := make([]Leaf, 0, len(members))
	for _, m := range members {
		c := g.Chain(m)
		a.Members = append(a.Members, c)
		if c.Complete() {
			a.CompleteCount++
		}
		cohorts[c.Cohort] = true
		annotators[c.AnnotatorID] = true
		reviewers[c.ReviewerID] = true
		if c.Gold != nil {
			a.GoldChecked++
			if c.Gold.Match {
				a.GoldMatched++
			}
		}
		leaves = append(leaves, Leaf{ItemSHA256: c.SHA256, LabelID: m.LabelID})
	}
	a.Complete = a.CompleteCount == len(members)
	a.Cohorts, a.Annotators, a.Reviewers = sortedSet(cohorts), sortedSet(annotators), sortedSet(reviewers)
	a.MerkleRoot = MerkleRoot(leaves)
	a.Findings, a.Fixes = []FindingImpact{}, []string{}
	name := ref.DatasetID + "@" + ref.Version
	for id, f := range g.Findings {
		if f.ShippedAt != 0 && f.Fix == ref {
			a.Fixes = append(a.Fixes, id)
		}
		if im, err := g.Impact(id, g.Now()); err == nil && slices.Contains(im.Versions, name) {
			a.Findings = append(a.Findings, im)
		}
	}
	sort.Strings(a.Fixes)
	sort.Slice(a.Findings, func(i, j int) bool { return a.Findings[i].FindingID < a.Findings[j].FindingID })
	return a, nil
}

// Leaf is one member as the Merkle digest sees it: the content hash of its item (lowercase hex,
// as in ItemIngested; empty when the item was never ingested) and its label id.
type Leaf struct {
	ItemSHA256 string
	LabelID    string
}

// MerkleRoot is the digest over a dataset version's members that anyone can recompute from the
// items' content hashes and the label ids, without trusting Assay's ids of items:
//
//  1. Each member gives the string item_sha256 + "\t" + label_id (item_sha256 in lowercase hex,
//     the empty string if the item was never ingested). Strings are sorted bytewise ascending and
//     exact duplicates removed.
//  2. Leaf hash = SHA-256 of that string's UTF-8 bytes (32 raw bytes).
//  3. Each level pairs hashes left to right: parent = SHA-256(left || right) over the 64 raw
//     bytes. When a level has an odd count, its last hash is promoted unchanged to the next level
//     (it is not duplicated, so no two member sets share a root by repetition).
//  4. The root is the single hash left, rendered "sha256:" + lowercase hex. With no members the
//     root is SHA-256 of the empty string.
//
// Sorting makes the root independent of member order; content hashes make it change when an
// item's bytes change even though its id does not.
func MerkleRoot(leaves []Leaf) string {
	strs := make([]string, len(leaves))
	for i, l := range leaves {
		strs[i] = l.ItemSHA256 + "\t" + l.LabelID
	}
	sort.Strings(strs)
	level := make([][]byte, 0, len(strs))
	for i, s := range strs {
		if i > 0 && s == strs[i-1] {
			continue
		}
		h := sha256.Sum256([]byte(s))
		level = append(level, h[:])
	}
	if len(level) == 0 {
		h := sha256.Sum256(nil)
		return "sha256:" + hex.EncodeToString(h[:])
	}
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			h := sha256.Sum256(append(append(make([]byte, 0, 64), level[i]...), level[i+1]...))
			next = append(next, h[:])
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return "sha256:" + hex.EncodeToString(level[0])
}

// FindingImpact is what a finding implicates and how its remediation went.
type FindingImpact struct {
	FindingID string   `json:"finding_id"`
	Severity  string   `json:"severity"`
	Run       string   `json:"training_run_id,omitempty"`
	Versions  []string `json:"implicated_versions"`
	// Cohorts labeled the implicated items in the implicated versions: the cohorts to isolate.
	Cohorts    []string `json:"cohorts"`
	Annotators []string `json:"annotators"`
	ReportedAt int64    `json:"reported_at_ms"`
	ShippedAt  int64    `json:"shipped_at_ms,omitempty"`
	Fix        string   `json:"fixing_version,omitempty"`
	// RemediationMS is shipped − reported (occurred_at), -1 while open.
	RemediationMS int64 `json:"remediation_ms"`
	// OpenAgeMS is now − reported while open, 0 once shipped.
	OpenAgeMS int64 `json:"open_age_ms"`
}

// Impact traces a finding back: the dataset versions of its training run that contain any
// implicated item (every committed version when the finding names no run), and the cohorts and
// annotators of those members' labels. now (epoch ms) dates an open finding's age.
func (g *Graph) Impact(findingID string, now int64) (FindingImpact, error) {
	f, ok := g.Findings[findingID]
	if !ok || f.EventID == "" {
		return FindingImpact{}, fmt.Errorf("finding %s not reported", findingID)
	}
	out := FindingImpact{FindingID: f.FindingID, Severity: string(f.Severity), Run: f.TrainingRunID,
		ReportedAt: f.ReportedAt, ShippedAt: f.ShippedAt, RemediationMS: -1}
	if f.ShippedAt != 0 {
		out.RemediationMS = f.ShippedAt - f.ReportedAt
		out.Fix = f.Fix.DatasetID + "@" + f.Fix.Version
	} else {
		out.OpenAgeMS = now - f.ReportedAt
	}
	var candidates []VersionRef
	if r, ok := g.Runs[f.TrainingRunID]; ok && f.TrainingRunID != "" {
		candidates = r.Versions
	} else {
		for ref := range g.Versions {
			candidates = append(candidates, ref)
		}
	}
	implicated := map[string]bool{}
	for _, id := range f.ItemIDs {
		implicated[id] = true
	}
	versions, cohorts, annotators := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, ref := range candidates {
		v, ok := g.Versions[ref]
		if !ok {
			continue
		}
		for _, m := range v.Members {
			if !implicated[m.ItemID] {
				continue
			}
			versions[ref.DatasetID+"@"+ref.Version] = true
			if l, ok := g.Labels[m.LabelID]; ok {
				cohorts[l.Cohort] = true
				annotators[l.AnnotatorID] = true
			}
		}
	}
	out.Versions, out.Cohorts, out.Annotators = sortedSet(versions), sortedSet(cohorts), sortedSet(annotators)
	return out, nil
}

// OpenFindings lists the findings without a shipped remediation, oldest first, with their ages
// at now (epoch ms).
func (g *Graph) OpenFindings(now int64) []FindingImpact {
	var out []FindingImpact
	for id, f := range g.Findings {
		if f.ShippedAt != 0 || f.EventID == "" {
			continue
		}
		im, err := g.Impact(id, now)
		if err == nil {
			out = append(out, im)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ReportedAt != out[j].ReportedAt {
			return out[i].ReportedAt < out[j].ReportedAt
		}
		return out[i].FindingID < out[j].FindingID
	})
	return out
}
