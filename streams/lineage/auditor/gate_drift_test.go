package auditor

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
)

// TestGateDrift: every way ClickHouse's gate can differ from the log's is named: a verdict
// missing, one the log never had, a check that differs, an override missing or forged, a run
// that found another verdict at its registration. Equal gates have no drift.
func TestGateDrift(t *testing.T) {
	g := lineage.New(0)
	for _, ev := range append(lineagetest.History(), lineagetest.Gate()...) {
		g.Apply(ev)
	}
	want := g.Gate(lineage.VersionRef{DatasetID: lineagetest.Dataset, Version: "2"})
	if d := gateDrift("ds-cars@2", want, want); len(d) != 0 {
		t.Fatalf("equal gates: drift %v", d)
	}
	got := lineage.Gate{Verdicts: append([]lineage.Verdict(nil), want.Verdicts...), Overrides: []lineage.Override{
		{ProjectID: "proj", Reason: "no reason at all, really", Producer: "mallory", OccurredAt: 1, EventID: "ev-x"}},
		Runs: []lineage.RunGate{{RunID: "run-1", RegisteredAt: want.Runs[0].RegisteredAt, Sequence: 1, Certified: true}}}
	got.Verdicts[0].Checks = append([]schemas.TargetCheck(nil), got.Verdicts[0].Checks...)
	got.Verdicts[0].Checks[1].Status = schemas.CheckPass
	got.Verdicts[1].EventID = "ev-other"
	d := gateDrift("ds-cars@2", got, want)
	sortDrift(d)
	wantDrift := []Drift{
		{Table: "lineage gate", Key: "ds-cars@2", Problem: fmt.Sprintf("training runs at registration [{RunID:run-1 RegisteredAt:%d Sequence:1 Certified:true Overridden:false}], "+
			"log says [{RunID:run-1 RegisteredAt:%[1]d Sequence:1 Certified:false Overridden:true}]", lineagetest.At(40)+100)},
		{Table: lineage.TableOverrides, Key: "ds-cars@2 ev-override-2", Problem: "row missing"},
		{Table: lineage.TableOverrides, Key: "ds-cars@2 ev-x", Problem: "row not in the log"},
		{Table: lineage.TableVerdicts, Key: "ds-cars@2 ev-other", Problem: "row not in the log"},
		{Table: lineage.TableVerdicts, Key: "ds-cars@2 ev-verdict-2-1", Problem: "check 2: pass min_lineage_completeness: figure 0.5, threshold 1, evidence 4 (2 of 4 members have a complete chain), " +
			"log says fail min_lineage_completeness: figure 0.5, threshold 1, evidence 4 (2 of 4 members have a complete chain)"},
		{Table: lineage.TableVerdicts, Key: "ds-cars@2 ev-verdict-2-2", Problem: "row missing"},
	}
	if !reflect.DeepEqual(d, wantDrift) {
		t.Errorf("drift\n %v\nwant\n %v", d, wantDrift)
	}
}
