package httpapi

import (
	"context"
	"fmt"
)

// LineageKPI is lineage completeness: the share of dataset versions (and of training runs)
// whose every member has a full chain: ingested with source and hash, labeled by a known
// annotator, reviewed.
type LineageKPI struct {
	// Completeness is complete versions / versions.
	Completeness     Num   `json:"completeness"`
	Versions         int64 `json:"versions"`
	CompleteVersions int64 `json:"complete_versions"`
	// MemberCompleteness is members with a full chain / members, over every version.
	MemberCompleteness Num   `json:"member_completeness"`
	Members            int64 `json:"members"`
	CompleteMembers    int64 `json:"complete_members"`
	// RunCompleteness is training runs whose every dataset version is complete / runs.
	RunCompleteness Num    `json:"run_completeness"`
	Runs            int64  `json:"runs"`
	CompleteRuns    int64  `json:"complete_runs"`
	Definition      string `json:"definition"`
}

const lineageDefinition = "a member (item, label) of a dataset version has a full chain when its item was ingested with a source and a sha256, its label was submitted by a known annotator and the label was reviewed; a version is complete when every member is, a training run when every version it used is (a version it names but that was never committed is not). Per /v1/lineage/{dataset}/{version} for one version's missing links."

// Per version: members, and members with every link. One JOIN per SELECT (18.16), hence the
// nesting; each side is aggregated on its key first so the ANY joins find one row.
const lineageCompletenessQuery = `SELECT dataset_id, version, toInt64(count()), toInt64(sum(has_item * has_label * has_review))
FROM (
    SELECT dataset_id, version, item_id, label_id, has_item, has_label, has_review
    FROM (
        SELECT dataset_id, version, item_id, label_id, has_item, has_label
        FROM (
            SELECT dataset_id, version, item_id, label_id, has_item
            FROM (SELECT DISTINCT dataset_id, version, item_id, label_id FROM dataset_members FINAL
                  WHERE (? = '' OR dataset_id IN (SELECT dataset_id FROM items FINAL WHERE project_id = ?))) AS m
            ANY LEFT JOIN (SELECT item_id, toUInt8(max(source != '' AND sha256 != '')) AS has_item
                           FROM items FINAL GROUP BY item_id) AS i USING item_id
        ) AS mi
        ANY LEFT JOIN (SELECT label_id, toUInt8(max(annotator_id != '')) AS has_label
                       FROM labels FINAL GROUP BY label_id) AS l USING label_id
    ) AS mil
    ANY LEFT JOIN (SELECT label_id, toUInt8(1) AS has_review FROM reviews FINAL GROUP BY label_id) AS r USING label_id
)
GROUP BY dataset_id, version`

const completenessRunsQuery = `SELECT DISTINCT run_id, dataset_id, version FROM training_run_datasets FINAL
WHERE (? = '' OR dataset_id IN (SELECT dataset_id FROM items FINAL WHERE project_id = ?))`

// LineageCompleteness reads lineage completeness for f's project.
func (r *Reader) LineageCompleteness(ctx context.Context, f Filter) (*LineageKPI, error) {
	out := &LineageKPI{Definition: lineageDefinition}
	complete := map[[2]string]bool{}
	rows, err := r.conn.Query(ctx, lineageCompletenessQuery, f.Project, f.Project)
	if err != nil {
		return nil, fmt.Errorf("query lineage completeness: %w", err)
	}
	for rows.Next() {
		var ds, ver string
		var members, full int64
		if err := rows.Scan(&ds, &ver, &members, &full); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan lineage completeness: %w", err)
		}
		out.Versions++
		out.Members += members
		out.CompleteMembers += full
		if full == members {
			out.CompleteVersions++
			complete[[2]string{ds, ver}] = true
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("read lineage completeness: %w", err)
	}
	rows.Close()
	runs := map[string]bool{}
	rows, err = r.conn.Query(ctx, completenessRunsQuery, f.Project, f.Project)
	if err != nil {
		return nil, fmt.Errorf("query training runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var run, ds, ver string
		if err := rows.Scan(&run, &ds, &ver); err != nil {
			return nil, fmt.Errorf("scan training run: %w", err)
		}
		ok, seen := runs[run]
		runs[run] = (ok || !seen) && complete[[2]string{ds, ver}]
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read training runs: %w", err)
	}
	for _, ok := range runs {
		out.Runs++
		if ok {
			out.CompleteRuns++
		}
	}
	out.Completeness = ratio(out.CompleteVersions, out.Versions)
	out.MemberCompleteness = ratio(out.CompleteMembers, out.Members)
	out.RunCompleteness = ratio(out.CompleteRuns, out.Runs)
	return out, nil
}
