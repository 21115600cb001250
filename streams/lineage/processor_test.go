package lineage_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/lineagetest"
	"github.com/assay-data/assay/streams/runtime"
)

// edges applies one event and returns its edges as "src_kind:src_id rel dst_kind:dst_id".
func edges(t *testing.T, ev schemas.Event) (nodes, out []string) {
	t.Helper()
	p := lineage.NewProcessor()
	res, err := p.Apply(nil, runtime.Record{Topic: "t", Partition: 1, Offset: 7, Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]int{}
	for _, tb := range p.Tables() {
		cols[tb.Name] = len(tb.Columns)
	}
	for _, r := range res.Rows {
		if len(r.Values) != cols[r.Table] {
			t.Fatalf("%s row has %d values, table %d columns", r.Table, len(r.Values), cols[r.Table])
		}
		v := r.Values
		switch r.Table {
		case lineage.TableNodes:
			nodes = append(nodes, v[0].(string)+":"+v[1].(string))
		case lineage.TableEdges:
			out = append(out, v[0].(string)+":"+v[1].(string)+" "+v[2].(string)+" "+v[3].(string)+":"+v[4].(string))
		}
	}
	return nodes, out
}

func TestProcessorEdges(t *testing.T) {
	byID := map[string]schemas.Event{}
	for _, ev := range lineagetest.History() {
		byID[ev.Meta().EventID] = ev
	}
	tests := []struct {
		event string
		nodes []string
		edges []string
	}{
		{"ev-ingest-i1", []string{"item:i1", "source:cam-north"}, []string{"source:cam-north ingested item:i1"}},
		{"ev-label-l1", []string{"label:l1", "annotator:ann-a", "cohort:cohort-a", "model:detector@1.0"},
			[]string{"item:i1 labeled label:l1", "label:l1 by annotator:ann-a", "label:l1 in_cohort cohort:cohort-a", "model:detector@1.0 prelabeled label:l1"}},
		{"ev-review-l3", []string{"review:r-l3", "annotator:rev-1"}, []string{"label:l3 reviewed review:r-l3", "review:r-l3 by annotator:rev-1"}},
		{"ev-version-3", []string{"dataset_version:ds-cars@3"}, []string{"dataset_version:ds-cars@2 parent_of dataset_version:ds-cars@3",
			"item:i1 member_of dataset_version:ds-cars@3", "label:l1 member_of dataset_version:ds-cars@3",
			"item:i2 member_of dataset_version:ds-cars@3", "label:l2 member_of dataset_version:ds-cars@3",
			"item:i3 member_of dataset_version:ds-cars@3", "label:l3b member_of dataset_version:ds-cars@3",
			"item:i4 member_of dataset_version:ds-cars@3", "label:l4 member_of dataset_version:ds-cars@3"}},
		{"ev-run-1", []string{"training_run:run-1"}, []string{"dataset_version:ds-cars@2 trained training_run:run-1"}},
		{"ev-finding-f1", []string{"finding:f1"}, []string{"training_run:run-1 evaluated finding:f1", "finding:f1 implicates item:i3", "finding:f1 implicates item:i4"}},
		{"ev-rem-start-f1", []string{"remediation:f1"}, []string{"finding:f1 remediated remediation:f1"}},
		{"ev-rem-ship-f1", nil, []string{"finding:f1 remediated remediation:f1", "remediation:f1 shipped dataset_version:ds-cars@3"}},
		{"ev-gold-i1", nil, nil},
	}
	for _, tc := range tests {
		n, e := edges(t, byID[tc.event])
		if !reflect.DeepEqual(n, tc.nodes) || !reflect.DeepEqual(e, tc.edges) {
			t.Errorf("%s:\n nodes %q\n want  %q\n edges %q\n want  %q", tc.event, n, tc.nodes, e, tc.edges)
		}
	}
	if _, err := lineage.NewProcessor().Apply(nil, runtime.Record{Event: &schemas.ItemIngested{Envelope: schemas.Envelope{OccurredAt: -1}}}); err == nil {
		t.Error("occurred_at before 1970: no error")
	}
}

// TestProcessorDuplicateCollapses: an event delivered twice (a second
// record, a later offset) writes the same rows but for kafka_offset, the
// version: every edge row has the key of the first copy's (event_id is in
// it) and collapses into it, and every node row re-states the same node.
func TestProcessorDuplicateCollapses(t *testing.T) {
	p := lineage.NewProcessor()
	for _, ev := range lineagetest.History() {
		first, err := p.Apply(nil, runtime.Record{Topic: "t", Partition: 1, Offset: 7, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.Apply(nil, runtime.Record{Topic: "t", Partition: 1, Offset: 70, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Rows) != len(again.Rows) {
			t.Fatalf("%s: %d rows, then %d", ev.Meta().EventID, len(first.Rows), len(again.Rows))
		}
		for i, r := range first.Rows {
			a, b := r.Values, again.Rows[i].Values
			if r.Table != again.Rows[i].Table || !reflect.DeepEqual(a[:len(a)-1], b[:len(b)-1]) || b[len(b)-1] != uint64(70) {
				t.Errorf("%s: row %d %s %v, then %s %v", ev.Meta().EventID, i, r.Table, a, again.Rows[i].Table, b)
			}
		}
	}
}

// TestEdgeSourceKinds holds the rule RunsQuery and FixesQuery narrow their reads by: every
// trained edge leaves a dataset version and every shipped edge a remediation, whatever the
// event (every example of every type).
func TestEdgeSourceKinds(t *testing.T) {
	want := map[string]string{lineage.RelTrained: lineage.KindDatasetVersion, lineage.RelShipped: lineage.KindRemediation}
	seen := map[string]bool{}
	for _, ev := range schematest.Examples() {
		_, es := edges(t, ev)
		for _, e := range es {
			src, rest, _ := strings.Cut(e, " ")
			rel, _, _ := strings.Cut(rest, " ")
			kind, _, _ := strings.Cut(src, ":")
			if k, ok := want[rel]; ok {
				seen[rel] = true
				if kind != k {
					t.Errorf("%s: %s edge from a %s, want from a %s: %s", ev.Type(), rel, kind, k, e)
				}
			}
		}
	}
	for rel := range want {
		if !seen[rel] {
			t.Errorf("no example writes a %s edge", rel)
		}
	}
}
