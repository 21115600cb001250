package anomaly

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// history builds a log of label events for the read tests.
type history struct {
	evs []schemas.Event
	n   int
}

// labeler is the producer of every label and retraction (a retraction must come from its
// label's producer).
const labeler = "labeler-1"

func (h *history) envelope(kind string, at time.Time) schemas.Envelope {
	h.n++
	return schemas.Envelope{EventID: fmt.Sprintf("ev-%s-%d", kind, h.n), OccurredAt: schemas.Millis(at),
		RecordedAt: schemas.Millis(at), Producer: labeler}
}

// label appends a LabelSubmitted and returns it.
func (h *history) label(project, question, item, annotator, cohort, vendor string, at time.Time, v schemas.LabelValue) *schemas.LabelSubmitted {
	env := h.envelope("label", at)
	l := &schemas.LabelSubmitted{Envelope: env, LabelID: "l-" + env.EventID, ItemID: item, ProjectID: project, TaskID: "t",
		QuestionID: question, AnnotatorID: annotator, Cohort: cohort, Vendor: vendor, GuidelineVersion: "g1", Value: v}
	h.evs = append(h.evs, l)
	return l
}

// retract appends a LabelRetracted of l.
func (h *history) retract(l *schemas.LabelSubmitted, at time.Time) {
	h.evs = append(h.evs, &schemas.LabelRetracted{Envelope: h.envelope("retract", at), LabelID: l.LabelID, ItemID: l.ItemID, Reason: "mistake"})
}

// targets appends a QualityTargetsSet.
func (h *history) targets(ts *schemas.QualityTargetsSet, at time.Time) {
	ts.Envelope = h.envelope("targets", at)
	ts.Envelope.Producer = "owner-1"
	if ts.TargetsVersion == "" {
		ts.TargetsVersion = ts.EventID
	}
	h.evs = append(h.evs, ts)
}

// rowsOf applies the ledger and the agreement KPI processor to evs (one partition per
// topic, offsets in log order) and returns the rows of every table they write.
func rowsOf(t testing.TB, evs []schemas.Event) (tables []runtime.Table, rows map[string][][]any) {
	t.Helper()
	rows = map[string][][]any{}
	for _, p := range []runtime.Processor{ledger.New(), kpi.NewAgreement()} {
		tables = append(tables, p.Tables()...)
		states := map[string]any{}
		for i, ev := range evs {
			if !slices.Contains(p.Families(), ev.Family()) {
				continue
			}
			topic := ev.Family().Topic()
			st, ok := states[topic]
			if !ok {
				st = p.NewState(topic, 0)
				states[topic] = st
			}
			out, err := p.Apply(st, runtime.Record{Topic: topic, Family: ev.Family(), Offset: int64(i), Key: []byte(ev.Key()), Event: ev})
			if err != nil {
				t.Fatalf("%s: %s: %v", p.Name(), ev.Meta().EventID, err)
			}
			for _, r := range out.Rows {
				rows[r.Table] = append(rows[r.Table], r.Values)
			}
		}
	}
	return tables, rows
}

// writeRows writes rows to ClickHouse through sink-like write functions.
func writeRows(ctx context.Context, tables []runtime.Table, rows map[string][][]any, write func(context.Context, runtime.Table, [][]any) error) error {
	for _, tb := range tables {
		if len(rows[tb.Name]) == 0 {
			continue
		}
		if err := write(ctx, tb, rows[tb.Name]); err != nil {
			return fmt.Errorf("%s: %w", tb.Name, err)
		}
	}
	return nil
}

// chdbWrite writes rows to an embedded current ClickHouse. Session.Insert sends a time as
// Unix seconds, which a DateTime column reads but a Date column (the day of
// agreement_cells_daily) reads as days: the day goes as its text instead.
func chdbWrite(s *chdb.Session) func(context.Context, runtime.Table, [][]any) error {
	return func(ctx context.Context, tb runtime.Table, rows [][]any) error {
		if i := slices.Index(tb.Columns, "day"); i >= 0 {
			rows = slices.Clone(rows)
			for j, r := range rows {
				if d, ok := r[i].(time.Time); ok {
					rows[j] = slices.Clone(r)
					rows[j][i] = d.UTC().Format(time.DateOnly)
				}
			}
		}
		return s.Insert(ctx, tb.Name, tb.Columns, rows)
	}
}

