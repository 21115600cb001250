package lineage

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas"
)

// The reads of the chain read model (migration 0025_lineage_chains.sql). "Latest" is decided
// here the way Graph decides it: by (occurred_at_ms, event_id), which ClickHouse 18.16 and
// current releases both compare as a tuple in argMax/argMin.

// versionMembers selects the members of one version's earliest commit. Parameters: dataset,
// version, dataset, version.
const versionMembers = `SELECT DISTINCT dataset_id, version, item_id, label_id FROM lineage_members
WHERE dataset_id = ? AND version = ? AND event_id = (
    SELECT argMin(event_id, (occurred_at_ms, event_id)) FROM lineage_versions WHERE dataset_id = ? AND version = ?)`

// allMembers selects the members of every version's earliest commit. No parameters.
const allMembers = `SELECT DISTINCT dataset_id, version, item_id, label_id FROM lineage_members
WHERE (dataset_id, version, event_id) IN (
    SELECT dataset_id, version, argMin(event_id, (occurred_at_ms, event_id)) FROM lineage_versions GROUP BY dataset_id, version)`

// chainSelect reads one row per member that members selects (dataset_id, version, item_id,
// label_id), with the facts of its chain: its item's latest ingest, its label's latest
// submission and whether any retraction names it, the label's latest review. One JOIN per
// SELECT (18.16), hence the nesting; each side is aggregated on its key, so the ANY joins
// find one row, and a side without a row gives its defaults (0, ”), hence the ingested,
// labeled and reviewed flags. members appears four times: its parameters are bound four
// times (chainArgs).
func chainSelect(members string) string {
	return `SELECT dataset_id, version, item_id, label_id, ingested, item_source, item_sha256,
       labeled, label_item_id, label_annotator, label_cohort, label_vendor, label_guideline, label_prelabel, is_retracted,
       reviewed, latest_review_id, latest_reviewer, latest_verdict
FROM (
    SELECT dataset_id, version, item_id, label_id, ingested, item_source, item_sha256,
           labeled, label_item_id, label_annotator, label_cohort, label_vendor, label_guideline, label_prelabel, is_retracted
    FROM (
        SELECT dataset_id, version, item_id, label_id, ingested, item_source, item_sha256
        FROM (` + members + `) AS m
        ANY LEFT JOIN (
            SELECT item_id, toUInt8(1) AS ingested,
                   argMax(source, (occurred_at_ms, event_id)) AS item_source,
                   argMax(sha256, (occurred_at_ms, event_id)) AS item_sha256
            FROM lineage_items
            WHERE item_id IN (SELECT item_id FROM (` + members + `))
            GROUP BY item_id
        ) AS i USING item_id
    ) AS mi
    ANY LEFT JOIN (
        SELECT label_id,
               toUInt8(max(retracted = 0)) AS labeled,
               argMaxIf(item_id, (occurred_at_ms, event_id), retracted = 0) AS label_item_id,
               argMaxIf(annotator_id, (occurred_at_ms, event_id), retracted = 0) AS label_annotator,
               argMaxIf(cohort, (occurred_at_ms, event_id), retracted = 0) AS label_cohort,
               argMaxIf(vendor, (occurred_at_ms, event_id), retracted = 0) AS label_vendor,
               argMaxIf(guideline_version, (occurred_at_ms, event_id), retracted = 0) AS label_guideline,
               argMaxIf(prelabel_model, (occurred_at_ms, event_id), retracted = 0) AS label_prelabel,
               toUInt8(max(retracted)) AS is_retracted
        FROM lineage_labels
        WHERE label_id IN (SELECT label_id FROM (` + members + `))
        GROUP BY label_id
    ) AS l USING label_id
) AS mil
ANY LEFT JOIN (
    SELECT label_id, toUInt8(1) AS reviewed,
           argMax(review_id, (occurred_at_ms, event_id)) AS latest_review_id,
           argMax(reviewer_id, (occurred_at_ms, event_id)) AS latest_reviewer,
           argMax(verdict, (occurred_at_ms, event_id)) AS latest_verdict
    FROM lineage_reviews
    WHERE label_id IN (SELECT label_id FROM (` + members + `))
    GROUP BY label_id
) AS r USING label_id`
}

// chainArgs repeats the members' parameters for chainSelect.
func chainArgs(members ...any) []any {
	var out []any
	for range 4 {
		out = append(out, members...)
	}
	return out
}

