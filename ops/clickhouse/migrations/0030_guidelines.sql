-- GuidelineReleased (topic assay.projects.v1): one row per released version of a project's
-- annotation guideline, written by the ledger processor (streams/ledger) like the typed tables of
-- 0002_ledger.sql: the envelope and the record's place in the log first, the natural key then
-- event_id as the sorting key, kafka_offset as the version, PARTITION BY tuple(), read with FINAL.
-- labels.guideline_version names these versions: join on (project_id, guideline_version).
CREATE TABLE IF NOT EXISTS guidelines (
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
    guideline_version String,
    supersedes String,
    uri String,
    sha256 String,
    summary String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (project_id, guideline_version, event_id);
