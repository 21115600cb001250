-- Preference figures (issue 21), written by the kpi_preference processor (streams/kpi) with
-- the definitions of streams/preference. A unit is an item's preference labels to one
-- question of a project; an annotator's answer on it is their latest label (by occurred_at,
-- then label id). Scopes: 'all', 'cohort:<c>', 'vendor:<v>' (the answers of the cohort's or
-- vendor's annotators) and, for position bias and accuracy, 'annotator:<a>'. day is the UTC
-- day of the unit's first counted label (as agreement_cells_daily, migration 0007): every
-- figure is kept per day, summed over a window's days or all of them. Same per-partition-total
-- pattern as migration 0003: ReplacingMergeTree versioned by the Kafka offset, read with FINAL
-- and summed over partitions and days; a total that empties is written as zeros.

-- Coincidence cells of alpha (streams/agreement.Cell, as agreement_cells) per coding:
-- 'nominal', the chosen response's index in the item's canonical order
-- (preference.NominalValue); 'ordinal', the signed strength (kpi.OrdinalCode: -s choosing the
-- first response with strength s, +s choosing the second), which orders answers exactly as
-- preference.OrdinalValue's 2S ranks without knowing the question's scale S, so ordinal alpha
-- is the same; answers without strength, or of items of other than two responses, have no
-- ordinal code.
CREATE TABLE IF NOT EXISTS preference_cells (
    project_id String,
    question_id String,
    coding String,
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
ORDER BY (project_id, question_id, coding, scope, day, kafka_topic, kafka_partition, unit_size, a, b);

-- Unit profiles per coding (as agreement_profiles, migration 0035): the input of alpha's
-- confidence interval.
CREATE TABLE IF NOT EXISTS preference_profiles (
    project_id String,
    question_id String,
    coding String,
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
ORDER BY (project_id, question_id, coding, scope, day, kafka_topic, kafka_partition, profile);

-- Position bias (preference.BiasCounts): answers whose choice is the response the annotator
-- was shown first, answers, and Σ 1/k over the answers (k: responses compared) times
-- preference.ExpectedUnit (232792560, the lcm of 1..20), so the expectation without bias,
-- expected_scaled / labels / 232792560, is kept exactly.
CREATE TABLE IF NOT EXISTS preference_bias (
    project_id String,
    question_id String,
    scope String,
    day Date,
    kafka_topic String,
    kafka_partition UInt32,
    first_chosen Int64,
    labels Int64,
    expected_scaled Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, scope, day, kafka_topic, kafka_partition);

-- Accuracy against gold preferences (preference.AccuracyCounts): answers on items with a gold
-- preference (the latest GoldLabelSet; a correction re-scores) and those choosing the gold's
-- response (strength and display order play no part).
CREATE TABLE IF NOT EXISTS preference_accuracy (
    project_id String,
    question_id String,
    scope String,
    day Date,
    kafka_topic String,
    kafka_partition UInt32,
    correct Int64,
    labels Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, question_id, scope, day, kafka_topic, kafka_partition);

-- Position bias over all time: the share of answers choosing the first-shown response against
-- the share expected without bias. Its Wilson interval, and alpha, come from kpi.ReadPreferences.
CREATE VIEW IF NOT EXISTS kpi_preference_bias AS
SELECT project_id, question_id, scope,
       sum(first_chosen) AS first_shown_chosen,
       sum(labels) AS answers,
       first_shown_chosen / answers AS share,
       sum(expected_scaled) / answers / 232792560 AS expected_share
FROM preference_bias FINAL
GROUP BY project_id, question_id, scope
HAVING answers > 0;

-- Accuracy against gold preferences over all time.
CREATE VIEW IF NOT EXISTS kpi_preference_accuracy AS
SELECT project_id, question_id, scope,
       sum(correct) AS correct_answers,
       sum(labels) AS scored_answers,
       correct_answers / scored_answers AS accuracy
FROM preference_accuracy FINAL
GROUP BY project_id, question_id, scope
HAVING scored_answers > 0;