// runsSelect selects (run_id, dataset_version) of every training run's latest registration.
// A trained edge always leaves a dataset version (Processor.Apply), so naming its source kind
// reads the edges of the first column of the table's key, not the whole graph: the read costs
// what the versions' edges do, whatever the number of items and labels.
const runsSelect = `SELECT run_id, dataset_version FROM (
    SELECT dst_id AS run_id, src_id AS dataset_version, event_id AS run_event FROM lineage_edges
    WHERE src_kind = 'dataset_version' AND rel = 'trained')
WHERE (run_id, run_event) IN (
    SELECT dst_id, argMax(event_id, (occurred_at_ms, event_id)) FROM lineage_edges
    WHERE src_kind = 'dataset_version' AND rel = 'trained' GROUP BY dst_id)
GROUP BY run_id, dataset_version`

// Queries of the chain read model, exported for the tests that run them on every supported
// ClickHouse.
var (
	// VersionHeadQuery reads a version's earliest commit (parameters: dataset, version); the
	// first column is 0 when it was never committed.
	VersionHeadQuery = `SELECT toUInt8(count() > 0), argMin(parent_version, (occurred_at_ms, event_id)),
       min(occurred_at_ms), argMin(manifest_digest, (occurred_at_ms, event_id))
FROM lineage_versions WHERE dataset_id = ? AND version = ?`

	// VersionChainsQuery reads the chains of one version's members (parameters: chainArgs of
	// dataset, version, dataset, version).
	VersionChainsQuery = chainSelect(versionMembers) + `
ORDER BY item_id, label_id`

	// RunsQuery reads the dataset versions (dataset@version) each training run used, by its
	// latest registration (Graph keeps the latest TrainingRunRegistered of a run id too).
	RunsQuery = runsSelect + `
ORDER BY run_id, dataset_version`

	// RunsUsingQuery reads the training runs that used a version (parameter: dataset@version).
	RunsUsingQuery = `SELECT run_id FROM (` + runsSelect + `)
WHERE dataset_version = ?
ORDER BY run_id`

	// RunsRegisteredQuery reads the training runs that used a version, as RunsUsingQuery does,
	// each with the earliest recorded_at_ms of its registrations naming the version, 0 when
	// lineage_runs has none (parameters: dataset@version, dataset, version).
	RunsRegisteredQuery = `SELECT run_id, registered_at_ms FROM (
    SELECT run_id FROM (` + runsSelect + `) WHERE dataset_version = ?) AS u
ANY LEFT JOIN (
    SELECT run_id, min(recorded_at_ms) AS registered_at_ms FROM lineage_runs WHERE dataset_id = ? AND version = ? GROUP BY run_id
) AS r USING run_id
ORDER BY run_id`

	// VerdictsQuery reads the gate's verdicts on a version (parameters: dataset, version), one
	// row per verdict event; the checks are parallel arrays (migration 0046).
	VerdictsQuery = `SELECT event_id, any(certified) AS v_certified, any(sequence) AS v_sequence, any(supersedes) AS v_supersedes,
       any(project_id) AS v_project_id, any(targets_versions) AS v_targets_versions, any(reason) AS v_reason,
       any(check_target) AS v_target, any(check_scope) AS v_scope, any(check_threshold) AS v_threshold,
       any(check_figure) AS v_figure, any(check_low) AS v_low, any(check_high) AS v_high,
       any(check_evidence) AS v_evidence, any(check_status) AS v_status, any(check_detail) AS v_detail,
       any(occurred_at_ms) AS v_occurred_at_ms, any(recorded_at_ms) AS v_recorded_at_ms
FROM lineage_verdicts
WHERE dataset_id = ? AND version = ?
GROUP BY event_id`

	// OverridesQuery reads the owners' overrides of a version (parameters: dataset, version),
	// one row per override event.
	OverridesQuery = `SELECT event_id, any(project_id), any(reason), any(producer), any(occurred_at_ms), any(recorded_at_ms)
FROM lineage_overrides
WHERE dataset_id = ? AND version = ?
GROUP BY event_id`

	// FixesQuery reads the findings whose first RemediationShipped shipped a version
	// (parameter: dataset@version). A shipped edge always leaves a remediation (whose id is
	// its finding's), so the read is narrowed to those edges by the table's key, as
	// runsSelect's.
	FixesQuery = `SELECT finding_id FROM (
    SELECT src_id AS finding_id, argMin(dst_id, (occurred_at_ms, event_id)) AS fixing_version
    FROM lineage_edges WHERE src_kind = 'remediation' AND rel = 'shipped' GROUP BY src_id)
WHERE fixing_version = ?
ORDER BY finding_id`

	// VersionStatusQuery reads whether each version's earliest commit has a manifest digest
	// that recomputes over its members (the processor computed it from the commit).
	VersionStatusQuery = `SELECT dataset_id, version, toUInt8(argMin(manifest_ok, (occurred_at_ms, event_id)))
FROM lineage_versions GROUP BY dataset_id, version`

	// ChainFactsQuery counts the members of every version by the facts of their chains: the
	// Links of a member, as SQL derives them from the columns chainSelect reads, the
	// derivation linksOf makes in Go (a non-empty source, hash and annotator, the label's
	// item equal to the member's, a latest verdict of schemas.VerdictReject; nothing of a
	// label that was never submitted). Links.Missing judges each class.
	ChainFactsQuery = `SELECT dataset_id, version, ingested, item_source != '' AS has_source, item_sha256 != '' AS has_hash,
       labeled, labeled AND label_annotator != '' AS has_annotator, labeled AND label_item_id = item_id AS of_item,
       labeled AND is_retracted AS retracted_label, labeled AND reviewed AS has_review,
       labeled AND reviewed AND latest_verdict = 'reject' AS rejected, toInt64(count()) AS members
FROM (` + chainSelect(allMembers) + `)
GROUP BY dataset_id, version, ingested, has_source, has_hash, labeled, has_annotator, of_item, retracted_label, has_review, rejected`

	// ProjectDatasetsQuery reads the datasets of a project (parameter: project), by the rule
	// of Graph.DatasetsOf: the datasets its items' latest ingests name. The Processor keeps
	// per items partition the count of items whose latest ingest names each (project,
	// dataset) (migration 0071), so the read sums a few rows a dataset instead of reading
	// every item's ingests (ProjectDatasetsFromItemsQuery, the same answer).
	ProjectDatasetsQuery = `SELECT dataset_id FROM (
    SELECT dataset_id, sum(items) AS n FROM lineage_project_datasets FINAL
    WHERE project_id = ? GROUP BY dataset_id)
WHERE n > 0 AND dataset_id != ''
ORDER BY dataset_id`

	// ProjectDatasetsFromItemsQuery reads the datasets of a project from the chain read
	// model's items, every ingest of every item (parameter: project): what
	// ProjectDatasetsQuery answers from the Processor's totals, kept as the reference the
	// tests hold it to.
	ProjectDatasetsFromItemsQuery = `SELECT DISTINCT latest_dataset FROM (
    SELECT item_id, argMax(dataset_id, (occurred_at_ms, event_id)) AS latest_dataset,
           argMax(project_id, (occurred_at_ms, event_id)) AS latest_project
    FROM lineage_items GROUP BY item_id)
WHERE latest_project = ? AND latest_dataset != ''
ORDER BY latest_dataset`
)

