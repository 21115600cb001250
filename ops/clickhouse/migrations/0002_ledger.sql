-- The typed ledger: one table per event type (plus child tables for lists that analysts join),
-- written by the ledger processor (streams/ledger). Every table starts with the envelope and the
-- record's place in the log (kafka_topic, kafka_partition, kafka_offset).
--
-- Exactly-once effect: the processor writes at least once (a crash between the insert and the
-- offset commit replays the batch), and ReplacingMergeTree collapses the copies. The sorting key
-- of every table is its natural key followed by event_id, so the key is derived from the
-- event_id: a replayed batch AND a client duplicate (the same event_id accepted twice, hence at
-- two offsets) collapse into one row; the version column kafka_offset keeps the latest copy.
-- Collapsing happens in background merges, so queries use FINAL (or argMax / GROUP BY on the
-- key): see "Querying the ledger" in README.md.
--
-- PARTITION BY tuple(): ReplacingMergeTree only collapses rows within one partition, and two
-- copies of an event need not share occurred_at (the gateway stamps occurred_at when the client
-- leaves it out, and recorded_at always), so partitioning by time could keep both copies.
--
-- Portable SQL for ClickHouse 18.16 and current releases: DateTime plus Int64 milliseconds,
-- String instead of LowCardinality/Enum, Nullable only outside the sorting key.

-- ItemIngested
CREATE TABLE IF NOT EXISTS items (
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
    item_id String,
    source String,
    uri String,
    sha256 String,
    modality String,
    slice_tags Array(String),
    edge_case_tags Array(String),
    dataset_id String,
    project_id String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, event_id);

-- PreLabelProposed
CREATE TABLE IF NOT EXISTS prelabels (
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
    item_id String,
    question_id String,
    model String,
    model_version String,
    value_level String,
    value_category String,
    value_rank Nullable(Int32),
    value_number Nullable(Float64),
    value_categories Array(String),
    confidence Float64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, question_id, event_id);

-- RoutingDecided
CREATE TABLE IF NOT EXISTS routing (
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
    item_id String,
    question_id String,
    route String,
    rule String,
    input_names Array(String),
    input_values Array(Float64),
    reason String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, question_id, event_id);

-- LabelSubmitted
CREATE TABLE IF NOT EXISTS labels (
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
    label_id String,
    item_id String,
    project_id String,
    task_id String,
    question_id String,
    annotator_id String,
    cohort String,
    vendor String,
    guideline_version String,
    value_level String,
    value_category String,
    value_rank Nullable(Int32),
    value_number Nullable(Float64),
    value_categories Array(String),
    time_spent_ms Int64,
    prelabel_model String,
    prelabel_model_version String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, label_id, event_id);

-- LabelRetracted
CREATE TABLE IF NOT EXISTS label_retractions (
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
    label_id String,
    item_id String,
    reason String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, label_id, event_id);

-- GoldLabelSet
CREATE TABLE IF NOT EXISTS gold_labels (
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
    item_id String,
    question_id String,
    value_level String,
    value_category String,
    value_rank Nullable(Int32),
    value_number Nullable(Float64),
    value_categories Array(String),
    set_by String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, question_id, event_id);

-- ReviewCompleted
CREATE TABLE IF NOT EXISTS reviews (
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
    review_id String,
    label_id String,
    item_id String,
    reviewer_id String,
    verdict String,
    corrected_level String,
    corrected_category String,
    corrected_rank Nullable(Int32),
    corrected_number Nullable(Float64),
    corrected_categories Array(String),
    reason String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, label_id, review_id, event_id);

-- CoverageTargetSet (slice and edge-case targets as parallel arrays; ARRAY JOIN them)
CREATE TABLE IF NOT EXISTS coverage_targets (
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
    slice_names Array(String),
    slice_target_shares Array(Nullable(Float64)),
    slice_min_counts Array(Nullable(Int64)),
    edge_case_tags Array(String),
    edge_case_min_counts Array(Int64)
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, event_id);

-- DatasetVersionCommitted (one row per version; members in dataset_members)
CREATE TABLE IF NOT EXISTS dataset_versions (
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
    parent_version String,
    member_count UInt64,
    manifest_digest String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id);

-- DatasetVersionCommitted, one row per member
CREATE TABLE IF NOT EXISTS dataset_members (
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
    item_id String,
    label_id String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, item_id, label_id, event_id);

-- TrainingRunRegistered (dataset versions in training_run_datasets)
CREATE TABLE IF NOT EXISTS training_runs (
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
    run_id String,
    model String,
    dataset_id String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (run_id, event_id);

-- TrainingRunRegistered, one row per dataset version used
CREATE TABLE IF NOT EXISTS training_run_datasets (
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
    run_id String,
    dataset_id String,
    version String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (run_id, dataset_id, version, event_id);

-- EvalFindingReported (implicated items in finding_items)
CREATE TABLE IF NOT EXISTS findings (
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
    finding_id String,
    eval_run String,
    model String,
    training_run_id String,
    slice String,
    severity String,
    project_id String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (finding_id, event_id);

-- EvalFindingReported, one row per implicated item
CREATE TABLE IF NOT EXISTS finding_items (
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
    finding_id String,
    item_id String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (finding_id, item_id, event_id);

-- RemediationStarted (stage 'started': owner, plan) and RemediationShipped (stage 'shipped': dataset_id, fixing_version)
CREATE TABLE IF NOT EXISTS remediations (
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
    finding_id String,
    stage String,
    owner String,
    plan String,
    dataset_id String,
    fixing_version String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (finding_id, stage, event_id);

-- EventRejected: rejected input verbatim with the reason
CREATE TABLE IF NOT EXISTS dlq (
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
    source String,
    original String,
    reason String,
    field String,
    original_producer String,
    original_topic String,
    original_partition Nullable(Int32),
    original_offset Nullable(Int64)
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (source, event_id);
