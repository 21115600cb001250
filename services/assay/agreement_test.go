package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-data/assay/streams/agreement/unitizing/unitizingtest"
)

var update = flag.Bool("update", false, "rewrite the golden files of the agreement tests")

// agreementCLI runs `assay agreement args...` and returns its exit code, stdout and stderr.
func agreementCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"agreement"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// agreementJSON runs the command with -json and decodes its report.
func agreementJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := agreementCLI(t, append(args, "-json")...)
	if code != 0 {
		t.Fatalf("assay agreement %q: exit %d: %s", args, code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

// at walks a decoded JSON document: keys for objects, ints for arrays, "annotator=X" for the
// element of an array of objects whose annotator is X (and "label=X" likewise).
func at(t *testing.T, doc any, path ...any) any {
	t.Helper()
	v := doc
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if k, want, ok := strings.Cut(p, "="); ok {
				arr, _ := v.([]any)
				var found any
				for _, e := range arr {
					if o, _ := e.(map[string]any); o != nil && o[k] == want {
						found = o
					}
				}
				if found == nil {
					t.Fatalf("%v: no element with %s", path, p)
				}
				v = found
				continue
			}
			o, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: %q of a %T", path, p, v)
			}
			if v, ok = o[p]; !ok {
				t.Fatalf("%v: no key %q in %v", path, p, o)
			}
		case int:
			arr, ok := v.([]any)
			if !ok || p >= len(arr) {
				t.Fatalf("%v: [%d] of %v", path, p, v)
			}
			v = arr[p]
		}
	}
	return v
}

// near fails unless the number at path is within tol of want.
func near(t *testing.T, doc any, want, tol float64, path ...any) {
	t.Helper()
	got, ok := at(t, doc, path...).(float64)
	if !ok {
		t.Errorf("%v = %v, want %v", path, at(t, doc, path...), want)
	} else if math.Abs(got-want) > tol {
		t.Errorf("%v = %.12g, want %.12g (± %g)", path, got, want, tol)
	}
}

// TestAgreementSpansWorkedExample runs the CLI on the units streams/regions' TestPairwiseF1
// works out by hand (testdata/spans_pairwise.csv): 4 matched pairs of 5 + 8 regions over six
// unit pairs, IoU 0.9, 1, 1, 1; label alpha over the any-label matching's five pairs.
func TestAgreementSpansWorkedExample(t *testing.T) {
	doc := agreementJSON(t, "-level", "spans", "-input", "testdata/spans_pairwise.csv")
	near(t, doc, 8.0/13, 1e-12, "pairwise_f1")
	near(t, doc, 3.9/4, 1e-12, "mean_iou")
	near(t, doc, 4.0/8, 1e-12, "per_label_f1", "x") // x: 2 matched, 3 + 5 regions
	near(t, doc, 4.0/5, 1e-12, "per_label_f1", "y") // y: 2 matched, 2 + 3 regions
	// Five pairs (x,x) (y,y) (x,y) (y,y) (x,x): n_x = n_y = 5, one disagreeing pair:
	// alpha = 1 − (n−1)·(o_xy + o_yx)/(n_x·n_y + n_y·n_x) = 1 − 9·2/50.
	near(t, doc, 0.64, 1e-12, "label_alpha")
	near(t, doc, 5, 0, "label_alpha_pairs")
	near(t, doc, 6, 0, "unit_pairs")
	near(t, doc, 4, 0, "matched")
	near(t, doc, 13, 0, "regions")
	near(t, doc, 0.5, 0, "iou_threshold")

	// Unit u6 has bob's two equal x spans: unitizing alpha is not defined, for x and overall,
	// and the reason names the rater and the unit.
	if a := at(t, doc, "unitizing_alpha"); a != nil {
		t.Errorf("unitizing_alpha = %v with overlapping spans, want null", a)
	}
	for _, why := range []any{at(t, doc, "unitizing_alpha_undefined"), at(t, doc, "unitizing", "categories", "label=x", "undefined")} {
		if s, _ := why.(string); !strings.Contains(s, `rater "bob"'s spans on item "u6" overlap`) {
			t.Errorf("reason %q does not name bob's overlap on u6", why)
		}
	}
	// y's unitizing alpha, by hand. The units laid end to end in id order are 45, 5, 10, 0, 10
	// and 10 long (the largest span end on each): L = 80, y at [20,30) (ann, bob), [50,60)
	// (bob) and [60,70) (ann, bob). D_o: bob's [50,60) lies in ann's gap [30,60), 10² each
	// way: 200/(R(R−1)·L²) = 200/12800. D_e: N = 5 units of length 10, f(10) = 570; gaps of
	// both raters 20, 30, 10 (ann) and 20, 20, 10 (bob), Σ(g−10+1) = 56; per unit
	// 4·570 + 100·56 = 7880, so D_e = (2/80)·5·7880 / (160·159 − 5·90) = 985/24990.
	near(t, doc, 1-(200.0/12800)/(985.0/24990), 1e-12, "unitizing", "categories", "label=y", "alpha")
	near(t, doc, 80, 0, "unitizing", "length")
	near(t, doc, 6, 0, "unitizing", "items")
}

