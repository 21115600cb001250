package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
)

// confusionRows keeps scope, gold value, labeled value and count of accuracy_confusion rows.
func confusionRows(rows [][]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %q→%q %d", r[2], r[5], r[6], r[7]))
	}
	return out
}

// TestAccuracyConfusionRows: each scored label sits in the cell of its gold value and its
// value; a corrected gold moves the item's labels to the new gold's row; a retraction takes
// the label out; a label at another level than the gold's has no comparable value.
func TestAccuracyConfusionRows(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	f := newFeed(kpi.NewAccuracy(), "labels", 1)
	steps := []struct {
		ev   schemas.Event
		want []string
	}{
		{label("l1", "i1", "ann1", "c1", cat), nil},
		{label("l2", "i1", "ann2", "", dog), nil},
		{goldSet("i1", cat), []string{
			`all "cat"→"cat" 1`, `all "cat"→"dog" 1`,
			`annotator:ann1 "cat"→"cat" 1`, `annotator:ann2 "cat"→"dog" 1`,
			`cohort:c1 "cat"→"cat" 1`,
		}},
		{goldSet("i1", dog), []string{
			`all "cat"→"cat" 0`, `all "cat"→"dog" 0`, `all "dog"→"cat" 1`, `all "dog"→"dog" 1`,
			`annotator:ann1 "cat"→"cat" 0`, `annotator:ann1 "dog"→"cat" 1`,
			`annotator:ann2 "cat"→"dog" 0`, `annotator:ann2 "dog"→"dog" 1`,
			`cohort:c1 "cat"→"cat" 0`, `cohort:c1 "dog"→"cat" 1`,
		}},
		{retract("l1", "i1"), []string{`all "dog"→"cat" 0`, `annotator:ann1 "dog"→"cat" 0`, `cohort:c1 "dog"→"cat" 0`}},
		{goldSet("i2", schemas.Interval(1)), nil},
		{label("l3", "i2", "ann1", "", schemas.Ratio(1)), []string{`all "1"→"" 1`, `annotator:ann1 "1"→"" 1`}},
		{label("l4", "i2", "ann2", "", schemas.Interval(1.0)), []string{`all "1"→"1" 1`, `annotator:ann2 "1"→"1" 1`}},
	}
	for i, s := range steps {
		got := confusionRows(rowsOf(f.must(s.ev), kpi.TableAccuracyConfusion))
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s): confusion rows\n got %q\nwant %q", i, s.ev.Type(), got, s.want)
		}
	}
	st := f.state.(*kpi.AccuracyState)
	correct, total := st.Score("p", "q", kpi.ScopeAll)
	conf := st.Confusion("p", "q", kpi.ScopeAll)
	want := map[[2]string]int64{{"dog", "dog"}: 1, {"1", ""}: 1, {"1", "1"}: 1}
	if !maps.Equal(conf, want) || correct != 2 || total != 3 {
		t.Errorf("state: confusion %v, score %d/%d", conf, correct, total)
	}
}

// TestConfusionInvariants: random histories of labels (some at another level than the
// gold), retractions, gold answers and corrections over several partitions. From the last
// row written under each key, summed over partitions, per (question, scope): the confusion
// sums to accuracy's denominator, its diagonal is the numerator, and every cell equals the
// count of the live labels with that (latest gold, value), an oracle that shares no code with
// the processor.
func TestConfusionInvariants(t *testing.T) {
	values := []schemas.LabelValue{schemas.Nominal("cat"), schemas.Nominal("dog"), schemas.Nominal("bird"), schemas.Ordinal("cat", 1)}
	type qs struct{ question, scope string }
	type cell struct {
		qs
		gold, label string
	}
	type part struct {
		p int
		qs
	}
	type partCell struct {
		p int
		cell
	}
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 42))
		const parts = 3
		feeds := make([]*feed, parts)
		for p := range feeds {
			feeds[p] = newFeed(kpi.NewAccuracy(), "labels", int32(p))
		}
		type lab struct {
			item, question, annotator, cohort string
			v                                 schemas.LabelValue
		}
		live := map[string]lab{}
		gold := map[[2]string]schemas.LabelValue{} // item, question -> latest gold
		counts := map[part][2]int64{}              // last correct, total
		cells := map[partCell]int64{}              // last count
		for i := range 600 {
			item := fmt.Sprint("i", r.IntN(30))
			q := []string{"q", "q2"}[r.IntN(2)]
			var ev schemas.Event
			switch n := r.IntN(10); {
			case n < 6:
				id := fmt.Sprint("l", i)
				l := label(id, item, fmt.Sprint("a", r.IntN(4)), []string{"", "x"}[r.IntN(2)], values[r.IntN(len(values))])
				l.QuestionID = q
				ev = l
				live[id] = lab{item, q, l.AnnotatorID, l.Cohort, l.Value}
			case n < 8 && len(live) > 0:
				ids := slices.Sorted(maps.Keys(live))
				id := ids[r.IntN(len(ids))]
				item = live[id].item
				ev = retract(id, item)
				delete(live, id)
			default:
				g := goldSet(item, values[r.IntN(3)])
				g.QuestionID = q
				g.EventID = fmt.Sprint("ev-gold-", i)
				ev = g
				gold[[2]string{item, q}] = g.Value
			}
			p := len(item) % parts
			for _, row := range feeds[p].must(ev) {
				k := qs{row.Values[1].(string), row.Values[2].(string)}
				switch row.Table {
				case kpi.TableAccuracyCounts:
					counts[part{p, k}] = [2]int64{row.Values[5].(int64), row.Values[6].(int64)}
				case kpi.TableAccuracyConfusion:
					cells[partCell{p, cell{k, row.Values[5].(string), row.Values[6].(string)}}] = row.Values[7].(int64)
				}
			}
		}
		want := map[cell]int64{}
		for _, l := range live {
			g, ok := gold[[2]string{l.item, l.question}]
			if !ok {
				continue
			}
			lv := string(canon(t, l.v))
			if l.v.Level != g.Level {
				lv = kpi.NoComparableValue
			}
			scopes := []string{kpi.ScopeAll, kpi.AnnotatorScope(l.annotator)}
			if l.cohort != "" {
				scopes = append(scopes, kpi.CohortScope(l.cohort))
			}
			for _, sc := range scopes {
				want[cell{qs{l.question, sc}, string(canon(t, g)), lv}]++
			}
		}
		got := map[cell]int64{}
		sums := map[qs][2]int64{} // diagonal, all
		for k, n := range cells {
			if n != 0 {
				got[k.cell] += n
			}
			s := sums[k.qs]
			if k.gold == k.label {
				s[0] += n
			}
			s[1] += n
			sums[k.qs] = s
		}
		if !maps.Equal(got, want) {
			t.Fatalf("seed %d: confusion\n got %v\nwant %v", seed, got, want)
		}
		score := map[qs][2]int64{}
		for k, c := range counts {
			s := score[k.qs]
			score[k.qs] = [2]int64{s[0] + c[0], s[1] + c[1]}
		}
		if !maps.Equal(sums, score) {
			t.Errorf("seed %d: confusion (diagonal, sum) %v; accuracy (correct, total) %v", seed, sums, score)
		}
		if len(want) == 0 {
			t.Fatalf("seed %d: no scored label", seed)
		}
	}
}
