package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// gateGraph is the scripted history with the gate's verdicts and an owner's override.
func gateGraph() *lineage.Graph {
	g := lineage.New(0)
	for _, ev := range append(lineagetest.History(), lineagetest.Gate()...) {
		g.Apply(ev)
	}
	return g
}

// TestGateReportDecides: exit 0 only for a certified version, or with --allow-override for an
// overridden one; a rejected or unjudged version fails.
func TestGateReportDecides(t *testing.T) {
	g := gateGraph()
	tests := []struct {
		version       string
		committed     bool
		allowOverride bool
		verdict       string
		pass          bool
		passedBy      string
		checks        int
		sequence      int64
		overrides     int
		textFragments []string
	}{
		{"1", true, false, "certified", true, "certified", 2, 1, 0, []string{"ds-cars@1: CERTIFIED (verdict 1 of 1", "gate: PASS (certified)", "[0.74, 0.87]"}},
		{"2", true, false, "rejected", false, "", 2, 2, 1, []string{"ds-cars@2: REJECTED (verdict 2 of 2", "override: granted by owner-1",
			"gate: FAIL (rejected; an owner's override exists: pass --allow-override to accept it)"}},
		{"2", true, true, "rejected", true, "override", 2, 2, 1, []string{"gate: PASS by an owner's override (the version is rejected, not certified; --allow-override)"}},
		{"3", true, true, "certified", true, "certified", 2, 1, 0, []string{"gate: PASS (certified)"}},
		{"9", false, true, "unjudged", false, "", 0, 0, 0, []string{"ds-cars@9: NOT JUDGED (no verdict, and no commit of this version in ClickHouse)", "gate: FAIL (unjudged)"}},
	}
	for _, tc := range tests {
		ref := lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: tc.version}
		r := newGateReport(ref, tc.committed, g.Gate(ref), tc.allowOverride)
		if r.Verdict != tc.verdict || r.Pass != tc.pass || r.PassedBy != tc.passedBy || len(r.Checks) != tc.checks || r.Sequence != tc.sequence ||
			len(r.Overrides) != tc.overrides {
			t.Errorf("v%s allow %v: %+v", tc.version, tc.allowOverride, r)
		}
		var b bytes.Buffer
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		for _, f := range tc.textFragments {
			if !strings.Contains(b.String(), f) {
				t.Errorf("v%s allow %v: text lacks %q:\n%s", tc.version, tc.allowOverride, f, b.String())
			}
		}
	}
}

// TestGateReportText pins the text form of a rejected, overridden version (the README shows it).
func TestGateReportText(t *testing.T) {
	ref := lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "2"}
	var b bytes.Buffer
	if err := newGateReport(ref, true, gateGraph().Gate(ref), false).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `ds-cars@2: REJECTED (verdict 2 of 2, recorded 2026-10-01T08:59:00Z, targets t1)
reason: min_lineage_completeness: 0.75 < 1

TARGET                    SCOPE  THRESHOLD  FIGURE  INTERVAL      EVIDENCE  STATUS  DETAIL
min_alpha                 q      0.667      0.81    [0.74, 0.87]  120       pass    nominal alpha, unit jackknife interval
min_lineage_completeness  -      1          0.75    -             4         fail    3 of 4 members have a complete chain

override: granted by owner-1 at 2026-10-01T08:35:00Z: ablation run on the rejected version, signed off by the data owner
gate: FAIL (rejected; an owner's override exists: pass --allow-override to accept it)
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	// The README shows this run.
	blocks := testenv.ReadmeBlocks(t, "Gate", "text")
	if len(blocks) != 1 || blocks[0] != "$ assay gate ds-cars@2\n"+want {
		t.Errorf("README's Gate section shows\n%q\nwant\n%q", blocks, "$ assay gate ds-cars@2\n"+want)
	}
}

// TestGateReportJSON pins the --json shape: the keys a pipeline reads.
func TestGateReportJSON(t *testing.T) {
	ref := lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "2"}
	b, err := json.Marshal(newGateReport(ref, true, gateGraph().Gate(ref), true))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"allow_override", "checks", "committed", "dataset", "judged_at_ms", "overridden", "overrides", "pass", "passed_by", "project_id",
		"reason", "sequence", "supersedes", "targets_versions", "verdict", "verdict_event_id", "verdicts", "version"}
	if !reflect.DeepEqual(sortedKeys(got), want) {
		t.Errorf("keys %v, want %v", sortedKeys(got), want)
	}
	check := got["checks"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(sortedKeys(check), []string{"detail", "evidence", "figure", "high", "low", "scope", "status", "target", "threshold"}) {
		t.Errorf("check keys %v", sortedKeys(check))
	}
	override := got["overrides"].([]any)[0].(map[string]any)
	if override["granted_by"] != lineagetest.Owner || override["reason"] == "" {
		t.Errorf("override %v", override)
	}
	// The README shows this report.
	blocks := testenv.ReadmeBlocks(t, "Gate", "json")
	var readme map[string]any
	if len(blocks) != 1 || json.Unmarshal([]byte(blocks[0]), &readme) != nil || !reflect.DeepEqual(readme, got) {
		t.Errorf("README's Gate section shows\n%v\nwant\n%v", readme, got)
	}
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
