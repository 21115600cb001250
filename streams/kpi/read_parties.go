package kpi

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Party is an annotator with the cohort and vendor one of their labels names.
type Party struct {
	AnnotatorID, Cohort, Vendor string
}

// PartiesQuery reads the (annotator, cohort, vendor) that the labels of a project name
// (parameter: project), from label_parties (migration 0070), which the labels table feeds as
// they arrive: the answer of SELECT annotator_id, cohort, vendor FROM labels WHERE project_id
// = ? GROUP BY annotator_id, cohort, vendor, read from a few rows an annotator.
const PartiesQuery = `SELECT annotator_id, cohort, vendor
FROM label_parties
WHERE project_id = ?
GROUP BY annotator_id, cohort, vendor
ORDER BY annotator_id, cohort, vendor`

// AnnotatorCohortsQuery reads each annotator's cohort: the cohort of their latest label by
// (occurred_at_ms, event_id), in a project or, for an empty one, over every project
// (parameters: project, project), from label_parties (migration 0070). Retracted labels
// count, as in the ledger's labels table.
const AnnotatorCohortsQuery = `SELECT annotator_id, argMax(cohort, latest)
FROM (
    SELECT annotator_id, cohort, maxMerge(latest) AS latest
    FROM label_parties
    WHERE (? = '' OR project_id = ?)
    GROUP BY project_id, annotator_id, cohort, vendor)
GROUP BY annotator_id
ORDER BY annotator_id`

// ReadParties reads the parties of a project's labels (PartiesQuery), sorted.
func ReadParties(ctx context.Context, conn driver.Conn, project string) ([]Party, error) {
	rows, err := conn.Query(ctx, PartiesQuery, project)
	if err != nil {
		return nil, fmt.Errorf("query parties of project %q: %w", project, err)
	}
	defer rows.Close()
	var out []Party
	for rows.Next() {
		var p Party
		if err := rows.Scan(&p.AnnotatorID, &p.Cohort, &p.Vendor); err != nil {
			return nil, fmt.Errorf("scan party: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read parties of project %q: %w", project, err)
	}
	return out, nil
}

// ReadAnnotatorCohorts reads each annotator's cohort (AnnotatorCohortsQuery) in project, or
// over every project when it is empty.
func ReadAnnotatorCohorts(ctx context.Context, conn driver.Conn, project string) (map[string]string, error) {
	rows, err := conn.Query(ctx, AnnotatorCohortsQuery, project, project)
	if err != nil {
		return nil, fmt.Errorf("query annotator cohorts: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var a, c string
		if err := rows.Scan(&a, &c); err != nil {
			return nil, fmt.Errorf("scan annotator cohort: %w", err)
		}
		out[a] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read annotator cohorts: %w", err)
	}
	return out, nil
}
