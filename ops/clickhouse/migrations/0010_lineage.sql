-- Lineage graph (streams/lineage processor "lineage"): nodes and edges for walking the chain
-- source → item → label → review → dataset_version → training_run → finding → remediation →
-- fixing dataset_version with SQL. Read with FINAL (or GROUP BY the key).

-- One row per node: re-written by every event that mentions it, the latest offset wins.
-- Attributes are parallel arrays: attr_values[indexOf(attr_names, 'cohort')].
CREATE TABLE IF NOT EXISTS lineage_nodes (
    kind String,
    id String,
    attr_names Array(String),
    attr_values Array(String),
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (kind, id);

-- One row per edge and event that asserts it ("src rel dst"); event_id is the provenance.
CREATE TABLE IF NOT EXISTS lineage_edges (
    src_kind String,
    src_id String,
    rel String,
    dst_kind String,
    dst_id String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (src_kind, src_id, rel, dst_kind, dst_id, event_id);

-- Evaluation-to-remediation time by severity (DESIGN.md KPIs): EvalFindingReported →
-- first RemediationShipped, on occurred_at. Quantiles are exact (quantileExact: the value at
-- rank floor(level * n), no interpolation); open findings are aged at query time.
CREATE VIEW IF NOT EXISTS kpi_remediation AS
SELECT
    severity,
    count() AS findings,
    countIf(shipped_at_ms > 0) AS shipped,
    countIf(shipped_at_ms = 0) AS open,
    quantileExactIf(0.5)(shipped_at_ms - reported_at_ms, shipped_at_ms > 0) / 1000 AS time_to_fix_p50_s,
    quantileExactIf(0.9)(shipped_at_ms - reported_at_ms, shipped_at_ms > 0) / 1000 AS time_to_fix_p90_s,
    maxIf(toInt64(toUnixTimestamp(now())) * 1000 - reported_at_ms, shipped_at_ms = 0) / 1000 AS oldest_open_age_s,
    avgIf(toInt64(toUnixTimestamp(now())) * 1000 - reported_at_ms, shipped_at_ms = 0) / 1000 AS mean_open_age_s
FROM
(
    SELECT finding_id, severity, reported_at_ms, shipped_at_ms
    FROM
    (
        SELECT finding_id, any(severity) AS severity, min(occurred_at_ms) AS reported_at_ms
        FROM findings
        GROUP BY finding_id
    ) AS rep
    ANY LEFT JOIN
    (
        SELECT finding_id, min(occurred_at_ms) AS shipped_at_ms
        FROM remediations
        WHERE stage = 'shipped'
        GROUP BY finding_id
    ) AS shp USING (finding_id)
)
GROUP BY severity;
