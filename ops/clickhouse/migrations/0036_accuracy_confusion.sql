-- Error types of accuracy against gold, written by the kpi_accuracy processor beside
-- accuracy_counts (migration 0003, unchanged): per partition, the labels that accuracy scores
-- (labels of items whose question has a gold answer, the latest GoldLabelSet; retracted labels
-- left out) counted by the gold value and the labeled value, both in canonical text form (the
-- category; the rank for ordinal; the shortest round-tripping number for interval and ratio;
-- the sorted set as a JSON array for multi_label). Same scopes as accuracy_counts: 'all',
-- 'cohort:<c>', 'vendor:<v>', 'annotator:<a>'. So, per (project, question, scope), the counts
-- summed over label_value are accuracy's denominator (scored labels) split by gold value, and
-- the diagonal (label_value = gold_value) is its numerator (correct labels); every
-- off-diagonal cell is one kind of error. A label at another level of measurement than the
-- gold answer's is an error with no comparable value: label_value '' (no canonical value is
-- empty). A corrected gold answer moves the item's labels to the new gold value's row; a cell
-- that empties is written with count 0. Same per-partition-total pattern as migration 0003:
-- ReplacingMergeTree versioned by the Kafka offset, read with FINAL and summed over partitions.
CREATE TABLE IF NOT EXISTS accuracy_confusion (
    project_id String,
    question_id String,
    scope String,
    kafka_topic String,
    kafka_partition UInt32,
    gold_value String,
    label_value String,
    count Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, scope, kafka_topic, kafka_partition, gold_value, label_value);

-- The confusion over every partition. error = 1 off the diagonal: labels counted as errors.
-- Read with kpi.ReadConfusion (top confusions: error = 1, by labels descending).
CREATE VIEW IF NOT EXISTS kpi_accuracy_confusion AS
SELECT project_id, question_id, scope, gold_value, label_value,
       sum(count) AS labels,
       gold_value != label_value AS error
FROM accuracy_confusion FINAL
GROUP BY project_id, question_id, scope, gold_value, label_value
HAVING labels > 0;
