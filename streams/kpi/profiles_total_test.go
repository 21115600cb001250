package kpi_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/migrations"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// TestProfilesTotalAsTheDays holds kpi.AgreementProfilesQuery (the all-time totals,
// migration 0073) to the query over the daily totals it replaces, on the 18.16 server: for
// profiles written before the migration (its INSERT sums them), after it by the processor,
// and after a replayed batch.
func TestProfilesTotalAsTheDays(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(ms, func(m clickhouse.Migration) bool { return m.Version >= 73 })
	if _, err := clickhouse.Migrate(ctx, conn, ms[:before], nil); err != nil {
		t.Fatal(err)
	}
	cfg := annotation.DefaultConfig("tot", 21)
	cfg.Items = 400
	cfg.Cohorts = append(cfg.Cohorts, annotation.Cohort{Name: "night-shift", Vendor: "globex", Annotators: 3, Accuracy: 0.8})
	var labels []schemas.Event
	for _, ev := range annotation.Generate(cfg).Events {
		if ev.Family() == schemas.FamilyLabels {
			labels = append(labels, ev)
		}
	}
	agr := kpi.NewAgreement()
	tables := map[string]runtime.Table{}
	for _, tb := range agr.Tables() {
		tables[tb.Name] = tb
	}
	sink := runtime.ClickHouseSink(conn)
	states := []any{agr.NewState("labels", 0), agr.NewState("labels", 1)}
	// play applies labels[from:to], each to the partition of its item, and writes the rows of
	// every table but skip.
	play := func(from, to int, skip string) {
		t.Helper()
		rows := map[string][][]any{}
		for i := from; i < to; i++ {
			p := len(labels[i].Key()) % 2
			out, err := agr.Apply(states[p], runtime.Record{Topic: "labels", Partition: int32(p), Offset: int64(i), Event: labels[i]})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Rows {
				rows[r.Table] = append(rows[r.Table], r.Values)
			}
		}
		for name, rs := range rows {
			if name != skip {
				if err := sink.Write(ctx, tables[name], rs); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for _, args := range [][]any{{"", "", "", "", 0}, {cfg.Project, cfg.Project, kpi.ScopeAll, kpi.ScopeAll, 1}} {
			want := ledgerRows(t, ctx, conn, `SELECT project_id, question_id, level, scope, toString(values), toString(counts), toString(unit_count) FROM (`+kpi.AgreementProfilesFromDaysQuery+`)`, args...)
			got := ledgerRows(t, ctx, conn, `SELECT project_id, question_id, level, scope, toString(values), toString(counts), toString(unit_count) FROM (`+kpi.AgreementProfilesQuery+`)`, args...)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("%s: all-time profiles %v:\n got %q\nwant %q", when, args, got, want)
			}
		}
	}
	half := len(labels) / 2
	play(0, half, kpi.TableAgreementProfilesTotal)
	if _, err := clickhouse.Migrate(ctx, conn, ms, nil); err != nil {
		t.Fatal(err)
	}
	check("summed by the migration")
	play(half, len(labels), "")
	check("written by the processor")
	states = []any{agr.NewState("labels", 0), agr.NewState("labels", 1)}
	play(0, half, "-")
	check("after a replay")
}
