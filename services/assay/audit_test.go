package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/openlineage"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// produceHistory writes the scripted lineage history and the gate's word on it (verdicts, an
// owner's override, a forged verdict: lineagetest.Gate) to the topics of k, keyed as the
// contract says, and waits for every acknowledgement.
func produceHistory(ctx context.Context, t *testing.T, k config.Kafka) {
	t.Helper()
	recs, err := lineagetest.HistoryRecords()
	var gate []lineagetest.Record
	if err == nil {
		gate, err = lineagetest.GateRecords()
		recs = append(recs, gate...)
	}
	if err == nil {
		err = lineagetest.Produce(ctx, testenv.KafkaClient(t, k), k, recs)
	}
	if err != nil {
		t.Fatalf("produce history: %v", err)
	}
}

// TestAuditAgainstBrokerAndClickHouse runs the whole audit path on the real servers: the
// history with the gate's verdicts on the broker, the ledger and lineage processors' tables in
// ClickHouse, then the CLI.
func TestAuditAgainstBrokerAndClickHouse(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, cfg, conn := env.Kafka, env.ClickHouse, env.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produceHistory(ctx, t, k)
	for _, p := range []runtime.Processor{ledger.New(), lineage.NewProcessor()} {
		if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
	}
	audit := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		base := []string{"audit", "-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix,
			"-clickhouse-addr", strings.Join(cfg.Addr, ","), "-clickhouse-database", cfg.Database}
		code := run(ctx, append(base, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	decode := func(out string) auditor.Report {
		var r auditor.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("report is not JSON: %v\n%s", err, out)
		}
		return r
	}

	// The remediated version passes; its digest is the model's over the same history.
	code, out, errOut := audit("ds-cars@3", "--json")
	if code != 0 {
		t.Fatalf("audit v3: exit %d: %s\n%s", code, errOut, out)
	}
	r := decode(out)
	g := lineage.New(0)
	for _, ev := range append(lineagetest.History(), lineagetest.Gate()...) {
		g.Apply(ev)
	}
	want, _ := g.Audit(lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "3"})
	if r.MerkleRoot != want.MerkleRoot || !r.Complete || len(r.Drift) != 0 || r.RecordsReplayed != len(lineagetest.History())+len(lineagetest.Gate()) ||
		!reflect.DeepEqual(r.Cohorts, []string{"cohort-a", "cohort-b", "cohort-c"}) {
		t.Errorf("v3 report: root %s (want %s) complete %v drift %v records %d cohorts %v", r.MerkleRoot, want.MerkleRoot, r.Complete, r.Drift, r.RecordsReplayed, r.Cohorts)
	}

	// The gate's word on v3 is in the report, as the log says it and ClickHouse agrees (no drift).
	if !reflect.DeepEqual(r.Gate, want.Gate) || r.Gate.Status() != "certified" {
		t.Errorf("v3 gate %+v, want %+v", r.Gate, want.Gate)
	}

	// Version 2 fails: l3 was rejected in review. The text report names the missing link, the
	// gate's verdicts and the owner's override. The ledger, which ran without principals, kept
	// mallory's forged certification: drift the audit names (lineage refused it).
	code, out, _ = audit("ds-cars@2")
	for _, want := range []string{lineage.ReviewRejected, "FAIL", "gate:            REJECTED by verdict 2 of 2",
		"override:        granted by owner-1", "run run-1:       registered 2026-10-01T08:40:00Z: NOT certified (verdict 1 rejected), overridden by an owner",
		`dataset_verdicts ds-cars@2 ev-forged-verdict: row not in the log: verdict 3 by "mallory", not the gate`} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("audit v2: exit %d, want 1 with %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "lineage_verdicts") || strings.Contains(out, "lineage gate") {
		t.Errorf("audit v2: the lineage read model's gate drifts from the log:\n%s", out)
	}

	// Minute 35, before the remediation: version 2 exists (l4 not yet reviewed either), version 3 does not.
	asOf := lineagetest.T0.Add(35 * time.Minute).Format(time.RFC3339)
	code, out, _ = audit("ds-cars@2", "--as-of", asOf, "--json")
	if r := decode(out); code != 1 || r.CompleteCount != 2 || r.AsOf != asOf {
		t.Errorf("audit v2 as of %s: exit %d, %d complete", asOf, code, r.CompleteCount)
	}
	code, _, errOut = audit("ds-cars@3", "--as-of", asOf)
	if code != 1 || !strings.Contains(errOut, "version not found as of "+asOf) {
		t.Errorf("audit v3 as of %s: exit %d, stderr %q", asOf, code, errOut)
	}

	// The OpenLineage export reads the same log: one RunEvent a line.
	var olOut, olErr bytes.Buffer
	if code := run(ctx, []string{"lineage", "export", "--openlineage", "-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, &olOut, &olErr); code != 0 {
		t.Fatalf("lineage export: exit %d: %s", code, olErr.String())
	}
	if n := strings.Count(olOut.String(), "\n"); n != 5 || !strings.Contains(olOut.String(), `"name":"remediation/f1"`) {
		t.Errorf("lineage export: %d events:\n%s", n, olOut.String())
	}
	// ... each valid by OpenLineage's reference client (a subtest: without the client it skips
	// alone, and the audit checks below still run).
	t.Run("OpenLineageValid", func(t *testing.T) { openlineage.Valid(t, olOut.Bytes(), 5) })

	// Usage errors exit 2.
	if code, _, _ := audit("no-version"); code != 2 {
		t.Errorf("bad target: exit %d, want 2", code)
	}
	if code, _, _ := audit("ds-cars@3", "--as-of", "yesterday"); code != 2 {
		t.Errorf("bad --as-of: exit %d, want 2", code)
	}

	// Drift: a member row deleted in ClickHouse (a mutation, which 18.16 supports on MergeTree
	// tables) and a row the log never had; and in the lineage read model, which the API and
	// the dashboard read, the review of l4 lost, so that its chain there lacks a review.
	if err := conn.Exec(ctx, "ALTER TABLE dataset_members DELETE WHERE dataset_id = 'ds-cars' AND version = '3' AND item_id = 'i4'"); err != nil {
		t.Fatalf("delete member row: %v", err)
	}
	if err := conn.Exec(ctx, "ALTER TABLE lineage_reviews DELETE WHERE label_id = 'l4'"); err != nil {
		t.Fatalf("delete review row: %v", err)
	}
	// A batch insert: Exec of INSERT ... VALUES hangs on 18.16.
	b, err := conn.PrepareBatch(ctx, "INSERT INTO dataset_members (event_id, dataset_id, version, item_id, label_id)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("forged", "ds-cars", "3", "i9", "l9"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatalf("insert forged row: %v", err)
	}
	var r3 auditor.Report
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errOut = audit("ds-cars@3", "--json")
		if code == 2 || (code == 1 && !strings.HasPrefix(strings.TrimSpace(out), "{")) {
			t.Fatalf("audit with drift: exit %d: %s", code, errOut)
		}
		r3 = decode(out)
		if len(r3.Drift) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // mutations apply asynchronously
	}
	wantDrift := []auditor.Drift{
		{Table: "dataset_members", Key: "ds-cars@3 i4/l4", Problem: "row missing"},
		{Table: "dataset_members", Key: "ds-cars@3 i9/l9", Problem: "row not in the log"},
		{Table: "lineage chain", Key: "ds-cars@3 i4/l4", Problem: `missing ["label not reviewed"], log says []`},
	}
	if code != 1 || r3.Pass || !reflect.DeepEqual(r3.Drift, wantDrift) {
		t.Errorf("drift: exit %d, pass %v, drift %+v", code, r3.Pass, r3.Drift)
	}
	if code, _, _ := audit("ds-cars@3", "--no-drift-check"); code != 0 {
		t.Errorf("--no-drift-check: exit %d, want 0", code)
	}
}
