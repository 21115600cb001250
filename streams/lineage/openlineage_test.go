package lineage_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/assay-data/assay/ops/openlineage"
	"github.com/assay-data/assay/streams/lineage"
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

// jsonLines encodes events as the CLI writes them: one JSON object a line.
func jsonLines(t *testing.T, evs []lineage.OLRunEvent) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestOpenLineageExportValid proves the export of the scripted history valid with OpenLineage's
// reference client (ops/openlineage): every event rebuilt from the spec's generated model
// classes, validators run, and serialized back to the same JSON.
func TestOpenLineageExportValid(t *testing.T) {
	evs := build(0, true).OpenLineage("assay")
	res := openlineage.Valid(t, jsonLines(t, evs), len(evs))
	if res.SchemaURL != lineage.OpenLineageSchemaURL {
		t.Errorf("the client models %s, the export claims %s", res.SchemaURL, lineage.OpenLineageSchemaURL)
	}
	// With the gate's verdicts the dataset facets carry them, and the export stays valid.
	evs = withGate(0, true).OpenLineage("assay")
	openlineage.Valid(t, jsonLines(t, evs), len(evs))
}

// TestOpenLineageGateFacet: a version the gate judged carries the verdict in force in its
// assay facet (with its failing checks and the overrides counted); one never judged nor
// overridden has no gate part; the gate's events add no OpenLineage event.
func TestOpenLineageGateFacet(t *testing.T) {
	evs := withGate(0, true).OpenLineage("assay")
	if n := len(build(0, true).OpenLineage("assay")); len(evs) != n {
		t.Errorf("%d events with the gate's, %d without", len(evs), n)
	}
	got := map[string]any{}
	for _, e := range evs {
		for _, d := range e.Outputs {
			if f, ok := d.Facets["assay"].(map[string]any); ok {
				got[d.Name] = f["gate"]
			}
		}
	}
	want := map[string]any{
		"ds-cars@1": map[string]any{"verdict": "certified", "sequence": int64(1), "reason": "meets all 2 targets of t1", "failingChecks": []string{}, "overrides": 0},
		"ds-cars@2": map[string]any{"verdict": "rejected", "sequence": int64(2), "reason": "min_lineage_completeness: 0.75 < 1",
			"failingChecks": []string{"min_lineage_completeness"}, "overrides": 1},
		"ds-cars@3": map[string]any{"verdict": "certified", "sequence": int64(1), "reason": "meets all 2 targets of t1", "failingChecks": []string{}, "overrides": 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gate facets\n %v\nwant\n %v", got, want)
	}
	for _, e := range build(0, true).OpenLineage("assay") {
		for _, d := range e.Outputs {
			if f, ok := d.Facets["assay"].(map[string]any); ok && f["gate"] != nil {
				t.Errorf("%s: a gate part without any verdict: %v", d.Name, f["gate"])
			}
		}
	}
}

// TestOpenLineageCheckRefusesInvalid breaks one event of the real export at a time and expects
// the reference-client check to name that event and the reason, so the check above is not
// vacuous.
func TestOpenLineageCheckRefusesInvalid(t *testing.T) {
	evs := build(0, true).OpenLineage("assay")
	facetAt := -1 // an event whose output carries the assay dataset facet
	for i, e := range evs {
		if len(e.Outputs) > 0 && e.Outputs[0].Facets != nil {
			facetAt = i
			break
		}
	}
	if facetAt < 0 {
		t.Fatal("no event with a dataset facet in the export")
	}
	last := len(evs) - 1
	tests := []struct {
		name   string
		at     int
		mutate func(e map[string]any)
		reason string // a substring of the checker's error
	}{
		{"runId not a UUID", last, func(e map[string]any) { e["run"].(map[string]any)["runId"] = "remediation:f1" }, "badly formed hexadecimal UUID"},
		{"facet without _producer", facetAt, func(e map[string]any) {
			delete(e["outputs"].([]any)[0].(map[string]any)["facets"].(map[string]any)["assay"].(map[string]any), "_producer")
		}, "outputs[0].facets.assay: _producer is missing"},
		{"facet _schemaURL not a URI", facetAt, func(e map[string]any) {
			e["outputs"].([]any)[0].(map[string]any)["facets"].(map[string]any)["assay"].(map[string]any)["_schemaURL"] = "AssayDatasetVersionFacet"
		}, "outputs[0].facets.assay._schemaURL: 'AssayDatasetVersionFacet' is not an absolute URI"},
		{"eventType outside the enum", 0, func(e map[string]any) { e["eventType"] = "DONE" }, "'DONE' is not a valid EventType"},
		{"eventTime without an offset", 0, func(e map[string]any) { e["eventTime"] = "2026-10-01T08:20:00" }, "not an RFC 3339 date-time"},
		{"eventTime without a time", 0, func(e map[string]any) { e["eventTime"] = "2026-10-01" }, "not an RFC 3339 date-time"},
		{"producer missing", 0, func(e map[string]any) { delete(e, "producer") }, "producer is missing"},
		{"field unknown to the spec", 0, func(e map[string]any) { e["run"].(map[string]any)["startedAt"] = "2026-10-01T08:20:00Z" }, "event.run.startedAt: written by us, unknown to the spec's model"},
		{"job name not a string", last, func(e map[string]any) { e["job"].(map[string]any)["name"] = 7 }, "job.name: 7 is not a string"},
		{"schemaURL of another definition", 0, func(e map[string]any) {
			e["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
		}, "but the client models"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			for i, line := range strings.SplitAfter(string(jsonLines(t, evs)), "\n") {
				if i == tc.at {
					var e map[string]any
					if err := json.Unmarshal([]byte(line), &e); err != nil {
						t.Fatal(err)
					}
					tc.mutate(e)
					b, err := json.Marshal(e)
					if err != nil {
						t.Fatal(err)
					}
					line = string(b) + "\n"
				}
				lines = append(lines, line)
			}
			res := openlineage.Check(t, []byte(strings.Join(lines, "")))
			if res.Event != tc.at+1 || res.Events != tc.at || !strings.Contains(res.Error, tc.reason) {
				t.Errorf("verdict %+v, want event %d refused with %q", res, tc.at+1, tc.reason)
			}
		})
	}
}

// TestFacetsMatchTheirPublishedSchemas validates every custom facet of the export against the
// schema its _schemaURL names, from the files published in facets/ (resolved offline): a field
// added to a facet without its schema, or a schema URL pointing at nothing, fails here.
func TestFacetsMatchTheirPublishedSchemas(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := fs.Glob(lineage.FacetSchemas, "facets/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no facet schemas embedded: %v", err)
	}
	file, _, _ := strings.Cut(lineage.DatasetVersionFacetSchemaURL, "#")
	base := file[:strings.LastIndex(file, "/")+1] // where the files of facets/ are published
	for _, f := range files {
		b, _ := lineage.FacetSchemas.ReadFile(f)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(base+path.Base(f), doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	seen := map[string]int{}
	check := func(where string, facets map[string]any) {
		for name, facet := range facets {
			b, _ := json.Marshal(facet)
			v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			url, _ := v.(map[string]any)["_schemaURL"].(string)
			sch, err := c.Compile(url)
			if err != nil {
				t.Errorf("%s facet %q: _schemaURL %q resolves to no published schema: %v", where, name, url, err)
				continue
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s facet %q does not match %s: %v", where, name, url, err)
			}
			seen[url]++
		}
	}
	for _, e := range append(build(0, true).OpenLineage("assay"), withGate(0, true).OpenLineage("assay")...) {
		check(e.Job.Name+" run", e.Run.Facets)
		for _, d := range append(append([]lineage.OLDataset{}, e.Inputs...), e.Outputs...) {
			check(e.Job.Name+" dataset "+d.Name, d.Facets)
		}
	}
	for _, url := range []string{lineage.DatasetVersionFacetSchemaURL, lineage.RemediationFacetSchemaURL} {
		if seen[url] == 0 {
			t.Errorf("no facet of %s in the export", url)
		}
	}
	t.Logf("facets validated: %v", seen)
}
