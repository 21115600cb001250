-- KPI partials written by the streams/kpi processors, and the kpi_* views analysts read.
--
-- Every partial table holds, per Kafka (topic, partition), the partition's CURRENT total of
-- additive parts of a KPI, in a ReplacingMergeTree whose version is the Kafka offset of the
-- record that last changed the total. Reading with FINAL keeps each partition's latest total;
-- summing over partitions gives the global figure. So adding processor instances (which split
-- the partitions) never changes a figure, and a replayed batch (at-least-once delivery) writes
-- the same totals at the same offsets and collapses. PARTITION BY tuple(): ReplacingMergeTree
-- only collapses rows within one ClickHouse partition.
--
-- Portable SQL for ClickHouse 18.16 and current releases (no DateTime64, Map, LowCardinality,
-- window functions; views with FINAL and ARRAY JOIN, both available on 18.16).

-- Krippendorff coincidence cells (streams/agreement.Cell): count is the integer sum over the
-- partition's units with unit_size values of n_ua*n_ub (n_ua*(n_ua-1) when a = b), a <= b.
-- A unit is one item's answers to one question; scope is 'all', 'cohort:<c>' or 'vendor:<v>'
-- (within-cohort agreement: only that cohort's labels of the unit). A zero count is written
-- when a cell empties (it replaces the partition's previous total).
CREATE TABLE IF NOT EXISTS agreement_cells (
    project_id String,
    question_id String,
    level String,
    scope String,
    kafka_topic String,
    kafka_partition UInt32,
    unit_size UInt32,
    a String,
    b String,
    count Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, level, scope, kafka_topic, kafka_partition, unit_size, a, b);

-- Per annotator: pairs of (this annotator's label, another annotator's label of the same unit)
-- and how many of them are equal values.
CREATE TABLE IF NOT EXISTS annotator_pairs (
    project_id String,
    question_id String,
    annotator_id String,
    kafka_topic String,
    kafka_partition UInt32,
    pairs Int64,
    agreements Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, annotator_id, kafka_topic, kafka_partition);

-- Accuracy against gold: labels of items whose question has a gold answer (the latest
-- GoldLabelSet), counted in scope 'all', 'cohort:<c>', 'vendor:<v>' and 'annotator:<a>'.
-- correct: the label's value equals the gold value exactly (same level and same category for
-- nominal, same rank for ordinal, same number for interval/ratio, same set for multi_label).
-- total: the denominator, scored labels not retracted.
CREATE TABLE IF NOT EXISTS accuracy_counts (
    project_id String,
    question_id String,
    scope String,
    kafka_topic String,
    kafka_partition UInt32,
    correct Int64,
    total Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, scope, kafka_topic, kafka_partition);

-- When each item reached each stage (epoch ms of the event's occurred_at): ingested,
-- first_label, last_label, accepted (first accepting review), first_rework (first reject or
-- correct review). One topic per stage, so the offset version orders the rows of a key.
CREATE TABLE IF NOT EXISTS item_flow (
    item_id String,
    stage String,
    project_id String,
    at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (item_id, stage);

-- Review partials per reviews partition: reviews and those with verdict reject/correct;
-- distinct labels reviewed and distinct labels with at least one reject/correct.
CREATE TABLE IF NOT EXISTS rework_counts (
    kafka_topic String,
    kafka_partition UInt32,
    reviews Int64,
    rework_reviews Int64,
    labels_reviewed Int64,
    labels_reworked Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (kafka_topic, kafka_partition);

-- Global coincidence cells: partitions summed. Input of kpi.ReadAgreement (alpha at the
-- question's own level) and of kpi_agreement.
CREATE VIEW IF NOT EXISTS kpi_agreement_cells AS
SELECT project_id, question_id, level, scope, unit_size, a, b, sum(count) AS total
FROM agreement_cells FINAL
GROUP BY project_id, question_id, level, scope, unit_size, a, b
HAVING total > 0;

-- Agreement per (project, question, level, scope): pairable units (units with two or more
-- values), pairable values (n..) and Krippendorff's alpha with the NOMINAL distance
-- (1 - (n..-1) * sum_{c!=k} o_ck / (n..^2 - sum_c n_c^2)). For nominal questions that is
-- their alpha; for ordinal/interval/ratio/multi_label questions use kpi.ReadAgreement, which
-- applies the level's distance. alpha_nominal is nan when expected disagreement is zero.
-- Each cell is expanded to its one or two values so that marginals n_c can be summed.
CREATE VIEW IF NOT EXISTS kpi_agreement AS
SELECT project_id, question_id, level, scope,
       round(sum(u)) AS pairable_units,
       round(sum(nv)) AS pairable_values,
       if(pairable_values * pairable_values - sum(nv * nv) <= 0, nan,
          1 - (pairable_values - 1) * sum(d) / (pairable_values * pairable_values - sum(nv * nv))) AS alpha_nominal
FROM (
    SELECT project_id, question_id, level, scope, v,
           sum(total / (unit_size - 1)) AS nv,
           sum(total / (unit_size * (unit_size - 1))) AS u,
           sum(if(a != b, total / (unit_size - 1), 0)) AS d
    FROM kpi_agreement_cells
    ARRAY JOIN if(a = b, [a], [a, b]) AS v
    GROUP BY project_id, question_id, level, scope, v
)
GROUP BY project_id, question_id, level, scope;

-- Each annotator's agreement with the other annotators: equal pairs / pairs on shared units.
CREATE VIEW IF NOT EXISTS kpi_annotator_agreement AS
SELECT project_id, question_id, annotator_id,
       sum(pairs) AS pairs_compared,
       sum(agreements) AS pairs_agreeing,
       if(pairs_compared = 0, nan, pairs_agreeing / pairs_compared) AS agreement
FROM annotator_pairs FINAL
GROUP BY project_id, question_id, annotator_id
HAVING pairs_compared > 0;

-- Accuracy against gold: correct / total (the denominator is total, labels scored against a
-- gold answer; the error definition is above accuracy_counts).
CREATE VIEW IF NOT EXISTS kpi_accuracy AS
SELECT project_id, question_id, scope,
       sum(correct) AS correct_labels,
       sum(total) AS scored_labels,
       if(scored_labels = 0, nan, correct_labels / scored_labels) AS accuracy
FROM accuracy_counts FINAL
GROUP BY project_id, question_id, scope
HAVING scored_labels > 0;

-- One row per item with its stage times (0 = stage not reached) and whether it was relabeled
-- (a label submitted after its first reject/correct review).
CREATE VIEW IF NOT EXISTS kpi_item_cycle AS
SELECT item_id,
       anyIf(project_id, stage = 'ingested') AS project_id,
       sumIf(at_ms, stage = 'ingested') AS ingested_at_ms,
       sumIf(at_ms, stage = 'first_label') AS first_label_at_ms,
       sumIf(at_ms, stage = 'last_label') AS last_label_at_ms,
       sumIf(at_ms, stage = 'accepted') AS accepted_at_ms,
       sumIf(at_ms, stage = 'first_rework') AS first_rework_at_ms,
       first_rework_at_ms > 0 AND last_label_at_ms > first_rework_at_ms AS relabeled
FROM item_flow FINAL
GROUP BY item_id;

-- Cycle time per project, over items that were ingested, labeled and accepted: ingest to
-- first label, and ingest to first accepting review, p50 and p90 in seconds (exact quantiles).
CREATE VIEW IF NOT EXISTS kpi_cycle_time AS
SELECT project_id,
       count() AS items,
       quantileExact(0.5)((first_label_at_ms - ingested_at_ms) / 1000) AS to_first_label_p50_s,
       quantileExact(0.9)((first_label_at_ms - ingested_at_ms) / 1000) AS to_first_label_p90_s,
       quantileExact(0.5)((accepted_at_ms - ingested_at_ms) / 1000) AS to_accepted_p50_s,
       quantileExact(0.9)((accepted_at_ms - ingested_at_ms) / 1000) AS to_accepted_p90_s,
       countIf(relabeled) AS items_relabeled
FROM kpi_item_cycle
WHERE ingested_at_ms > 0 AND first_label_at_ms > 0 AND accepted_at_ms > 0
GROUP BY project_id;

-- Rework rate: labels with at least one reject/correct review / labels reviewed; and per
-- review: reject/correct reviews / reviews.
CREATE VIEW IF NOT EXISTS kpi_rework AS
SELECT sum(labels_reviewed) AS labels_reviewed,
       sum(labels_reworked) AS labels_reworked,
       if(labels_reviewed = 0, nan, labels_reworked / labels_reviewed) AS rework_rate,
       sum(reviews) AS reviews,
       sum(rework_reviews) AS rework_reviews,
       if(reviews = 0, nan, rework_reviews / reviews) AS review_rework_rate
FROM rework_counts FINAL;
