package figures

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
)

// Request names the dataset version to measure.
type Request struct {
	DatasetID, Version string
	// CommittedAt is the occurred_at of the version's DatasetVersionCommitted, epoch
	// milliseconds: the dataset's CoverageTargetSet in force then (the latest that occurred at
	// or before it) is the one coverage is measured against.
	CommittedAt int64
}

// The version's members are those of its earliest commit in the ledger (a version is
// immutable; streams/lineage keeps the earliest commit too), named by the commit's event id
// once found, so that every later query selects them through the primary key of
// dataset_members (dataset_id, version, ...). Parameters of both: dataset, version, commit
// event id.
const (
	memberItems = `SELECT item_id FROM dataset_members WHERE dataset_id = ? AND version = ? AND event_id = ?`
	memberPairs = `SELECT item_id, label_id FROM dataset_members WHERE dataset_id = ? AND version = ? AND event_id = ?`
)

// Gold items and their labels in a project: the labels table is keyed by item, so the gold
// items (the first key column of gold_labels) bound the read. Parameter: project.
const (
	projectGoldItems  = `SELECT item_id FROM labels WHERE project_id = ? AND item_id IN (SELECT item_id FROM gold_labels)`
	projectGoldLabels = `SELECT label_id FROM labels WHERE project_id = ? AND item_id IN (SELECT item_id FROM gold_labels)`
)

