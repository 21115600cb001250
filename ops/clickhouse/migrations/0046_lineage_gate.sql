-- The gate in the chain read model of streams/lineage (processor "lineage"): the gate's
-- verdicts on dataset versions and the owners' overrides, one row per event, as the other
-- chain tables (0025) hold the links of a member's chain. lineage.ReadGate (and through it
-- lineage.ReadVersion, the API's /v1/lineage and assay gate) reads them, and assay audit checks
-- that they agree with the log it replays. A verdict whose producer is not the gate
-- (assay-processor/gate) is refused by the processor and never written here.
--
-- Keyed by the version and event_id, so a replayed batch or a duplicate collapses into one row;
-- reads group by event_id and decide "latest" as the in-memory model (lineage.Graph) does: the
-- verdict in force is the one of the highest sequence (then occurred_at, event id). No FINAL.
--
-- Whether a training run was certified at its registration is judged as Assay knew it when it
-- accepted the run, on recorded_at (the gateway's stamp on the run, the gate's on its
-- verdict), the rule of the ledger's kpi_training_runs_uncertified (0040): hence
-- recorded_at_ms here, and lineage_runs.

-- DatasetVersionCertified (certified = 1) and DatasetVersionRejected (certified = 0). The
-- checks (schemas.TargetCheck) are parallel arrays, one element per check in the gate's order;
-- figure, low and high are NULL where the check has none.
CREATE TABLE IF NOT EXISTS lineage_verdicts (
    dataset_id String,
    version String,
    sequence Int64,
    certified UInt8,
    supersedes String,
    project_id String,
    targets_versions Array(String),
    reason String,
    check_target Array(String),
    check_scope Array(String),
    check_threshold Array(Float64),
    check_figure Array(Nullable(Float64)),
    check_low Array(Nullable(Float64)),
    check_high Array(Nullable(Float64)),
    check_evidence Array(Int64),
    check_status Array(String),
    check_detail Array(String),
    recorded_at_ms Int64,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id);

-- GateOverrideGranted: an owner's override of a version, with its reason and who granted it
-- (the envelope's producer).
CREATE TABLE IF NOT EXISTS lineage_overrides (
    dataset_id String,
    version String,
    project_id String,
    reason String,
    producer String,
    recorded_at_ms Int64,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id);

-- TrainingRunRegistered: one row per registration and dataset version it names, with the
-- registration's recorded_at_ms; the earliest one of a run on a version is when Assay accepted
-- the run on it. (Which runs use a version is still read from lineage_edges, rel 'trained', by
-- each run's latest registration.)
CREATE TABLE IF NOT EXISTS lineage_runs (
    run_id String,
    dataset_id String,
    version String,
    recorded_at_ms Int64,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, run_id, event_id);
