-- The datasets of each project, kept as items arrive (issue 17: the read side does not grow
-- with history). Written by the lineage processor (streams/lineage): per items partition, how
-- many items have their latest ingest (by occurred_at, then event id: the rule of
-- Graph.DatasetsOf and of the chain read model) in each (project, dataset). Same
-- per-partition-total pattern as migration 0003: ReplacingMergeTree versioned by the Kafka
-- offset of the record that last changed the total, read with FINAL and summed over
-- partitions; a total that empties is written as 0. lineage.ProjectDatasetsQuery reads the
-- datasets of a project here (those with a total above 0), instead of every item's ingests.
CREATE TABLE IF NOT EXISTS lineage_project_datasets (
    project_id String,
    dataset_id String,
    kafka_topic String,
    kafka_partition UInt32,
    items Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY tuple()
ORDER BY (project_id, dataset_id, kafka_topic, kafka_partition);

-- The totals of the items ingested before this table existed, from the chain read model's
-- lineage_items, by the same rule and per the same partitions, versioned by the latest offset
-- counted: a lineage processor that rebuilt its state from the log writes the same totals,
-- at later offsets, whenever one changes.
INSERT INTO lineage_project_datasets (project_id, dataset_id, kafka_topic, kafka_partition, items, version)
SELECT latest_project, latest_dataset, kafka_topic, kafka_partition, toInt64(count()), max(latest_offset)
FROM (
    SELECT item_id, kafka_topic, kafka_partition,
           argMax(project_id, (occurred_at_ms, event_id)) AS latest_project,
           argMax(dataset_id, (occurred_at_ms, event_id)) AS latest_dataset,
           max(kafka_offset) AS latest_offset
    FROM lineage_items
    GROUP BY item_id, kafka_topic, kafka_partition)
GROUP BY latest_project, latest_dataset, kafka_topic, kafka_partition;
