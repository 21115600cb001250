package agreement

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestReadRatingsCSV(t *testing.T) {
	for _, tc := range []struct {
		name    string
		level   Level
		in      string
		want    []Rating
		wantErr string
	}{
		{
			name:  "plain",
			level: Nominal,
			in:    "unit,annotator,value\nu1,ann,cat\nu1,bob,dog\n",
			want:  []Rating{{"u1", "ann", "cat"}, {"u1", "bob", "dog"}},
		},
		{
			name:  "columns in any order, BOM, extra column, blank value skipped",
			level: IntervalLevel,
			in:    "\ufeffValue, Unit ,note,ANNOTATOR\n2.50,u1,x,ann\n,u1,y,bob\n",
			want:  []Rating{{"u1", "ann", "2.5"}},
		},
		{
			name:  "sets",
			level: MASI,
			in:    "unit,annotator,value\nu1,ann,b|a\nu1,bob,\"[\"\"c\"\"]\"\n",
			want:  []Rating{{"u1", "ann", `["a","b"]`}, {"u1", "bob", `["c"]`}},
		},
		{name: "empty input", level: Nominal, in: "", wantErr: "header"},
		{name: "missing column", level: Nominal, in: "unit,rater,value\n", wantErr: `no "annotator" column`},
		{name: "repeated column", level: Nominal, in: "unit,unit,annotator,value\n", wantErr: "twice"},
		{name: "bad number", level: Ratio, in: "unit,annotator,value\nu1,a,x\n", wantErr: "line 2"},
		{name: "empty unit", level: Nominal, in: "unit,annotator,value\n,a,x\n", wantErr: "empty unit"},
		{name: "duplicate rating", level: Nominal, in: "unit,annotator,value\nu,a,x\nu,b,x\nu,a,y\n", wantErr: "line 4: annotator \"a\" already rated unit \"u\" on line 2"},
		{name: "ragged row", level: Nominal, in: "unit,annotator,value\nu,a\n", wantErr: "wrong number of fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadRatingsCSV(strings.NewReader(tc.in), tc.level)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestAnnotatorAndPairwiseAgreement(t *testing.T) {
	ratings := []Rating{
		{"1", "a", "x"}, {"1", "b", "x"}, {"1", "c", "y"},
		{"2", "a", "x"}, {"2", "b", "y"},
		{"3", "a", "z"}, // a alone: not shared
		{"4", "b", "y"}, {"4", "c", "y"},
	}
	anns, err := AnnotatorAgreements(ratings)
	if err != nil {
		t.Fatal(err)
	}
	// a: unit 1 pairs (x,x) (x,y), unit 2 (x,y) → 1/3. b: unit 1 (x,x) (x,y), unit 2 (y,x),
	// unit 4 (y,y) → 2/4. c: unit 1 (y,x) (y,x), unit 4 (y,y) → 1/3.
	want := map[string][4]float64{ // ratings, shared units, pairs, agreement
		"a": {3, 2, 3, 1.0 / 3}, "b": {3, 3, 4, 0.5}, "c": {2, 2, 3, 1.0 / 3},
	}
	for _, a := range anns {
		w := want[a.Annotator]
		if float64(a.Ratings) != w[0] || float64(a.SharedUnits) != w[1] || float64(a.Pairs) != w[2] || a.PercentAgreement == nil || !near(*a.PercentAgreement, w[3], tight) {
			t.Errorf("%s: %+v, want %v", a.Annotator, a, w)
		}
	}
	pairs, err := PairwiseAgreements(ratings, Unweighted)
	if err != nil {
		t.Fatal(err)
	}
	wantPairs := []struct {
		a, b   string
		shared int
		pct    float64
	}{{"a", "b", 2, 0.5}, {"a", "c", 1, 0}, {"b", "c", 2, 0.5}}
	if len(pairs) != len(wantPairs) {
		t.Fatalf("pairs = %+v", pairs)
	}
	for i, w := range wantPairs {
		p := pairs[i]
		if p.A != w.a || p.B != w.b || p.SharedUnits != w.shared || p.PercentAgreement != w.pct {
			t.Errorf("pair %d = %+v, want %+v", i, p, w)
		}
	}
	// a/c share one unit with different single labels: chance disagreement is 1, kappa 0.
	// b/c: (x,y), (y,y) → kappa 0. None is undefined here.
	for _, p := range pairs {
		if p.CohenKappa == nil {
			t.Errorf("pair %s/%s kappa undefined: %s", p.A, p.B, p.CohenKappaUndefined)
		}
	}
	if _, err := AnnotatorAgreements(append(ratings, Rating{"1", "a", "y"})); err == nil {
		t.Error("duplicate rating accepted")
	}
}

// The report on the Krippendorff 2011 export, end to end through the CSV reader, as the CLI
// will run it. Alpha is the published 0.743 (nominal); Fleiss is undefined because units have
// 2, 3 and 4 raters.
func TestReportKrippendorff2011(t *testing.T) {
	f, err := os.Open("testdata/krippendorff2011.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ratings, err := ReadRatingsCSV(f, Nominal)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReport(ratings, Nominal, DefaultConfidence)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Alpha == nil || round3(*rep.Alpha) != 0.743 || rep.PairableUnits != 11 || rep.PairableValues != 40 || rep.Units != 12 || rep.Raters != 4 {
		t.Errorf("report %+v", rep)
	}
	if rep.FleissKappa != nil || !strings.Contains(rep.FleissKappaUndefined, "different numbers") {
		t.Errorf("fleiss %v %q, want undefined", rep.FleissKappa, rep.FleissKappaUndefined)
	}
	if rep.PercentAgreement == nil || len(rep.Annotators) != 4 || len(rep.Pairs) != 6 {
		t.Errorf("percent %v annotators %d pairs %d", rep.PercentAgreement, len(rep.Annotators), len(rep.Pairs))
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alpha", "fleiss_kappa", "percent_agreement", "pairable_units", "pairable_values", "raters", "annotators", "pairs"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	ci, ok := m["alpha_ci"].(map[string]any)
	if !ok || len(ci) != 4 || ci["level"] != 0.95 || ci["method"] != MethodJackknifeUnits || !(ci["low"].(float64) < *rep.Alpha && *rep.Alpha < ci["high"].(float64)) {
		t.Errorf("alpha_ci %v, want {low, high, level 0.95, method} around alpha %v", m["alpha_ci"], *rep.Alpha)
	}
	if m["fleiss_kappa"] != nil {
		t.Errorf("fleiss_kappa = %v, want null", m["fleiss_kappa"])
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`krippendorff alpha\s+0\.7434  95% CI \[0\.2760, 0\.9377\] \(jackknife-units-fisher-z\)\n`, `fleiss kappa\s+undefined \(pairable units have different numbers of values \(sizes \[2 3 4\]\)\)\n`, `pairable values\s+40\n`, `\nD\s+11\s+11\s+0\.8276\n`} {
		if !regexp.MustCompile(want).MatchString(buf.String()) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestReportUndefinedAlpha(t *testing.T) {
	rep, err := NewReport([]Rating{{"1", "a", "x"}, {"2", "b", "y"}}, Nominal, DefaultConfidence)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Alpha != nil || rep.AlphaUndefined == "" || rep.PercentAgreement != nil || rep.PairableUnits != 0 || rep.AlphaCI != nil || rep.AlphaCIUndefined == "" {
		t.Errorf("report %+v, want alpha, its interval and percent agreement undefined", rep)
	}
	if b, _ := json.Marshal(rep); !strings.Contains(string(b), `"alpha_ci":null`) {
		t.Errorf("JSON %s, want alpha_ci null", b)
	}
	// Alpha defined, its interval not: all the disagreement is in one unit.
	rep, err = NewReport([]Rating{{"1", "a", "x"}, {"1", "b", "y"}, {"2", "a", "x"}, {"2", "b", "x"}, {"3", "a", "y"}, {"3", "b", "y"}}, Nominal, DefaultConfidence)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if rep.Alpha == nil || rep.AlphaCI != nil || !strings.Contains(buf.String(), "CI undefined (all observed disagreement is in one unit)") {
		t.Errorf("report %+v\n%s", rep, buf.String())
	}
	if _, err := NewReport(nil, Nominal, 1); err == nil {
		t.Error("confidence 1 accepted")
	}
	if _, err := NewReport([]Rating{{"1", "a", "x"}, {"1", "b", "y"}}, IntervalLevel, DefaultConfidence); err == nil {
		t.Error("interval report on categories succeeded")
	}
}
