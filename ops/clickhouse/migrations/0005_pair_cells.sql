-- Pairwise agreement (Cohen's kappa) partials written by the kpi_agreement processor: per
-- partition, for every pair of annotators (annotator_a < annotator_b) and the values they gave
-- the same unit (one item's answers to one question), how many such units there are. Same
-- per-partition-total pattern as agreement_cells (migration 0003): ReplacingMergeTree versioned
-- by the Kafka offset, read with FINAL and summed over partitions.
CREATE TABLE IF NOT EXISTS annotator_pair_cells (
    project_id String,
    question_id String,
    level String,
    annotator_a String,
    annotator_b String,
    kafka_topic String,
    kafka_partition UInt32,
    value_a String,
    value_b String,
    count Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, annotator_a, annotator_b, kafka_topic, kafka_partition, value_a, value_b);

-- Merged contingency tables of every annotator pair; kpi.ReadPairwiseKappa computes Cohen's
-- kappa from them. units_in_cell is the number of units where a gave value_a and b value_b.
CREATE VIEW IF NOT EXISTS kpi_annotator_pair_cells AS
SELECT project_id, question_id, level, annotator_a, annotator_b, value_a, value_b, sum(count) AS units_in_cell
FROM annotator_pair_cells FINAL
GROUP BY project_id, question_id, level, annotator_a, annotator_b, value_a, value_b
HAVING units_in_cell > 0;
