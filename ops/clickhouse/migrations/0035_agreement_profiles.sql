-- Unit profiles for alpha's confidence interval, written by the kpi_agreement processor. The
-- interval (streams/agreement.AlphaInterval, the jackknife over units) leaves out one unit at a
-- time, so it needs more than the coincidence cells: each pairable unit's multiset of values.
-- Units with the same multiset (profile) contribute alike, so the processor keeps, per
-- partition, how many of its units of each (project, question, level, scope) hold each profile,
-- split by the UTC day a unit started like agreement_cells_daily (migration 0007), so windows
-- of days get their interval too. A unit whose values change moves from one profile to another
-- (two rows); a profile left without units is written with units = 0. Units with fewer than
-- two values in the scope are not pairable and have no profile, as they have no cells.
--
-- profile is the key: agreement.ProfileKey, a JSON array of the unit's values sorted, with
-- repeats (e.g. ["cat","cat","dog"]). values and counts say the same readably: the distinct
-- values, sorted, and how many times each occurs (arraySum(counts) is the unit's size).
-- Same per-partition-total pattern as migration 0003: ReplacingMergeTree versioned by the
-- Kafka offset, read with FINAL and summed over partitions (and days).
CREATE TABLE IF NOT EXISTS agreement_profiles (
    project_id String,
    question_id String,
    level String,
    scope String,
    day Date,
    kafka_topic String,
    kafka_partition UInt32,
    profile String,
    values Array(String),
    counts Array(UInt32),
    units Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, day, kafka_topic, kafka_partition, profile);

-- Profiles over all time: partitions and days summed. Input of kpi.ReadAgreement's alpha_ci.
CREATE VIEW IF NOT EXISTS kpi_agreement_profiles AS
SELECT project_id, question_id, level, scope, profile, values, counts, sum(units) AS unit_count
FROM agreement_profiles FINAL
GROUP BY project_id, question_id, level, scope, profile, values, counts
HAVING unit_count > 0;
