package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/lineage"
)

// MaxLineageMembers bounds the member chains listed in one lineage answer; the counts always
// cover every member.
const MaxLineageMembers = 5000

// Lineage is the lineage of one dataset version as the lineage processor's chain read model
// holds it (lineage.ReadVersion): every member's chain source → item → label → latest review
// with the links that are missing, judged by the rule assay audit uses, the cohorts,
// annotators and reviewers involved, the training runs that used the version and the
// findings it fixed. Its JSON is the lineage part of assay audit --json.
//
// In a vendor's view the members, cohorts, annotators and reviewers are those of its own
// labels only; the counts, the verdict, the runs and the fixes are the version's
// (project-level figures).
type Lineage struct {
	lineage.VersionLineage
	// Completeness is complete_members / member_count.
	Completeness Num `json:"completeness"`
	// Truncated says that members lists only the first MaxLineageMembers chains.
	Truncated bool `json:"truncated"`
	// Partial says that members, cohorts, annotators and reviewers are the reader's own party's
	// only (a vendor's view), while the counts are the whole version's.
	Partial bool `json:"partial,omitempty"`
}

// Lineage reads the lineage of a dataset version as sc may see it: a scope that is not every
// project reads the versions of its projects' datasets only (access.RuleProject otherwise,
// whether the version exists or not), and a vendor's scope only the member chains of its own
// labels. errNotFound when the version was never committed.
func (r *Reader) Lineage(ctx context.Context, sc access.ReadScope, dataset, version string) (*Lineage, error) {
	if projects, all := sc.Projects(); !all {
		ok, err := r.datasetIn(ctx, dataset, projects)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &access.Violation{Rule: access.RuleProject, Field: "dataset",
				Reason: fmt.Sprintf("%s reads projects %s; dataset %q is not one of their datasets", sc.Principal().ID, strings.Join(projects, ","), dataset)}
		}
	}
	v, err := lineage.ReadVersion(ctx, r.conn, lineage.VersionRef{DatasetID: dataset, Version: version})
	var nf lineage.ErrVersionNotFound
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("dataset %q version %q: %w", dataset, version, errNotFound)
	}
	if err != nil {
		return nil, err
	}
	out := &Lineage{VersionLineage: v, Completeness: ratio(int64(v.CompleteCount), int64(v.MemberCount))}
	if !sc.Full() {
		ownParty(&out.VersionLineage, sc)
		out.Partial = true
	}
	if len(out.Members) > MaxLineageMembers {
		out.Members, out.Truncated = out.Members[:MaxLineageMembers], true
	}
	return out, nil
}

// ownParty keeps the member chains whose label is sc's party (a member without a label is
// no party's) and lists the cohorts, annotators and reviewers of those only.
func ownParty(v *lineage.VersionLineage, sc access.ReadScope) {
	members := v.Members[:0]
	var cohorts, annotators, reviewers []string
	add := func(list *[]string, s string) {
		if s != "" && !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	for _, m := range v.Members {
		if m.LabelID == "" || m.AnnotatorID == "" || !sc.SeesParty(m.Vendor, m.Cohort) {
			continue
		}
		m.Gold = nil // the answer its accuracy is scored against: never a labeler's
		members = append(members, m)
		add(&cohorts, m.Cohort)
		add(&annotators, m.AnnotatorID)
		add(&reviewers, m.ReviewerID)
	}
	slices.Sort(cohorts)
	slices.Sort(annotators)
	slices.Sort(reviewers)
	v.Members = members
	v.Cohorts, v.Annotators, v.Reviewers = nonNil(cohorts), nonNil(annotators), nonNil(reviewers)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// datasetIn reports whether dataset is a dataset of one of projects, by the rule lineage
// completeness counts a project's versions by (lineage.ProjectDatasetsQuery).
func (r *Reader) datasetIn(ctx context.Context, dataset string, projects []string) (bool, error) {
	found := false
	for _, p := range projects {
		if err := r.each(ctx, lineage.ProjectDatasetsQuery, []any{p}, func(v []string) {
			found = found || v[0] == dataset
		}, 1); err != nil {
			return false, fmt.Errorf("datasets of project %q: %w", p, err)
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}
