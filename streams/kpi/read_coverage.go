package kpi

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Coverage of the latest version of each dataset, as the views of migration 0004 define it
// (kpi_coverage, kpi_coverage_slices), read without computing every version's.
//
// The views join every member of every version with its item's tags and its label's
// acceptance, over the whole items and reviews tables, before a reader keeps the latest
// versions: a cost that grows with the ledger. ReadCoverage asks the same SQL for the latest
// versions only: their members are selected by the key of dataset_members, and only the items
// and labels they name are read from items and reviews. Each figure is computed by the
// views' own expressions, so it is the view's row of that version, to the bit.

// latestVersions selects the latest (last committed) version of every dataset: the rule of
// the API's coverage.
const latestVersions = `SELECT dataset_id, argMax(version, occurred_at_ms) FROM dataset_versions FINAL GROUP BY dataset_id`

// coverageMembers selects the members of the latest versions, of one dataset or of every one
// (parameters: dataset, dataset), as kpi_dataset_members selects every version's.
const coverageMembers = `SELECT DISTINCT dataset_id, version, item_id, label_id FROM dataset_members FINAL
WHERE (dataset_id, version) IN (` + latestVersions + `) AND (? = '' OR dataset_id = ?)`

// coverageMemberFacts is kpi_dataset_members over coverageMembers: each member with its item's
// tags and whether its label has an accepting review, the items and reviews read being those
// of the members (parameters: coverageMembers' three times).
const coverageMemberFacts = `SELECT dataset_id, version, item_id, label_id, slice_tags, edge_case_tags, accepted
FROM (
    SELECT dataset_id, version, item_id, label_id, slice_tags, edge_case_tags
    FROM (` + coverageMembers + `) AS m
    ANY LEFT JOIN (
        SELECT item_id, any(slice_tags) AS slice_tags, any(edge_case_tags) AS edge_case_tags
        FROM items FINAL
        WHERE item_id IN (SELECT item_id FROM (` + coverageMembers + `))
        GROUP BY item_id
    ) AS i USING item_id
) AS mi
ANY LEFT JOIN (
    SELECT label_id, toUInt8(1) AS accepted FROM reviews FINAL
    WHERE verdict = 'accept' AND label_id IN (SELECT label_id FROM (` + coverageMembers + `))
    GROUP BY label_id
) AS r USING label_id`

// coverageTargets is kpi_coverage_targets: the latest CoverageTargetSet of each dataset, one
// row per slice target.
const coverageTargets = `SELECT dataset_id, slice, target_share, min_count
FROM (
    SELECT dataset_id,
           argMax(slice_names, recorded_at_ms) AS names,
           argMax(slice_target_shares, recorded_at_ms) AS shares,
           argMax(slice_min_counts, recorded_at_ms) AS mins
    FROM coverage_targets FINAL
    GROUP BY dataset_id
)
ARRAY JOIN names AS slice, shares AS target_share, mins AS min_count`

// coverageSlices is kpi_coverage_slices over the latest versions (parameters: coverageMembers'
// six times: two coverageMemberFacts).
var coverageSlices = `SELECT dataset_id, version, slice, target_share, min_count, items_in_slice, items,
       items_in_slice / items AS actual_share,
       ifNull(toInt64(items_in_slice) >= min_count, 1) AND ifNull(items_in_slice / items >= target_share, 1) AS meets
FROM (
    SELECT dataset_id, version, slice, target_share, min_count, items
    FROM (` + coverageTargets + `) AS t
    ALL INNER JOIN (
        SELECT dataset_id, version, uniqExact(item_id) AS items FROM (` + coverageMemberFacts + `) GROUP BY dataset_id, version
    ) AS v USING dataset_id
) AS tv
ANY LEFT JOIN (
    SELECT dataset_id, version, slice, uniqExact(item_id) AS items_in_slice
    FROM (` + coverageMemberFacts + `)
    ARRAY JOIN slice_tags AS slice
    GROUP BY dataset_id, version, slice
) AS s USING (dataset_id, version, slice)`

// coverageEdgeCases is kpi_edge_case_coverage over the latest versions (parameters:
// coverageMembers' four times: the versions, then one coverageMemberFacts).
var coverageEdgeCases = `SELECT dataset_id, version, tag, min_count, accepted_items, accepted_items >= min_count AS covered
FROM (
    SELECT dataset_id, version, tag, min_count
    FROM (
        SELECT dataset_id, tag, min_count
        FROM (
            SELECT dataset_id,
                   argMax(edge_case_tags, recorded_at_ms) AS tags,
                   argMax(edge_case_min_counts, recorded_at_ms) AS mins
            FROM coverage_targets FINAL
            GROUP BY dataset_id
        )
        ARRAY JOIN tags AS tag, mins AS min_count
    ) AS t
    ALL INNER JOIN (SELECT DISTINCT dataset_id, version FROM (` + coverageMembers + `)) AS v USING dataset_id
) AS tv
ANY LEFT JOIN (
    SELECT dataset_id, version, tag, toInt64(uniqExact(item_id)) AS accepted_items
    FROM (` + coverageMemberFacts + `)
    ARRAY JOIN edge_case_tags AS tag
    WHERE accepted = 1
    GROUP BY dataset_id, version, tag
) AS a USING (dataset_id, version, tag)`