// ReadVersion reads a dataset version's lineage from the chain read model: the same
// VersionLineage Graph.Audit builds from the log, judged by the same rule (chainOf). It
// returns ErrVersionNotFound when the version was never committed.
func ReadVersion(ctx context.Context, conn driver.Conn, ref VersionRef) (VersionLineage, error) {
	v := &Version{Ref: ref}
	var committed uint8
	if err := conn.QueryRow(ctx, VersionHeadQuery, ref.DatasetID, ref.Version).Scan(&committed, &v.Parent, &v.OccurredAt, &v.ManifestDigest); err != nil {
		return VersionLineage{}, fmt.Errorf("read version %s@%s: %w", ref.DatasetID, ref.Version, err)
	}
	if committed == 0 {
		return VersionLineage{}, ErrVersionNotFound{Ref: ref}
	}
	rows, err := conn.Query(ctx, VersionChainsQuery, chainArgs(ref.DatasetID, ref.Version, ref.DatasetID, ref.Version)...)
	if err != nil {
		return VersionLineage{}, fmt.Errorf("query chains of %s@%s: %w", ref.DatasetID, ref.Version, err)
	}
	defer rows.Close()
	chains := map[schemas.Member]MemberChain{}
	for rows.Next() {
		var (
			ds, ver                     string
			m                           schemas.Member
			it                          Item
			l                           Label
			r                           Review
			verdict                     string
			ingested, labeled, reviewed uint8
			retracted                   uint8
		)
		if err := rows.Scan(&ds, &ver, &m.ItemID, &m.LabelID, &ingested, &it.Source, &it.SHA256,
			&labeled, &l.ItemID, &l.AnnotatorID, &l.Cohort, &l.Vendor, &l.GuidelineVersion, &l.PreLabelModel, &retracted,
			&reviewed, &r.ReviewID, &r.ReviewerID, &verdict); err != nil {
			return VersionLineage{}, fmt.Errorf("scan chain of %s@%s: %w", ref.DatasetID, ref.Version, err)
		}
		l.Retracted, r.Verdict = retracted == 1, schemas.Verdict(verdict)
		var itp *Item
		var lp *Label
		var rp *Review
		if ingested == 1 {
			itp = &it
		}
		if labeled == 1 {
			lp = &l
		}
		if reviewed == 1 {
			rp = &r
		}
		v.Members = append(v.Members, m)
		chains[m] = chainOf(m, itp, lp, rp)
	}
	if err := rows.Err(); err != nil {
		return VersionLineage{}, fmt.Errorf("read chains of %s@%s: %w", ref.DatasetID, ref.Version, err)
	}
	id := VersionID(ref.DatasetID, ref.Version)
	gate, err := ReadGate(ctx, conn, ref)
	if err != nil {
		return VersionLineage{}, err
	}
	var using []string
	for _, r := range gate.Runs {
		using = append(using, r.RunID)
	}
	fixes, err := readStrings(ctx, conn, FixesQuery, id)
	if err != nil {
		return VersionLineage{}, fmt.Errorf("findings fixed by %s: %w", id, err)
	}
	return newVersionLineage(v, func(m schemas.Member) MemberChain { return chains[m] }, using, fixes, gate), nil
}

