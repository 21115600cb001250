package schemas_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
)

// TestReadmeQualityTargetsExample: the QualityTargetsSet that README.md shows under "The event
// contract" is what the gateway accepts: strict JSON of the type's fields, valid, and it states
// every target. The label values the section shows before it (one a line) are valid values of
// the levels they name, and show every structured level.
func TestReadmeQualityTargetsExample(t *testing.T) {
	blocks := testenv.ReadmeBlocks(t, "The event contract", "json")
	if len(blocks) != 2 {
		t.Fatalf("found %d json blocks in the section, want 2 (label values, quality targets)", len(blocks))
	}
	levels := map[schemas.MeasurementLevel]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(blocks[0])), []byte("\n")) {
		var v schemas.LabelValue
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("label value %s: %v", line, err)
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("label value %s: %v", line, err)
		}
		levels[v.Level] = true
	}
	if !levels[schemas.LevelSpans] || !levels[schemas.LevelBoxes] || !levels[schemas.LevelPreference] {
		t.Fatalf("the label values show levels %v", levels)
	}
	blocks = blocks[1:]
	var head struct {
		EventType schemas.EventType `json:"event_type"`
	}
	if err := json.Unmarshal([]byte(blocks[0]), &head); err != nil || head.EventType != schemas.TypeQualityTargetsSet {
		t.Fatalf("event_type %q (%v)", head.EventType, err)
	}
	ev := &schemas.QualityTargetsSet{}
	dec := json.NewDecoder(bytes.NewReader([]byte(blocks[0])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		t.Fatal(err)
	}
	schemas.Stamp(ev, "owner-1", testNow)
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.Agreement == nil || ev.Accuracy == nil || ev.Coverage == nil || ev.Coverage.MinSliceCoverage == nil || ev.Coverage.MinEdgeCaseCoverage == nil ||
		ev.MinLineageCompleteness == nil || ev.MaxReworkRate == nil || len(ev.MaxOpenFindings) == 0 || ev.MaxLabelDrift == nil {
		t.Fatalf("the example leaves a target out: %+v", ev)
	}
	if _, err := schemas.Encode(ev); err != nil {
		t.Fatal(err)
	}
}
