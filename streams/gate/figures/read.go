package figures

import (
	"context"
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

// The queries of Read, in the order it runs them (the package documentation states what
// each costs). None needs
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

	// goldLabelsQuery reads every statement of the project's labels on gold items, each
	// with whether the chain read model holds a retraction of it (the lineage processor keeps
	// only the retractions by the label's own producer; the ledger copies every one the
	// gateway let through), every review of it and every GoldLabelSet of its item and
	// question: the rows finalAfterReview reduces (parameter: project). Gold items, the first
	// key column of gold_labels, bound the labels and reviews read; the project's labels are
	// read once, on the left of the joins, whose right sides hold the gold table, the reviews
	// of gold items and the retracted label ids. 18.16 allows one JOIN per SELECT, hence the
	// nesting; a label without a review gets the right side's defaults (review_event '').
	goldLabelsQuery = `SELECT label_id, item_id, question_id, occurred_at_ms, event_id,
       value_level, value_category, value_rank, value_number, value_categories, is_retracted,
       review_at, review_event, verdict, corrected_level, corrected_category, corrected_rank, corrected_number, corrected_categories,
       gold_at, gold_event, gold_level, gold_category, gold_rank, gold_number, gold_categories
FROM (
    SELECT label_id, item_id, question_id, occurred_at_ms, event_id,
           value_level, value_category, value_rank, value_number, value_categories, is_retracted,
           review_at, review_event, verdict, corrected_level, corrected_category, corrected_rank, corrected_number, corrected_categories
    FROM (
        SELECT label_id, item_id, question_id, occurred_at_ms, event_id,
               value_level, value_category, value_rank, value_number, value_categories, is_retracted
        FROM (
            SELECT label_id, item_id, question_id, occurred_at_ms, event_id,
                   value_level, value_category, value_rank, value_number, value_categories
            FROM labels
            WHERE item_id IN (SELECT item_id FROM gold_labels) AND project_id = ?
        ) AS l
        ANY LEFT JOIN (
            SELECT DISTINCT label_id, toUInt8(1) AS is_retracted FROM lineage_labels WHERE retracted = 1
        ) AS x USING label_id
    ) AS lx
    ALL LEFT JOIN (
        SELECT label_id, occurred_at_ms AS review_at, event_id AS review_event, verdict,
               corrected_level, corrected_category, corrected_rank, corrected_number, corrected_categories
        FROM reviews
        WHERE item_id IN (SELECT item_id FROM gold_labels)
    ) AS r USING label_id
) AS lxr
ALL INNER JOIN (
    SELECT item_id, question_id, occurred_at_ms AS gold_at, event_id AS gold_event,
           value_level AS gold_level, value_category AS gold_category, value_rank AS gold_rank,
           value_number AS gold_number, value_categories AS gold_categories
    FROM gold_labels
) AS g USING (item_id, question_id)`

	// goldMemberPairsQuery reads the version's members on gold items (parameters: members).
	goldMemberPairsQuery = `SELECT DISTINCT item_id, label_id FROM dataset_members
WHERE dataset_id = ? AND version = ? AND event_id = ? AND item_id IN (SELECT item_id FROM gold_labels)`
)

// chainFactsQuery counts the version's members by the facts of their chains, read by
// lineage.VersionChainsQuery (the members of the version's earliest commit in the chain
// read model, each side bounded by their item or label ids) and reduced to
// lineage.Links exactly as lineage.ChainFactsQuery reduces every version's
// (parameters: lineage's chain arguments of dataset, version, dataset, version). It is
// lineage.ReadVersion's answer without its reads of the training runs and fixes, which
// scan lineage_edges; TestLineageAsReadVersion holds the two to the same count for every
// way a chain can break.
var chainFactsQuery = `SELECT ingested, item_source != '' AS has_source, item_sha256 != '' AS has_hash,
       labeled, labeled AND label_annotator != '' AS has_annotator, labeled AND label_item_id = item_id AS of_item,
       labeled AND is_retracted AS retracted_label, labeled AND reviewed AS has_review,
       labeled AND reviewed AND latest_verdict = 'reject' AS rejected, toInt64(count()) AS members
FROM (` + lineage.VersionChainsQuery + `)
GROUP BY ingested, has_source, has_hash, labeled, has_annotator, of_item, retracted_label, has_review, rejected`

