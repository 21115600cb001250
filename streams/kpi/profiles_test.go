package kpi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// profileRows keeps the part of agreement_profiles rows a test compares: scope, day,
// profile, values, counts, units.
func profileRows(rows [][]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[3], " ", r[4].(time.Time).Format(time.DateOnly), " ", r[7], " ", r[8], " ", r[9], " ", r[10]))
	}
	return out
}

// TestAgreementProfileRows: a unit moves from one profile to the next as its labels arrive
// and leave, each move writing the total it left and the one it joined; units with fewer
// than two values in a scope have no profile.
func TestAgreementProfileRows(t *testing.T) {
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	f := newFeed(kpi.NewAgreement(), "labels", 2)
	steps := []struct {
		ev   schemas.Event
		want []string
	}{
		{label("l1", "i1", "a1", "c1", cat), nil},
		{label("l2", "i1", "a2", "", cat), []string{`all 1970-01-01 ["cat","cat"] [cat] [2] 1`}},
		{label("l3", "i2", "a1", "", cat), nil},
		{label("l4", "i2", "a2", "", cat), []string{`all 1970-01-01 ["cat","cat"] [cat] [2] 2`}},
		{label("l5", "i1", "a3", "c1", dog), []string{
			`all 1970-01-01 ["cat","cat"] [cat] [2] 1`,
			`all 1970-01-01 ["cat","cat","dog"] [cat dog] [2 1] 1`,
			`cohort:c1 1970-01-01 ["cat","dog"] [cat dog] [1 1] 1`,
		}},
		{retract("l5", "i1"), []string{
			`all 1970-01-01 ["cat","cat","dog"] [cat dog] [2 1] 0`,
			`all 1970-01-01 ["cat","cat"] [cat] [2] 2`,
			`cohort:c1 1970-01-01 ["cat","dog"] [cat dog] [1 1] 0`,
		}},
		{retract("l4", "i2"), []string{`all 1970-01-01 ["cat","cat"] [cat] [2] 1`}},
	}
	for i, s := range steps {
		rows := f.must(s.ev)
		got := profileRows(rowsOf(rows, kpi.TableAgreementProfiles))
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s): profile rows\n got %q\nwant %q", i, s.ev.Type(), got, s.want)
		}
		for _, r := range rowsOf(rows, kpi.TableAgreementProfiles) {
			if r[0] != "p" || r[1] != "q" || r[2] != "nominal" || r[5] != "labels" || r[6] != uint32(2) || r[11] != uint64(f.off-1) {
				t.Fatalf("step %d: row key %v", i, r)
			}
		}
	}
	st := f.state.(*kpi.AgreementState)
	ps, err := st.Profiles("p", "q", "nominal", kpi.ScopeAll)
	if err != nil || len(ps) != 1 || ps[0].Units != 1 || !slices.Equal(ps[0].Values, []agreement.Value{"cat", "cat"}) {
		t.Errorf("state profiles %v, %v", ps, err)
	}
}

