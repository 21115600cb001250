package lineage_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"
)

func TestOpenLineageExport(t *testing.T) {
	evs := build(0, true).OpenLineage("assay")
	type summary struct{ Job, In, Out string }
	var got []summary
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, e := range evs {
		if !uuid.MatchString(e.Run.RunID) || e.EventType != "COMPLETE" || e.SchemaURL == "" {
			t.Errorf("bad event %+v", e)
		}
		s := summary{Job: e.Job.Name}
		for _, d := range e.Inputs {
			s.In += d.Name + " "
		}
		for _, d := range e.Outputs {
			s.Out += d.Name + " "
		}
		got = append(got, s)
	}
	want := []summary{
		{"dataset_commit/ds-cars", "", "ds-cars@1 "},
		{"dataset_commit/ds-cars", "ds-cars@1 ", "ds-cars@2 "},
		{"training/detector-2", "ds-cars@2 ", ""},
		{"dataset_commit/ds-cars", "ds-cars@2 ", "ds-cars@3 "},
		{"remediation/f1", "ds-cars@2 ", "ds-cars@3 "},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	// Deterministic: the same log exports the same bytes.
	a, _ := json.Marshal(evs)
	b, _ := json.Marshal(build(0, false).OpenLineage("assay"))
	if string(a) != string(b) {
		t.Error("export depends on fold order")
	}
}