// TestAgreementSpansNervaluate reproduces the usage example of nervaluate's README (MantisAI/
// nervaluate, the example streams/regions' TestNervaluateExample also holds it to), as an
// annotator scored against gold on token offsets: its strict scenario (IoU 1) reports
// precision = recall = F1 = 0.40, DATE 1, LOC 0, ORG 1, PER 0. At IoU 0.5, worked by hand, LOC
// [1,3) against [1,2) and PER [3,4) against [2,4) (IoU 1/2 each) match too: 4 of 5.
func TestAgreementSpansNervaluate(t *testing.T) {
	tests := []struct {
		iou       string
		f1        float64
		perLabel  map[string]float64
		meanIoU   float64
		unitAlpha bool
	}{
		{"1", 0.4, map[string]float64{"DATE": 1, "LOC": 0, "ORG": 1, "PER": 0}, 1, false},
		{"0.5", 0.8, map[string]float64{"DATE": 1, "LOC": 1, "ORG": 1, "PER": 0.5}, 3.0 / 4, false},
	}
	for _, tt := range tests {
		doc := agreementJSON(t, "-level", "spans", "-input", "testdata/spans_nervaluate.csv", "-gold", "gold", "-iou", tt.iou)
		for _, who := range [][]any{{"accuracy", "all"}, {"accuracy", "annotators", "annotator=model"}} {
			for _, key := range []string{"precision", "recall", "f1"} {
				near(t, doc, tt.f1, 1e-12, append(who, key)...)
			}
			near(t, doc, tt.meanIoU, 1e-12, append(who, "mean_iou")...)
			for label, want := range tt.perLabel {
				near(t, doc, want, 1e-12, append(who, "per_label_f1", label)...)
			}
		}
		if g := at(t, doc, "accuracy", "gold"); g != "gold" {
			t.Errorf("accuracy.gold = %v", g)
		}
		// Gold is left out of agreement: one annotator, no pairs.
		if f := at(t, doc, "pairwise_f1"); f != nil {
			t.Errorf("iou %s: pairwise_f1 %v with gold left out, want null", tt.iou, f)
		}
		near(t, doc, 1, 0, "raters")

		// Without -gold the two are annotators, and pairwise F1 is the same F1 (it does not
		// depend on which is the reference).
		doc = agreementJSON(t, "-level", "spans", "-input", "testdata/spans_nervaluate.csv", "-iou", tt.iou)
		near(t, doc, tt.f1, 1e-12, "pairwise_f1")
		for label, want := range tt.perLabel {
			near(t, doc, want, 1e-12, "per_label_f1", label)
		}
		if _, ok := doc["accuracy"]; ok {
			t.Error("accuracy reported without -gold")
		}
	}
}