// TestAgreementProfilesEqualBatch: random labels (with cohorts, on random days) and
// retractions over several partitions; the last written unit count of every profile, summed
// over partitions and days, equals agreement.Profiles of the surviving labels' units, per
// scope, and the interval from the partitions' states equals the one from the raw units.
func TestAgreementProfilesEqualBatch(t *testing.T) {
	const day = 86_400_000
	r := rand.New(rand.NewPCG(3, 5))
	const parts = 3
	feeds := make([]*feed, parts)
	for p := range feeds {
		feeds[p] = newFeed(kpi.NewAgreement(), "labels", int32(p))
	}
	type lab struct {
		item, cohort string
		v            agreement.Value
	}
	last := map[string]int64{}      // partition|scope|day|profile -> units
	lastTotal := map[string]int64{} // partition|scope|profile -> units (agreement_profiles_total)
	live := map[string]lab{}
	for i := range 1500 {
		item := fmt.Sprint("i", r.IntN(120))
		p := len(item) % parts
		var out []runtime.Row
		if len(live) > 0 && r.IntN(5) == 0 {
			ids := slices.Sorted(maps.Keys(live))
			id := ids[r.IntN(len(ids))]
			l := live[id]
			out = feeds[len(l.item)%parts].must(retract(id, l.item))
			delete(live, id)
		} else {
			id := fmt.Sprint("l", i)
			v := schemas.Nominal(fmt.Sprint("c", r.IntN(3)))
			cohort := []string{"", "x", "y"}[r.IntN(3)]
			l := label(id, item, fmt.Sprint("a", r.IntN(6)), cohort, v)
			l.OccurredAt = int64(r.IntN(4)) * day
			out = feeds[p].must(l)
			live[id] = lab{item, cohort, agreement.Category(v.Category)}
		}
		for _, row := range rowsOf(out, kpi.TableAgreementProfiles) {
			last[fmt.Sprint(row[6], "|", row[3], "|", row[4].(time.Time).Format(time.DateOnly), "|", row[7])] = row[10].(int64)
		}
		for _, row := range rowsOf(out, kpi.TableAgreementProfilesTotal) {
			lastTotal[fmt.Sprint(row[5], "|", row[3], "|", row[6])] = row[9].(int64)
		}
	}
	for _, scope := range []string{kpi.ScopeAll, kpi.CohortScope("x"), kpi.CohortScope("y")} {
		units := map[string][]agreement.Value{}
		for _, id := range slices.Sorted(maps.Keys(live)) {
			l := live[id]
			if scope == kpi.ScopeAll || scope == kpi.CohortScope(l.cohort) {
				units[l.item] = append(units[l.item], l.v)
			}
		}
		var pairable [][]agreement.Value
		for _, vs := range units {
			if len(vs) >= 2 {
				pairable = append(pairable, vs)
			}
		}
		want := agreement.Profiles(pairable)
		byKey := map[string]int64{}
		for k, n := range last {
			var part int
			var sc, d, key string
			if _, err := fmt.Sscanf(replaceBars(k), "%d %s %s %s", &part, &sc, &d, &key); err != nil {
				t.Fatal(err)
			}
			if sc == scope {
				byKey[key] += n
			}
		}
		var got []agreement.UnitProfile
		for _, key := range slices.Sorted(maps.Keys(byKey)) {
			if byKey[key] == 0 {
				continue
			}
			vals, err := agreement.ParseProfileKey(key)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, agreement.UnitProfile{Values: vals, Units: byKey[key]})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scope %s: profiles from the rows\n %v\nfrom the units\n %v", scope, got, want)
		}
		// The all-time totals are the days' sums.
		totals := map[string]int64{}
		for k, n := range lastTotal {
			if parts := strings.SplitN(k, "|", 3); parts[1] == scope {
				totals[parts[2]] += n
			}
		}
		for key, n := range totals {
			if n != byKey[key] {
				t.Errorf("scope %s, profile %s: all-time total %d, the days sum to %d", scope, key, n, byKey[key])
			}
		}
		for key, n := range byKey {
			if n != totals[key] {
				t.Errorf("scope %s, profile %s: the days sum to %d, all-time total %d", scope, key, n, totals[key])
			}
		}
		var fromState []agreement.UnitProfile
		for _, f := range feeds {
			ps, err := f.state.(*kpi.AgreementState).Profiles("p", "q", "nominal", scope)
			if err != nil {
				t.Fatal(err)
			}
			fromState = append(fromState, ps...)
		}
		wantCI, err1 := agreement.AlphaInterval(want, agreement.Nominal, 0.95)
		gotCI, err2 := agreement.AlphaInterval(fromState, agreement.Nominal, 0.95)
		if err1 != nil || err2 != nil || gotCI != wantCI {
			t.Errorf("scope %s: interval from the partitions' states %+v (%v), from the units %+v (%v)", scope, gotCI, err2, wantCI, err1)
		}
	}
}
