-- Cycle time up to "in a dataset version": the time an item first appears as a member of a
-- dataset version (dataset_members, ledger migration 0002; the DatasetVersionCommitted's
-- occurred_at), joined in ClickHouse with the per-item stages of kpi_item_cycle (migration 0003)
-- because memberships are keyed by dataset and items by item, so no partition holds both.
CREATE VIEW IF NOT EXISTS kpi_cycle_time_to_dataset AS
SELECT project_id,
       count() AS items,
       quantileExact(0.5)((in_dataset_at_ms - ingested_at_ms) / 1000) AS to_dataset_p50_s,
       quantileExact(0.9)((in_dataset_at_ms - ingested_at_ms) / 1000) AS to_dataset_p90_s,
       quantileExactIf(0.5)((in_dataset_at_ms - accepted_at_ms) / 1000, accepted_at_ms > 0) AS accepted_to_dataset_p50_s,
       quantileExactIf(0.9)((in_dataset_at_ms - accepted_at_ms) / 1000, accepted_at_ms > 0) AS accepted_to_dataset_p90_s
FROM (
    SELECT item_id, project_id, ingested_at_ms, accepted_at_ms FROM kpi_item_cycle WHERE ingested_at_ms > 0
) AS c
ALL INNER JOIN (
    SELECT item_id, min(occurred_at_ms) AS in_dataset_at_ms FROM dataset_members FINAL GROUP BY item_id
) AS d USING item_id
GROUP BY project_id;
