package kpi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// TestPairCellsGiveCohenKappa: the last written totals of annotator_pair_cells
// rebuild the two annotators' values unit by unit, so Cohen's kappa from the
// cells equals kappa on the raw labels; a third annotator and a retraction do
// not leak into the pair.
func TestPairCellsGiveCohenKappa(t *testing.T) {
	f := newFeed(kpi.NewAgreement(), "labels", 0)
	ann1 := []string{"cat", "cat", "dog", "dog", "bird", "cat", "dog", "cat"}
	ann2 := []string{"cat", "dog", "dog", "dog", "bird", "cat", "cat", "cat"}
	last := map[string]int64{}
	record := func(ev schemas.Event) {
		for _, r := range rowsOf(f.must(ev), kpi.TablePairCells) {
			last[fmt.Sprint(r[3], "|", r[4], "|", r[7], "|", r[8])] = r[9].(int64)
		}
	}
	for i := range ann1 {
		item := fmt.Sprint("i", i)
		record(label(fmt.Sprint("a", i), item, "ann1", "", schemas.Nominal(ann1[i])))
		record(label(fmt.Sprint("c", i), item, "ann3", "", schemas.Nominal("cat")))
		record(label(fmt.Sprint("b", i), item, "ann2", "", schemas.Nominal(ann2[i])))
	}
	// A label of ann2 on a ninth item, then retracted: no trace in the pair.
	record(label("a8", "i8", "ann1", "", schemas.Nominal("cat")))
	record(label("b8", "i8", "ann2", "", schemas.Nominal("dog")))
	record(retract("b8", "i8"))

	var a, b []agreement.Value
	for k, n := range last {
		var x, y, va, vb string
		if _, err := fmt.Sscanf(replaceBars(k), "%s %s %s %s", &x, &y, &va, &vb); err != nil {
			t.Fatal(err)
		}
		if x != "ann1" || y != "ann2" {
			continue
		}
		for range n {
			a, b = append(a, agreement.Value(va)), append(b, agreement.Value(vb))
		}
	}
	got, err := agreement.CohenKappa(a, b, agreement.Unweighted)
	if err != nil {
		t.Fatal(err)
	}
	var ra, rb []agreement.Value
	for i := range ann1 {
		ra, rb = append(ra, agreement.Value(ann1[i])), append(rb, agreement.Value(ann2[i]))
	}
	want, err := agreement.CohenKappa(ra, rb, agreement.Unweighted)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("kappa from cells %+v, from labels %+v", got, want)
	}
}

// TestDailyCellsUseTheUnitsFirstDay: a unit counts on the day of its first
// label, whenever its later labels arrive; once emptied, it starts afresh.
func TestDailyCellsUseTheUnitsFirstDay(t *testing.T) {
	const day = 86_400_000
	f := newFeed(kpi.NewAgreement(), "labels", 0)
	at := func(l *schemas.LabelSubmitted, ms int64) *schemas.LabelSubmitted { l.OccurredAt = ms; return l }
	days := func(rows [][]any) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r[4].(time.Time).Format(time.DateOnly)+fmt.Sprint("=", r[10]))
		}
		return out
	}
	f.must(at(label("l1", "i1", "a1", "", schemas.Nominal("x")), 5*day+10))
	got := days(rowsOf(f.must(at(label("l2", "i1", "a2", "", schemas.Nominal("x")), 9*day)), kpi.TableAgreementCellsDaily))
	if fmt.Sprint(got) != "[1970-01-06=2]" {
		t.Fatalf("second label's daily rows %v", got)
	}
	f.must(retract("l1", "i1"))
	f.must(retract("l2", "i1"))
	f.must(at(label("l3", "i1", "a1", "", schemas.Nominal("x")), 12*day))
	got = days(rowsOf(f.must(at(label("l4", "i1", "a2", "", schemas.Nominal("y")), 13*day)), kpi.TableAgreementCellsDaily))
	if fmt.Sprint(got) != "[1970-01-13=1]" {
		t.Fatalf("restarted unit's daily rows %v", got)
	}
}
