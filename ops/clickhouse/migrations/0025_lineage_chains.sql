-- The chain read model of streams/lineage (processor "lineage"): what a member's chain and a
-- version's completeness are judged from, typed, one row per event that states it. The API
-- reads lineage and lineage completeness here (lineage.ReadVersion, lineage.ReadCompleteness),
-- and assay audit checks that these tables agree with the log it replays.
--
-- Nothing is collapsed to "the latest" when written: every statement keeps its row (keyed by
-- its natural key and event_id, so a replayed batch or a client duplicate collapses into one
-- row), and the reads choose the way the in-memory model (lineage.Graph) does, whatever order
-- the partitions were consumed in: an item's, a label's latest statement and a label's latest
-- review by (occurred_at_ms, event_id), a version's earliest commit, any retraction.
-- Reads aggregate with argMax/argMin/max or DISTINCT, which copies of one event cannot change,
-- so they need no FINAL.

-- ItemIngested: source and content hash of each ingest, with the project and dataset (the
-- datasets of a project are those its items were ingested into).
CREATE TABLE IF NOT EXISTS lineage_items (
    item_id String,
    source String,
    sha256 String,
    project_id String,
    dataset_id String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, event_id);

-- LabelSubmitted (retracted = 0: who labeled which item) and LabelRetracted (retracted = 1,
-- the other columns empty).
CREATE TABLE IF NOT EXISTS lineage_labels (
    label_id String,
    retracted UInt8,
    item_id String,
    annotator_id String,
    cohort String,
    vendor String,
    guideline_version String,
    prelabel_model String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (label_id, event_id);

-- ReviewCompleted: each review of a label.
CREATE TABLE IF NOT EXISTS lineage_reviews (
    label_id String,
    review_id String,
    reviewer_id String,
    verdict String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (label_id, event_id);

-- DatasetVersionCommitted: each commit of a version; manifest_ok says whether its manifest
-- digest equals schemas.ManifestDigest of its members.
CREATE TABLE IF NOT EXISTS lineage_versions (
    dataset_id String,
    version String,
    parent_version String,
    manifest_digest String,
    manifest_ok UInt8,
    member_count UInt32,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id);

-- The members (item, label) of each commit, event_id naming the commit.
CREATE TABLE IF NOT EXISTS lineage_members (
    dataset_id String,
    version String,
    item_id String,
    label_id String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (dataset_id, version, event_id, item_id, label_id);
