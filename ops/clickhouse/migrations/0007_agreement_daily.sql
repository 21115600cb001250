-- Agreement over windows of days: the coincidence cells of agreement_cells (migration 0003)
-- again, split by the UTC day a unit started (the occurred_at of its first counted label), so
-- the cells of the units that started in a window merge into that window's alpha. A unit keeps
-- its day while it has labels; later labels and retractions update that day's cells. Same
-- per-partition-total pattern: ReplacingMergeTree versioned by the Kafka offset, read with FINAL
-- and summed over partitions (and over the days of the window). Read with kpi.ReadAgreementWindow.
CREATE TABLE IF NOT EXISTS agreement_cells_daily (
    project_id String,
    question_id String,
    level String,
    scope String,
    day Date,
    kafka_topic String,
    kafka_partition UInt32,
    unit_size UInt32,
    a String,
    b String,
    count Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, day, kafka_topic, kafka_partition, unit_size, a, b);
