-- The unit profiles of agreement_profiles (migration 0035) over all time, kept by the
-- kpi_agreement processor beside the daily ones (issue 17: the read side does not grow with
-- history): per partition, the units of each (project, question, level, scope) by profile,
-- every day summed, so that alpha's all-time interval (kpi.ReadAgreement) reads a few rows a
-- profile instead of a row per profile and day. Same per-partition-total pattern as migration
-- 0003: ReplacingMergeTree versioned by the Kafka offset, read with FINAL and summed over
-- partitions; a total that empties is written as 0.
CREATE TABLE IF NOT EXISTS agreement_profiles_total (
    project_id String,
    question_id String,
    level String,
    scope String,
    kafka_topic String,
    kafka_partition UInt32,
    profile String,
    values Array(String),
    counts Array(UInt32),
    units Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, kafka_topic, kafka_partition, profile);

-- The totals of the profiles written before this table existed: each partition's daily
-- totals summed, versioned by the latest of their offsets. The processor writes a profile's
-- total, at a later offset, whenever it changes (its state holds every day's).
INSERT INTO agreement_profiles_total (project_id, question_id, level, scope, kafka_topic, kafka_partition, profile, values, counts, units, version)
SELECT project_id, question_id, level, scope, kafka_topic, kafka_partition, profile, any(values), any(counts), sum(units), max(version)
FROM agreement_profiles FINAL
GROUP BY project_id, question_id, level, scope, kafka_topic, kafka_partition, profile;
