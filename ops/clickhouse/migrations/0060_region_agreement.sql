-- Region agreement (issue 21), written by the kpi_regions processor (streams/kpi) with the
-- definitions of streams/regions: for each unit (an item's labels to one spans or boxes
-- question of a project) and each pair of annotators who both labeled it, their regions
-- matched one to one by maximum total IoU among same-label pairs with IoU >= iou_threshold
-- (pairwise F1, mean IoU, F1 per label), and again among pairs of any labels (label alpha);
-- each annotator's regions matched against the item's gold regions the same way (precision,
-- recall, F1). An annotator's answer on a unit is their latest label (by occurred_at, then
-- label id). Scopes: 'all'; 'cohort:<c>' and 'vendor:<v>' (the pairs of two annotators of the
-- cohort or vendor; for gold, its annotators' answers); 'annotator:<a>' (the pairs involving
-- a; for gold, a's answers).
--
-- iou_threshold is the threshold the figures were computed at: kpi_regions matches at
-- schemas.DefaultIoUThreshold (0.5), whatever a question's QuestionDefined states (the labels
-- topic does not see the projects topic); kpi.ReadRegions sets the question's own threshold
-- beside it.
--
-- day is the UTC day of the unit's first counted label, as in agreement_cells_daily
-- (migration 0007): every figure is kept per day, so a window of days is the sum over its
-- days and all time the sum over every day. Same per-partition-total pattern as migration
-- 0003: ReplacingMergeTree versioned by the Kafka offset, read with FINAL and summed over
-- partitions and days; a total that empties is written as zeros.

-- The same-label matching's counts (streams/regions.Figures): label '' holds the micro
-- totals, with unit_pairs the unit pairs compared (units × pairs of annotators, those where
-- both lists were empty included); one row per label holds the label's counts (unit_pairs
-- 0). regions_a and regions_b are the regions of the annotator whose id sorts first and of
-- the other; iou_micro is the matched pairs' IoU summed in millionths (regions.Micro).
-- Pairwise F1 = 2 × matched / (regions_a + regions_b); mean IoU = iou_micro / matched / 10^6.
CREATE TABLE IF NOT EXISTS region_pairs (
    project_id String,
    question_id String,
    level String,
    scope String,
    day Date,
    iou_threshold Float64,
    kafka_topic String,
    kafka_partition UInt32,
    label String,
    unit_pairs Int64,
    matched Int64,
    regions_a Int64,
    regions_b Int64,
    iou_micro Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, day, iou_threshold, kafka_topic, kafka_partition, label);

-- Label alpha's coincidence cells (streams/agreement.Cell, as agreement_cells): every pair of
-- regions the any-label matching makes is a unit of two values, their two labels.
CREATE TABLE IF NOT EXISTS region_label_cells (
    project_id String,
    question_id String,
    level String,
    scope String,
    day Date,
    iou_threshold Float64,
    kafka_topic String,
    kafka_partition UInt32,
    unit_size UInt32,
    a String,
    b String,
    count Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, day, iou_threshold, kafka_topic, kafka_partition, unit_size, a, b);

-- Accuracy against gold regions: every annotator's answer on an item question with gold
-- regions of its level (the latest GoldLabelSet; a correction re-scores), label '' the micro
-- totals with values_scored the answers scored, one row per label its counts.
-- Precision = true_positives / predicted, recall = true_positives / gold,
-- F1 = 2 × true_positives / (predicted + gold).
CREATE TABLE IF NOT EXISTS region_gold (
    project_id String,
    question_id String,
    level String,
    scope String,
    day Date,
    iou_threshold Float64,
    kafka_topic String,
    kafka_partition UInt32,
    label String,
    values_scored Int64,
    true_positives Int64,
    predicted Int64,
    gold Int64,
    iou_micro Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, day, iou_threshold, kafka_topic, kafka_partition, label);

-- Region agreement over all time, per label ('' = all labels): partitions and days summed.
-- pairwise_f1 and mean_iou are nan where undefined (no regions; no matched pair). Label alpha
-- is not a plain sum: kpi.ReadRegions computes it (and every figure here) from the tables.
CREATE VIEW IF NOT EXISTS kpi_region_agreement AS
SELECT project_id, question_id, level, scope, iou_threshold, label,
       sum(unit_pairs) AS unit_pairs_compared,
       sum(matched) AS matched_pairs,
       sum(regions_a) + sum(regions_b) AS regions,
       if(regions = 0, nan, 2 * matched_pairs / regions) AS pairwise_f1,
       if(matched_pairs = 0, nan, sum(iou_micro) / matched_pairs / 1000000) AS mean_iou
FROM region_pairs FINAL
GROUP BY project_id, question_id, level, scope, iou_threshold, label
HAVING unit_pairs_compared > 0 OR regions > 0;

-- Accuracy against gold regions over all time, per label ('' = all labels).
CREATE VIEW IF NOT EXISTS kpi_region_gold AS
SELECT project_id, question_id, level, scope, iou_threshold, label,
       sum(values_scored) AS answers_scored,
       sum(true_positives) AS true_positives,
       sum(predicted) AS predicted_regions,
       sum(gold) AS gold_regions,
       if(predicted_regions = 0, nan, true_positives / predicted_regions) AS precision,
       if(gold_regions = 0, nan, true_positives / gold_regions) AS recall,
       if(predicted_regions + gold_regions = 0, nan, 2 * true_positives / (predicted_regions + gold_regions)) AS f1
FROM region_gold FINAL
GROUP BY project_id, question_id, level, scope, iou_threshold, label
HAVING answers_scored > 0 OR predicted_regions > 0 OR gold_regions > 0;
