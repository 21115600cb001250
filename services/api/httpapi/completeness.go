package httpapi

import (
	"context"

	"github.com/assay-data/assay/streams/lineage"
)

// LineageKPI is lineage completeness as lineage.ReadCompleteness reads it from the lineage
// processor's chain read model, judged by the rule assay audit judges a version by: the
// counts, and their shares.
type LineageKPI struct {
	lineage.Completeness
	// VersionShare is complete versions / versions: the dashboard's tile.
	VersionShare Num `json:"completeness"`
	// MemberShare is members with a full chain / members, over every version.
	MemberShare Num `json:"member_completeness"`
	// RunShare is complete training runs / runs.
	RunShare   Num    `json:"run_completeness"`
	Definition string `json:"definition"`
}

// LineageCompleteness reads lineage completeness over the versions of v's project (its
// datasets: those its items were ingested into), every version without a project.
func (r *Reader) LineageCompleteness(ctx context.Context, v View) (*LineageKPI, error) {
	c, err := lineage.ReadCompleteness(ctx, r.conn, v.Project)
	if err != nil {
		return nil, err
	}
	return &LineageKPI{Completeness: c, Definition: lineage.CompletenessDefinition,
		VersionShare: ratio(int64(c.CompleteVersions), int64(c.Versions)),
		MemberShare:  ratio(int64(c.CompleteMembers), int64(c.Members)),
		RunShare:     ratio(int64(c.CompleteRuns), int64(c.Runs))}, nil
}