// CoverageQuery is kpi_coverage's row of the latest version of each dataset, of one dataset
// (” for every one) and of the datasets holding items of a project (” for every project):
// the API's coverage. Its parameters are CoverageArgs(dataset, project). A dataset holds a
// project's items when any ingest named both (the API's rule), which item_datasets (migration
// 0072) keeps as the items arrive.
var CoverageQuery = `SELECT dataset_id, version, toInt64(items), toInt64(target_slices), toInt64(slices_meeting),
       toFloat64(tv_distance), toInt64(edge_case_tags), toInt64(edge_case_tags_covered)
FROM (
    SELECT dataset_id, version, any(items) AS items,
           count() AS target_slices,
           sum(meets) AS slices_meeting,
           0.5 * (sumIf(abs(actual_share - assumeNotNull(target_share)), isNotNull(target_share))
                  + abs(sumIf(actual_share, isNotNull(target_share)) - sumIf(assumeNotNull(target_share), isNotNull(target_share)))) AS tv_distance
    FROM (` + coverageSlices + `)
    GROUP BY dataset_id, version
) AS s
ANY LEFT JOIN (
    SELECT dataset_id, version, count() AS edge_case_tags, sum(covered) AS edge_case_tags_covered
    FROM (` + coverageEdgeCases + `)
    GROUP BY dataset_id, version
) AS e USING (dataset_id, version)
WHERE (? = '' OR dataset_id IN (SELECT dataset_id FROM item_datasets WHERE project_id = ?))
ORDER BY dataset_id`

// CoverageSlicesQuery is kpi_coverage_slices' rows of the latest version of each dataset (of
// one dataset: parameters CoverageSlicesArgs(dataset)), by dataset and slice.
var CoverageSlicesQuery = `SELECT dataset_id, slice, target_share, min_count, toInt64(items_in_slice), toFloat64(actual_share), toUInt8(meets)
FROM (` + coverageSlices + `)
ORDER BY dataset_id, slice`

// CoverageArgs are CoverageQuery's parameters.
func CoverageArgs(dataset, project string) []any {
	return append(repeat(10, dataset, dataset), project, project)
}

// CoverageSlicesArgs are CoverageSlicesQuery's parameters.
func CoverageSlicesArgs(dataset string) []any { return repeat(6, dataset, dataset) }

func repeat(n int, args ...any) []any {
	out := make([]any, 0, n*len(args))
	for range n {
		out = append(out, args...)
	}
	return out
}

// DatasetCoverage is kpi_coverage's row of a dataset's latest version, with its slices.
type DatasetCoverage struct {
	DatasetID, Version                 string
	Items, TargetSlices, SlicesMeeting int64
	TVDistance                         float64
	EdgeCaseTags, EdgeCaseTagsCovered  int64
	Slices                             []SliceCoverage
}

// SliceCoverage is kpi_coverage_slices' row of one target slice.
type SliceCoverage struct {
	Slice        string
	TargetShare  *float64
	MinCount     *int64
	ItemsInSlice int64
	ActualShare  float64
	Meets        bool
}

// ReadCoverage reads the coverage of the latest version of each dataset (CoverageQuery and
// CoverageSlicesQuery) of dataset (” for every one) whose items include project's (” for
// every project), by dataset.
func ReadCoverage(ctx context.Context, conn driver.Conn, dataset, project string) ([]DatasetCoverage, error) {
	rows, err := conn.Query(ctx, CoverageQuery, CoverageArgs(dataset, project)...)
	if err != nil {
		return nil, fmt.Errorf("query coverage: %w", err)
	}
	var out []DatasetCoverage
	index := map[string]int{}
	for rows.Next() {
		var d DatasetCoverage
		if err := rows.Scan(&d.DatasetID, &d.Version, &d.Items, &d.TargetSlices, &d.SlicesMeeting, &d.TVDistance, &d.EdgeCaseTags, &d.EdgeCaseTagsCovered); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan coverage: %w", err)
		}
		index[d.DatasetID] = len(out)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = conn.Query(ctx, CoverageSlicesQuery, CoverageSlicesArgs(dataset)...)
	if err != nil {
		return nil, fmt.Errorf("query coverage slices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ds   string
			s    SliceCoverage
			meet uint8
		)
		if err := rows.Scan(&ds, &s.Slice, &s.TargetShare, &s.MinCount, &s.ItemsInSlice, &s.ActualShare, &meet); err != nil {
			return nil, fmt.Errorf("scan coverage slice: %w", err)
		}
		if i, ok := index[ds]; ok {
			s.Meets = meet == 1
			out[i].Slices = append(out[i].Slices, s)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read coverage slices: %w", err)
	}
	return out, nil
}