// Read measures every figure the gate judges req's version on, from ClickHouse only: the
// ledger tables (streams/ledger), the accuracy KPI (streams/kpi), kpi.ReadAgreement for alpha
// and the chain read model (streams/lineage) for lineage completeness; the package
// documentation defines each figure. A version none of whose members is in
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

// lineage counts the members with a complete chain by streams/lineage's one rule
// (Links.Complete), over the chain read model's facts of this version's members; a version
// the lineage processor has not seen yet has none.
func (r *reader) lineage(ctx context.Context, f *gate.Figures) error {
	args := make([]any, 0, 16)
	for range 4 {
		args = append(args, r.req.DatasetID, r.req.Version, r.req.DatasetID, r.req.Version)
	}
	rows, err := r.conn.Query(ctx, chainFactsQuery, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b [9]uint8
			n int64
		)
		if err := rows.Scan(&b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8], &n); err != nil {
			return err
		}
		links := lineage.Links{Ingested: b[0] == 1, Source: b[1] == 1, Hash: b[2] == 1, Labeled: b[3] == 1, Annotator: b[4] == 1,
			OfItem: b[5] == 1, Retracted: b[6] == 1, Reviewed: b[7] == 1, Rejected: b[8] == 1}
		if links.Complete() {
			f.LineageComplete += n
		}
	}
	return rows.Err()
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
		// streams/agreement reports an undefined alpha as an error; a value that is not
		// finite all the same is no figure either (a verdict's figures are finite).
		a.Undefined = fmt.Sprintf("alpha is %v", k.Alpha.Alpha)
	default:
		alpha := k.Alpha.Alpha
		a.Alpha = &alpha
		// The interval is the KPI's (kpi.ReadAgreement's default confidence, 95%); nil when
		// it is undefined (AlphaCIErr says why: too little evidence, or the unit profiles
		// are behind the cells), which a target on the lower bound judges not enough data.
		if ci := k.AlphaCI; ci != nil && !math.IsNaN(ci.Low) && !math.IsInf(ci.Low, 0) && !math.IsNaN(ci.High) && !math.IsInf(ci.High, 0) {
			low, high := ci.Low, ci.High
			a.Low, a.High, a.Method = &low, &high, ci.Method
		}
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

// finalAfterReview reads the project's labels on gold items with their retractions,
// reviews and gold answers, and the version's members among the gold items, and counts them
// (finalAfterReview).
func (r *reader) finalAfterReview(ctx context.Context, project string) (map[string]score, error) {
	var (
		gold      []goldRow
		labels    []labelRow
		reviews   []reviewRow
		retracted = map[string]bool{}
	)
	err := r.each(ctx, goldLabelsQuery, []any{project}, func(rows driver.Rows) error {
		var (
			l              labelRow
			v              reviewRow
			g              goldRow
			isRetracted    uint8
			level, verdict string
			vLevel, gLevel string
		)
		if err := rows.Scan(&l.label, &l.item, &l.question, &l.at, &l.event,
			&level, &l.value.Category, &l.value.Rank, &l.value.Number, &l.value.Categories, &isRetracted,
			&v.at, &v.event, &verdict, &vLevel, &v.corrected.Category, &v.corrected.Rank, &v.corrected.Number, &v.corrected.Categories,
			&g.at, &g.event, &gLevel, &g.value.Category, &g.value.Rank, &g.value.Number, &g.value.Categories); err != nil {
			return err
		}
		l.value.Level, v.corrected.Level, g.value.Level = schemas.MeasurementLevel(level), schemas.MeasurementLevel(vLevel), schemas.MeasurementLevel(gLevel)
		labels = append(labels, l)
		if isRetracted == 1 {
			retracted[l.label] = true
		}
		if v.event != "" {
			v.label, v.verdict = l.label, schemas.Verdict(verdict)
			reviews = append(reviews, v)
		}
		g.item, g.question = l.item, l.question
		gold = append(gold, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("labels on gold items: %w", err)
	}
	if len(labels) == 0 {
		return nil, nil
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
