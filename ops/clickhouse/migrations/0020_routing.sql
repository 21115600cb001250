-- Routing (streams/router): the decisions the router emitted, and the pre-labels and human labels
-- it saw, with label values in one canonical string form (router.valueKey: 'nominal:cat',
-- 'ordinal:good#2', 'interval:3.5', 'multi_label:{a,b}'), so "the human agreed with the model"
-- is string equality. The KPI views join the two sides here: the router itself never joins
-- items and labels, because the runtime keeps their partitions' states apart (streams/router
-- doc.go).
--
-- Exactly-once effect: rows are keyed by event ids (a decision's event_id is derived from its
-- stage, item and question), with kafka_offset as the version, so a replayed batch collapses;
-- read with FINAL. PARTITION BY tuple(): ReplacingMergeTree only collapses within a
-- partition.
--
-- Portable SQL for ClickHouse 18.16 and current releases: DateTime plus Int64 milliseconds,
-- String instead of Enum/LowCardinality, ALL INNER/LEFT JOIN ... USING.

-- One row per RoutingDecided of the router, written when the router reads its committed decision
-- back from the items topic (so the table holds exactly the decisions in the log). stage 'prelabel': the one decision per
-- item/question from its pre-label (or its absence); stage 'agreement': an escalation to expert
-- review because annotators disagreed. audited = 1: auto-acceptable, sampled for a human audit.
CREATE TABLE IF NOT EXISTS routing_decisions (
    item_id String,
    question_id String,
    stage String,
    route String,
    rule String,
    rules_version String,
    project_id String,
    model String,
    model_version String,
    prelabel_value String,
    confidence Float64,
    audited UInt8,
    event_id String,
    cause_event_id String,
    decided_at DateTime,
    decided_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, question_id, stage, event_id);

-- Every PreLabelProposed (the deciding one and any later model's).
CREATE TABLE IF NOT EXISTS routing_prelabels (
    item_id String,
    question_id String,
    model String,
    model_version String,
    value String,
    confidence Float64,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, question_id, event_id);

-- Every LabelSubmitted; prelabel_model* name the pre-label the annotator was shown, if any.
CREATE TABLE IF NOT EXISTS routing_labels (
    item_id String,
    question_id String,
    project_id String,
    label_id String,
    annotator_id String,
    value String,
    prelabel_model String,
    prelabel_model_version String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, label_id, event_id);

-- Every LabelRetracted: retracted labels leave the KPIs.
CREATE TABLE IF NOT EXISTS routing_label_retractions (
    item_id String,
    label_id String,
    event_id String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (item_id, label_id, event_id);

-- The accepted human answer of an item/question: the most frequent value among the annotators'
-- answers, where an annotator's answer is their latest label (a relabel replaces the earlier one)
-- unless that label was retracted, as in the router's agreement rule; ties: one of the tied
-- values. labels is the number of answers behind it. Latest = highest kafka_offset: all labels
-- of an item are on one partition, in log order.
CREATE VIEW IF NOT EXISTS routing_accepted_labels AS
SELECT item_id, question_id, argMax(answer, n) AS accepted_value, sum(n) AS labels
FROM (
    SELECT item_id, question_id, answer, count() AS n
    FROM (
        SELECT item_id, question_id, annotator_id,
               argMax(value, kafka_offset) AS answer, argMax(label_id, kafka_offset) AS answer_label_id
        FROM routing_labels FINAL
        GROUP BY item_id, question_id, annotator_id
    ) AS latest
    WHERE answer_label_id NOT IN (SELECT label_id FROM routing_label_retractions)
    GROUP BY item_id, question_id, answer
) AS answers
GROUP BY item_id, question_id;

-- Automation KPIs per project, over the 'prelabel' decisions (one per item/question):
--   automation_rate = auto_accepted / decisions, where auto_accepted counts route auto_accept
--     plus the audited ones (the rules would have auto-accepted them; the audit only measures);
--   override_rate = audits_overridden / audits_labeled: of the audited decisions that have an
--     accepted human label, the share whose human label differs from the pre-label (NaN when
--     no audit has been labeled yet);
--   escalations: 'agreement' decisions (expert review because annotators disagreed).
CREATE VIEW IF NOT EXISTS kpi_automation AS
SELECT project_id, decisions, auto_accepted, audits, human_label, human_review, expert_review,
       escalations, auto_accepted / decisions AS automation_rate, audits / decisions AS audit_rate,
       audits_labeled, audits_overridden, audits_overridden / audits_labeled AS override_rate
FROM (
    SELECT project_id,
           countIf(stage = 'prelabel') AS decisions,
           countIf(stage = 'prelabel' AND (route = 'auto_accept' OR audited = 1)) AS auto_accepted,
           countIf(stage = 'prelabel' AND audited = 1) AS audits,
           countIf(stage = 'prelabel' AND route = 'human_label') AS human_label,
           countIf(stage = 'prelabel' AND route = 'human_review' AND audited = 0) AS human_review,
           countIf(stage = 'prelabel' AND route = 'expert_review') AS expert_review,
           countIf(stage = 'agreement') AS escalations
    FROM routing_decisions FINAL
    GROUP BY project_id
) AS counted
ALL LEFT JOIN (
    SELECT project_id, count() AS audits_labeled, sum(prelabel_value != accepted_value) AS audits_overridden
    FROM (
        SELECT item_id, question_id, project_id, prelabel_value
        FROM routing_decisions FINAL
        WHERE stage = 'prelabel' AND audited = 1
    ) AS audit_decisions
    ALL INNER JOIN (SELECT item_id, question_id, accepted_value FROM routing_accepted_labels) AS accepted
    USING (item_id, question_id)
    GROUP BY project_id
) AS audits_judged USING (project_id);

-- Precision of pre-labels per model version: of the pre-labels whose item/question has an
-- accepted human label, the share equal to it. Items auto-accepted without audit have no human
-- label and are not counted, so this measures the human-labeled (low-confidence, tagged and
-- audited) part; the audit sample is the unbiased part (override_rate in kpi_automation).
CREATE VIEW IF NOT EXISTS kpi_prelabel_precision AS
SELECT model, model_version, count() AS prelabels_judged, sum(value = accepted_value) AS correct,
       correct / prelabels_judged AS prelabel_precision
FROM (SELECT item_id, question_id, model, model_version, value FROM routing_prelabels FINAL) AS prelabels
ALL INNER JOIN (SELECT item_id, question_id, accepted_value FROM routing_accepted_labels) AS accepted
USING (item_id, question_id)
GROUP BY model, model_version;
