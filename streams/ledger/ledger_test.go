package ledger_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

func record(t testing.TB, ev schemas.Event, offset int64) runtime.Record {
	t.Helper()
	val, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.Record{Topic: "p." + ev.Family().Topic(), Family: ev.Family(), Partition: 2, Offset: offset,
		Key: []byte(ev.Key()), Timestamp: time.Now(), Value: val, Event: ev}
}

func columns() map[string][]string {
	out := map[string][]string{}
	for _, tb := range ledger.Tables() {
		out[tb.Name] = tb.Columns
	}
	return out
}

// get returns the value of column col in row r of table.
func get(t *testing.T, r runtime.Row, col string) any {
	t.Helper()
	for i, c := range columns()[r.Table] {
		if c == col {
			return r.Values[i]
		}
	}
	t.Fatalf("table %s has no column %s", r.Table, col)
	return nil
}

func TestApplyEveryType(t *testing.T) {
	evs := workload.New("u", 1).Round(0)
	of := func(typ schemas.EventType) schemas.Event {
		for _, ev := range evs {
			if ev.Type() == typ {
				return ev
			}
		}
		t.Fatalf("no %s in a round", typ)
		return nil
	}
	members := len(of(schemas.TypeDatasetVersionCommitted).(*schemas.DatasetVersionCommitted).Members)
	versions := len(of(schemas.TypeTrainingRunRegistered).(*schemas.TrainingRunRegistered).DatasetVersions)
	implicated := len(of(schemas.TypeEvalFindingReported).(*schemas.EvalFindingReported).ImplicatedItemIDs)
	targets := len(of(schemas.TypeCoverageTargetSet).(*schemas.CoverageTargetSet).SliceTargets)
	if members < 2 || versions < 1 || implicated < 2 || targets < 2 {
		t.Fatalf("the examples' lists are too short to test: %d members, %d versions, %d items, %d targets", members, versions, implicated, targets)
	}
	type want struct {
		tables map[string]int // rows per table besides the one events row
		check  func(t *testing.T, rows []runtime.Row)
	}
	cases := map[schemas.EventType]want{
		schemas.TypeItemIngested: {map[string]int{"items": 1}, func(t *testing.T, rows []runtime.Row) {
			if got := get(t, rows[1], "slice_tags").([]string); strings.Join(got, ",") != "night,urban" {
				t.Errorf("slice_tags = %v", got)
			}
		}},
		schemas.TypePreLabelProposed: {map[string]int{"prelabels": 1}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "value_level") != "nominal" || get(t, rows[1], "value_rank").(*int32) != nil {
				t.Errorf("value columns wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeRoutingDecided: {map[string]int{"routing": 1}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "input_names").([]string)[1] != "threshold" || get(t, rows[1], "input_values").([]float64)[1] != 0.95 {
				t.Errorf("inputs wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeLabelSubmitted: {map[string]int{"labels": 1}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "value_level") != "nominal" || get(t, rows[1], "value_category") != "car" || get(t, rows[1], "prelabel_model") != "detector" {
				t.Errorf("label columns wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeLabelRetracted: {map[string]int{"label_retractions": 1}, nil},
		schemas.TypeGoldLabelSet: {map[string]int{"gold_labels": 1}, func(t *testing.T, rows []runtime.Row) {
			if r := get(t, rows[1], "value_rank").(*int32); get(t, rows[1], "value_level") != "ordinal" || r == nil || *r != 3 || len(get(t, rows[1], "value_categories").([]string)) != 0 {
				t.Errorf("gold value columns wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeReviewCompleted: {map[string]int{"reviews": 1}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "corrected_level") != "multi_label" || strings.Join(get(t, rows[1], "corrected_categories").([]string), ",") != "car,truck" ||
				get(t, rows[1], "corrected_number").(*float64) != nil {
				t.Errorf("corrected columns wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeCoverageTargetSet: {map[string]int{"coverage_targets": 1}, func(t *testing.T, rows []runtime.Row) {
			counts := get(t, rows[1], "slice_min_counts").([]*int64)
			shares := get(t, rows[1], "slice_target_shares").([]*float64)
			if len(counts) != targets || counts[0] != nil || counts[1] == nil || *counts[1] != 500 || shares[0] == nil || shares[1] != nil {
				t.Errorf("slice_min_counts = %v, slice_target_shares = %v", counts, shares)
			}
		}},
		schemas.TypeDatasetVersionCommitted: {map[string]int{"dataset_versions": 1, "dataset_members": members}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "member_count") != uint64(members) {
				t.Errorf("member_count = %v", get(t, rows[1], "member_count"))
			}
		}},
		schemas.TypeTrainingRunRegistered: {map[string]int{"training_runs": 1, "training_run_datasets": versions}, nil},
		schemas.TypeEvalFindingReported:   {map[string]int{"findings": 1, "finding_items": implicated}, nil},
		schemas.TypeRemediationStarted: {map[string]int{"remediations": 1}, func(t *testing.T, rows []runtime.Row) {
			if get(t, rows[1], "stage") != ledger.StageStarted || get(t, rows[1], "owner") != "data-team" {
				t.Errorf("remediation wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeRemediationShipped: {map[string]int{"remediations": 1}, func(t *testing.T, rows []runtime.Row) {
			want := of(schemas.TypeRemediationShipped).(*schemas.RemediationShipped).FixingVersion
			if get(t, rows[1], "stage") != ledger.StageShipped || get(t, rows[1], "fixing_version") != want || get(t, rows[1], "owner") != "" {
				t.Errorf("remediation wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeGuidelineReleased: {map[string]int{"guidelines": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeGuidelineReleased).(*schemas.GuidelineReleased)
			if get(t, rows[1], "project_id") != e.ProjectID || get(t, rows[1], "guideline_version") != e.GuidelineVersion || get(t, rows[1], "sha256") != e.SHA256 {
				t.Errorf("guideline wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeQuestionDefined: {map[string]int{"questions": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeQuestionDefined).(*schemas.QuestionDefined)
			r := rows[1]
			if get(t, r, "question_id") != e.QuestionID || get(t, r, "level") != "spans" || !reflect.DeepEqual(get(t, r, "labels"), e.Labels) ||
				*get(t, r, "iou_threshold").(*float64) != *e.IoUThreshold || get(t, r, "strength_scale").(*int32) != nil {
				t.Errorf("question wrong: %v", r.Values)
			}
		}},
		schemas.TypeQualityTargetsSet: {map[string]int{"quality_targets": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeQualityTargetsSet).(*schemas.QualityTargetsSet)
			r := rows[1]
			if get(t, r, "project_id") != e.ProjectID || get(t, r, "targets_version") != e.TargetsVersion || get(t, r, "dataset_id") != e.DatasetID ||
				get(t, r, "question_id") != e.QuestionID || get(t, r, "effective_at_ms") != e.EffectiveAt {
				t.Errorf("targets' keys wrong: %v", r.Values)
			}
			if a := get(t, r, "agreement_min_alpha").(*float64); a == nil || *a != e.Agreement.MinAlpha || get(t, r, "agreement_level") != "nominal" ||
				*get(t, r, "agreement_min_pairable_values").(*int64) != e.Agreement.MinPairableValues || get(t, r, "agreement_on_lower_bound") != uint8(0) {
				t.Errorf("agreement target wrong: %v", r.Values)
			}
			if a := get(t, r, "accuracy_min_accuracy").(*float64); a == nil || *a != 0.7 || get(t, r, "accuracy_denominator") != "final_after_review" ||
				*get(t, r, "accuracy_min_gold_labels").(*int64) != 10 {
				t.Errorf("accuracy target wrong: %v", r.Values)
			}
			if c := get(t, r, "min_edge_case_coverage").(*float64); c == nil || *c != 0.5 || *get(t, r, "min_lineage_completeness").(*float64) != 1 ||
				*get(t, r, "max_rework_rate").(*float64) != 0.25 || *get(t, r, "max_label_drift").(*float64) != 0.2 || get(t, r, "allow_gold_in_training") != uint8(0) {
				t.Errorf("coverage, completeness, rework, drift or gold wrong: %v", r.Values)
			}
			if sev, max := get(t, r, "max_open_findings_severities").([]string), get(t, r, "max_open_findings_max").([]int64); strings.Join(sev, ",") != "critical,high" ||
				len(max) != 2 || max[0] != 0 || max[1] != 2 {
				t.Errorf("finding limits %v %v", sev, max)
			}
			// A target left out is NULL, a flag set is 1.
			bare := &schemas.QualityTargetsSet{Envelope: e.Envelope, ProjectID: "p", TargetsVersion: "t", EffectiveAt: 1, AllowGoldInTraining: true,
				MaxReworkRate: e.MaxReworkRate}
			out, err := ledger.New().Apply(nil, record(t, bare, 3))
			if err != nil {
				t.Fatal(err)
			}
			b := out.Rows[1]
			if get(t, b, "agreement_min_alpha").(*float64) != nil || get(t, b, "agreement_level") != "" || get(t, b, "accuracy_min_gold_labels").(*int64) != nil ||
				get(t, b, "min_slice_coverage").(*float64) != nil || len(get(t, b, "max_open_findings_max").([]int64)) != 0 || get(t, b, "allow_gold_in_training") != uint8(1) {
				t.Errorf("a bare target set: %v", b.Values)
			}
		}},
		schemas.TypeDatasetVersionCertified: {map[string]int{"dataset_verdicts": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeDatasetVersionCertified).(*schemas.DatasetVersionCertified)
			r := rows[1]
			fig, low := get(t, r, "check_figure").([]*float64), get(t, r, "check_low").([]*float64)
			if get(t, r, "certified") != uint8(1) || get(t, r, "sequence") != e.Sequence || get(t, r, "supersedes") != e.Supersedes ||
				strings.Join(get(t, r, "targets_versions").([]string), ",") != strings.Join(e.TargetsVersions, ",") ||
				strings.Join(get(t, r, "check_target").([]string), ",") != "min_alpha,min_lineage_completeness" ||
				len(fig) != 2 || *fig[0] != 0.81 || *low[0] != 0.74 || low[1] != nil ||
				strings.Join(get(t, r, "check_status").([]string), ",") != "pass,pass" || get(t, r, "check_evidence").([]int64)[0] != 240 {
				t.Errorf("certified verdict wrong: %v", r.Values)
			}
		}},
		schemas.TypeDatasetVersionRejected: {map[string]int{"dataset_verdicts": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeDatasetVersionRejected).(*schemas.DatasetVersionRejected)
			r := rows[1]
			if get(t, r, "certified") != uint8(0) || get(t, r, "reason") != e.Reason || get(t, r, "check_scope").([]string)[0] != "q-1" ||
				get(t, r, "check_threshold").([]float64)[0] != 0.7 || get(t, r, "check_status").([]string)[0] != "fail" ||
				get(t, r, "check_high").([]*float64)[0] != nil || get(t, r, "check_detail").([]string)[1] != "" {
				t.Errorf("rejected verdict wrong: %v", r.Values)
			}
		}},
		schemas.TypeGateOverrideGranted: {map[string]int{"gate_overrides": 1}, func(t *testing.T, rows []runtime.Row) {
			e := of(schemas.TypeGateOverrideGranted).(*schemas.GateOverrideGranted)
			if get(t, rows[1], "dataset_id") != e.DatasetID || get(t, rows[1], "version") != e.Version || get(t, rows[1], "reason") != e.Reason {
				t.Errorf("override wrong: %v", rows[1].Values)
			}
		}},
		schemas.TypeEventRejected: {map[string]int{"dlq": 1}, func(t *testing.T, rows []runtime.Row) {
			if p := get(t, rows[1], "original_partition").(*int32); get(t, rows[1], "original") != `{"event_type":"Nope"}` || p == nil || *p != 2 {
				t.Errorf("dlq wrong: %v", rows[1].Values)
			}
		}},
	}
	if len(cases) != len(schemas.EventTypes()) {
		t.Fatalf("%d cases for %d event types", len(cases), len(schemas.EventTypes()))
	}
	cols := columns()
	for _, ev := range evs {
		t.Run(string(ev.Type()), func(t *testing.T) {
			w, ok := cases[ev.Type()]
			if !ok {
				t.Fatalf("no case for %s", ev.Type())
			}
			rec := record(t, ev, 41)
			out, err := ledger.New().Apply(nil, rec)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Emit) != 0 {
				t.Fatalf("ledger emitted %d events", len(out.Emit))
			}
			got := map[string]int{}
			for _, r := range out.Rows {
				got[r.Table]++
				if n := len(cols[r.Table]); n != len(r.Values) {
					t.Fatalf("%s row has %d values for %d columns", r.Table, len(r.Values), n)
				}
				if r.Table == "events" {
					continue
				}
				// Every typed row carries the envelope and the log position.
				if get(t, r, "event_id") != ev.Meta().EventID || get(t, r, "kafka_offset") != uint64(41) ||
					get(t, r, "kafka_partition") != uint32(2) || get(t, r, "event_type") != string(ev.Type()) {
					t.Errorf("%s envelope wrong: %v", r.Table, r.Values[:12])
				}
				if got := get(t, r, "occurred_at").(time.Time); got.UnixMilli()/1000 != ev.Meta().OccurredAt/1000 {
					t.Errorf("%s occurred_at = %v", r.Table, got)
				}
			}
			if got["events"] != 1 || out.Rows[0].Table != "events" {
				t.Fatalf("want the events row first, got %v", got)
			}
			delete(got, "events")
			if len(got) != len(w.tables) {
				t.Fatalf("rows per table = %v, want %v", got, w.tables)
			}
			for tb, n := range w.tables {
				if got[tb] != n {
					t.Fatalf("rows per table = %v, want %v", got, w.tables)
				}
			}
			ev0 := out.Rows[0]
			if get(t, ev0, "offset") != uint64(41) || get(t, ev0, "record_key") != ev.Key() || get(t, ev0, "event_id") != ev.Meta().EventID {
				t.Errorf("events row wrong: %v", ev0.Values)
			}
			var payload map[string]any
			if err := json.Unmarshal([]byte(get(t, ev0, "payload").(string)), &payload); err != nil || payload["event_id"] != ev.Meta().EventID {
				t.Errorf("payload %v (%v)", payload, err)
			}
			fp, _ := schemas.Fingerprint(ev.Type())
			if get(t, ev0, "schema_fingerprint") != fp {
				t.Errorf("schema_fingerprint = %v, want %v", get(t, ev0, "schema_fingerprint"), fp)
			}
			if w.check != nil {
				w.check(t, out.Rows)
			}
		})
	}
}

func TestApplyIsDeterministic(t *testing.T) {
	// Replaying a record must produce identical rows, or FINAL could pick a
	// different copy than the one an analyst saw before.
	for _, ev := range workload.New("d", 2).Round(3) {
		rec := record(t, ev, 7)
		a, err1 := ledger.New().Apply(nil, rec)
		b, err2 := ledger.New().Apply(nil, rec)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("%s: rows differ between two applies", ev.Type())
		}
	}
}

func TestApplyRejectsTimesOutsideDateTime(t *testing.T) {
	tests := map[string]func(m *schemas.Envelope){
		"occurred_at negative":   func(m *schemas.Envelope) { m.OccurredAt = -1 },
		"recorded_at after 2106": func(m *schemas.Envelope) { m.RecordedAt = 5_000_000_000_000 },
		"occurred_at after 2106": func(m *schemas.Envelope) { m.OccurredAt = 4_294_967_296_000 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			ev := workload.New("x", 3).Round(0)[0]
			rec := record(t, ev, 1) // encode while valid, then corrupt the decoded view
			mutate(rec.Event.Meta())
			if _, err := ledger.New().Apply(nil, rec); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestTablesAreDeclaredOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, tb := range ledger.Tables() {
		if seen[tb.Name] {
			t.Fatalf("table %s declared twice", tb.Name)
		}
		seen[tb.Name] = true
		cols := map[string]bool{}
		for _, c := range tb.Columns {
			if cols[c] {
				t.Fatalf("%s: column %s twice", tb.Name, c)
			}
			cols[c] = true
		}
	}
	if len(seen) != len(workload.ExpectedRows(1)) {
		t.Fatalf("%d tables, workload expects %d", len(seen), len(workload.ExpectedRows(1)))
	}
}
