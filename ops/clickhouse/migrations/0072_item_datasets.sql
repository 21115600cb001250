-- The (project, dataset) pairs that item ingests name, kept as items arrive (issue 17), so the
-- API's coverage keeps the datasets holding a project's items (kpi.CoverageQuery) without
-- reading every item: the pairs of the ledger's items table, copies included, which change
-- nothing here (a pair is there or not). Fed by a materialized view over items; the existing
-- items are copied in by the INSERT below (a pair copied twice is one pair once merged, and
-- the readers take the distinct pairs).
CREATE TABLE IF NOT EXISTS item_datasets (
    project_id String,
    dataset_id String
) ENGINE = ReplacingMergeTree()
PARTITION BY tuple()
ORDER BY (project_id, dataset_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS item_datasets_mv TO item_datasets AS
SELECT DISTINCT project_id, dataset_id FROM items;

INSERT INTO item_datasets (project_id, dataset_id)
SELECT DISTINCT project_id, dataset_id FROM items;
