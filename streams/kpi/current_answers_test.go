package kpi_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// questionsDefined defines the questions of an answers log of project run: spans at an IoU
// threshold of 0.7 (not the 0.5 kpi_regions measures at), boxes at the default, preference
// on a scale of prefScale.
func questionsDefined(run string) []schemas.Event {
	t, s := 0.7, int32(prefScale)
	env := func(i int) schemas.Envelope {
		return schemas.Envelope{EventID: fmt.Sprintf("%s-qd-%d", run, i), OccurredAt: day0, RecordedAt: day0, Producer: "owner-1"}
	}
	return []schemas.Event{
		&schemas.QuestionDefined{Envelope: env(0), ProjectID: run, QuestionID: qSpans, Level: schemas.LevelSpans, IoUThreshold: &t},
		&schemas.QuestionDefined{Envelope: env(1), ProjectID: run, QuestionID: qBoxes, Level: schemas.LevelBoxes},
		&schemas.QuestionDefined{Envelope: env(2), ProjectID: run, QuestionID: qPref, Level: schemas.LevelPreference, StrengthScale: &s},
	}
}

// TestRegionAndPreferenceReadsOnCurrentClickHouse writes the rows kpi_regions, kpi_preference
// and the ledger make of a log (every version of every key, as the runner would) into a
// current ClickHouse (chdb), and requires every query of ReadRegions, ReadPreferences and
// ReadUnitizing to answer there what the processors' rows and the log hold: FINAL keeping
// the latest version, sums over days, HAVING on aliases, UNION ALL, NOT IN over a tuple, and
// Nullable and array columns, on the newest end of the supported range.
// TestRegionsAndPreferencesEndToEnd runs the same reads on the 18.16 server.
func TestRegionAndPreferenceReadsOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const run = "chdb"
	evs := answersLog(run, 4, 40, true)
	procs := []runtime.Processor{ledger.New(), kpi.NewRegions(), kpi.NewPreference()}
	states := make([]any, len(procs))
	for i, p := range procs {
		states[i] = p.NewState("labels", 0)
	}
	rows := map[string][][]any{}
	final := map[string]finalRows{}
	for i, ev := range append(questionsDefined(run), evs...) {
		val, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		rec := runtime.Record{Topic: ev.Family().Topic(), Family: ev.Family(), Offset: int64(i), Key: []byte(ev.Key()), Value: val, Event: ev}
		for j, p := range procs {
			if ev.Family() != schemas.FamilyLabels && p.Name() != ledger.Name {
				continue
			}
			out, err := p.Apply(states[j], rec)
			if err != nil {
				continue // refused: the runner's DLQ
			}
			if p.Name() != ledger.Name {
				if final[p.Name()] == nil {
					final[p.Name()] = finalRows{}
				}
				final[p.Name()].add(p, out.Rows)
			}
			for _, r := range out.Rows {
				vals := slices.Clone(r.Values)
				if p.Name() != ledger.Name {
					for j, v := range vals {
						if d, ok := v.(time.Time); ok { // Date columns: chdb's JSON insert takes the day's text
							vals[j] = d.Format(time.DateOnly)
						}
					}
				}
				rows[r.Table] = append(rows[r.Table], vals)
			}
		}
	}
	for _, p := range procs {
		for _, tb := range p.Tables() {
			if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := func(q string, args ...any) []string {
		t.Helper()
		sql, err := chdb.Bind(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Query(ctx, sql)
		if err != nil {
			t.Fatalf("ClickHouse %s refused:\n%s\n%v", s.Version, sql, err)
		}
		if out == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	same := func(what string, got, want []string) {
		t.Helper()
		if len(want) == 0 {
			t.Fatalf("%s: nothing to compare", what)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s on ClickHouse %s:\n got %q\nwant %q", what, s.Version, got, want)
		}
	}
	where := []any{"1970-01-01", "2105-12-31", run, run, "", "", "", "", 0}

	// kpi_regions: the rows' totals, summed over days, in the queries' order.
	sums := func(f finalRows, table string, key func(v []any) string, add func(acc []int64, v []any)) []string {
		acc := map[string][]int64{}
		for _, v := range f[table] {
			k := key(v)
			if acc[k] == nil {
				acc[k] = make([]int64, 5)
			}
			add(acc[k], v)
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(acc)) {
			if slices.ContainsFunc(acc[k], func(n int64) bool { return n != 0 }) {
				var ns []string
				for _, n := range acc[k] {
					ns = append(ns, fmt.Sprint(n))
				}
				out = append(out, k+"\t"+strings.Join(ns, "\t"))
			}
		}
		return out
	}
	regionKey := func(v []any) string { return fmt.Sprintf("%s\t%s\t%s\t%s\t%v\t%s", v[0], v[1], v[2], v[3], v[5], v[8]) }
	addTally := func(acc []int64, v []any) {
		for i := range 5 {
			acc[i] += v[9+i].(int64)
		}
	}
	fr := final[kpi.RegionsName]
	same("region_pairs", query(kpi.RegionPairsQuery, where...), sums(fr, kpi.TableRegionPairs, regionKey, addTally))
	same("region_gold", query(kpi.RegionGoldQuery, where...), sums(fr, kpi.TableRegionGold, regionKey, addTally))
	cellKey := func(v []any) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%v\t%v\t%s\t%s", v[0], v[1], v[2], v[3], v[5], v[8], v[9], v[10])
	}
	cells := sums(fr, kpi.TableRegionLabelCells, cellKey, func(acc []int64, v []any) { acc[0] += v[11].(int64) })
	for i, l := range cells {
		cells[i] = strings.TrimSuffix(l, "\t0\t0\t0\t0")
	}
	same("region_label_cells", query(kpi.RegionCellsQuery, where...), cells)
	// A window of one day keeps that day's rows only.
	day := time.UnixMilli(day0).UTC().AddDate(0, 0, 2)
	oneDay := slices.Concat([]any{day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly)}, where[2:])
	wantDay := sums(finalRows{kpi.TableRegionPairs: maps.Collect(func(yield func(string, []any) bool) {
		for k, v := range fr[kpi.TableRegionPairs] {
			if v[4].(time.Time).Equal(day) && !yield(k, v) {
				return
			}
		}
	})}, kpi.TableRegionPairs, regionKey, addTally)
	same("region_pairs of one day", query(kpi.RegionPairsQuery, oneDay...), wantDay)
	same("defined thresholds", query(kpi.QuestionThresholdsQuery, run, run, "", ""), []string{
		run + "\t" + qBoxes + "\t1\t\\N", run + "\t" + qPref + "\t2\t\\N", run + "\t" + qSpans + "\t0\t0.7"})

	// kpi_preference.
	fp := final[kpi.PreferenceName]
	prefCells := sums(fp, kpi.TablePreferenceCells, func(v []any) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%v\t%s\t%s", v[0], v[1], v[3], v[2], v[7], v[8], v[9])
	}, func(acc []int64, v []any) { acc[0] += v[10].(int64) })
	for i, l := range prefCells {
		prefCells[i] = strings.TrimSuffix(l, "\t0\t0\t0\t0")
	}
	same("preference_cells", query(kpi.PreferenceCellsQuery, where...), prefCells)
	same("preference_profiles", query(kpi.PreferenceProfilesQuery, where...), preferenceProfileLines(fp))
	var counts []string
	for _, l := range sums(fp, kpi.TablePreferenceBias, func(v []any) string { return fmt.Sprintf("%s\t%s\t%s\tbias", v[0], v[1], v[2]) },
		func(acc []int64, v []any) {
			acc[0], acc[1], acc[2] = acc[0]+v[6].(int64), acc[1]+v[7].(int64), acc[2]+v[8].(int64)
		}) {
		counts = append(counts, strings.TrimSuffix(l, "\t0\t0"))
	}
	for _, l := range sums(fp, kpi.TablePreferenceAccuracy, func(v []any) string { return fmt.Sprintf("%s\t%s\t%s\taccuracy", v[0], v[1], v[2]) },
		func(acc []int64, v []any) { acc[0], acc[1] = acc[0]+v[6].(int64), acc[1]+v[7].(int64) }) {
		counts = append(counts, strings.TrimSuffix(l, "\t0\t0"))
	}
	slices.Sort(counts)
	got := query(kpi.PreferenceCountsQuery, append(slices.Clone(where), where...)...)
	slices.Sort(got)
	same("preference counts", got, counts)

	// The views of migrations 0060 and 0065 answer what the libraries compute of the same
	// totals.
	rs := states[1].(*kpi.RegionsState)
	agree, err := rs.Agreement(run, qSpans, "spans", kpi.ScopeAll)
	if err != nil {
		t.Fatal(err)
	}
	f1, _ := agree.F1()
	iou, _ := agree.MeanIoU()
	same("kpi_region_agreement", query(`SELECT unit_pairs_compared, round(pairwise_f1, 9), round(mean_iou, 9) FROM kpi_region_agreement
WHERE project_id = ? AND question_id = ? AND scope = 'all' AND label = ''`, run, qSpans), []string{fmt.Sprintf("%d\t%s\t%s", agree.Units, round9(f1), round9(iou))})
	gold := rs.Gold(run, qBoxes, "boxes", kpi.AnnotatorScope("ann-1"))
	gp, _ := gold.Precision()
	gr, _ := gold.Recall()
	gf, _ := gold.F1()
	same("kpi_region_gold", query(`SELECT answers_scored, round(precision, 9), round(recall, 9), round(f1, 9) FROM kpi_region_gold
WHERE project_id = ? AND question_id = ? AND scope = 'annotator:ann-1' AND label = ''`, run, qBoxes),
		[]string{fmt.Sprintf("%d\t%s\t%s\t%s", gold.Units, round9(gp), round9(gr), round9(gf))})
	bias, acc := states[2].(*kpi.PreferenceState).Counts(run, qPref, kpi.ScopeAll)
	b, err := bias.Bias(0.95)
	if err != nil {
		t.Fatal(err)
	}
	same("kpi_preference_bias", query(`SELECT answers, round(share, 9), round(expected_share, 9) FROM kpi_preference_bias
WHERE project_id = ? AND question_id = ? AND scope = 'all'`, run, qPref), []string{fmt.Sprintf("%d\t%s\t%s", b.Labels, round9(b.Share), round9(b.Expected))})
	same("kpi_preference_accuracy", query(`SELECT correct_answers, scored_answers FROM kpi_preference_accuracy
WHERE project_id = ? AND question_id = ? AND scope = 'all'`, run, qPref), []string{fmt.Sprintf("%d\t%d", acc.Correct, acc.Labels)})

	// ReadUnitizing's queries over the ledger's labels: the labels kpi_regions counts.
	o := foldAnswers(evs, schemas.LevelSpans, schemas.LevelBoxes)
	var live []string
	var spanCount int
	for _, u := range o.units {
		if u.question == qSpans {
			for id, l := range u.labels {
				live = append(live, id)
				spanCount += len(l.value.Spans)
			}
		}
	}
	slices.Sort(live)
	same("unitizing count", query(kpi.UnitizingCountQuery, run, qSpans, regions.MaxRegions), []string{fmt.Sprintf("%d\t%d", len(live), spanCount)})
	var ids []string
	for _, l := range query(kpi.UnitizingQuery, run, qSpans, regions.MaxRegions) {
		ids = append(ids, strings.Split(l, "\t")[2])
	}
	slices.Sort(ids)
	same("unitizing labels", ids, live)
	// The items' stated lengths: the query runs; its rows are the spans items that state one.
	for _, l := range query(kpi.UnitizingItemsQuery, run, qSpans, regions.MaxRegions) {
		if f := strings.Split(l, "\t"); len(f) != 2 || f[1] == "" {
			t.Errorf("unitizing items: line %q", l)
		}
	}
}