// The queries of Read, in the order it runs them (doc.go states what each costs). None needs
// FINAL on a ledger table: each aggregates with DISTINCT, uniqExact, max, argMax or argMin,
// which the copies of one event (a replayed batch, a client duplicate not merged yet) cannot
// change. "Latest" is by (occurred_at_ms, event_id), as in streams/lineage.
const (
	// membersQuery counts the members and distinct member items of the version's earliest
	// commit and names that commit (parameters: dataset, version, dataset, version).
	membersQuery = `SELECT toInt64(count()), toInt64(uniqExact(item_id)), any(event_id)
FROM (
    SELECT DISTINCT item_id, label_id, event_id FROM dataset_members
    WHERE dataset_id = ? AND version = ? AND event_id = (
        SELECT argMin(event_id, (occurred_at_ms, event_id)) FROM dataset_members WHERE dataset_id = ? AND version = ?))`

	// projectQuery reads the project most member items belong to, by each item's latest
	// ingest (ties: the smallest project id); no row when no member item was ingested
	// (parameters: members).
	projectQuery = `SELECT project, toInt64(count()) AS n
FROM (
    SELECT item_id, argMax(project_id, (occurred_at_ms, event_id)) AS project FROM items
    WHERE item_id IN (` + memberItems + `)
    GROUP BY item_id)
WHERE project != ''
GROUP BY project
ORDER BY n DESC, project
LIMIT 1`

	// reworkQuery counts the member labels with any review and those with at least one
	// reject or correct verdict (parameters: members).
	reworkQuery = `SELECT toInt64(count()), toInt64(sum(reworked))
FROM (
    SELECT label_id, max(verdict IN ('reject', 'correct')) AS reworked FROM reviews
    WHERE (item_id, label_id) IN (` + memberPairs + `)
    GROUP BY label_id)`

	// openFindingsQuery counts per severity (a finding's latest report) the findings that
	// implicate a member item and have no RemediationShipped (parameters: members, stage
	// shipped, members).
	openFindingsQuery = `SELECT severity_now, toInt64(count())
FROM (
    SELECT finding_id, argMax(severity, (occurred_at_ms, event_id)) AS severity_now FROM findings
    WHERE finding_id IN (SELECT finding_id FROM finding_items WHERE item_id IN (` + memberItems + `))
    GROUP BY finding_id)
WHERE finding_id NOT IN (
    SELECT finding_id FROM remediations
    WHERE stage = ? AND finding_id IN (SELECT finding_id FROM finding_items WHERE item_id IN (` + memberItems + `)))
GROUP BY severity_now
ORDER BY severity_now`

	// goldMembersQuery counts the member items with a GoldLabelSet (parameters: members).
	goldMembersQuery = `SELECT toInt64(uniqExact(item_id)) FROM gold_labels WHERE item_id IN (` + memberItems + `)`

	// coverageTargetsQuery reads the dataset's CoverageTargetSet in force at the commit: the
	// latest that occurred at or before it; the first column is 0 when there is none
	// (parameters: dataset, committed at).
	coverageTargetsQuery = `SELECT toUInt8(count() > 0), argMax(event_id, (occurred_at_ms, event_id)),
       argMax(slice_names, (occurred_at_ms, event_id)), argMax(slice_target_shares, (occurred_at_ms, event_id)),
       argMax(slice_min_counts, (occurred_at_ms, event_id)),
       argMax(edge_case_tags, (occurred_at_ms, event_id)), argMax(edge_case_min_counts, (occurred_at_ms, event_id))
FROM coverage_targets
WHERE dataset_id = ? AND occurred_at_ms <= ?`

	// sliceCountsQuery counts the distinct member items per slice tag, by each item's latest
	// ingest (parameters: members).
	sliceCountsQuery = `SELECT tag, toInt64(uniqExact(item_id))
FROM (
    SELECT item_id, argMax(slice_tags, (occurred_at_ms, event_id)) AS tags FROM items
    WHERE item_id IN (` + memberItems + `)
    GROUP BY item_id)
ARRAY JOIN tags AS tag
GROUP BY tag
ORDER BY tag`

	// edgeCaseCountsQuery counts per edge-case tag the distinct member items whose member
	// label has an accepting review, as migration 0004's kpi_edge_case_coverage does
	// (parameters: members, members).
	edgeCaseCountsQuery = `SELECT tag, toInt64(uniqExact(item_id))
FROM (
    SELECT item_id, argMax(edge_case_tags, (occurred_at_ms, event_id)) AS tags FROM items
    WHERE item_id IN (
        SELECT item_id FROM dataset_members
        WHERE dataset_id = ? AND version = ? AND event_id = ? AND label_id IN (
            SELECT label_id FROM reviews WHERE verdict = 'accept' AND (item_id, label_id) IN (` + memberPairs + `)))
    GROUP BY item_id)
ARRAY JOIN tags AS tag
GROUP BY tag
ORDER BY tag`

	// questionsQuery reads the questions any label of the project answers (parameter:
	// project).
	questionsQuery = `SELECT DISTINCT question_id FROM labels WHERE project_id = ? ORDER BY question_id`

	// allSubmittedQuery reads the accuracy KPI of the project per question, scope all
	// (parameters: project, scope all).
	allSubmittedQuery = `SELECT question_id, toInt64(sum(correct)), toInt64(sum(total))
FROM accuracy_counts FINAL
WHERE project_id = ? AND scope = ?
GROUP BY question_id
ORDER BY question_id`

	// goldRowsQuery reads every GoldLabelSet of the project's gold items (parameter:
	// project).
	goldRowsQuery = `SELECT item_id, question_id, occurred_at_ms, event_id,
       value_level, value_category, value_rank, value_number, value_categories
FROM gold_labels
WHERE item_id IN (` + projectGoldItems + `)`

	// goldLabelRowsQuery reads every LabelSubmitted of the project on a gold item
	// (parameter: project).
	goldLabelRowsQuery = `SELECT label_id, item_id, question_id, occurred_at_ms, event_id,
       value_level, value_category, value_rank, value_number, value_categories
FROM labels
WHERE item_id IN (SELECT item_id FROM gold_labels) AND project_id = ?`

	// goldRetractedQuery reads which of those labels were retracted, from the chain read
	// model: the lineage processor keeps only the retractions by the label's own producer
	// (the ledger copies every one the gateway let through) (parameter: project).
	goldRetractedQuery = `SELECT DISTINCT label_id FROM lineage_labels
WHERE retracted = 1 AND label_id IN (` + projectGoldLabels + `)`

	// goldReviewRowsQuery reads every review of those labels (parameters: project, project).
	goldReviewRowsQuery = `SELECT label_id, occurred_at_ms, event_id, verdict,
       corrected_level, corrected_category, corrected_rank, corrected_number, corrected_categories
FROM reviews
WHERE item_id IN (` + projectGoldItems + `) AND label_id IN (` + projectGoldLabels + `)`

	// goldMemberPairsQuery reads the version's members on gold items (parameters: members).
	goldMemberPairsQuery = `SELECT DISTINCT item_id, label_id FROM dataset_members
WHERE dataset_id = ? AND version = ? AND event_id = ? AND item_id IN (SELECT item_id FROM gold_labels)`
)

