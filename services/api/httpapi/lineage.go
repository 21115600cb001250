package httpapi

import (
	"context"
	"fmt"
	"sort"

	"github.com/assay-data/assay/schemas"
)

// MaxLineageMembers bounds the members listed in one lineage answer; the totals always
// cover every member.
const MaxLineageMembers = 5000

// Lineage is the lineage of one dataset version: every member's chain source → item →
// label → review, the links that are missing, the cohorts and annotators involved, the
// training runs that used the version and the findings it fixed.
type Lineage struct {
	DatasetID      string `json:"dataset_id"`
	Version        string `json:"version"`
	ParentVersion  string `json:"parent_version"`
	CommittedAtMS  int64  `json:"committed_at_ms"`
	ManifestDigest string `json:"manifest_digest"`
	// DigestMatches says whether the manifest digest recomputed over the members in
	// ClickHouse equals the committed one.
	DigestMatches bool `json:"digest_matches"`
	Members       int  `json:"members"`
	// Complete counts members with a full chain; Completeness is Complete / Members.
	Complete     int            `json:"complete"`
	Completeness Num            `json:"completeness"`
	Missing      map[string]int `json:"missing"`
	Cohorts      []string       `json:"cohorts"`
	Annotators   []string       `json:"annotators"`
	TrainingRuns []string       `json:"training_runs"`
	FixesFinding []string       `json:"fixes_findings"`
	Chains       []Chain        `json:"chains"`
	Truncated    bool           `json:"truncated"`
}

