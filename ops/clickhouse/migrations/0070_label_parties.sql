-- Who labels in each project, kept as labels arrive (issue 17: the read side does not grow with
-- history). One row per (project, annotator, cohort, vendor) that any LabelSubmitted names,
-- with the latest (occurred_at_ms, event_id) of those labels, so that
--   * the parties of a project (kpi.PartiesQuery: the (annotator, cohort, vendor) of its
--     labels, which a vendor's view is narrowed by) and
--   * each annotator's cohort (kpi.AnnotatorCohortsQuery: the cohort of their latest label)
-- are read from a table of a few rows per annotator instead of every label of the ledger.
--
-- Fed by a materialized view over the ledger's labels table (migration 0002), which sees every
-- inserted block, copies included: a replayed batch or a client duplicate not merged yet. The
-- one aggregate is max, which copies of an event cannot change, so the figures are those of
-- the labels table read with FINAL (a retracted label counts, as it does there). The existing
-- labels are copied in by the INSERT below; a label inserted between the view's creation and
-- that copy is counted twice, which max does not see either. Read with maxMerge and GROUP BY
-- the key (rows of one key merge in the background).
CREATE TABLE IF NOT EXISTS label_parties (
    project_id String,
    annotator_id String,
    cohort String,
    vendor String,
    latest AggregateFunction(max, Tuple(Int64, String))
) ENGINE = AggregatingMergeTree()
PARTITION BY tuple()
ORDER BY (project_id, annotator_id, cohort, vendor);

CREATE MATERIALIZED VIEW IF NOT EXISTS label_parties_mv TO label_parties AS
SELECT project_id, annotator_id, cohort, vendor, maxState((occurred_at_ms, event_id)) AS latest
FROM labels
GROUP BY project_id, annotator_id, cohort, vendor;

INSERT INTO label_parties (project_id, annotator_id, cohort, vendor, latest)
SELECT project_id, annotator_id, cohort, vendor, maxState((occurred_at_ms, event_id))
FROM labels
GROUP BY project_id, annotator_id, cohort, vendor;