// ReadGate reads what the gate and the owners said about a version from the chain read model
// (migration 0046): every verdict of the gate, every override, and for each training run that
// used the version whether it was certified at the run's registration, assembled as Graph.Gate
// assembles them from the log (newGate). A version nobody judged reads as an empty Gate, also
// when it was never committed.
func ReadGate(ctx context.Context, conn driver.Conn, ref VersionRef) (Gate, error) {
	name := VersionID(ref.DatasetID, ref.Version)
	rows, err := conn.Query(ctx, VerdictsQuery, ref.DatasetID, ref.Version)
	if err != nil {
		return Gate{}, fmt.Errorf("query verdicts on %s: %w", name, err)
	}
	var verdicts []Verdict
	for rows.Next() {
		var (
			v                     Verdict
			certified             uint8
			target, scope, status []string
			detail                []string
			threshold             []float64
			figure, low, high     []*float64
			evidence              []int64
		)
		if err := rows.Scan(&v.EventID, &certified, &v.Sequence, &v.Supersedes, &v.ProjectID, &v.TargetsVersions, &v.Reason,
			&target, &scope, &threshold, &figure, &low, &high, &evidence, &status, &detail, &v.OccurredAt, &v.RecordedAt); err != nil {
			rows.Close()
			return Gate{}, fmt.Errorf("scan verdict on %s: %w", name, err)
		}
		v.Certified = certified == 1
		n := len(target)
		if len(scope) != n || len(threshold) != n || len(figure) != n || len(low) != n || len(high) != n || len(evidence) != n ||
			len(status) != n || len(detail) != n {
			rows.Close()
			return Gate{}, fmt.Errorf("verdict %s on %s: check arrays of unequal length", v.EventID, name)
		}
		v.Checks = make([]schemas.TargetCheck, n)
		for i := range n {
			v.Checks[i] = schemas.TargetCheck{Target: target[i], Scope: scope[i], Threshold: threshold[i], Figure: figure[i],
				Low: low[i], High: high[i], Evidence: evidence[i], Status: schemas.CheckStatus(status[i]), Detail: detail[i]}
		}
		verdicts = append(verdicts, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Gate{}, fmt.Errorf("read verdicts on %s: %w", name, err)
	}
	rows, err = conn.Query(ctx, OverridesQuery, ref.DatasetID, ref.Version)
	if err != nil {
		return Gate{}, fmt.Errorf("query overrides of %s: %w", name, err)
	}
	var overrides []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.EventID, &o.ProjectID, &o.Reason, &o.Producer, &o.OccurredAt, &o.RecordedAt); err != nil {
			rows.Close()
			return Gate{}, fmt.Errorf("scan override of %s: %w", name, err)
		}
		overrides = append(overrides, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Gate{}, fmt.Errorf("read overrides of %s: %w", name, err)
	}
	rows, err = conn.Query(ctx, RunsRegisteredQuery, name, ref.DatasetID, ref.Version)
	if err != nil {
		return Gate{}, fmt.Errorf("query training runs of %s: %w", name, err)
	}
	defer rows.Close()
	var runs []runAt
	for rows.Next() {
		var r runAt
		if err := rows.Scan(&r.id, &r.at); err != nil {
			return Gate{}, fmt.Errorf("scan training run of %s: %w", name, err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return Gate{}, fmt.Errorf("read training runs of %s: %w", name, err)
	}
	return newGate(verdicts, overrides, runs), nil
}

// ReadCompleteness reads lineage completeness (Tally) over the versions of project's
// datasets (by Graph.DatasetsOf's rule), or over every version when project is empty, from
// the chain read model: the members of each version are counted by the facts of their chains
// in ClickHouse and judged by Links.Missing.
func ReadCompleteness(ctx context.Context, conn driver.Conn, project string) (Completeness, error) {
	versions := map[VersionRef]VersionStatus{}
	rows, err := conn.Query(ctx, VersionStatusQuery)
	if err != nil {
		return Completeness{}, fmt.Errorf("query version manifests: %w", err)
	}
	for rows.Next() {
		var ref VersionRef
		var ok uint8
		if err := rows.Scan(&ref.DatasetID, &ref.Version, &ok); err != nil {
			rows.Close()
			return Completeness{}, fmt.Errorf("scan version manifest: %w", err)
		}
		versions[ref] = VersionStatus{ManifestOK: ok == 1}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Completeness{}, fmt.Errorf("read version manifests: %w", err)
	}
	rows, err = conn.Query(ctx, ChainFactsQuery)
	if err != nil {
		return Completeness{}, fmt.Errorf("query chain facts: %w", err)
	}
	for rows.Next() {
		var (
			ref VersionRef
			f   [9]uint8
			n   int64
		)
		if err := rows.Scan(&ref.DatasetID, &ref.Version, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &n); err != nil {
			rows.Close()
			return Completeness{}, fmt.Errorf("scan chain facts: %w", err)
		}
		ln := Links{Ingested: f[0] == 1, Source: f[1] == 1, Hash: f[2] == 1, Labeled: f[3] == 1, Annotator: f[4] == 1,
			OfItem: f[5] == 1, Retracted: f[6] == 1, Reviewed: f[7] == 1, Rejected: f[8] == 1}
		s := versions[ref]
		s.Members += int(n)
		if ln.Complete() {
			s.CompleteMembers += int(n)
		}
		versions[ref] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Completeness{}, fmt.Errorf("read chain facts: %w", err)
	}
	runs, err := readRuns(ctx, conn)
	if err != nil {
		return Completeness{}, err
	}
	var keep func(string) bool
	if project != "" {
		ds, err := readStrings(ctx, conn, ProjectDatasetsQuery, project)
		if err != nil {
			return Completeness{}, fmt.Errorf("datasets of project %s: %w", project, err)
		}
		datasets := map[string]bool{}
		for _, d := range ds {
			datasets[d] = true
		}
		keep = func(d string) bool { return datasets[d] }
	}
	return Tally(versions, runs, keep), nil
}

// readRuns reads the versions each training run used.
func readRuns(ctx context.Context, conn driver.Conn) (map[string][]VersionRef, error) {
	rows, err := conn.Query(ctx, RunsQuery)
	if err != nil {
		return nil, fmt.Errorf("query training runs: %w", err)
	}
	defer rows.Close()
	out := map[string][]VersionRef{}
	for rows.Next() {
		var run, id string
		if err := rows.Scan(&run, &id); err != nil {
			return nil, fmt.Errorf("scan training run: %w", err)
		}
		// An id that does not parse names no committed version: the run is incomplete.
		ref, _ := ParseVersionID(id)
		out[run] = append(out[run], ref)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read training runs: %w", err)
	}
	return out, nil
}

// readStrings runs a query of one String column.
func readStrings(ctx context.Context, conn driver.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
