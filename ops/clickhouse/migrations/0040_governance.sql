-- Governance (issue 20): a project's quality targets, the gate's verdicts on dataset versions
-- and owners' overrides, written by the ledger processor (streams/ledger) like the typed tables
-- of 0002_ledger.sql: the envelope and the record's place in the log first, the natural key then
-- event_id as the sorting key, kafka_offset as the version, PARTITION BY tuple(), read with
-- FINAL. Then two views: each judged version's standing verdict, and the training runs on
-- uncertified data (a KPI).

-- QualityTargetsSet (topic assay.projects.v1): one row per version of a project's targets, every
-- target flattened into columns. A target left out of the event is NULL (figures) or '' (its
-- level, its denominator); max_open_findings is two parallel arrays (severity, most allowed);
-- the flags are 0/1. The targets in force for a version committed at T are, per project,
-- dataset_id ('' = the whole project) and question_id ('' = every question), those with the
-- latest effective_at_ms <= T.
CREATE TABLE IF NOT EXISTS quality_targets (
    event_id String,
    event_type String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    recorded_at DateTime,
    recorded_at_ms Int64,
    producer String,
    correlation_id String,
    causation_id String,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    project_id String,
    targets_version String,
    dataset_id String,
    question_id String,
    effective_at_ms Int64,
    agreement_level String,
    agreement_min_alpha Nullable(Float64),
    agreement_min_pairable_values Nullable(Int64),
    agreement_on_lower_bound UInt8,
    accuracy_min_accuracy Nullable(Float64),
    accuracy_denominator String,
    accuracy_min_gold_labels Nullable(Int64),
    min_slice_coverage Nullable(Float64),
    min_edge_case_coverage Nullable(Float64),
    min_lineage_completeness Nullable(Float64),
    max_rework_rate Nullable(Float64),
    max_open_findings_severities Array(String),
    max_open_findings_max Array(Int64),
    allow_gold_in_training UInt8,
    max_label_drift Nullable(Float64)
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (project_id, targets_version, event_id);

-- DatasetVersionCertified (certified = 1) and DatasetVersionRejected (certified = 0), topic
-- assay.datasets.v1: one row per verdict of the gate. sequence numbers the verdicts on one
-- version (1, 2, ...), supersedes names the event_id of the one before. The checks are parallel
-- arrays, one element per target judged (ARRAY JOIN them); check_figure, check_low and
-- check_high are NULL where the check has no figure or no interval.
CREATE TABLE IF NOT EXISTS dataset_verdicts (
    event_id String,
    event_type String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    recorded_at DateTime,
    recorded_at_ms Int64,
    producer String,
    correlation_id String,
    causation_id String,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    certified UInt8,
    dataset_id String,
    version String,
    project_id String,
    targets_versions Array(String),
    sequence Int64,
    supersedes String,
    reason String,
    check_target Array(String),
    check_scope Array(String),
    check_threshold Array(Float64),
    check_figure Array(Nullable(Float64)),
    check_low Array(Nullable(Float64)),
    check_high Array(Nullable(Float64)),
    check_evidence Array(Int64),
    check_status Array(String),
    check_detail Array(String)
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, sequence, event_id);

-- GateOverrideGranted (topic assay.datasets.v1): one row per owner's override of the gate for a
-- dataset version, with its reason.
CREATE TABLE IF NOT EXISTS gate_overrides (
    event_id String,
    event_type String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    recorded_at DateTime,
    recorded_at_ms Int64,
    producer String,
    correlation_id String,
    causation_id String,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    dataset_id String,
    version String,
    project_id String,
    reason String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id);

-- The standing verdict of every judged dataset version: its latest verdict (highest sequence;
-- the gate numbers them without gaps or ties), with how many verdicts it had, and whether an
-- owner overrode the gate for it (overridden, overrides, the first one's recorded_at_ms, 0 when
-- none). Only overrides naming the verdict's project count (as the gate's Clearance, which the
-- gateway applies): an owner of another project cannot clear the version by naming their own.
-- trainable = certified OR overridden: what a training run on it may do. A committed
-- version the gate has not judged yet has no row. 18.16 allows one JOIN per SELECT, hence the
-- nesting; an aggregate is never aliased with a column's name (18.16 would read the alias
-- inside the other aggregates).
CREATE VIEW IF NOT EXISTS dataset_version_gate AS
SELECT
    dataset_id,
    version,
    project_id,
    certified,
    latest_sequence AS sequence,
    reason,
    targets_versions,
    verdict_event_id,
    verdict_at_ms,
    verdicts,
    overrides > 0 AS overridden,
    overrides,
    first_override_at_ms,
    certified OR overrides > 0 AS trainable
