package anomaly

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// readNow is the instant of the read tests: the current window is 2026-03-09 to 03-15, the
// previous 03-02 to 03-08, the baseline 02-09 to 03-08.
var readNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func day(d int, hour int) time.Time {
	return time.Date(2026, 3, 1, hour, 0, 0, 0, time.UTC).AddDate(0, 0, d-1)
}

// readHistory is every case the reads must get right: windows by a unit's first label and by
// a label's own time, retractions, copies, a reused label id, every level of measurement
// (equal answers written differently), values that need escaping, labels out of every
// window, and a second project.
func readHistory() []schemas.Event {
	var h history
	nom, num := schemas.Nominal, schemas.Interval
	set := func(c ...string) schemas.LabelValue {
		return schemas.LabelValue{Level: schemas.LevelMultiLabel, Categories: c}
	}
	// Units started in the current window, three annotators each, two cohorts.
	for i := range 6 {
		item := fmt.Sprint("cur-", i)
		at := day(9+i, 10)
		h.label("p", "q-nom", item, "ann-a", "c1", "v1", at, nom("car"))
		h.label("p", "q-nom", item, "ann-b", "c1", "v1", at.Add(time.Hour), nom([]string{"car", "truck"}[i%2]))
		h.label("p", "q-nom", item, "ann-c", "c2", "", at.Add(2*time.Hour), nom("car"))
		h.label("p", "q-ord", item, "ann-a", "c1", "v1", at, schemas.Ordinal("small", int32(i%3)))
		h.label("p", "q-ord", item, "ann-b", "c1", "v1", at, schemas.Ordinal("small", int32(i%2)))
		h.label("p", "q-num", item, "ann-a", "c1", "v1", at, num(1.5))
		h.label("p", "q-num", item, "ann-b", "c1", "v1", at, num(1.50))
		h.label("p", "q-set", item, "ann-a", "c1", "v1", at, set("b", "a"))
		h.label("p", "q-set", item, "ann-c", "c2", "", at, set("a", "b"))
	}
	// Units started in the previous window; one gets a label in the current window too.
	for i := range 5 {
		item := fmt.Sprint("prev-", i)
		at := day(2+i, 8)
		h.label("p", "q-nom", item, "ann-a", "c1", "v1", at, nom("truck"))
		h.label("p", "q-nom", item, "ann-b", "c1", "v1", at, nom("truck"))
		late := at
		if i == 0 {
			late = day(10, 8)
		}
		h.label("p", "q-nom", item, "ann-c", "c2", "", late, nom([]string{"truck", "bus"}[i%2]))
	}
	// A unit started before the previous window, labeled again in the current one: in no
	// annotator window, but its labels count in the baseline and the current distribution.
	h.label("p", "q-nom", "old-1", "ann-a", "c1", "v1", day(1, 0).AddDate(0, 0, -10), nom("bus"))
	h.label("p", "q-nom", "old-1", "ann-b", "c1", "v1", day(11, 9), nom("bus"))
	// Retracted: ann-b's second label of cur-0 does not count anywhere.
	r := h.label("p", "q-nom", "cur-0", "ann-d", "c2", "", day(12, 9), nom("bus"))
	h.retract(r, day(12, 10))
	// A copy of an event (the same event id again) counts once.
	c := h.label("p", "q-nom", "cur-1", "ann-d", "c2", "", day(12, 11), nom("car"))
	h.evs = append(h.evs, c)
	// A reused label id (another event, later, another value) counts once, as first given.
	reused := *c
	reused.Envelope.EventID, reused.OccurredAt, reused.Value = "ev-reuse", c.OccurredAt+1000, nom("truck")
	h.evs = append(h.evs, &reused)
	// A value that needs escaping, and labels after the current window (excluded).
	h.label("p", "q-nom", "cur-2", "ann-e", "c2", "", day(13, 9), nom("it's\ta\\\"van\""))
	h.label("p", "q-nom", "future", "ann-a", "c1", "v1", day(16, 1), nom("car"))
	h.label("p", "q-nom", "future", "ann-b", "c1", "v1", day(16, 1), nom("car"))
	// A unit started in the baseline only, and another project.
	h.label("p", "q-nom", "base-1", "ann-a", "c1", "v1", day(1, 0).AddDate(0, 0, -15), nom("car"))
	h.label("p", "q-nom", "base-1", "ann-b", "c1", "v1", day(1, 0).AddDate(0, 0, -15), nom("bus"))
	for i := range 3 {
		h.label("p2", "q-nom", fmt.Sprint("p2-", i), "ann-x", "", "v2", day(10, i), nom("car"))
		h.label("p2", "q-nom", fmt.Sprint("p2-", i), "ann-y", "", "v2", day(10, i), nom("car"))
	}
	// Targets: the project's, a question's, a dataset's (not read), another project's.
	drift := 0.3
	h.targets(&schemas.QualityTargetsSet{ProjectID: "p", EffectiveAt: schemas.Millis(day(1, 0)), MaxLabelDrift: &drift,
		Agreement: &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: 0.8, MinPairableValues: 20, OnLowerBound: true}}, day(1, 0))
	h.targets(&schemas.QualityTargetsSet{ProjectID: "p", QuestionID: "q-ord", EffectiveAt: schemas.Millis(day(5, 0)),
		Agreement: &schemas.AgreementTarget{Level: schemas.LevelOrdinal, MinAlpha: 0.667, MinPairableValues: 10}}, day(1, 1))
	h.targets(&schemas.QualityTargetsSet{ProjectID: "p", DatasetID: "ds", EffectiveAt: schemas.Millis(day(1, 0)), MaxLabelDrift: &drift}, day(1, 2))
	h.targets(&schemas.QualityTargetsSet{ProjectID: "p2", EffectiveAt: schemas.Millis(day(20, 0)), MaxLabelDrift: &drift}, day(1, 3))
	return h.evs
}

