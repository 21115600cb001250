package kpi_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
	"github.com/assay-data/assay/streams/runtime/runtimetest"
)

// snapshotLog is the log of one partition of family: two annotation
// programs interleaved (golds, corrected golds, retractions, reviews), a
// copy of every 13th event delivered again a few records later, an ordinal
// question, and retractions by a producer that did not submit the label
// (refused: the state must not move).
func snapshotLog(family schemas.Family) []schemas.Event {
	var evs []schemas.Event
	for i, run := range []string{"snap-a", "snap-b"} {
		cfg := annotation.DefaultConfig(run, uint64(7+i))
		cfg.Items = 250
		for _, ev := range annotation.Generate(cfg).Events {
			if ev.Family() == family {
				evs = append(evs, ev)
			}
		}
	}
	if family == schemas.FamilyLabels {
		for i := range 40 {
			rank := int32(i % 5)
			l := label(fmt.Sprintf("ord-%d", i), fmt.Sprintf("ord-item-%d", i%9), fmt.Sprintf("ann-%d", i%4), "", schemas.LabelValue{
				Level: schemas.LevelOrdinal, Category: fmt.Sprint("r", rank), Rank: &rank})
			l.QuestionID, l.Producer = "severity", "tool"
			evs = append(evs, l)
			if i%6 == 0 {
				r := retract(fmt.Sprintf("ord-%d", i), fmt.Sprintf("ord-item-%d", i%9))
				r.Producer = "someone-else"
				evs = append(evs, r)
			}
		}
	}
	out := slices.Clone(evs)
	for i := 0; i < len(evs); i += 13 {
		at := min(len(out), i+i/13+5)
		out = slices.Insert(out, at, evs[i])
	}
	return out
}

// TestSnapshotsRestoreTheRebuiltState: for each KPI processor and each
// topic it reads, a state restored from a snapshot at any cut of the log
// equals the state the log builds, and gives the same rows for the rest of
// the log; damaged, foreign and outdated snapshots are refused.
func TestSnapshotsRestoreTheRebuiltState(t *testing.T) {
	for _, c := range []struct {
		p      runtime.Snapshotter
		family schemas.Family
	}{
		{kpi.NewAgreement(), schemas.FamilyLabels},
		{kpi.NewAccuracy(), schemas.FamilyLabels},
		{kpi.NewFlow(), schemas.FamilyItems},
		{kpi.NewFlow(), schemas.FamilyLabels},
		{kpi.NewFlow(), schemas.FamilyReviews},
	} {
		t.Run(c.p.Name()+"/"+string(c.family), func(t *testing.T) {
			recs := runtimetest.Records("p."+c.family.Topic(), 3, snapshotLog(c.family))
			runtimetest.CheckSnapshots(t, c.p, recs, runtimetest.SnapshotCheck{})
		})
	}
	// kpi_regions and kpi_preference, on a log of spans, boxes and preferences (answersLog:
	// second labels of an annotator, golds and corrected golds, retractions, copies, refused
	// retractions and values) interleaved with the labels of the log above, which they ignore.
	log := slices.Clone(snapshotLog(schemas.FamilyLabels))
	for i, ev := range answersLog("snap", 3, 80, true) {
		log = slices.Insert(log, min(len(log), 2*i), ev)
	}
	for _, p := range []runtime.Snapshotter{kpi.NewRegions(), kpi.NewPreference()} {
		t.Run(p.Name(), func(t *testing.T) {
			runtimetest.CheckSnapshots(t, p, runtimetest.Records("p.labels", 3, log), runtimetest.SnapshotCheck{})
		})
	}
}
