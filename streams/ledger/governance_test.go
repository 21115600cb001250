package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// governanceStory is a log of verdicts, overrides and training runs whose recorded_at times
// say what Assay knew when: the rows the ledger makes of it, by table.
//
//	t=100  ds-c@2 certified (1)           t=200  ds-c@2 rejected (2, supersedes 1)
//	t=800  run r4 on ds-a@1               (no verdict yet)
//	t=1000 ds-a@1 rejected (1)            t=1500 run r1 on ds-a@1
//	t=2000 ds-a@1 certified (2)           t=2500 run r2 on ds-a@1 and ds-b@1 (never judged)
//	t=2600 run r5 on ds-a@1               t=2800 ds-b@1 rejected (1)
//	t=3000 override of ds-b@1             t=3500 run r3 on ds-b@1
//
// ds-a@1's certification and r2 are each written twice (one event at two offsets), as a
// client retry or a replay leaves them: FINAL collapses them.
func governanceStory(t *testing.T) map[string][][]any {
	const base = 1_700_000_000_000
	stamp := func(ev schemas.Event, id string, at int64, producer string) schemas.Event {
		*ev.Meta() = schemas.Envelope{EventID: id, OccurredAt: base + at, Producer: producer}
		schemas.Stamp(ev, producer, time.UnixMilli(base+at))
		return ev
	}
	verdict := func(certified bool, ds, version string, seq int64, at int64) schemas.Event {
		v := schemas.GateVerdict{DatasetID: ds, Version: version, ProjectID: "proj-g", TargetsVersions: []string{"t-1"}, Sequence: seq,
			Reason: fmt.Sprintf("verdict %d", seq),
			Checks: []schemas.TargetCheck{{Target: "min_lineage_completeness", Threshold: 1, Figure: ptr(1.0), Evidence: 3, Status: schemas.CheckPass}}}
		if seq > 1 {
			v.Supersedes = fmt.Sprintf("v-%s-%s-%d", ds, version, seq-1)
		}
		id := fmt.Sprintf("v-%s-%s-%d", ds, version, seq)
		if certified {
			return stamp(&schemas.DatasetVersionCertified{GateVerdict: v}, id, at, ledger.GateProducer)
		}
		v.Checks[0].Status, v.Checks[0].Figure = schemas.CheckFail, ptr(0.5)
		return stamp(&schemas.DatasetVersionRejected{GateVerdict: v}, id, at, ledger.GateProducer)
	}
	run := func(id string, at int64, versions ...string) schemas.Event {
		e := &schemas.TrainingRunRegistered{RunID: id, Model: "m"}
		for _, v := range versions {
			ds, ver, _ := strings.Cut(v, "@")
			e.DatasetVersions = append(e.DatasetVersions, schemas.DatasetVersionRef{DatasetID: ds, Version: ver})
		}
		e.DatasetID = e.DatasetVersions[0].DatasetID
		return stamp(e, "run-"+id, at, "owner-1")
	}
	override := stamp(&schemas.GateOverrideGranted{DatasetID: "ds-b", Version: "1", ProjectID: "proj-g",
		Reason: "ablation run signed off by the data owner"}, "override-b", 3000, "owner-1")
	certifiedA := verdict(true, "ds-a", "1", 2, 2000)
	r2 := run("r2", 2500, "ds-a@1", "ds-b@1")
	log := []schemas.Event{
		verdict(true, "ds-c", "2", 1, 100), verdict(false, "ds-c", "2", 2, 200),
		run("r4", 800, "ds-a@1"),
		verdict(false, "ds-a", "1", 1, 1000), run("r1", 1500, "ds-a@1"),
		certifiedA, r2, run("r5", 2600, "ds-a@1"), verdict(false, "ds-b", "1", 1, 2800),
		override, run("r3", 3500, "ds-b@1"),
		certifiedA, r2,
	}
	rows := map[string][][]any{}
	for i, ev := range log {
		if err := ev.Validate(); err != nil {
			t.Fatalf("%s %s: %v", ev.Type(), ev.Meta().EventID, err)
		}
		out, err := ledger.New().Apply(nil, record(t, ev, int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rows {
			rows[r.Table] = append(rows[r.Table], r.Values)
		}
	}
	return rows
}

// The views as text, one line per row, fields separated by '|', in a stable order.
const (
	gateQuery = `SELECT concat(dataset_id, '|', version, '|', project_id, '|', toString(certified), '|', toString(sequence), '|',
		reason, '|', arrayStringConcat(targets_versions, ','), '|', verdict_event_id, '|', toString(verdict_at_ms - 1700000000000), '|',
		toString(verdicts), '|', toString(overridden), '|', toString(overrides), '|',
		toString(if(first_override_at_ms = 0, 0, first_override_at_ms - 1700000000000)), '|', toString(trainable))
		FROM dataset_version_gate ORDER BY dataset_id, version`
	kpiQuery = `SELECT concat(run_id, '|', dataset_id, '|', version, '|', project_id, '|', toString(registered_at_ms - 1700000000000), '|',
		toString(certified_at_registration), '|', toString(uncertified), '|', toString(verdict_sequence), '|', verdict_event_id, '|',
		toString(overridden_at_registration))
		FROM kpi_training_runs_uncertified ORDER BY run_id, dataset_id, version`
	kpiCountQuery = `SELECT concat(toString(uniqExactIf(run_id, uncertified = 1)), '|', toString(uniqExact(run_id)))
		FROM kpi_training_runs_uncertified`
)

var (
	wantGate = []string{
		// dataset|version|project|certified|sequence|reason|targets|verdict|at|verdicts|overridden|overrides|first override|trainable
		"ds-a|1|proj-g|1|2|verdict 2|t-1|v-ds-a-1-2|2000|2|0|0|0|1",
		"ds-b|1|proj-g|0|1|verdict 1|t-1|v-ds-b-1-1|2800|1|1|1|3000|1",
		"ds-c|2|proj-g|0|2|verdict 2|t-1|v-ds-c-2-2|200|2|0|0|0|0",
	}
	wantKPI = []string{
		// run|dataset|version|project|registered|certified|uncertified|sequence|verdict|overridden
		"r1|ds-a|1|proj-g|1500|0|1|1|v-ds-a-1-1|0",
		"r2|ds-a|1|proj-g|2500|1|0|2|v-ds-a-1-2|0",
		"r2|ds-b|1||2500|0|1|0||0",
		"r3|ds-b|1|proj-g|3500|0|1|1|v-ds-b-1-1|1",
		"r4|ds-a|1||800|0|1|0||0",
		"r5|ds-a|1|proj-g|2600|1|0|2|v-ds-a-1-2|0",
	}
	wantKPICount = "4|5" // r1, r2, r3 and r4 used a version not certified when registered; r5 did not
)

// TestGovernanceViews: dataset_version_gate holds each judged version's latest verdict and its
// overrides, and kpi_training_runs_uncertified judges each run's versions as Assay knew them
// when it recorded the run (a later certification or override does not rewrite it; an override
// does not certify), on the 18.16 server and on current ClickHouse (chdb), from the rows the
// ledger makes of one story.
func TestGovernanceViews(t *testing.T) {
	rows := governanceStory(t)
	check := func(t *testing.T, query func(string) []string) {
		t.Helper()
		if got := query(gateQuery); !slices.Equal(got, wantGate) {
			t.Errorf("dataset_version_gate:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantGate, "\n     "))
		}
		if got := query(kpiQuery); !slices.Equal(got, wantKPI) {
			t.Errorf("kpi_training_runs_uncertified:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantKPI, "\n     "))
		}
		if got := query(kpiCountQuery); len(got) != 1 || got[0] != wantKPICount {
			t.Errorf("uncertified runs of all runs: %v, want %s", got, wantKPICount)
		}
	}
	t.Run("18.16", func(t *testing.T) {
		_, conn := testenv.MigratedClickHouse(t)
		ctx := context.Background()
		sink := runtime.ClickHouseSink(conn)
		for _, tb := range ledger.Tables() {
			if rs := rows[tb.Name]; len(rs) > 0 {
				if err := sink.Write(ctx, tb, rs); err != nil {
					t.Fatalf("%s: %v", tb.Name, err)
				}
			}
		}
		check(t, func(q string) []string {
			rs, err := conn.Query(ctx, q)
			if err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
			defer rs.Close()
			var out []string
			for rs.Next() {
				var s string
				if err := rs.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		})
	})
	t.Run("current", func(t *testing.T) {
		s := chdb.Start(t)
		ctx := context.Background()
		for _, tb := range ledger.Tables() {
			if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
				t.Fatalf("ClickHouse %s: %v", s.Version, err)
			}
		}
		check(t, func(q string) []string {
			out, err := s.Query(ctx, q)
			if err != nil {
				t.Fatalf("ClickHouse %s: %v\n%s", s.Version, err, q)
			}
			var lines []string
			for line := range strings.Lines(out) {
				lines = append(lines, strings.TrimSuffix(line, "\n"))
			}
			return lines
		})
	})
}