// wantTargets are the project's sets of evs not narrowed to a dataset, as ReadTargets reads
// them: in log order, each with its offset (rowsOf's offsets are the events' indices).
func wantTargets(evs []schemas.Event, project string) []TargetSet {
	var out []TargetSet
	for i, ev := range evs {
		e, ok := ev.(*schemas.QualityTargetsSet)
		if !ok || e.DatasetID != "" || (project != "" && e.ProjectID != project) {
			continue
		}
		out = append(out, TargetSet{ProjectID: e.ProjectID, QuestionID: e.QuestionID, EffectiveAt: e.EffectiveAt, Order: int64(i),
			Agreement: e.Agreement, MaxLabelDrift: e.MaxLabelDrift})
	}
	slices.SortStableFunc(out, func(a, b TargetSet) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.EffectiveAt, b.EffectiveAt), cmp.Compare(a.Order, b.Order))
	})
	return out
}

// fixedInterval gives every alpha the same interval around it, so that the measures of the
// cohorts are comparable across servers whatever the figure's own interval.
func fixedInterval(f kpi.AgreementFigure) (agreement.Interval, bool) {
	return agreement.Interval{Low: f.Alpha.Alpha - 0.1, High: f.Alpha.Alpha + 0.01, Level: 0.95}, true
}

