-- Snapshots of the processors' partition states (streams/runtime ClickHouseSnapshots, runner
-- option WithSnapshots). A runner restores a newly assigned partition from its latest snapshot
-- and replays only the log after kafka_offset, instead of the whole partition. The log stays
-- the source of truth: a missing, incomplete or unreadable snapshot (its own checksum, processor,
-- partition and state version are checked) means a rebuild from the start of the log.
--
-- One row per chunk (1 MiB of data) of a snapshot; a snapshot is one INSERT, one part, so it is
-- stored whole or not at all. snapshot_id is the writer's clock in nanoseconds: the newest
-- whole snapshot of a (processor, kafka_topic, kafka_partition) is the one read, and merges
-- (ReplacingMergeTree versioned by snapshot_id, keyed by chunk) drop the older ones' chunks.
-- data is binary (the runner's frame around the processor's encoding), not text.
-- index_granularity is small because rows are large: a granule of 16 rows is 16 MiB.
--
-- What is stored, per state, for an operator:
--   SELECT processor, kafka_topic, kafka_partition, max(written_at), argMax(kafka_offset, snapshot_id),
--          argMax(bytes, snapshot_id)
--   FROM processor_snapshots GROUP BY processor, kafka_topic, kafka_partition
-- Deleting a state's rows (or the whole table's) is always safe: the next assignment rebuilds
-- it from the log.
CREATE TABLE IF NOT EXISTS processor_snapshots (
    processor String,
    kafka_topic String,
    kafka_partition UInt32,
    snapshot_id UInt64,
    chunk UInt32,
    chunks UInt32,
    chunk_at UInt64,
    bytes UInt64,
    state_version UInt32,
    kafka_offset UInt64,
    written_at DateTime,
    data String
) ENGINE = ReplacingMergeTree(snapshot_id)
PARTITION BY tuple()
ORDER BY (processor, kafka_topic, kafka_partition, chunk)
SETTINGS index_granularity = 16;
