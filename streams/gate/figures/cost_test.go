package figures

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/testenv"
)

// bigRows is the size of the unrelated project's tables in TestReadCost: more than any
// key-bounded read of a small version may touch (a few granules of 8192 rows).
const bigRows = 200000

// keyBound is the most rows a query bounded by the primary key of the tables it reads may
// read for the small version here: a few granules of each table.
const keyBound = 60000

// TestReadCost proves the cost doc.go states: beside a project of bigRows items, labels,
// reviews, members and lineage rows (and a tenth as many gold items, spread over the items,
// and findings), Read of a two-member version of another project reads, in every query that
// is bounded by the version's members, the dataset or the project's key, at most keyBound
// rows (the 18.16 server's own count of rows read); it logs what every query read, the
// project-wide ones included.
func TestReadCost(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n := fmt.Sprint(bigRows)
	gold := fmt.Sprint(bigRows / 10)
	for _, stmt := range []string{
		// The big project: every row unrelated to the version read.
		`INSERT INTO items (event_id, item_id, project_id, source, sha256, slice_tags) SELECT concat('ev-b', toString(number)), concat('b', toString(number)), 'proj-big', 'cam', 'x', ['night'] FROM system.numbers LIMIT ` + n,
		`INSERT INTO labels (event_id, label_id, item_id, project_id, question_id, annotator_id, value_level, value_category) SELECT concat('ev-bl', toString(number)), concat('bl', toString(number)), concat('b', toString(number)), 'proj-big', 'qb', 'ann', 'nominal', 'car' FROM system.numbers LIMIT ` + n,
		`INSERT INTO gold_labels (event_id, item_id, question_id, value_level, value_category) SELECT concat('ev-bg', toString(number)), concat('b', toString(number * 10)), 'qb', 'nominal', 'car' FROM system.numbers LIMIT ` + gold,
		`INSERT INTO reviews (event_id, review_id, label_id, item_id, verdict) SELECT concat('ev-br', toString(number)), concat('br', toString(number)), concat('bl', toString(number)), concat('b', toString(number)), 'accept' FROM system.numbers LIMIT ` + n,
		`INSERT INTO dataset_members (event_id, dataset_id, version, item_id, label_id) SELECT 'ev-big', 'ds-big', '1', concat('b', toString(number)), concat('bl', toString(number)) FROM system.numbers LIMIT ` + n,
		`INSERT INTO findings (event_id, finding_id, severity, project_id) SELECT concat('ev-bf', toString(number)), concat('fb', toString(number)), 'high', 'proj-big' FROM system.numbers LIMIT ` + gold,
		`INSERT INTO finding_items (event_id, finding_id, item_id) SELECT concat('ev-bf', toString(number)), concat('fb', toString(number)), concat('b', toString(number * 10)) FROM system.numbers LIMIT ` + gold,
		`INSERT INTO remediations (event_id, finding_id, stage) SELECT concat('ev-bs', toString(number)), concat('fb', toString(number)), 'shipped' FROM system.numbers LIMIT ` + gold,
		`INSERT INTO coverage_targets (event_id, dataset_id, slice_names, slice_target_shares, slice_min_counts) SELECT concat('ev-bc', toString(number)), concat('ds-b', toString(number)), ['night'], [0.5], [NULL] FROM system.numbers LIMIT ` + gold,
		`INSERT INTO lineage_items (event_id, item_id, source, sha256, project_id) SELECT concat('ev-b', toString(number)), concat('b', toString(number)), 'cam', 'x', 'proj-big' FROM system.numbers LIMIT ` + n,
		`INSERT INTO lineage_labels (event_id, label_id, item_id, annotator_id) SELECT concat('ev-bl', toString(number)), concat('bl', toString(number)), concat('b', toString(number)), 'ann' FROM system.numbers LIMIT ` + n,
		`INSERT INTO lineage_reviews (event_id, label_id, review_id, verdict) SELECT concat('ev-br', toString(number)), concat('bl', toString(number)), concat('br', toString(number)), 'accept' FROM system.numbers LIMIT ` + n,
		`INSERT INTO lineage_members (event_id, dataset_id, version, item_id, label_id) SELECT 'ev-big', 'ds-big', '1', concat('b', toString(number)), concat('bl', toString(number)) FROM system.numbers LIMIT ` + n,
		`INSERT INTO lineage_versions (event_id, dataset_id, version, manifest_ok) SELECT 'ev-big', 'ds-big', '1', 1`,
		`INSERT INTO lineage_edges (event_id, src_kind, src_id, rel, dst_kind, dst_id) SELECT concat('ev-bl', toString(number)), 'label', concat('bl', toString(number)), 'member_of', 'dataset_version', 'ds-big@1' FROM system.numbers LIMIT ` + n,
		`INSERT INTO agreement_cells (project_id, question_id, level, scope, kafka_topic, kafka_partition, unit_size, a, b, count, version) SELECT 'proj-big', 'qb', 'nominal', concat('cohort:', toString(number % 1000)), 't', toUInt32(number % 7), 2, 'car', 'car', 2, 1 FROM system.numbers LIMIT ` + gold,
		`INSERT INTO accuracy_counts (project_id, question_id, scope, kafka_topic, kafka_partition, correct, total, version) SELECT 'proj-big', 'qb', concat('annotator:', toString(number)), 't', 0, 1, 2, 1 FROM system.numbers LIMIT ` + gold,
		`INSERT INTO agreement_profiles (project_id, question_id, level, scope, day, kafka_topic, kafka_partition, profile, values, counts, units, version) SELECT 'proj-big', 'qb', 'nominal', concat('cohort:', toString(number % 1000)), toDate('2026-11-01'), 't', toUInt32(number % 7), concat('p', toString(number)), ['car'], [2], 1, 1 FROM system.numbers LIMIT ` + gold,

		// The small version ds-s@1 = {s1/sl1, s2/sl2} of project proj-s: s1 is a gold item.
		`INSERT INTO items (event_id, item_id, project_id, source, sha256, slice_tags, edge_case_tags) SELECT 'ev-s1', 's1', 'proj-s', 'cam', 'x', ['night'], ['occluded'] UNION ALL SELECT 'ev-s2', 's2', 'proj-s', 'cam', 'x', emptyArrayString(), emptyArrayString()`,
		`INSERT INTO labels (event_id, label_id, item_id, project_id, question_id, annotator_id, value_level, value_category) SELECT 'ev-sl1', 'sl1', 's1', 'proj-s', 'q', 'ann', 'nominal', 'car' UNION ALL SELECT 'ev-sl2', 'sl2', 's2', 'proj-s', 'q', 'ann', 'nominal', 'bus'`,
		`INSERT INTO gold_labels (event_id, item_id, question_id, value_level, value_category) SELECT 'ev-sg1', 's1', 'q', 'nominal', 'car'`,
		`INSERT INTO reviews (event_id, review_id, label_id, item_id, verdict) SELECT 'ev-sr1', 'sr1', 'sl1', 's1', 'accept' UNION ALL SELECT 'ev-sr2', 'sr2', 'sl2', 's2', 'reject'`,
		`INSERT INTO dataset_members (event_id, dataset_id, version, item_id, label_id) SELECT 'ev-s', 'ds-s', '1', 's1', 'sl1' UNION ALL SELECT 'ev-s', 'ds-s', '1', 's2', 'sl2'`,
		`INSERT INTO findings (event_id, finding_id, severity, project_id) SELECT 'ev-sf', 'fs', 'low', 'proj-s'`,
		`INSERT INTO finding_items (event_id, finding_id, item_id) SELECT 'ev-sf', 'fs', 's2'`,
		`INSERT INTO coverage_targets (event_id, dataset_id, slice_names, slice_target_shares, slice_min_counts, edge_case_tags, edge_case_min_counts) SELECT 'ev-sc', 'ds-s', ['night'], [0.5], [NULL], ['occluded'], [1]`,
		`INSERT INTO lineage_items (event_id, item_id, source, sha256, project_id) SELECT 'ev-s1', 's1', 'cam', 'x', 'proj-s' UNION ALL SELECT 'ev-s2', 's2', 'cam', 'x', 'proj-s'`,
		`INSERT INTO lineage_labels (event_id, label_id, item_id, annotator_id) SELECT 'ev-sl1', 'sl1', 's1', 'ann' UNION ALL SELECT 'ev-sl2', 'sl2', 's2', 'ann'`,
		`INSERT INTO lineage_reviews (event_id, label_id, review_id, verdict) SELECT 'ev-sr1', 'sl1', 'sr1', 'accept' UNION ALL SELECT 'ev-sr2', 'sl2', 'sr2', 'reject'`,
		`INSERT INTO lineage_members (event_id, dataset_id, version, item_id, label_id) SELECT 'ev-s', 'ds-s', '1', 's1', 'sl1' UNION ALL SELECT 'ev-s', 'ds-s', '1', 's2', 'sl2'`,
		`INSERT INTO lineage_versions (event_id, dataset_id, version, manifest_ok) SELECT 'ev-s', 'ds-s', '1', 1`,
		`INSERT INTO accuracy_counts (project_id, question_id, scope, kafka_topic, kafka_partition, correct, total, version) SELECT 'proj-s', 'q', 'all', 't', 0, 1, 1, 1`,
	} {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%v:\n%s", err, stmt)
		}
	}

	m := &meteredConn{Conn: conn}
	f, err := Read(ctx, m, Request{DatasetID: "ds-s", Version: "1", CommittedAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if f.ProjectID != "proj-s" || f.Members != 2 || f.LineageComplete != 1 || f.ReviewedLabels != 2 || f.ReworkedLabels != 1 ||
		f.GoldMembers != 1 || f.OpenFindings["low"] != 1 || f.Coverage == nil || f.Coverage.SlicesMet != 1 || f.Coverage.EdgeCasesMet != 1 ||
		len(f.Accuracy) != 2 || f.Accuracy[0].Total != 1 || f.Accuracy[1].Correct != 1 || f.Accuracy[1].Total != 1 {
		t.Fatalf("figures of ds-s@1: %+v", f)
	}

	// The queries bounded by a key: the version's members (dataset_members' key), an item or
	// label set (the key of items, reviews, gold_labels and the chain tables), the dataset
	// (coverage_targets) or the project (accuracy_counts).
	keyed := map[string]bool{membersQuery: true, projectQuery: true, chainFactsQuery: true, reworkQuery: true, goldMembersQuery: true,
		coverageTargetsQuery: true, sliceCountsQuery: true, edgeCaseCountsQuery: true, allSubmittedQuery: true, goldMemberPairsQuery: true}
	names := map[string]string{membersQuery: "members", projectQuery: "project", chainFactsQuery: "chain facts", reworkQuery: "rework",
		openFindingsQuery: "open findings", goldMembersQuery: "gold members", coverageTargetsQuery: "coverage targets",
		sliceCountsQuery: "slice counts", edgeCaseCountsQuery: "edge-case counts", questionsQuery: "questions",
		allSubmittedQuery: "all submitted", goldLabelsQuery: "labels on gold items", goldMemberPairsQuery: "gold member pairs"}
	// The server counts only the outer query's reads: each IN subquery is read on its own
	// here, its cost to be added to every query that holds it.
	fragments := []struct {
		name, query string
		args        []any
		keyed       bool
	}{
		{"  in: member items or pairs", memberItems, []any{"ds-s", "1", "ev-s"}, true},
		{"  in: the earliest commit", "SELECT argMin(event_id, (occurred_at_ms, event_id)) FROM dataset_members WHERE dataset_id = ? AND version = ?", []any{"ds-s", "1"}, true},
		{"  in: the findings of member items", "SELECT finding_id FROM finding_items WHERE item_id IN (" + memberItems + ")", []any{"ds-s", "1", "ev-s"}, false},
		{"  in: the accepted member labels", "SELECT label_id FROM reviews WHERE verdict = 'accept' AND (item_id, label_id) IN (" + memberPairs + ")", []any{"ds-s", "1", "ev-s"}, true},
		{"  in: every gold item", "SELECT item_id FROM gold_labels", nil, false},
		{"  in: the retracted labels", "SELECT DISTINCT label_id, toUInt8(1) AS is_retracted FROM lineage_labels WHERE retracted = 1", nil, false},
		{"  in: the reviews of gold items", "SELECT label_id FROM reviews WHERE item_id IN (SELECT item_id FROM gold_labels)", nil, false},
	}
	for _, fr := range fragments {
		names[fr.query] = fr.name
		keyed[fr.query] = fr.keyed
		rows, err := m.Query(ctx, "SELECT count() FROM ("+fr.query+")", fr.args...)
		if err != nil {
			t.Fatalf("%s: %v", fr.name, err)
		}
		for rows.Next() {
		}
		rows.Close()
		m.reads[len(m.reads)-1].query = fr.query
	}
	var lines []string
	for _, q := range m.reads {
		name, ok := names[q.query]
		if !ok {
			name = strings.Join(strings.Fields(q.query), " ")[:60] + "..."
		}
		rows := q.rows.Load()
		lines = append(lines, fmt.Sprintf("%9d rows %11d bytes  %s", rows, q.bytes.Load(), name))
		if keyed[q.query] && rows > keyBound {
			t.Errorf("%s read %d rows, more than the %d a key-bounded read of a 2-member version may", name, rows, keyBound)
		}
	}
	sort.Strings(lines)
	t.Logf("rows read by each query of Read beside a project of %d items and labels:\n%s", bigRows, strings.Join(lines, "\n"))
}

// meteredConn counts the rows the server reports reading for each query (its progress
// packets) through the connection.
type meteredConn struct {
	driver.Conn
	reads []*metered
}

type metered struct {
	query       string
	rows, bytes atomic.Uint64
}

func (c *meteredConn) meter(ctx context.Context, query string) context.Context {
	m := &metered{query: query}
	c.reads = append(c.reads, m)
	return clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) { m.rows.Add(p.Rows); m.bytes.Add(p.Bytes) }))
}

func (c *meteredConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	return c.Conn.Query(c.meter(ctx, query), query, args...)
}

func (c *meteredConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return c.Conn.QueryRow(c.meter(ctx, query), query, args...)
}
