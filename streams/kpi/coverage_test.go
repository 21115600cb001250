package kpi_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// coverageWant is kpi_coverage of one dataset version, computed from the
// events with the definitions of migration 0004.
type coverageWant struct {
	items                 uint64
	slicesMeeting         uint64
	tv                    float64
	edgeTags, edgeCovered uint64
}

func expectedCoverage(evs []schemas.Event) map[string]coverageWant {
	items := map[string]*schemas.ItemIngested{}
	accepted := map[string]bool{}
	var targets *schemas.CoverageTargetSet
	out := map[string]coverageWant{}
	for _, ev := range evs {
		switch e := ev.(type) {
		case *schemas.ItemIngested:
			items[e.ItemID] = e
		case *schemas.ReviewCompleted:
			if e.Verdict == schemas.VerdictAccept {
				accepted[e.LabelID] = true
			}
		case *schemas.CoverageTargetSet:
			targets = e
		case *schemas.DatasetVersionCommitted:
			memberItems := map[string]bool{}
			inSlice := map[string]map[string]bool{}
			edge := map[string]map[string]bool{}
			for _, m := range e.Members {
				memberItems[m.ItemID] = true
				for _, s := range items[m.ItemID].SliceTags {
					if inSlice[s] == nil {
						inSlice[s] = map[string]bool{}
					}
					inSlice[s][m.ItemID] = true
				}
				if accepted[m.LabelID] {
					for _, tag := range items[m.ItemID].EdgeCaseTags {
						if edge[tag] == nil {
							edge[tag] = map[string]bool{}
						}
						edge[tag][m.ItemID] = true
					}
				}
			}
			w := coverageWant{items: uint64(len(memberItems))}
			var sumA, sumT, abs float64
			for _, st := range targets.SliceTargets {
				n := len(inSlice[st.Slice])
				share := float64(n) / float64(len(memberItems))
				meets := (st.MinCount == nil || int64(n) >= *st.MinCount) && (st.TargetShare == nil || share >= *st.TargetShare)
				if meets {
					w.slicesMeeting++
				}
				if st.TargetShare != nil {
					sumA += share
					sumT += *st.TargetShare
					abs += math.Abs(share - *st.TargetShare)
				}
			}
			w.tv = 0.5 * (abs + math.Abs(sumA-sumT))
			for _, m := range targets.EdgeCaseMinimums {
				w.edgeTags++
				if int64(len(edge[m.Tag])) >= m.MinCount {
					w.edgeCovered++
				}
			}
			out[e.Version] = w
		}
	}
	return out
}

// checkCycleToDataset compares kpi_cycle_time_to_dataset with the times of
// the events: ingest to the first dataset version holding the item.
func checkCycleToDataset(t *testing.T, ctx context.Context, conn driver.Conn, w *annotation.Workload) {
	t.Helper()
	ingested, inDataset := map[string]int64{}, map[string]int64{}
	for _, ev := range w.Events {
		switch e := ev.(type) {
		case *schemas.ItemIngested:
			ingested[e.ItemID] = e.OccurredAt
		case *schemas.DatasetVersionCommitted:
			for _, m := range e.Members {
				if _, ok := inDataset[m.ItemID]; !ok {
					inDataset[m.ItemID] = e.OccurredAt
				}
			}
		}
	}
	waits := secondsBetween(ingested, inDataset)
	var items uint64
	var p50, p90 float64
	if err := conn.QueryRow(ctx, "SELECT items, to_dataset_p50_s, to_dataset_p90_s FROM kpi_cycle_time_to_dataset WHERE project_id = ?", w.Config.Project).Scan(&items, &p50, &p90); err != nil {
		t.Fatal(err)
	}
	if want50, want90 := p50p90(waits); items != uint64(len(waits)) || p50 != want50 || p90 != want90 {
		t.Errorf("kpi_cycle_time_to_dataset: %d items p50 %v p90 %v; want %d items p50 %v p90 %v", items, p50, p90, len(waits), want50, want90)
	}
	t.Logf("ingest -> first dataset version over %d items: p50 %.0fs p90 %.0fs", items, p50, p90)
}

// TestCoverageViews: the coverage views over the ledger tables give, for
// every dataset version of a generated workload, the figures computed from
// its events.
func TestCoverageViews(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := annotation.DefaultConfig("cov", 9)
	cfg.Items = 600
	w := annotation.Generate(cfg)
	if err := workload.Produce(ctx, cl, k, w.Events); err != nil {
		t.Fatal(err)
	}
	for _, p := range []runtime.Processor{ledger.New(), kpi.NewFlow()} {
		if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	checkCycleToDataset(t, ctx, conn, w)
	want := expectedCoverage(w.Events)
	if len(want) != cfg.DatasetVersions {
		t.Fatalf("workload has %d versions, want %d", len(want), cfg.DatasetVersions)
	}
	rows, err := conn.Query(ctx, `SELECT version, items, target_slices, slices_meeting, share_slices_meeting, tv_distance, edge_case_tags, edge_case_tags_covered, edge_case_coverage
		FROM kpi_coverage WHERE dataset_id = ? ORDER BY version`, cfg.Run+"-ds")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			version                               string
			items, slices, meeting, tags, covered uint64
			share, tv, edgeCov                    float64
		)
		if err := rows.Scan(&version, &items, &slices, &meeting, &share, &tv, &tags, &covered, &edgeCov); err != nil {
			t.Fatal(err)
		}
		n++
		wv := want[version]
		if items != wv.items || slices != uint64(len(cfg.Slices)) || meeting != wv.slicesMeeting || math.Abs(tv-wv.tv) > 1e-9 || tags != wv.edgeTags || covered != wv.edgeCovered {
			t.Errorf("version %s: items %d slices %d meeting %d tv %.6f edge %d/%d; want items %d meeting %d tv %.6f edge %d/%d",
				version, items, slices, meeting, tv, covered, tags, wv.items, wv.slicesMeeting, wv.tv, wv.edgeCovered, wv.edgeTags)
		}
		t.Logf("version %s: %d items, %d/%d slices meet target (share %.2f), TV distance %.4f, edge-case coverage %d/%d",
			version, items, meeting, slices, share, tv, covered, tags)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("kpi_coverage has %d versions, want %d", n, len(want))
	}
}
