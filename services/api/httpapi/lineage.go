package httpapi

import (
	"context"
	"errors"
	"fmt"

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
type Lineage struct {
	lineage.VersionLineage
	// Completeness is complete_members / member_count.
	Completeness Num `json:"completeness"`
	// Truncated says that members lists only the first MaxLineageMembers chains.
	Truncated bool `json:"truncated"`
}

// Lineage reads the lineage of a dataset version; errNotFound when it was never committed.
func (r *Reader) Lineage(ctx context.Context, dataset, version string) (*Lineage, error) {
	v, err := lineage.ReadVersion(ctx, r.conn, lineage.VersionRef{DatasetID: dataset, Version: version})
	var nf lineage.ErrVersionNotFound
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("dataset %q version %q: %w", dataset, version, errNotFound)
	}
	if err != nil {
		return nil, err
	}
	out := &Lineage{VersionLineage: v, Completeness: ratio(int64(v.CompleteCount), int64(v.MemberCount))}
	if len(out.Members) > MaxLineageMembers {
		out.Members, out.Truncated = out.Members[:MaxLineageMembers], true
	}
	return out, nil
}