// Read measures every figure the gate judges req's version on, from ClickHouse only: the
// ledger tables (streams/ledger), the accuracy KPI (streams/kpi), kpi.ReadAgreement for alpha
// and lineage.ReadVersion for lineage completeness. A version none of whose members is in
// the ledger yet has Members 0 and nothing else measured; one whose member items are not
// ingested yet has no ProjectID and no project figures (questions, agreement, accuracy).
// Figures change as events arrive (a review, a retraction, a corrected gold, a remediation),
// except coverage, which is judged by the target set in force at req.CommittedAt.
func Read(ctx context.Context, conn driver.Conn, req Request) (gate.Figures, error) {
	if req.DatasetID == "" || req.Version == "" {
		return gate.Figures{}, fmt.Errorf("figures: dataset and version are required, got %q@%q", req.DatasetID, req.Version)
	}
	r := reader{conn: conn, req: req}
	f, err := r.read(ctx)
	if err != nil {
		return gate.Figures{}, fmt.Errorf("figures of %s@%s: %w", req.DatasetID, req.Version, err)
	}
	return f, nil
}

// reader holds one Read's request and the commit its members were found in.
type reader struct {
	conn   driver.Conn
	req    Request
	commit string
}

// members returns the parameters of memberItems and memberPairs.
func (r *reader) members() []any { return []any{r.req.DatasetID, r.req.Version, r.commit} }

