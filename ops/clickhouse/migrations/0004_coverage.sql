-- Coverage KPIs: views over the ledger tables (migration 0002, written by the ledger processor).
-- Coverage joins facts that live in differently keyed topics (item tags: items, by item_id;
-- membership: datasets, by dataset_id; acceptance: reviews, by item_id), so no partition holds
-- them together and no processor can join them in memory; ClickHouse joins them at query time.
-- 18.16 allows one JOIN per SELECT (ALL/ANY, USING), hence the nesting.

-- The latest CoverageTargetSet of each dataset, one row per slice target (share and/or count).
CREATE VIEW IF NOT EXISTS kpi_coverage_targets AS
SELECT dataset_id, slice, target_share, min_count
FROM (
    SELECT dataset_id,
           argMax(slice_names, recorded_at_ms) AS names,
           argMax(slice_target_shares, recorded_at_ms) AS shares,
           argMax(slice_min_counts, recorded_at_ms) AS mins
    FROM coverage_targets FINAL
    GROUP BY dataset_id
)
ARRAY JOIN names AS slice, shares AS target_share, mins AS min_count;

-- Every member (item, label) of every dataset version with its item's tags and whether its
-- label has an accepting review (accepted = 1).
CREATE VIEW IF NOT EXISTS kpi_dataset_members AS
SELECT dataset_id, version, item_id, label_id, slice_tags, edge_case_tags, accepted
FROM (
    SELECT dataset_id, version, item_id, label_id, slice_tags, edge_case_tags
    FROM (SELECT DISTINCT dataset_id, version, item_id, label_id FROM dataset_members FINAL) AS m
    ANY LEFT JOIN (
        SELECT item_id, any(slice_tags) AS slice_tags, any(edge_case_tags) AS edge_case_tags
        FROM items FINAL
        GROUP BY item_id
    ) AS i USING item_id
) AS mi
ANY LEFT JOIN (
    SELECT label_id, toUInt8(1) AS accepted FROM reviews FINAL WHERE verdict = 'accept' GROUP BY label_id
) AS r USING label_id;

-- Per dataset version and target slice: distinct member items in the slice, the version's
-- distinct member items, the actual share, and whether the slice meets its target (at least
-- min_count items and at least target_share of the items, whichever are set).
CREATE VIEW IF NOT EXISTS kpi_coverage_slices AS
SELECT dataset_id, version, slice, target_share, min_count, items_in_slice, items,
       items_in_slice / items AS actual_share,
       ifNull(toInt64(items_in_slice) >= min_count, 1) AND ifNull(items_in_slice / items >= target_share, 1) AS meets
FROM (
    SELECT dataset_id, version, slice, target_share, min_count, items
    FROM kpi_coverage_targets AS t
    ALL INNER JOIN (
        SELECT dataset_id, version, uniqExact(item_id) AS items FROM kpi_dataset_members GROUP BY dataset_id, version
    ) AS v USING dataset_id
) AS tv
ANY LEFT JOIN (
    SELECT dataset_id, version, slice, uniqExact(item_id) AS items_in_slice
    FROM kpi_dataset_members
    ARRAY JOIN slice_tags AS slice
    GROUP BY dataset_id, version, slice
) AS s USING (dataset_id, version, slice);

-- Per dataset version and edge-case tag with a minimum: distinct member items with the tag whose
-- member label was accepted, and whether that reaches the minimum.
CREATE VIEW IF NOT EXISTS kpi_edge_case_coverage AS
SELECT dataset_id, version, tag, min_count, accepted_items, accepted_items >= min_count AS covered
FROM (
    SELECT dataset_id, version, tag, min_count
    FROM (
        SELECT dataset_id, tag, min_count
        FROM (
            SELECT dataset_id,
                   argMax(edge_case_tags, recorded_at_ms) AS tags,
                   argMax(edge_case_min_counts, recorded_at_ms) AS mins
            FROM coverage_targets FINAL
            GROUP BY dataset_id
        )
        ARRAY JOIN tags AS tag, mins AS min_count
    ) AS t
    ALL INNER JOIN (SELECT DISTINCT dataset_id, version FROM dataset_members FINAL) AS v USING dataset_id
) AS tv
ANY LEFT JOIN (
    SELECT dataset_id, version, tag, toInt64(uniqExact(item_id)) AS accepted_items
    FROM kpi_dataset_members
    ARRAY JOIN edge_case_tags AS tag
    WHERE accepted = 1
    GROUP BY dataset_id, version, tag
) AS a USING (dataset_id, version, tag);

-- Coverage per dataset version: the share of target slices that meet their target; the
-- total-variation distance between the actual and target distributions over the slices with a
-- target share, plus an "other" bucket for the rest (0.5 * sum |actual - target|; it assumes
-- an item is in at most one targeted slice); and the share of edge-case tags covered.
CREATE VIEW IF NOT EXISTS kpi_coverage AS
SELECT dataset_id, version, items, target_slices, slices_meeting, share_slices_meeting, tv_distance,
       edge_case_tags, edge_case_tags_covered,
       if(edge_case_tags = 0, nan, edge_case_tags_covered / edge_case_tags) AS edge_case_coverage
FROM (
    SELECT dataset_id, version, any(items) AS items,
           count() AS target_slices,
           sum(meets) AS slices_meeting,
           slices_meeting / target_slices AS share_slices_meeting,
           0.5 * (sumIf(abs(actual_share - assumeNotNull(target_share)), isNotNull(target_share))
                  + abs(sumIf(actual_share, isNotNull(target_share)) - sumIf(assumeNotNull(target_share), isNotNull(target_share)))) AS tv_distance
    FROM kpi_coverage_slices
    GROUP BY dataset_id, version
) AS s
ANY LEFT JOIN (
    SELECT dataset_id, version, count() AS edge_case_tags, sum(covered) AS edge_case_tags_covered
    FROM kpi_edge_case_coverage
    GROUP BY dataset_id, version
) AS e USING (dataset_id, version);