// oracle computes, from the events alone, what Read must return of the annotators and the
// distributions: another implementation of the definitions (in memory, without SQL).
func oracle(t testing.TB, evs []schemas.Event, w Windows, project string) ([]ScopeMeasures, []QuestionDistributions) {
	t.Helper()
	first := map[string]*schemas.LabelSubmitted{}
	retracted := map[string]bool{}
	for _, ev := range evs {
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			if f := first[e.LabelID]; f == nil || e.OccurredAt < f.OccurredAt || (e.OccurredAt == f.OccurredAt && e.EventID < f.EventID) {
				first[e.LabelID] = e
			}
		case *schemas.LabelRetracted:
			retracted[e.LabelID] = true
		}
	}
	type unitKey struct{ project, question, level, item string }
	units := map[unitKey][]*schemas.LabelSubmitted{}
	var ids []string
	for id, l := range first {
		if retracted[id] || (project != "" && l.ProjectID != project) {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		l := first[id]
		k := unitKey{l.ProjectID, l.QuestionID, string(l.Value.Level), l.ItemID}
		units[k] = append(units[k], l)
	}
	value := func(v schemas.LabelValue) agreement.Value {
		var rank int32
		var number float64
		if v.Rank != nil {
			rank = *v.Rank
		}
		if v.Number != nil {
			number = *v.Number
		}
		c, err := canonical(string(v.Level), v.Category, rank, number, v.Categories)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	curFrom, to := w.Current.Millis()
	prevFrom, _ := w.Previous.Millis()
	baseFrom, _ := w.Baseline.Millis()
	var prev, cur []UnitLabels
	type pq struct{ project, question string }
	dists := map[pq]*QuestionDistributions{}
	for k, ls := range units {
		start := ls[0].OccurredAt
		for _, l := range ls {
			start = min(start, l.OccurredAt)
		}
		if len(ls) >= 2 && start >= prevFrom && start < to {
			u := UnitLabels{ProjectID: k.project, QuestionID: k.question, Level: k.level, ItemID: k.item}
			for _, l := range ls {
				u.Annotators = append(u.Annotators, l.AnnotatorID)
				u.Values = append(u.Values, value(l.Value))
			}
			if start >= curFrom {
				cur = append(cur, u)
			} else {
				prev = append(prev, u)
			}
		}
		var inCur, inBase int64
		for _, l := range ls {
			if l.OccurredAt < baseFrom || l.OccurredAt >= to {
				continue
			}
			d := dists[pq{k.project, k.question}]
			if d == nil {
				d = &QuestionDistributions{ProjectID: k.project, QuestionID: k.question,
					Current: Distribution{Counts: map[agreement.Value]int64{}}, Baseline: Distribution{Counts: map[agreement.Value]int64{}}}
				dists[pq{k.project, k.question}] = d
			}
			if l.OccurredAt >= curFrom {
				d.Current.Counts[value(l.Value)]++
				inCur++
			} else {
				d.Baseline.Counts[value(l.Value)]++
				inBase++
			}
		}
		if d := dists[pq{k.project, k.question}]; d != nil {
			d.Current.SumSquares += inCur * inCur
			d.Baseline.SumSquares += inBase * inBase
		}
	}
	var out []ScopeMeasures
	by := map[string]int{}
	for i, as := range [][]AnnotatorAgreement{AnnotatorAgreements(prev), AnnotatorAgreements(cur)} {
		for _, a := range as {
			k := a.ProjectID + "\x00" + a.QuestionID + "\x00" + a.Level + "\x00" + a.AnnotatorID
			j, ok := by[k]
			if !ok {
				j = len(out)
				by[k] = j
				out = append(out, ScopeMeasures{ProjectID: a.ProjectID, QuestionID: a.QuestionID, Level: a.Level, Scope: annotatorPrefix + a.AnnotatorID})
			}
			if i == 0 {
				out[j].Previous = a.Measure()
			} else {
				out[j].Current = a.Measure()
			}
		}
	}
	slices.SortFunc(out, func(a, b ScopeMeasures) int {
		return compareStrings([]string{a.ProjectID, a.QuestionID, a.Level, a.Scope}, []string{b.ProjectID, b.QuestionID, b.Level, b.Scope})
	})
	var ds []QuestionDistributions
	for _, d := range dists {
		ds = append(ds, *d)
	}
	slices.SortFunc(ds, func(a, b QuestionDistributions) int {
		return compareStrings([]string{a.ProjectID, a.QuestionID}, []string{b.ProjectID, b.QuestionID})
	})
	return out, ds
}

func compareStrings(a, b []string) int { return slices.Compare(a, b) }
