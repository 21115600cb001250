package readside

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
)

// The reads of the API as they are before issue 17's read side (services/api/httpapi's
// queries, which this package may not change), timed beside the reads that replace them.
const (
	apiAnnotatorCohorts = `SELECT annotator_id, argMax(cohort, occurred_at_ms)
FROM labels FINAL
WHERE (? = '' OR project_id = ?)
GROUP BY annotator_id`
	apiParties = `SELECT annotator_id, cohort, vendor
FROM labels
WHERE project_id = ?
GROUP BY annotator_id, cohort, vendor`
	edgesRuns = `SELECT run_id, dataset_version FROM (
    SELECT dst_id AS run_id, src_id AS dataset_version, event_id AS run_event FROM lineage_edges WHERE rel = 'trained')
WHERE (run_id, run_event) IN (
    SELECT dst_id, argMax(event_id, (occurred_at_ms, event_id)) FROM lineage_edges WHERE rel = 'trained' GROUP BY dst_id)
GROUP BY run_id, dataset_version
ORDER BY run_id, dataset_version`
)

func init() {
	pairs = append(pairs, func(conn driver.Conn, _ *API) []Probe {
		p0 := Project(0)
		q := func(name, sql string, args ...any) Probe {
			return Probe{Group: "pair", Name: name, Run: func(ctx context.Context) error { return drain(ctx, conn, sql, args...) }}
		}
		fn := func(name string, f func(context.Context) error) Probe {
			return Probe{Group: "pair", Name: name, Run: f}
		}
		return []Probe{
			q("annotator cohorts (all): labels FINAL", apiAnnotatorCohorts, "", ""),
			fn("annotator cohorts (all): kpi.ReadAnnotatorCohorts", func(ctx context.Context) error {
				_, err := kpi.ReadAnnotatorCohorts(ctx, conn, "")
				return err
			}),
			q("parties of P (vendor view): labels", apiParties, p0),
			fn("parties of P (vendor view): kpi.ReadParties", func(ctx context.Context) error {
				_, err := kpi.ReadParties(ctx, conn, p0)
				return err
			}),
			fn("coverage (all): kpi.ReadCoverage", func(ctx context.Context) error {
				_, err := kpi.ReadCoverage(ctx, conn, "", "")
				return err
			}),
			fn("coverage (P): kpi.ReadCoverage", func(ctx context.Context) error {
				_, err := kpi.ReadCoverage(ctx, conn, "", p0)
				return err
			}),
			q("datasets of P: every item's ingests", lineage.ProjectDatasetsFromItemsQuery, p0),
			q("datasets of P: lineage.ProjectDatasetsQuery", lineage.ProjectDatasetsQuery, p0),
			q("training runs: every trained edge", edgesRuns),
			q("training runs: lineage.RunsQuery", lineage.RunsQuery),
			q("all-time profiles (all, cohorts): the days", kpi.AgreementProfilesFromDaysQuery, "", "", kpi.ScopeAll, kpi.ScopeAll, 1),
			q("all-time profiles (all, cohorts): kpi.AgreementProfilesQuery", kpi.AgreementProfilesQuery, "", "", kpi.ScopeAll, kpi.ScopeAll, 1),
		}
	})
}