// TestAgreementUnitizingKrippendorff1995 runs the CLI on Krippendorff's published unitizing
// examples (1995, p. 57; unitizingtest, the study DKPro's Krippendorff1995Test and
// streams/agreement/unitizing hold to the published figures), written as a spans CSV. The
// continuum is 24 long and example D's last spans end at 24, so the CLI's item length (the
// largest span end) is the published one.
func TestAgreementUnitizingKrippendorff1995(t *testing.T) {
	study := unitizingtest.Krippendorff1995(unitizingtest.Krippendorff1995Stretch)
	path := filepath.Join(t.TempDir(), "k1995.csv")
	var rows [][]string
	for _, it := range study.Items {
		for r, spans := range it.Spans {
			b, err := json.Marshal(spans)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, []string{it.ID, study.Raters[r], string(b)})
		}
	}
	writeCSV(t, path, rows)
	doc := agreementJSON(t, "-level", "spans", "-input", path)
	near(t, doc, float64(study.Items[0].Length), 0, "unitizing", "length")
	for label, v := range unitizingtest.Krippendorff1995Values {
		num := func(key string) *float64 {
			x, ok := at(t, doc, "unitizing", "categories", "label="+label).(map[string]any)[key].(float64)
			if !ok {
				return nil
			}
			return &x
		}
		unitizingtest.Check(t, "label "+label, num("observed_disagreement"), num("expected_disagreement"), num("alpha"), v)
	}
	if at(t, doc, "unitizing_alpha") == nil {
		t.Errorf("overall unitizing alpha not defined: %v", at(t, doc, "unitizing_alpha_undefined"))
	}
}

// TestAgreementBoxesWorkedExample: testdata/boxes_worked.csv, worked by hand. img1: ann's car
// (0,0,10,10) and bob's car (0,0,10,5) have IoU 50/100 = 0.5 (matched); ann's person and
// bob's car (20,20,4,4) are equal boxes of different labels (matched whatever the label).
// img2: the cars overlap by 50 of 150, IoU 1/3 (not matched). img3: the dogs overlap by 81 of
// 119, IoU 0.681 (matched); cat labeled img3 with no box, so (ann, cat) and (bob, cat) add a
// region each to the denominator. Same-label: 2 matched of 5 + 5 regions over 5 unit pairs,
// F1 0.4; mean IoU (0.5 + 81/119)/2; car 2·1/(2+3), person 0/(1+0), dog 2·1/(1+1+1+1).
// Label alpha over (car,car), (person,car), (dog,dog): n = 6, n_car = 3, n_person = 1,
// n_dog = 2, Σ_{c≠k} n_c·n_k = 36 − 14 = 22, o_person,car + o_car,person = 2, so
// alpha = 1 − 5·2/22 = 6/11.
func TestAgreementBoxesWorkedExample(t *testing.T) {
	doc := agreementJSON(t, "-level", "boxes", "-input", "testdata/boxes_worked.csv")
	near(t, doc, 0.4, 1e-12, "pairwise_f1")
	// Matched IoU is summed in millionths (streams/regions), so the mean is within 1e-6.
	near(t, doc, (0.5+81.0/119)/2, 1e-6, "mean_iou")
	near(t, doc, 0.4, 1e-12, "per_label_f1", "car")
	near(t, doc, 0, 0, "per_label_f1", "person")
	near(t, doc, 0.5, 1e-12, "per_label_f1", "dog")
	near(t, doc, 6.0/11, 1e-12, "label_alpha")
	near(t, doc, 3, 0, "label_alpha_pairs")
	near(t, doc, 5, 0, "unit_pairs")
	near(t, doc, 3, 0, "raters")
	for _, key := range []string{"unitizing_alpha", "unitizing", "accuracy"} {
		if _, ok := doc[key]; ok {
			t.Errorf("boxes report has %q", key)
		}
	}

	// bob as gold: ann predicted 2 + 1 + 1 boxes against bob's 2 + 1 + 1, 2 true positives;
	// cat predicted nothing against bob's dog. Agreement is left with (ann, cat) on img3.
	doc = agreementJSON(t, "-level", "boxes", "-input", "testdata/boxes_worked.csv", "-gold", "bob")
	near(t, doc, 0.5, 1e-12, "accuracy", "annotators", "annotator=ann", "precision")
	near(t, doc, 0.5, 1e-12, "accuracy", "annotators", "annotator=ann", "recall")
	near(t, doc, 2.0*1/(2+3), 1e-12, "accuracy", "annotators", "annotator=ann", "per_label_f1", "car") // 1 matched, 2 + 3 cars
	near(t, doc, 0, 0, "accuracy", "annotators", "annotator=ann", "per_label_f1", "person")
	if p := at(t, doc, "accuracy", "annotators", "annotator=cat", "precision"); p != nil {
		t.Errorf("cat's precision %v with nothing predicted, want null", p)
	}
	near(t, doc, 0, 0, "accuracy", "annotators", "annotator=cat", "recall")
	near(t, doc, 2.0/4, 1e-12, "accuracy", "all", "precision")
	near(t, doc, 2.0/5, 1e-12, "accuracy", "all", "recall")
	near(t, doc, 4.0/9, 1e-12, "accuracy", "all", "f1")
	near(t, doc, 0, 0, "pairwise_f1")
	near(t, doc, 1, 0, "unit_pairs")
}

