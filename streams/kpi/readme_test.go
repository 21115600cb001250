package kpi_test

import (
	"context"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// TestReadmeKPIQueries runs every SQL block of README.md's "KPIs" section on
// tables filled by the KPI processors, so the examples analysts copy work on
// the server the tests use and return rows.
func TestReadmeKPIQueries(t *testing.T) {
	blocks := testenv.ReadmeBlocks(t, "KPIs", "sql")
	if len(blocks) < 5 {
		t.Fatalf("found %d sql blocks in the section, want at least 5", len(blocks))
	}
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := annotation.DefaultConfig("readme", 5)
	cfg.Items = 200
	if err := workload.Produce(ctx, cl, k, annotation.Generate(cfg).Events); err != nil {
		t.Fatal(err)
	}
	if err := workload.Produce(ctx, cl, k, answersLog("readme-answers", 5, 60, false)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []runtime.Processor{ledger.New(), kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewRegions(), kpi.NewPreference(), kpi.NewFlow()} {
		if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.RunReadmeQueries(ctx, t, conn, blocks)
}
