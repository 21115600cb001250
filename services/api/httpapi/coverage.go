package httpapi

import (
	"context"
	"fmt"
)

// CoverageKPI is the coverage of the latest version of every dataset with targets (the
// kpi_coverage views of migration 0004): how many target slices meet their target, how far
// the actual distribution is from the target one, and how many edge-case tags have enough
// accepted items.
type CoverageKPI struct {
	// SliceCoverage is slices meeting their target / target slices, over the datasets.
	SliceCoverage Num   `json:"slice_coverage"`
	SlicesMet     int64 `json:"slices_met"`
	Slices        int64 `json:"slices"`
	// EdgeCaseCoverage is edge-case tags covered / tags with a minimum.
	EdgeCaseCoverage Num               `json:"edge_case_coverage"`
	EdgeCasesMet     int64             `json:"edge_cases_met"`
	EdgeCases        int64             `json:"edge_cases"`
	Datasets         []DatasetCoverage `json:"datasets"`
	Definition       string            `json:"definition"`
}

// DatasetCoverage is the coverage of one dataset version.
type DatasetCoverage struct {
	DatasetID string `json:"dataset_id"`
	Version   string `json:"version"`
	// Items counts the version's distinct member items.
	Items int64 `json:"items"`
	// Distance is the total variation distance between the target and actual shares.
	Distance     Num             `json:"distance"`
	SlicesMet    int64           `json:"slices_met"`
	Slices       []SliceCoverage `json:"slices"`
	EdgeCasesMet int64           `json:"edge_cases_met"`
	EdgeCases    int64           `json:"edge_cases"`
}

// SliceCoverage is one target slice of a dataset version.
type SliceCoverage struct {
	Slice       string   `json:"slice"`
	TargetShare *float64 `json:"target_share"`
	MinCount    *int64   `json:"min_count"`
	Count       int64    `json:"count"`
	Share       Num      `json:"share"`
	Met         bool     `json:"met"`
}

const coverageDefinition = "per dataset, its latest committed version against the latest CoverageTargetSet: a target slice is met when its member items reach min_count and target_share (each when set); distance is the total variation distance between target and actual shares; an edge-case tag is covered when enough of its member items have an accepted label. Coverage describes a dataset version, so the window does not apply."

// The latest version of each dataset is the one committed last; the project filter keeps
// datasets that have items of the project.
const coverageQuery = `SELECT dataset_id, version, toInt64(items), toInt64(target_slices), toInt64(slices_meeting),
       toFloat64(tv_distance), toInt64(edge_case_tags), toInt64(edge_case_tags_covered)
FROM kpi_coverage
WHERE (dataset_id, version) IN (
        SELECT dataset_id, argMax(version, occurred_at_ms) FROM dataset_versions FINAL GROUP BY dataset_id)
  AND (? = '' OR dataset_id = ?)
  AND (? = '' OR dataset_id IN (SELECT dataset_id FROM items FINAL WHERE project_id = ?))
ORDER BY dataset_id`

const coverageSlicesQuery = `SELECT dataset_id, slice, target_share, min_count, toInt64(items_in_slice), toFloat64(actual_share), toUInt8(meets)
FROM kpi_coverage_slices
WHERE (dataset_id, version) IN (
        SELECT dataset_id, argMax(version, occurred_at_ms) FROM dataset_versions FINAL GROUP BY dataset_id)
  AND (? = '' OR dataset_id = ?)
ORDER BY dataset_id, slice`

// Coverage reads the coverage of v's datasets (a project-level figure).
func (r *Reader) Coverage(ctx context.Context, v View) (*CoverageKPI, error) {
	f := v.Filter
	out := &CoverageKPI{Datasets: []DatasetCoverage{}, Definition: coverageDefinition}
	rows, err := r.conn.Query(ctx, coverageQuery, f.Dataset, f.Dataset, f.Project, f.Project)
	if err != nil {
		return nil, fmt.Errorf("query coverage: %w", err)
	}
	index := map[string]int{}
	for rows.Next() {
		var (
			d        DatasetCoverage
			slices   int64
			distance float64
		)
		if err := rows.Scan(&d.DatasetID, &d.Version, &d.Items, &slices, &d.SlicesMet, &distance, &d.EdgeCases, &d.EdgeCasesMet); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan coverage: %w", err)
		}
		d.Distance = num(distance)
		d.Slices = make([]SliceCoverage, 0, slices)
		out.Slices += slices
		out.SlicesMet += d.SlicesMet
		out.EdgeCases += d.EdgeCases
		out.EdgeCasesMet += d.EdgeCasesMet
		index[d.DatasetID] = len(out.Datasets)
		out.Datasets = append(out.Datasets, d)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	rows.Close()
	out.SliceCoverage = ratio(out.SlicesMet, out.Slices)
	out.EdgeCaseCoverage = ratio(out.EdgeCasesMet, out.EdgeCases)
	if len(out.Datasets) == 0 {
		return out, nil
	}
	rows, err = r.conn.Query(ctx, coverageSlicesQuery, f.Dataset, f.Dataset)
	if err != nil {
		return nil, fmt.Errorf("query coverage slices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ds    string
			s     SliceCoverage
			share float64
			met   uint8
		)
		if err := rows.Scan(&ds, &s.Slice, &s.TargetShare, &s.MinCount, &s.Count, &share, &met); err != nil {
			return nil, fmt.Errorf("scan coverage slice: %w", err)
		}
		i, ok := index[ds]
		if !ok {
			continue
		}
		s.Share, s.Met = num(share), met == 1
		out.Datasets[i].Slices = append(out.Datasets[i].Slices, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read coverage slices: %w", err)
	}
	return out, nil
}