// The preference worked example of streams/preference (TestWorkedExample), whose figures
// krippendorff 0.9.0 and SciPy 1.17.1 computed: testdata/preference_worked.csv holds its 35
// labels, four annotators A-D on twelve items (ten of two responses on a three-point scale,
// two of three responses).
const (
	workedNominal = 0.40540540540540537 // 15/37
	workedOrdinal = 0.64742514970059883
	workedLow     = 0.4633693684359532 // SciPy's Wilson interval of 22/35
	workedHigh    = 0.7683418049663429
)

// wilson is the 95% Wilson score interval, written out here from Wilson (1927) to check the
// per-annotator intervals: (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
func wilson(k, n float64) (float64, float64) {
	const z = 1.959963984540054
	p := k / n
	c := (p + z*z/(2*n)) / (1 + z*z/n)
	h := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / (1 + z*z/n)
	return c - h, c + h
}

func TestAgreementPreferenceWorkedExample(t *testing.T) {
	for _, input := range []string{"testdata/preference_worked.csv", "testdata/preference_gold.csv"} {
		args := []string{"-level", "preference", "-input", input, "-strength-scale", "3"}
		if strings.Contains(input, "gold") {
			args = append(args, "-gold", "gold")
		}
		doc := agreementJSON(t, args...)
		// The gold rows are left out of agreement and bias: the figures are the same.
		near(t, doc, workedNominal, 1e-12, "nominal", "alpha")
		near(t, doc, workedOrdinal, 1e-12, "ordinal", "alpha")
		near(t, doc, 3, 0, "strength_scale")
		near(t, doc, 35, 0, "labels")
		near(t, doc, 22.0/35, 1e-15, "position_bias", "all", "share")
		near(t, doc, 7.0/15, 1e-15, "position_bias", "all", "expected")
		near(t, doc, workedLow, 1e-12, "position_bias", "all", "interval", "low")
		near(t, doc, workedHigh, 1e-12, "position_bias", "all", "interval", "high")
		if at(t, doc, "position_bias", "all", "excludes_expected") != false {
			t.Error("position bias flagged on the worked example")
		}
		// Per annotator, counted from the rows: first-shown choices, labels, and the
		// expectation Σ(1/k)/labels (A: eight items of two responses, two of three).
		for a, want := range map[string]struct{ first, labels, expected float64 }{
			"A": {6, 10, (8.0/2 + 2.0/3) / 10},
			"B": {5, 8, (7.0/2 + 1.0/3) / 8},
			"C": {5, 9, (7.0/2 + 2.0/3) / 9},
			"D": {6, 8, (6.0/2 + 2.0/3) / 8},
		} {
			who := []any{"position_bias", "annotators", "annotator=" + a}
			near(t, doc, want.first, 0, append(who, "first_chosen")...)
			near(t, doc, want.labels, 0, append(who, "labels")...)
			near(t, doc, want.first/want.labels, 1e-15, append(who, "share")...)
			near(t, doc, want.expected, 1e-15, append(who, "expected")...)
			low, high := wilson(want.first, want.labels)
			near(t, doc, low, 1e-12, append(who, "interval", "low")...)
			near(t, doc, high, 1e-12, append(who, "interval", "high")...)
		}
		if strings.Contains(input, "gold") {
			// Gold chose i01/m1, i02/m2 and i11/m3: A and B chose them all, C only i01's,
			// D (no label on i01) both of its.
			for a, want := range map[string][2]float64{"A": {3, 3}, "B": {3, 3}, "C": {1, 3}, "D": {2, 2}} {
				near(t, doc, want[0], 0, "accuracy", "annotators", "annotator="+a, "correct")
				near(t, doc, want[1], 0, "accuracy", "annotators", "annotator="+a, "labels")
			}
			near(t, doc, 9.0/11, 1e-15, "accuracy", "all", "accuracy")
			low, high := wilson(9, 11)
			near(t, doc, low, 1e-12, "accuracy", "all", "interval", "low")
			near(t, doc, high, 1e-12, "accuracy", "all", "interval", "high")
		}
	}

	// Without a strength scale the strengths are refused; without them the nominal figure is
	// the same and there is no ordinal one.
	code, _, errOut := agreementCLI(t, "-level", "preference", "-input", "testdata/preference_worked.csv")
	if code != 1 || !strings.Contains(errOut, "line 2, column value") || !strings.Contains(errOut, "strength: must not be set") {
		t.Errorf("strengths without -strength-scale: exit %d, %s", code, errOut)
	}
}

