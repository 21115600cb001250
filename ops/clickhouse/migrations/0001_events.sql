-- The raw ledger: one row per Kafka record of every contract topic, with the envelope as
-- columns and the payload as JSON. The key (topic, partition, offset) is where the record sits
-- in the log, so replaying a batch collapses into the same rows instead of adding new ones; a
-- client retry that reached Kafka twice stays visible here as two offsets with one event_id
-- (the typed tables collapse it by event_id).
CREATE TABLE IF NOT EXISTS events (
    topic String,
    partition UInt32,
    offset UInt64,
    record_key String,
    event_id String,
    event_type String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    recorded_at DateTime,
    recorded_at_ms Int64,
    producer String,
    correlation_id String,
    causation_id String,
    schema_fingerprint UInt64,
    payload String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (topic, partition, offset);
