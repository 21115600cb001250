package httpapi

import (
	"fmt"
	"testing"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
)

// apiQueries are every query the API runs, with example arguments for their `?` parameters.
var apiQueries = []struct {
	name  string
	query string
	args  []any
}{
	{"agreement", kpi.AgreementQuery, []any{"p", "p", "all", "all", 1}},
	{"agreement window", kpi.AgreementWindowQuery, []any{"2026-01-01", "2105-12-31", "", "", "cohort:c", "cohort:c", 0}},
	{"accuracy", accuracyQuery, []any{"", "", "all"}},
	{"cycle", cycleQuery, []any{"p", "p", int64(0)}},
	{"rework", reworkQuery, nil},
	{"remediation", remediationQuery, []any{int64(1767225600000), "", "", int64(0)}},
	{"remediation overall", remediationOverallQuery, []any{"p", "p", int64(0)}},
	{"automation", automationQuery, []any{"p", "p"}},
	{"pre-label precision", precisionQuery, []any{"", ""}},
	{"volume", volumeQuery, []any{"", "", "p", "p"}},
	{"coverage", coverageQuery, []any{"", "", "p", "p"}},
	{"coverage slices", coverageSlicesQuery, []any{"d", "d"}},
	{"annotator agreement", annotatorAgreementQuery, []any{"p", "p"}},
	{"annotator accuracy", annotatorAccuracyQuery, []any{"", ""}},
	{"annotator cohort", annotatorCohortQuery, []any{"p", "p"}},
	{"parties of a project", partiesQuery, []any{"p"}},
	{"questions of a project", questionsQuery, []any{"p", "p"}},
	{"quality targets", targetsQuery, []any{"", ""}},
	{"gate committed versions", gateCommittedQuery, []any{"d", "d"}},
	{"gate verdicts", gateVerdictsQuery, []any{"", ""}},
	{"gate checks", gateChecksQuery, []any{"d", "d"}},
	{"gate overrides", gateOverridesQuery, []any{"", ""}},
	{"gate training runs", gateRunsQuery, []any{"", ""}},
	{"latest versions", latestVersionsQuery, nil},
	{"confusion", kpi.ConfusionQuery, []any{"p", "p", "", "", "all", "all", uint8(1)}},
	{"region pairs", kpi.RegionPairsQuery, []any{"1970-01-01", "2105-12-31", "p", "p", "", "", "", "", uint8(0)}},
	{"region gold", kpi.RegionGoldQuery, []any{"2026-01-01", "2105-12-31", "", "", "q", "q", "all", "all", uint8(0)}},
	{"region label cells", kpi.RegionCellsQuery, []any{"1970-01-01", "2105-12-31", "p", "p", "", "", "", "", uint8(0)}},
	{"question thresholds", kpi.QuestionThresholdsQuery, []any{"p", "p", "", ""}},
	{"unitizing count", kpi.UnitizingCountQuery, []any{"p", "q", 250}},
	{"unitizing labels", kpi.UnitizingQuery, []any{"p", "q", 250}},
	{"preference cells", kpi.PreferenceCellsQuery, []any{"1970-01-01", "2105-12-31", "p", "p", "", "", "", "", uint8(0)}},
	{"preference profiles", kpi.PreferenceProfilesQuery, []any{"1970-01-01", "2105-12-31", "", "", "", "", "cohort:c", "cohort:c", uint8(1)}},
	{"preference counts", kpi.PreferenceCountsQuery, []any{"1970-01-01", "2105-12-31", "p", "p", "", "", "", "", uint8(0),
		"1970-01-01", "2105-12-31", "p", "p", "", "", "", "", uint8(0)}},
	{"lineage version", lineage.VersionHeadQuery, []any{"d", "v1"}},
	{"lineage chains", lineage.VersionChainsQuery, []any{"d", "v1", "d", "v1", "d", "v1", "d", "v1", "d", "v1", "d", "v1", "d", "v1", "d", "v1"}},
	{"lineage runs", lineage.RunsQuery, nil},
	{"lineage runs of a version", lineage.RunsUsingQuery, []any{"d@v1"}},
	{"lineage fixes", lineage.FixesQuery, []any{"d@v1"}},
	{"lineage version manifests", lineage.VersionStatusQuery, nil},
	{"lineage chain facts", lineage.ChainFactsQuery, nil},
	{"lineage project datasets", lineage.ProjectDatasetsQuery, []any{"p"}},
}

func literal(t *testing.T, q string, args []any) string {
	t.Helper()
	sql, err := chdb.Bind(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	return sql
}

// TestQueriesOnCurrentClickHouse runs every API query on a current ClickHouse embedded in
// Python (chdb), after every migration: the integration tests run them on the 18.16 server,
// so the SQL is proven on both ends of the supported range (DESIGN, "Infrastructure").
func TestQueriesOnCurrentClickHouse(t *testing.T) {
	queries := make([]chdb.Query, len(apiQueries))
	for i, q := range apiQueries {
		queries[i] = chdb.Query{Name: "API query " + q.name, SQL: literal(t, q.query, q.args)}
	}
	// The exception codes answered 503 mean the same on a current server (18.16 has no
	// errorCodeToName; ClickHouse never renumbers a code).
	for code, name := range transientCodes {
		queries = append(queries, chdb.Query{Name: fmt.Sprintf("error code %d is %s", code, name),
			SQL: fmt.Sprintf("SELECT throwIf(errorCodeToName(%d) != '%s', 'error code %d is not %s')", code, name, code, name)})
	}
	res := chdb.AfterMigrations(t, queries)
	t.Logf("ClickHouse %s (chdb) ran all %d API queries and knows the %d transient error codes by their names", res.Version, len(apiQueries), len(transientCodes))
}