// writeCSV writes a ratings CSV with the header unit,annotator,value.
func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write([]string{"unit", "annotator", "value"}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAgreementGolden pins the whole output, JSON and text, of the three levels on the worked
// examples: the JSON keys and their nesting are the CLI's interface (go test -update rewrites
// the files).
func TestAgreementGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"spans", []string{"-level", "spans", "-input", "testdata/spans_pairwise.csv"}},
		{"spans_two", []string{"-level", "spans", "-input", "testdata/spans_nervaluate.csv"}},
		{"spans_gold", []string{"-level", "spans", "-input", "testdata/spans_nervaluate.csv", "-gold", "gold", "-iou", "0.5"}},
		{"boxes", []string{"-level", "boxes", "-input", "testdata/boxes_worked.csv", "-gold", "bob"}},
		{"preference", []string{"-level", "preference", "-input", "testdata/preference_gold.csv", "-strength-scale", "3", "-gold", "gold"}},
	}
	for _, tt := range tests {
		for _, format := range []string{"json", "txt"} {
			args := tt.args
			if format == "json" {
				args = append(args[:len(args):len(args)], "-json")
			}
			code, out, errOut := agreementCLI(t, args...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", tt.name, code, errOut)
			}
			golden := filepath.Join("testdata", "agreement_"+tt.name+".golden."+format)
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if format == "txt" && out != string(want) {
				t.Errorf("%s (%s) differs from %s (go test -run TestAgreementGolden -update rewrites it):\n%s", tt.name, format, golden, out)
			}
			if format == "json" {
				var got, exp any
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(want, &exp); err != nil {
					t.Fatal(err)
				}
				// Numbers within 1e-12 (relative): the shape and every figure are pinned, the
				// last bit of a float is left to the platform (fused multiply-add).
				if diff := jsonDiff("", got, exp); diff != "" {
					t.Errorf("%s (%s) differs from %s at %s (go test -run TestAgreementGolden -update rewrites it):\n%s", tt.name, format, golden, diff, out)
				}
			}
		}
	}
}

