-- Spans, boxes and preferences (issue 21): the label value's new fields (schemas.LabelValue:
-- LabelSubmitted v3, GoldLabelSet v2, PreLabelProposed v2, ReviewCompleted v2) as the ledger
-- lays out a value: a list of records as parallel arrays, element i of each array being region i
-- (as ClickHouse's Nested columns are stored), an optional record as its fields (Nullable numbers,
-- "" and [] when absent). Rows written before take the empty defaults, which is what their
-- values were. The item's extent (ItemIngested v2), and the questions (QuestionDefined).
ALTER TABLE labels
    ADD COLUMN value_spans_label Array(String),
    ADD COLUMN value_spans_start Array(Int64),
    ADD COLUMN value_spans_end Array(Int64),
    ADD COLUMN value_boxes_label Array(String),
    ADD COLUMN value_boxes_x Array(Float64),
    ADD COLUMN value_boxes_y Array(Float64),
    ADD COLUMN value_boxes_w Array(Float64),
    ADD COLUMN value_boxes_h Array(Float64),
    ADD COLUMN value_boxes_score Array(Nullable(Float64)),
    ADD COLUMN value_extent_unit String,
    ADD COLUMN value_extent_length Nullable(Int64),
    ADD COLUMN value_extent_width Nullable(Float64),
    ADD COLUMN value_extent_height Nullable(Float64),
    ADD COLUMN value_preference_responses Array(String),
    ADD COLUMN value_preference_choice String,
    ADD COLUMN value_preference_shown_first String,
    ADD COLUMN value_preference_strength Nullable(Int32);

ALTER TABLE gold_labels
    ADD COLUMN value_spans_label Array(String),
    ADD COLUMN value_spans_start Array(Int64),
    ADD COLUMN value_spans_end Array(Int64),
    ADD COLUMN value_boxes_label Array(String),
    ADD COLUMN value_boxes_x Array(Float64),
    ADD COLUMN value_boxes_y Array(Float64),
    ADD COLUMN value_boxes_w Array(Float64),
    ADD COLUMN value_boxes_h Array(Float64),
    ADD COLUMN value_boxes_score Array(Nullable(Float64)),
    ADD COLUMN value_extent_unit String,
    ADD COLUMN value_extent_length Nullable(Int64),
    ADD COLUMN value_extent_width Nullable(Float64),
    ADD COLUMN value_extent_height Nullable(Float64),
    ADD COLUMN value_preference_responses Array(String),
    ADD COLUMN value_preference_choice String,
    ADD COLUMN value_preference_shown_first String,
    ADD COLUMN value_preference_strength Nullable(Int32);

ALTER TABLE prelabels
    ADD COLUMN value_spans_label Array(String),
    ADD COLUMN value_spans_start Array(Int64),
    ADD COLUMN value_spans_end Array(Int64),
    ADD COLUMN value_boxes_label Array(String),
    ADD COLUMN value_boxes_x Array(Float64),
    ADD COLUMN value_boxes_y Array(Float64),
    ADD COLUMN value_boxes_w Array(Float64),
    ADD COLUMN value_boxes_h Array(Float64),
    ADD COLUMN value_boxes_score Array(Nullable(Float64)),
    ADD COLUMN value_extent_unit String,
    ADD COLUMN value_extent_length Nullable(Int64),
    ADD COLUMN value_extent_width Nullable(Float64),
    ADD COLUMN value_extent_height Nullable(Float64),
    ADD COLUMN value_preference_responses Array(String),
    ADD COLUMN value_preference_choice String,
    ADD COLUMN value_preference_shown_first String,
    ADD COLUMN value_preference_strength Nullable(Int32);

ALTER TABLE reviews
    ADD COLUMN corrected_spans_label Array(String),
    ADD COLUMN corrected_spans_start Array(Int64),
    ADD COLUMN corrected_spans_end Array(Int64),
    ADD COLUMN corrected_boxes_label Array(String),
    ADD COLUMN corrected_boxes_x Array(Float64),
    ADD COLUMN corrected_boxes_y Array(Float64),
    ADD COLUMN corrected_boxes_w Array(Float64),
    ADD COLUMN corrected_boxes_h Array(Float64),
    ADD COLUMN corrected_boxes_score Array(Nullable(Float64)),
    ADD COLUMN corrected_extent_unit String,
    ADD COLUMN corrected_extent_length Nullable(Int64),
    ADD COLUMN corrected_extent_width Nullable(Float64),
    ADD COLUMN corrected_extent_height Nullable(Float64),
    ADD COLUMN corrected_preference_responses Array(String),
    ADD COLUMN corrected_preference_choice String,
    ADD COLUMN corrected_preference_shown_first String,
    ADD COLUMN corrected_preference_strength Nullable(Int32);

ALTER TABLE items
    ADD COLUMN extent_unit String,
    ADD COLUMN extent_length Nullable(Int64),
    ADD COLUMN extent_width Nullable(Float64),
    ADD COLUMN extent_height Nullable(Float64);

-- QuestionDefined (topic assay.projects.v1): a project's questions as its owner defines them; the
-- latest definition of a (project_id, question_id) is in force.
CREATE TABLE IF NOT EXISTS questions (
    event_id String,
    event_type String,
    occurred_at DateTime,
    occurred_at_ms Int64,
    recorded_at DateTime,
    recorded_at_ms Int64,
    producer String,
    correlation_id String,
    causation_id String,
    kafka_topic String,
    kafka_partition UInt32,
    kafka_offset UInt64,
    project_id String,
    question_id String,
    level String,
    labels Array(String),
    strength_scale Nullable(Int32),
    iou_threshold Nullable(Float64),
    description String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY tuple()
ORDER BY (project_id, question_id, event_id);