// Chain is one member's chain.
type Chain struct {
	ItemID    string `json:"item_id"`
	LabelID   string `json:"label_id"`
	Source    string `json:"source,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Annotator string `json:"annotator_id,omitempty"`
	Cohort    string `json:"cohort,omitempty"`
	Verdict   string `json:"review_verdict,omitempty"`
	// Missing names the links that are absent: "item" (no ItemIngested), "source_hash"
	// (ingested without source or hash), "label", "annotator", "review".
	Missing []string `json:"missing"`
}

// The lineage tables of streams/lineage are not in the schema yet, so this reads the ledger
// tables, one query per link (18.16 allows one JOIN per SELECT; separate IN-filtered reads
// are simpler and merge in Go).
const (
	lineageVersionQuery = `SELECT parent_version, occurred_at_ms, manifest_digest
FROM dataset_versions FINAL WHERE dataset_id = ? AND version = ?
ORDER BY occurred_at_ms DESC LIMIT 1`
	lineageMembersQuery = `SELECT item_id, label_id FROM dataset_members FINAL
WHERE dataset_id = ? AND version = ? ORDER BY item_id, label_id`
	lineageItemsQuery = `SELECT item_id, argMax(source, occurred_at_ms), argMax(sha256, occurred_at_ms)
FROM items FINAL
WHERE item_id IN (SELECT item_id FROM dataset_members FINAL WHERE dataset_id = ? AND version = ?)
GROUP BY item_id`
	lineageLabelsQuery = `SELECT label_id, argMax(annotator_id, occurred_at_ms), argMax(cohort, occurred_at_ms)
FROM labels FINAL
WHERE item_id IN (SELECT item_id FROM dataset_members FINAL WHERE dataset_id = ? AND version = ?)
GROUP BY label_id`
	lineageReviewsQuery = `SELECT label_id, argMax(verdict, occurred_at_ms)
FROM reviews FINAL
WHERE item_id IN (SELECT item_id FROM dataset_members FINAL WHERE dataset_id = ? AND version = ?)
GROUP BY label_id`
	lineageRunsQuery = `SELECT DISTINCT run_id FROM training_run_datasets FINAL
WHERE dataset_id = ? AND version = ? ORDER BY run_id`
	lineageFixesQuery = `SELECT DISTINCT finding_id FROM remediations FINAL
WHERE stage = 'shipped' AND dataset_id = ? AND fixing_version = ? ORDER BY finding_id`
)

// Lineage reads the lineage of a dataset version; errNotFound when it was never committed.
func (r *Reader) Lineage(ctx context.Context, dataset, version string) (*Lineage, error) {
	out := &Lineage{DatasetID: dataset, Version: version, Missing: map[string]int{}, Chains: []Chain{},
		Cohorts: []string{}, Annotators: []string{}, TrainingRuns: []string{}, FixesFinding: []string{}}
	if err := r.conn.QueryRow(ctx, lineageVersionQuery, dataset, version).Scan(&out.ParentVersion, &out.CommittedAtMS, &out.ManifestDigest); err != nil {
		if isNoRows(err) {
			return nil, fmt.Errorf("dataset %q version %q: %w", dataset, version, errNotFound)
		}
		return nil, fmt.Errorf("query dataset version: %w", err)
	}
	var members []schemas.Member
	if err := r.each(ctx, lineageMembersQuery, []any{dataset, version}, func(v []string) {
		members = append(members, schemas.Member{ItemID: v[0], LabelID: v[1]})
	}, 2); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	items := map[string][2]string{}
	if err := r.each(ctx, lineageItemsQuery, []any{dataset, version}, func(v []string) { items[v[0]] = [2]string{v[1], v[2]} }, 3); err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	labels := map[string][2]string{}
	if err := r.each(ctx, lineageLabelsQuery, []any{dataset, version}, func(v []string) { labels[v[0]] = [2]string{v[1], v[2]} }, 3); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	reviews := map[string]string{}
	if err := r.each(ctx, lineageReviewsQuery, []any{dataset, version}, func(v []string) { reviews[v[0]] = v[1] }, 2); err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	if err := r.each(ctx, lineageRunsQuery, []any{dataset, version}, func(v []string) { out.TrainingRuns = append(out.TrainingRuns, v[0]) }, 1); err != nil {
		return nil, fmt.Errorf("training runs: %w", err)
	}
	if err := r.each(ctx, lineageFixesQuery, []any{dataset, version}, func(v []string) { out.FixesFinding = append(out.FixesFinding, v[0]) }, 1); err != nil {
		return nil, fmt.Errorf("findings fixed: %w", err)
	}
	out.Members = len(members)
	out.DigestMatches = len(members) > 0 && schemas.ManifestDigest(members) == out.ManifestDigest
	cohorts, annotators := map[string]bool{}, map[string]bool{}
	for _, m := range members {
		c := Chain{ItemID: m.ItemID, LabelID: m.LabelID, Missing: []string{}}
		if it, ok := items[m.ItemID]; ok {
			c.Source, c.SHA256 = it[0], it[1]
			if c.Source == "" || c.SHA256 == "" {
				c.Missing = append(c.Missing, "source_hash")
			}
		} else {
			c.Missing = append(c.Missing, "item")
		}
		if lb, ok := labels[m.LabelID]; ok {
			c.Annotator, c.Cohort = lb[0], lb[1]
			if c.Annotator == "" {
				c.Missing = append(c.Missing, "annotator")
			} else {
				annotators[c.Annotator] = true
			}
			if c.Cohort != "" {
				cohorts[c.Cohort] = true
			}
		} else {
			c.Missing = append(c.Missing, "label")
		}
		if v, ok := reviews[m.LabelID]; ok {
			c.Verdict = v
		} else {
			c.Missing = append(c.Missing, "review")
		}
		for _, l := range c.Missing {
			out.Missing[l]++
		}
		if len(c.Missing) == 0 {
			out.Complete++
		}
		if len(out.Chains) < MaxLineageMembers {
			out.Chains = append(out.Chains, c)
		} else {
			out.Truncated = true
		}
	}
	out.Completeness = ratio(int64(out.Complete), int64(out.Members))
	out.Cohorts, out.Annotators = setList(cohorts), setList(annotators)
	return out, nil
}

// each runs a query of string columns and calls put with each row.
func (r *Reader) each(ctx context.Context, query string, args []any, put func([]string), cols int) error {
	rows, err := r.conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	vals := make([]string, cols)
	ptrs := make([]any, cols)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		put(append([]string(nil), vals...))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

func setList(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