// TestAgreementJSONLevelErrors: bad input is refused with the CSV line, the column and the
// region or field inside the value, as the libraries' FieldErrors name them; bad flags are
// usage errors (exit 2).
func TestAgreementJSONLevelErrors(t *testing.T) {
	span := func(label string, start, end int) string {
		return fmt.Sprintf(`{"label":%q,"start":%d,"end":%d}`, label, start, end)
	}
	tooMany := make([]string, 251)
	for i := range tooMany {
		tooMany[i] = span("x", i, i+1)
	}
	pref := func(choice, first string, extra string) string {
		return fmt.Sprintf(`{"responses":["a","b"],"choice":%q,"shown_first":%q%s}`, choice, first, extra)
	}
	tests := []struct {
		name  string
		level string
		csv   string
		args  []string
		code  int
		want  []string
	}{
		{"span end before start", "spans", "unit,annotator,value\nu1,ann,[]\nu1,bob,\"[" + q(span("x", 0, 3)) + "," + q(span("x", 7, 4)) + "]\"\n", nil, 1,
			[]string{`line 3, column value (unit "u1", annotator "bob"): region 1: end is 4, not after start 7`}},
		{"span offset a string", "spans", "unit,annotator,value\nu1,ann,\"[{\"\"label\"\":\"\"x\"\",\"\"start\"\":\"\"0\"\",\"\"end\"\":3}]\"\n", nil, 1,
			[]string{"line 2, column value", "region 0: start is a string, want an integer"}},
		{"span unknown key", "spans", "unit,annotator,value\nu1,ann,\"[{\"\"label\"\":\"\"x\"\",\"\"begin\"\":0,\"\"end\"\":3}]\"\n", nil, 1,
			[]string{"line 2, column value", `region 0: begin is not a field of a span`}},
		{"span not an array", "spans", "unit,annotator,value\nu1,ann,\"{\"\"label\"\":\"\"x\"\"}\"\n", nil, 1,
			[]string{"line 2, column value", "want a JSON array of regions, got an object"}},
		{"too many regions", "spans", "unit,annotator,value\nu1,ann,\"[" + q(strings.Join(tooMany, ",")) + "]\"\n", nil, 1,
			[]string{"line 2, column value", "251 regions, more than the 250 a value may hold"}},
		{"box of no width", "boxes", "unit,annotator,value\nimg,ann,\"[{\"\"label\"\":\"\"car\"\",\"\"x\"\":1,\"\"y\"\":2,\"\"w\"\":0,\"\"h\"\":3}]\"\n", nil, 1,
			[]string{`line 2, column value (unit "img", annotator "ann"): region 0: w is 0, not positive`}},
		{"box left of the image", "boxes", "unit,annotator,value\nimg,ann,\"[{\"\"label\"\":\"\"car\"\",\"\"x\"\":-1,\"\"y\"\":2,\"\"w\"\":1,\"\"h\"\":3}]\"\n", nil, 1,
			[]string{"line 2, column value", "region 0: x is -1, negative"}},
		{"line of a value over several lines", "spans", "unit,annotator,value\nu1,ann,\"[\n" + q(span("x", 0, 3)) + "\n]\"\nu1,bob,\"[" + q(span("x", 5, 5)) + "]\"\n", nil, 1,
			[]string{"line 5, column value", "region 0: end is 5, not after start 5"}},
		{"choice not a response", "preference", "unit,annotator,value\ni1,ann,\"" + q(pref("c", "a", "")) + "\"\n", nil, 1,
			[]string{`line 2, column value (unit "i1", annotator "ann"): choice: "c" is not one of responses`}},
		{"strength beyond the scale", "preference", "unit,annotator,value\ni1,ann,\"" + q(pref("a", "a", `,"strength":4`)) + "\"\n", []string{"-strength-scale", "3"}, 1,
			[]string{"line 2, column value", "strength: must be from 1 to 3, got 4"}},
		{"misspelt key", "preference", "unit,annotator,value\ni1,ann,\"{\"\"responses\"\":[\"\"a\"\",\"\"b\"\"],\"\"choice\"\":\"\"a\"\",\"\"shownFirst\"\":\"\"a\"\"}\"\n", nil, 1,
			[]string{"line 2, column value", "shownFirst: unknown field"}},
		{"responses differ on a unit", "preference", "unit,annotator,value\ni1,ann,\"" + q(pref("a", "a", "")) + "\"\ni1,bob,\"{\"\"responses\"\":[\"\"b\"\",\"\"a\"\"],\"\"choice\"\":\"\"a\"\",\"\"shown_first\"\":\"\"a\"\"}\"\n", nil, 1,
			[]string{`unit "i1": line 3, column value: responses ["b" "a"] differ from line 2's ["a" "b"]`}},
		{"gold compares other responses", "preference", "unit,annotator,value\ni1,ann,\"" + q(pref("a", "a", "")) + "\"\ni1,g,\"{\"\"responses\"\":[\"\"a\"\",\"\"c\"\"],\"\"choice\"\":\"\"a\"\",\"\"shown_first\"\":\"\"a\"\"}\"\n", []string{"-gold", "g"}, 1,
			[]string{`line 2, column value: against the gold of unit "i1": responses`}},
		{"rated twice", "spans", "unit,annotator,value\nu1,ann,[]\nu1,ann,[]\n", nil, 1,
			[]string{`line 3: annotator "ann" already rated unit "u1" on line 2`}},
		{"no value column", "boxes", "unit,annotator,boxes\n", nil, 1,
			[]string{`no "value" column`}},
		{"empty annotator", "spans", "unit,annotator,value\nu1,,[]\n", nil, 1,
			[]string{"line 2: empty unit or annotator"}},
		{"iou zero", "spans", "", []string{"-iou", "0"}, 2, []string{"-iou: IoU threshold 0 is not in (0, 1]"}},
		{"iou above one", "boxes", "", []string{"-iou", "1.5"}, 2, []string{"-iou: IoU threshold 1.5 is not in (0, 1]"}},
		{"iou with preference", "preference", "", []string{"-iou", "0.7"}, 2, []string{"-iou applies to -level spans or boxes only, not preference"}},
		{"iou with nominal", "nominal", "", []string{"-iou", "0.7"}, 2, []string{"-iou applies to -level spans or boxes only, not nominal"}},
		{"strength scale with spans", "spans", "", []string{"-strength-scale", "3"}, 2, []string{"-strength-scale applies to -level preference only, not spans"}},
		{"negative strength scale", "preference", "", []string{"-strength-scale", "-2"}, 2, []string{"-strength-scale: strength_scale: must be at least 1, got -2"}},
		{"unknown level", "span", "", []string{"-iou", "0.7"}, 2, []string{`unknown level "span" (want nominal, ordinal, interval, ratio, set, jaccard, spans, boxes or preference)`}},
		{"gold with ordinal", "ordinal", "", []string{"-gold", "g"}, 2, []string{"-gold applies to -level spans, boxes or preference only, not ordinal"}},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, []byte(tt.csv), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := agreementCLI(t, append([]string{"-level", tt.level, "-input", path}, tt.args...)...)
		if code != tt.code || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want exit %d and nothing printed", tt.name, code, out, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, errOut, w)
			}
		}
	}
}

// q doubles the quotes of a JSON text for a quoted CSV field.
func q(s string) string { return strings.ReplaceAll(s, `"`, `""`) }

// jsonDiff returns the path of the first difference between two decoded JSON documents, ""
// when they are equal (numbers within a relative 1e-12).
func jsonDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		for k := range w {
			if _, ok := g[k]; !ok {
				return fmt.Sprintf("%s.%s missing", path, k)
			}
			if d := jsonDiff(path+"."+k, g[k], w[k]); d != "" {
				return d
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		for i := range w {
			if d := jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
	default:
		if got != want {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
	}
	return ""
}