// preferenceProfileLines are PreferenceProfilesQuery's lines from preference_profiles' rows
// summed over days.
func preferenceProfileLines(f finalRows) []string {
	type key struct{ project, question, scope, coding, profile string }
	acc := map[key]int64{}
	for _, v := range f[kpi.TablePreferenceProfiles] {
		acc[key{v[0].(string), v[1].(string), v[3].(string), v[2].(string), v[7].(string)}] += v[10].(int64)
	}
	keys := slices.SortedFunc(maps.Keys(acc), func(x, y key) int {
		return strings.Compare(strings.Join([]string{x.project, x.question, x.scope, x.coding, x.profile}, "\x00"),
			strings.Join([]string{y.project, y.question, y.scope, y.coding, y.profile}, "\x00"))
	})
	var out []string
	for _, k := range keys {
		if acc[k] == 0 {
			continue
		}
		vals, _ := agreement.ParseProfileKey(k.profile)
		var values, counts []string
		for i, v := range vals {
			if i > 0 && v == vals[i-1] {
				var c int
				fmt.Sscan(counts[len(counts)-1], &c)
				counts[len(counts)-1] = fmt.Sprint(c + 1)
				continue
			}
			values, counts = append(values, "'"+string(v)+"'"), append(counts, "1")
		}
		out = append(out, fmt.Sprintf("%s\t%s\t%s\t%s\t[%s]\t[%s]\t%d", k.project, k.question, k.scope, k.coding,
			strings.Join(values, ","), strings.Join(counts, ","), acc[k]))
	}
	return out
}

// round9 prints x as ClickHouse prints round(x, 9).
func round9(x float64) string {
	return strconv.FormatFloat(math.Round(x*1e9)/1e9, 'f', -1, 64)
}
