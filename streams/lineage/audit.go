package lineage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	"github.com/assay-data/assay/schemas"
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

// VersionLineage is one dataset version's lineage: every member's chain with its missing
// links, who took part, the training runs that used the version and the findings it fixes.
// Graph.Audit builds it from the replayed log and ReadVersion from the lineage processor's
// tables in ClickHouse, with the same chain rule (Links.Missing): the API serves the second,
// assay audit the first, and the audit reports any difference as drift.
type VersionLineage struct {
	Dataset        string `json:"dataset"`
	Version        string `json:"version"`
	Parent         string `json:"parent_version,omitempty"`
	CommittedAt    int64  `json:"committed_at_ms"`
	ManifestDigest string `json:"manifest_digest"`
	// ManifestOK: the manifest digest recomputes over the members (schemas.ManifestDigest).
	ManifestOK bool   `json:"manifest_digest_ok"`
	MerkleRoot string `json:"merkle_root"`
	// Members are the member chains sorted by item, label. MemberCount counts them all, also
	// where a reader lists only some (the API bounds its answer).
	Members     []MemberChain `json:"members"`
	MemberCount int           `json:"member_count"`
	// CompleteCount counts the members with a full chain; Missing counts the members missing
	// each link (by the Missing* strings).
	CompleteCount int            `json:"complete_members"`
	Missing       map[string]int `json:"missing"`
	// Complete is Status().Complete(): the manifest recomputes and every member is complete.
	Complete     bool     `json:"complete"`
	Cohorts      []string `json:"cohorts"`
	Annotators   []string `json:"annotators"`
	Reviewers    []string `json:"reviewers"`
	TrainingRuns []string `json:"training_runs"`
	// Fixes lists the findings whose (first) remediation shipped this version.
	Fixes []string `json:"fixes"`
	// Gate is the gate's verdicts on the version, the owners' overrides and, for each training
	// run that used it, whether it was certified at the run's registration. It is reported,
	// never judged here: a rejected version can be complete, and Complete ignores the gate.
	Gate Gate `json:"gate"`
}

// Status is the version as lineage completeness counts it.
func (v VersionLineage) Status() VersionStatus {
	return VersionStatus{Members: v.MemberCount, CompleteMembers: v.CompleteCount, ManifestOK: v.ManifestOK}
}

// newVersionLineage judges a version from its commit and its members' chains (chain builds
// one), with the gate's word on it: the one assembly of a VersionLineage, for both models.
func newVersionLineage(v *Version, chain func(schemas.Member) MemberChain, runs, fixes []string, gate Gate) VersionLineage {
	out := VersionLineage{Dataset: v.Ref.DatasetID, Version: v.Ref.Version, Parent: v.Parent, CommittedAt: v.OccurredAt,
		ManifestDigest: v.ManifestDigest, ManifestOK: schemas.ManifestDigest(v.Members) == v.ManifestDigest,
		Members: []MemberChain{}, MemberCount: len(v.Members), Missing: map[string]int{},
		TrainingRuns: nonNil(runs), Fixes: nonNil(fixes), Gate: gate}
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
		c := chain(m)
		out.Members = append(out.Members, c)
		if c.Complete() {
			out.CompleteCount++
		}
		for _, l := range c.Missing {
			out.Missing[l]++
		}
		cohorts[c.Cohort] = true
		annotators[c.AnnotatorID] = true
		reviewers[c.ReviewerID] = true
		leaves = append(leaves, Leaf{ItemSHA256: c.SHA256, LabelID: m.LabelID})
	}
	out.Complete = out.Status().Complete()
	out.Cohorts, out.Annotators, out.Reviewers = sortedSet(cohorts), sortedSet(annotators), sortedSet(reviewers)
	out.MerkleRoot = MerkleRoot(leaves)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// VersionAudit is the audit of one dataset version as the graph knows it: its lineage, gold
// checks of its members' labels and the findings that implicate it.
type VersionAudit struct {
	VersionLineage
	GoldChecked int `json:"gold_checked"`
	GoldMatched int `json:"gold_matched"`
	// Findings implicate this version (through their training run and items), with their
	// remediation; ages are at the graph's Now.
	Findings []FindingImpact `json:"findings"`
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

// Chain builds one member's chain (chainOf, Links.Missing): complete when its item was
// ingested with a source and a hash, its label exists for that item, is not retracted and
// names an annotator, and the label's latest review accepted or corrected it. The gold check
// compares the submitted value (not a reviewer's correction) with the item's latest gold
// answer: gold checks measure the annotator, as the accuracy KPI does.
func (g *Graph) Chain(m schemas.Member) MemberChain {
	it, l, r := g.facts(m)
	c := chainOf(m, it, l, r)
	if l == nil {
		return c
	}
	if gd, ok := g.Gold(m.ItemID, l.QuestionID); ok {
		c.Gold = &GoldCheck{Gold: gd.Value.String(), Label: l.Value.String(), Match: gd.Value.String() == l.Value.String()}
	}
	return c
}

// Links returns the facts of a member's chain as the graph holds them.
func (g *Graph) Links(m schemas.Member) Links {
	it, l, r := g.facts(m)
	return linksOf(m, it, l, r)
}

// facts returns what the graph holds about a member: its item, its label and the label's
// latest review (none for a label never submitted: a review is of a label).
func (g *Graph) facts(m schemas.Member) (*Item, *Label, *Review) {
	l := g.Labels[m.LabelID]
	if l == nil {
		return g.Items[m.ItemID], nil, nil
	}
	return g.Items[m.ItemID], l, g.LatestReview(m.LabelID)
}

// Audit audits a dataset version: its lineage (newVersionLineage over Chain) with the gate's
// verdicts and the owners' overrides (Gate), gold checks and the findings that implicate it. It returns ErrVersionNotFound when the version is not in the
// graph.
func (g *Graph) Audit(ref VersionRef) (VersionAudit, error) {
	v, ok := g.Versions[ref]
	if !ok {
		return VersionAudit{}, ErrVersionNotFound{Ref: ref, AsOf: g.AsOf}
	}
	var fixes []string
	for id, f := range g.Findings {
		if f.ShippedAt != 0 && f.Fix == ref {
			fixes = append(fixes, id)
		}
	}
	sort.Strings(fixes)
	a := VersionAudit{VersionLineage: newVersionLineage(v, g.Chain, g.RunsUsing(ref), fixes, g.Gate(ref)), Findings: []FindingImpact{}}
	for _, c := range a.Members {
		if c.Gold != nil {
			a.GoldChecked++
			if c.Gold.Match {
				a.GoldMatched++
			}
		}
	}
	name := ref.DatasetID + "@" + ref.Version
	for id := range g.Findings {
		if im, err := g.Impact(id, g.Now()); err == nil && slices.Contains(im.Versions, name) {
			a.Findings = append(a.Findings, im)
		}
	}
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