FROM
(
    SELECT
        dataset_id,
        version,
        argMax(project_id, sequence) AS project_id,
        argMax(certified, sequence) AS certified,
        max(sequence) AS latest_sequence,
        argMax(reason, sequence) AS reason,
        argMax(targets_versions, sequence) AS targets_versions,
        argMax(event_id, sequence) AS verdict_event_id,
        argMax(recorded_at_ms, sequence) AS verdict_at_ms,
        count() AS verdicts
    FROM dataset_verdicts FINAL
    GROUP BY dataset_id, version
) AS v
ANY LEFT JOIN
(
    SELECT dataset_id, version, project_id, count() AS overrides, min(recorded_at_ms) AS first_override_at_ms
    FROM gate_overrides FINAL
    GROUP BY dataset_id, version, project_id
) AS o USING (dataset_id, version, project_id);

-- "Training runs on uncertified data" (issue 20's KPI): one row per training run and dataset
-- version it used, judged as Assay knew it when it accepted the run: registered_at_ms is the
-- run's recorded_at_ms (the earliest, should a run be registered twice), and the version's
-- verdict is the latest (highest sequence) recorded at or before then. certified_at_registration
-- is that verdict's (0 when there was none: a version never judged is not certified);
-- verdict_sequence is its sequence (0: none); overridden_at_registration says whether an owner's
-- override naming the verdict's project was recorded by then. uncertified = NOT certified_at_registration: a run on an
-- overridden version still counts, so the KPI is
--   SELECT uniqExactIf(run_id, uncertified = 1) FROM kpi_training_runs_uncertified
-- project_id is the verdict's ('' when there was none).
CREATE VIEW IF NOT EXISTS kpi_training_runs_uncertified AS
SELECT
    run_id,
    dataset_id,
    version,
    project_id,
    registered_at_ms,
    certified_at_registration,
    certified_at_registration = 0 AS uncertified,
    sequence_at_registration AS verdict_sequence,
    verdict_event_id,
    first_override_at_ms > 0 AND first_override_at_ms <= registered_at_ms AS overridden_at_registration
FROM
(
    SELECT
        run_id,
        dataset_id,
        version,
        registered_at_ms,
        argMaxIf(verdict_project_id, verdict_sequence, verdict_at_ms <= registered_at_ms) AS project_id,
        argMaxIf(verdict_certified, verdict_sequence, verdict_at_ms <= registered_at_ms) AS certified_at_registration,
        maxIf(verdict_sequence, verdict_at_ms <= registered_at_ms) AS sequence_at_registration,
        argMaxIf(verdict_id, verdict_sequence, verdict_at_ms <= registered_at_ms) AS verdict_event_id
    FROM
    (
        SELECT run_id, dataset_id, version, min(recorded_at_ms) AS registered_at_ms
        FROM training_run_datasets FINAL
        GROUP BY run_id, dataset_id, version
    ) AS r
    ALL LEFT JOIN
    (
        SELECT
            dataset_id,
            version,
            project_id AS verdict_project_id,
            certified AS verdict_certified,
            sequence AS verdict_sequence,
            event_id AS verdict_id,
            recorded_at_ms AS verdict_at_ms
        FROM dataset_verdicts FINAL
    ) AS v USING (dataset_id, version)
    GROUP BY run_id, dataset_id, version, registered_at_ms
) AS j
ANY LEFT JOIN
(
    SELECT dataset_id, version, project_id, min(recorded_at_ms) AS first_override_at_ms
    FROM gate_overrides FINAL
    GROUP BY dataset_id, version, project_id
) AS o USING (dataset_id, version, project_id);
