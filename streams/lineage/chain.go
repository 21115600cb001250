package lineage

import (
	"strings"

	"github.com/assay-data/assay/schemas"
)

// Missing links of a member chain, in chain order: the ways a chain can break. They are stable
// strings: reports, the API and tests compare them.
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

// CompletenessDefinition states lineage completeness in words, for the API's answers.
const CompletenessDefinition = "a member (item, label) of a dataset version has a full chain when its item was ingested with a source and a sha256, " +
	"its label was submitted for that item by a known annotator and is not retracted, and the label's latest review accepted or corrected it; " +
	"a version is complete when its manifest digest recomputes over its members and every member has a full chain; " +
	"a training run is complete when every version it used (its latest registration) was committed and is complete. " +
	"assay audit judges a version by the same rule; GET /v1/lineage/{dataset}/{version} lists each member's missing links."

// Links is what the log says about the links of one member's chain, reduced to what
// completeness judges. Both lineage models reduce a member to Links: the graph replayed from
// the log (Graph.Chain) and the processor's tables in ClickHouse (ReadVersion,
// ReadCompleteness); Missing is the one rule that judges them.
type Links struct {
	// Ingested: an ItemIngested of the member's item; Source and Hash: its latest one names
	// a source and a sha256.
	Ingested, Source, Hash bool
	// Labeled: a LabelSubmitted of the member's label; Annotator: its latest one names an
	// annotator; OfItem: its latest one is for the member's item.
	Labeled, Annotator, OfItem bool
	// Retracted: a LabelRetracted of the label.
	Retracted bool
	// Reviewed: a ReviewCompleted of the label; Rejected: its latest one rejected it.
	Reviewed, Rejected bool
}

// Missing lists the broken links in chain order, nil for a full chain. A label that was
// never submitted is not reviewed either, whatever reviews name it: a review is of a label.
func (l Links) Missing() []string {
	var out []string
	if !l.Ingested {
		out = append(out, MissingItem)
	} else {
		if !l.Source {
			out = append(out, MissingSource)
		}
		if !l.Hash {
			out = append(out, MissingHash)
		}
	}
	if !l.Labeled {
		return append(out, MissingLabel, MissingReview)
	}
	if !l.Annotator {
		out = append(out, MissingAnnotator)
	}
	if !l.OfItem {
		out = append(out, LabelOtherItem)
	}
	if l.Retracted {
		out = append(out, LabelRetracted)
	}
	switch {
	case !l.Reviewed:
		out = append(out, MissingReview)
	case l.Rejected:
		out = append(out, ReviewRejected)
	}
	return out
}

// Complete reports whether no link is missing.
func (l Links) Complete() bool { return len(l.Missing()) == 0 }

// chainOf builds a member's chain from what the model holds about it: its item's latest
// ingest, its label's latest submission (Retracted set by any retraction) and the label's
// latest review, each nil when the log has none. Graph.Chain and ReadVersion both build chains
// here, so the two models can differ only in the facts they hold, never in how they read them.
func chainOf(m schemas.Member, it *Item, l *Label, r *Review) MemberChain {
	c := MemberChain{ItemID: m.ItemID, LabelID: m.LabelID}
	if it != nil {
		c.Source, c.SHA256 = it.Source, it.SHA256
	}
	if l != nil {
		c.AnnotatorID, c.Cohort, c.Vendor, c.GuidelineVersion, c.PreLabelModel = l.AnnotatorID, l.Cohort, l.Vendor, l.GuidelineVersion, l.PreLabelModel
		if r != nil {
			c.ReviewID, c.ReviewerID, c.Verdict = r.ReviewID, r.ReviewerID, string(r.Verdict)
		}
	}
	c.Missing = linksOf(m, it, l, r).Missing()
	return c
}

// linksOf reduces what the model holds about a member (as chainOf takes it) to Links. The
// ClickHouse read model's ChainFactsQuery derives the same Links in SQL.
func linksOf(m schemas.Member, it *Item, l *Label, r *Review) Links {
	var ln Links
	if it != nil {
		ln.Ingested, ln.Source, ln.Hash = true, it.Source != "", it.SHA256 != ""
	}
	if l != nil {
		ln.Labeled, ln.Annotator, ln.OfItem, ln.Retracted = true, l.AnnotatorID != "", l.ItemID == m.ItemID, l.Retracted
	}
	if r != nil {
		ln.Reviewed, ln.Rejected = true, r.Verdict == schemas.VerdictReject
	}
	return ln
}

// VersionStatus is what lineage completeness needs of one dataset version.
type VersionStatus struct {
	Members, CompleteMembers int
	// ManifestOK: the committed manifest digest equals schemas.ManifestDigest of the members.
	ManifestOK bool
}

// Complete reports whether the version counts as complete: its manifest recomputes and every
// member has a full chain. The audit passes a version only then too (and only when ClickHouse
// agrees with the log), so a version the audit fails never counts as complete here.
func (v VersionStatus) Complete() bool { return v.ManifestOK && v.CompleteMembers == v.Members }

// Completeness is the lineage completeness KPI (DESIGN.md, "Lineage completeness").
type Completeness struct {
	Versions         int `json:"versions"`
	CompleteVersions int `json:"complete_versions"`
	// Members counts the members of every version (a member of two versions twice).
	Members         int `json:"members"`
	CompleteMembers int `json:"complete_members"`
	// Runs counts the training runs that used a version of the datasets counted.
	Runs         int `json:"runs"`
	CompleteRuns int `json:"complete_runs"`
}

// Tally computes completeness over versions and the training runs (the versions each used),
// counting the versions whose dataset keep admits (nil admits every dataset) and the runs that
// used any of them. A run is complete when every version it used, whatever its dataset, was
// committed and is complete.
func Tally(versions map[VersionRef]VersionStatus, runs map[string][]VersionRef, keep func(dataset string) bool) Completeness {
	var c Completeness
	for ref, v := range versions {
		if keep != nil && !keep(ref.DatasetID) {
			continue
		}
		c.Versions++
		c.Members += v.Members
		c.CompleteMembers += v.CompleteMembers
		if v.Complete() {
			c.CompleteVersions++
		}
	}
	for _, used := range runs {
		counted, complete := keep == nil, len(used) > 0
		for _, ref := range used {
			counted = counted || keep(ref.DatasetID)
			v, ok := versions[ref]
			complete = complete && ok && v.Complete()
		}
		if !counted {
			continue
		}
		c.Runs++
		if complete {
			c.CompleteRuns++
		}
	}
	return c
}

// ParseVersionID splits a version id (VersionID: dataset@version) at its last @: dataset ids
// may contain one, versions do not.
func ParseVersionID(s string) (VersionRef, bool) {
	i := strings.LastIndex(s, "@")
	if i <= 0 || i == len(s)-1 {
		return VersionRef{}, false
	}
	return VersionRef{DatasetID: s[:i], Version: s[i+1:]}, true
}
