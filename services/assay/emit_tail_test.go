package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

// TestEmitThenTail sends NDJSON files through a real gateway with `assay emit` (labels with a
// labeler's token, gold with a qa token: each principal sends what its role writes), reads
// them back with `assay tail` (whole topics, -n, -meta, -since), and checks that tail's output
// is the same events, so tail | emit round-trips.
func TestEmitThenTail(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 6)
	srv := ingesttest.Gateway(t, k, ingesttest.Principals())

	var labels, gold bytes.Buffer
	want := map[string]string{} // event id -> producer
	for i := 0; i < 40; i++ {
		typ := []schemas.EventType{schemas.TypeLabelSubmitted, schemas.TypeGoldLabelSet}[i%2]
		ev := ingesttest.Sample(typ, i)
		ev.Meta().EventType = ev.Type()
		b, _ := json.Marshal(ev)
		in, by := &labels, "labeler"
		if typ == schemas.TypeGoldLabelSet {
			in, by = &gold, "qa"
		}
		in.Write(b)
		in.WriteString("\n\n")
		want[ev.Meta().EventID] = by
	}
	file := filepath.Join(t.TempDir(), "labels.ndjson")
	goldFile := filepath.Join(t.TempDir(), "gold.ndjson")
	if err := os.WriteFile(file, labels.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldFile, gold.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSAY_INGEST_TOKEN", ingesttest.TokenOf(access.RoleLabeler))
	ctx := context.Background()
	cmd := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(ctx, args, &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errs, code := cmd("emit", "-url", srv.URL, "-batch", "15", file); code != 0 || !strings.Contains(out, "20 events accepted (0 already known)") {
		t.Fatalf("emit: %d %s %s", code, out, errs)
	}
	if out, _, code := cmd("emit", "-url", srv.URL, file); code != 0 || !strings.Contains(out, "20 events accepted (20 already known)") {
		t.Fatalf("emit again: %d %s", code, out)
	}
	// Gold is qa's (the labeler's token is refused for it: see the end).
	t.Setenv("ASSAY_INGEST_TOKEN", ingesttest.TokenOf(access.RoleQA))
	if out, errs, code := cmd("emit", "-url", srv.URL, goldFile); code != 0 || !strings.Contains(out, "20 events accepted (0 already known)") {
		t.Fatalf("emit gold as qa: %d %s %s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.ndjson")
	_ = os.WriteFile(bad, []byte(`{"event_type":"LabelSubmitted","colour":"red"}`+"\n"), 0o644)
	if _, errs, code := cmd("emit", "-url", srv.URL, bad); code != 1 || !strings.Contains(errs, "line 1: unknown_field colour") {
		t.Fatalf("emit of a bad line: %d %s", code, errs)
	}

	kflags := []string{"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}
	out, errs, code := cmd(append(append([]string{"tail"}, kflags...), "labels")...)
	if code != 0 {
		t.Fatalf("tail: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 40 {
		t.Fatalf("tail printed %d lines, want 40:\n%s", len(lines), errs)
	}
	for _, l := range lines {
		ev, e := gateway.DecodeEvent([]byte(l))
		if e != nil {
			t.Fatalf("tail line does not decode as an event: %v: %s", e, l)
		}
		if by, ok := want[ev.Meta().EventID]; !ok || ev.Meta().Producer != by {
			t.Errorf("unexpected event %s from %s", ev.Meta().EventID, ev.Meta().Producer)
		}
	}

	out, errs, code = cmd(append(append([]string{"tail", "-n", "3", "-meta"}, kflags...), "labels", "dlq")...)
	var rec tailRecord
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec.Topic != k.Topic("assay.labels.v1") || rec.Key == "" {
		t.Fatalf("tail -n 3 -meta: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, errs, code := cmd(append(append([]string{"tail", "-since", future}, kflags...), "labels")...); code != 0 || out != "" {
		t.Fatalf("tail -since the future: %d %q %s", code, out, errs)
	}
	if out, _, code := cmd(append(append([]string{"tail", "-since", "10m"}, kflags...), "labels")...); code != 0 || strings.Count(out, "\n") != 40 {
		t.Fatalf("tail -since 10m: %d lines", strings.Count(out, "\n"))
	}
	if _, _, code := cmd(append(append([]string{"tail"}, kflags...), "no.such.topic")...); code != 1 {
		t.Fatalf("tail of a missing topic exits %d", code)
	}
	// The labeler's token may not set gold: emit fails, naming the rule.
	t.Setenv("ASSAY_INGEST_TOKEN", ingesttest.TokenOf(access.RoleLabeler))
	if _, errs, code := cmd("emit", "-url", srv.URL, goldFile); code != 1 || !strings.Contains(errs, "forbidden (role.event_type) event_type") {
		t.Fatalf("emit gold as the labeler: %d %s", code, errs)
	}
}