// TestReadOn18AndCurrent writes the ledger's and the agreement processor's rows of
// readHistory into the 18.16 server and into a current ClickHouse (chdb), and requires Read
// to return the same inputs from both, equal to what the oracle computes from the events.
func TestReadOn18AndCurrent(t *testing.T) {
	testenv.SkipShort(t)
	evs := readHistory()
	tables, rows := rowsOf(t, evs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	_, conn := testenv.MigratedClickHouse(t)
	if err := writeRows(ctx, tables, rows, runtime.ClickHouseSink(conn).Write); err != nil {
		t.Fatal(err)
	}
	s := chdb.Start(t)
	if err := writeRows(ctx, tables, rows, chdbWrite(s)); err != nil {
		t.Fatal(err)
	}
	for _, project := range []string{"", "p"} {
		cfg := Config{Now: readNow, Project: project, AlphaInterval: fixedInterval}
		old, err := Read(ctx, conn, cfg)
		if err != nil {
			t.Fatalf("18.16: %v", err)
		}
		cur, err := Read(ctx, chdbConn{s: s}, cfg)
		if err != nil {
			t.Fatalf("ClickHouse %s: %v", s.Version, err)
		}
		if !reflect.DeepEqual(old, cur) {
			t.Errorf("project %q: 18.16 read\n%+v\nClickHouse %s read\n%+v", project, old, s.Version, cur)
		}
		if want := wantTargets(evs, project); !reflect.DeepEqual(old.Targets, want) {
			t.Errorf("project %q: targets\n%s\nwant\n%s", project, jsonOf(old.Targets), jsonOf(want))
		}
		var scopes, annotators []ScopeMeasures
		for _, m := range old.Agreement {
			if strings.HasPrefix(m.Scope, annotatorPrefix) {
				annotators = append(annotators, m)
			} else {
				scopes = append(scopes, m)
			}
		}
		wantAnn, wantDist := oracle(t, evs, old.Windows, project)
		if !reflect.DeepEqual(annotators, wantAnn) {
			t.Errorf("project %q: annotators\n%+v\nwant\n%+v", project, annotators, wantAnn)
		}
		if !reflect.DeepEqual(old.Distributions, wantDist) {
			t.Errorf("project %q: distributions\n%+v\nwant\n%+v", project, old.Distributions, wantDist)
		}
		// The cohorts and vendors of q-nom in both windows (kpi.ReadAgreement's own tests
		// prove the figures).
		var names []string
		for _, m := range scopes {
			if m.QuestionID == "q-nom" {
				names = append(names, fmt.Sprintf("%s %s %v %v", m.ProjectID, m.Scope, m.Previous.Evidence > 0, m.Current.Evidence > 0))
			}
		}
		want := []string{"p cohort:c1 true true", "p cohort:c2 false true", "p vendor:v1 true true"}
		if project == "" {
			want = append(want, "p2 vendor:v2 false true")
		}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("project %q: scopes of q-nom %q, want %q", project, names, want)
		}
	}

	// With the figures' own intervals (kpi.ReadAgreement's AlphaCI) the cohorts' measures
	// agree across servers too, and those with an interval are defined.
	cfg := Config{Now: readNow}
	old, err := Read(ctx, conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := Read(ctx, chdbConn{s: s}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old.Agreement, cur.Agreement) {
		t.Errorf("with the figures' intervals: 18.16 %+v\nClickHouse %s %+v", old.Agreement, s.Version, cur.Agreement)
	}
	defined := 0
	for _, m := range old.Agreement {
		if !strings.HasPrefix(m.Scope, annotatorPrefix) && m.Current.Defined {
			defined++
		}
	}
	if defined == 0 {
		t.Errorf("no cohort or vendor has an interval: %+v", old.Agreement)
	}

	// Spot checks of the definitions on the oracle's answer (what both servers returned).
	ann, dists := oracle(t, evs, WindowsAt(readNow, DefaultWindow, DefaultBaselineWindows), "p")
	find := func(question, scope string) ScopeMeasures {
		for _, m := range ann {
			if m.QuestionID == question && m.Scope == scope {
				return m
			}
		}
		t.Fatalf("no %s %s", question, scope)
		return ScopeMeasures{}
	}
	// ann-d: its retracted label does not count, its copied and reused label counts once.
	if d := find("q-nom", "annotator:ann-d"); d.Current.Evidence != 1 || d.Previous.Evidence != 0 {
		t.Errorf("ann-d %+v", d)
	}
	// Equal answers written differently agree: every pair of q-num and q-set.
	for _, q := range []string{"q-num", "q-set"} {
		if a := find(q, "annotator:ann-a"); a.Current.Value != 1 || a.Current.Evidence != 6 {
			t.Errorf("%s ann-a %+v", q, a)
		}
	}
	// prev-0 started in the previous window: its late label is compared there.
	if c := find("q-nom", "annotator:ann-c"); c.Previous.Evidence != 5 {
		t.Errorf("ann-c %+v", c)
	}
	for _, d := range dists {
		if d.QuestionID == "q-nom" && (d.Current.Counts["bus"] != 1 || d.Baseline.Counts["bus"] != 4) {
			t.Errorf("bus of q-nom: %+v", d)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