func (r *reader) read(ctx context.Context) (gate.Figures, error) {
	f := gate.Figures{OpenFindings: map[schemas.Severity]int64{}}
	var items int64
	if err := r.conn.QueryRow(ctx, membersQuery, r.req.DatasetID, r.req.Version, r.req.DatasetID, r.req.Version).
		Scan(&f.Members, &items, &r.commit); err != nil {
		return gate.Figures{}, fmt.Errorf("members: %w", err)
	}
	if f.Members == 0 {
		return f, nil
	}
	steps := []struct {
		what string
		do   func(context.Context, *gate.Figures) error
	}{
		{"project", r.project},
		{"lineage", r.lineage},
		{"rework", r.rework},
		{"open findings", r.openFindings},
		{"gold members", r.goldMembers},
		{"coverage", func(ctx context.Context, f *gate.Figures) error { return r.coverage(ctx, f, items) }},
		{"questions", r.questions},
		{"agreement", r.agreement},
		{"accuracy", r.accuracy},
	}
	for _, s := range steps {
		if err := s.do(ctx, &f); err != nil {
			return gate.Figures{}, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return f, nil
}

func (r *reader) project(ctx context.Context, f *gate.Figures) error {
	rows, err := r.conn.Query(ctx, projectQuery, r.members()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		if err := rows.Scan(&f.ProjectID, &n); err != nil {
			return err
		}
	}
	return rows.Err()
}

// lineage counts the members with a complete chain by streams/lineage's one rule, as the
// chain read model holds them; a version the lineage processor has not seen yet has none.
func (r *reader) lineage(ctx context.Context, f *gate.Figures) error {
	v, err := lineage.ReadVersion(ctx, r.conn, lineage.VersionRef{DatasetID: r.req.DatasetID, Version: r.req.Version})
	if nf := (lineage.ErrVersionNotFound{}); errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, m := range v.Members {
		if len(m.Missing) == 0 {
			f.LineageComplete++
		}
	}
	return nil
}

func (r *reader) rework(ctx context.Context, f *gate.Figures) error {
	return r.conn.QueryRow(ctx, reworkQuery, r.members()...).Scan(&f.ReviewedLabels, &f.ReworkedLabels)
}

func (r *reader) openFindings(ctx context.Context, f *gate.Figures) error {
	rows, err := r.conn.Query(ctx, openFindingsQuery, append(append(r.members(), ledger.StageShipped), r.members()...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sev string
		var n int64
		if err := rows.Scan(&sev, &n); err != nil {
			return err
		}
		f.OpenFindings[schemas.Severity(sev)] = n
	}
	return rows.Err()
}

func (r *reader) goldMembers(ctx context.Context, f *gate.Figures) error {
	return r.conn.QueryRow(ctx, goldMembersQuery, r.members()...).Scan(&f.GoldMembers)
}

func (r *reader) coverage(ctx context.Context, f *gate.Figures, items int64) error {
	var (
		found uint8
		t     targets
	)
	if err := r.conn.QueryRow(ctx, coverageTargetsQuery, r.req.DatasetID, r.req.CommittedAt).
		Scan(&found, &t.eventID, &t.slices, &t.shares, &t.minCounts, &t.edgeTags, &t.edgeMins); err != nil {
		return fmt.Errorf("targets in force: %w", err)
	}
	if found == 0 {
		return nil
	}
	sliceItems, err := r.tagCounts(ctx, sliceCountsQuery, r.members()...)
	if err != nil {
		return fmt.Errorf("slices: %w", err)
	}
	edges, err := r.tagCounts(ctx, edgeCaseCountsQuery, append(r.members(), r.members()...)...)
	if err != nil {
		return fmt.Errorf("edge cases: %w", err)
	}
	c, err := t.measure(items, sliceItems, edges)
	if err != nil {
		return fmt.Errorf("targets %s: %w", t.eventID, err)
	}
	f.Coverage = &c
	return nil
}

func (r *reader) tagCounts(ctx context.Context, query string, args ...any) (map[string]int64, error) {
	rows, err := r.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var tag string
		var n int64
		if err := rows.Scan(&tag, &n); err != nil {
			return nil, err
		}
		out[tag] = n
	}
	return out, rows.Err()
}

func (r *reader) questions(ctx context.Context, f *gate.Figures) error {
	if f.ProjectID == "" {
		return nil
	}
	rows, err := r.conn.Query(ctx, questionsQuery, f.ProjectID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return err
		}
		f.Questions = append(f.Questions, q)
	}
	return rows.Err()
}

// agreement reads alpha per question and level of the project, all time, scope all.
func (r *reader) agreement(ctx context.Context, f *gate.Figures) error {
	if f.ProjectID == "" {
		return nil
	}
	figs, err := kpi.ReadAgreement(ctx, r.conn, kpi.AgreementFilter{Project: f.ProjectID, Scope: kpi.ScopeAll})
	if err != nil {
		return err
	}
	for _, k := range figs {
		f.Agreement = append(f.Agreement, agreementFigure(k))
	}
	return nil
}

// agreementFigure keeps of a KPI figure what the gate judges.
func agreementFigure(k kpi.AgreementFigure) gate.AgreementFigure {
	a := gate.AgreementFigure{QuestionID: k.QuestionID, Level: schemas.MeasurementLevel(k.Level), PairableValues: k.PairableValues}
	switch {
	case k.Err != nil:
		a.Undefined = k.Err.Error()
	case math.IsNaN(k.Alpha.Alpha) || math.IsInf(k.Alpha.Alpha, 0):
		a.Undefined = fmt.Sprintf("alpha is %v", k.Alpha.Alpha)
	default:
		alpha := k.Alpha.Alpha
		a.Alpha = &alpha
		// TODO(h20-ci): Low, High and Method from the interval kpi.AgreementFigure gains.
	}
	return a
}

// accuracy reads both denominators for every question of the project (zero counts where no
// label is scored against gold), in question order, all_submitted first.
func (r *reader) accuracy(ctx context.Context, f *gate.Figures) error {
	if f.ProjectID == "" {
		return nil
	}
	all := map[string]score{}
	rows, err := r.conn.Query(ctx, allSubmittedQuery, f.ProjectID, kpi.ScopeAll)
	if err != nil {
		return fmt.Errorf("all submitted: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var q string
		var s score
		if err := rows.Scan(&q, &s.correct, &s.total); err != nil {
			return fmt.Errorf("all submitted: %w", err)
		}
		all[q] = s
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("all submitted: %w", err)
	}
	final, err := r.finalAfterReview(ctx, f.ProjectID)
	if err != nil {
		return fmt.Errorf("final after review: %w", err)
	}
	questions := slices.Clone(f.Questions)
	for q := range all {
		questions = append(questions, q)
	}
	for q := range final {
		questions = append(questions, q)
	}
	slices.Sort(questions)
	for _, q := range slices.Compact(questions) {
		f.Accuracy = append(f.Accuracy,
			gate.AccuracyFigure{QuestionID: q, Denominator: schemas.DenominatorAllSubmitted, Correct: all[q].correct, Total: all[q].total},
			gate.AccuracyFigure{QuestionID: q, Denominator: schemas.DenominatorFinalAfterReview, Correct: final[q].correct, Total: final[q].total})
	}
	return nil
}

// finalAfterReview reads the gold answers, labels, retractions and reviews of the project's
// gold items and the version's members among them, and counts them (finalAfterReview).
func (r *reader) finalAfterReview(ctx context.Context, project string) (map[string]score, error) {
	var gold []goldRow
	err := r.each(ctx, goldRowsQuery, []any{project}, func(rows driver.Rows) error {
		var g goldRow
		if err := scanValue(rows, &g.value, &g.item, &g.question, &g.at, &g.event); err != nil {
			return err
		}
		gold = append(gold, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gold: %w", err)
	}
	if len(gold) == 0 {
		return nil, nil
	}
	var labels []labelRow
	err = r.each(ctx, goldLabelRowsQuery, []any{project}, func(rows driver.Rows) error {
		var l labelRow
		if err := scanValue(rows, &l.value, &l.label, &l.item, &l.question, &l.at, &l.event); err != nil {
			return err
		}
		labels = append(labels, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	retracted := map[string]bool{}
	err = r.each(ctx, goldRetractedQuery, []any{project}, func(rows driver.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		retracted[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retractions: %w", err)
	}
	var reviews []reviewRow
	err = r.each(ctx, goldReviewRowsQuery, []any{project, project}, func(rows driver.Rows) error {
		var v reviewRow
		var verdict string
		if err := scanValue(rows, &v.corrected, &v.label, &v.at, &v.event, &verdict); err != nil {
			return err
		}
		v.verdict = schemas.Verdict(verdict)
		reviews = append(reviews, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	members := map[string][]string{}
	err = r.each(ctx, goldMemberPairsQuery, r.members(), func(rows driver.Rows) error {
		var item, label string
		if err := rows.Scan(&item, &label); err != nil {
			return err
		}
		members[item] = append(members[item], label)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("members on gold items: %w", err)
	}
	return finalAfterReview(gold, labels, reviews, retracted, members)
}

// each runs query and calls row for every row.
func (r *reader) each(ctx context.Context, query string, args []any, row func(driver.Rows) error) error {
	rows, err := r.conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanValue scans a row of the given leading columns followed by the five columns of a
// ledger LabelValue (level, category, rank, number, categories) into v.
func scanValue(rows driver.Rows, v *schemas.LabelValue, lead ...any) error {
	var level string
	if err := rows.Scan(append(lead, &level, &v.Category, &v.Rank, &v.Number, &v.Categories)...); err != nil {
		return err
	}
	v.Level = schemas.MeasurementLevel(level)
	return nil
}
