package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/agreement/unitizing/unitizingtest"
	"github.com/assay-data/assay/streams/preference"
	"github.com/assay-data/assay/streams/regions"
)

// asJSON decodes v's JSON encoding, to compare a library's figures with the CLI's output.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameAs fails unless every key of want (a library's report, as JSON) has the same value in
// the CLI's document at path.
func sameAs(t *testing.T, what string, doc any, want any, path ...any) {
	t.Helper()
	got := at(t, doc, path...)
	w, _ := want.(map[string]any)
	g, _ := got.(map[string]any)
	if w == nil || g == nil {
		if d := jsonDiff(fmt.Sprintf("%v", path), got, want); d != "" {
			t.Errorf("%s: %s", what, d)
		}
		return
	}
	for k, v := range w {
		if d := jsonDiff(fmt.Sprintf("%v.%s", path, k), g[k], v); d != "" {
			t.Errorf("%s: %s", what, d)
		}
	}
}

// TestAgreementSpansMatchLibraries: on seeded studies (unitizingtest.RandomStudy: 2-5 raters,
// spans that touch, overlap across labels, items where a rater marked nothing), with some
// ratings left out so that units have fewer raters and unitizing skips them, the CLI prints
// exactly the figures of regions.CompareUnitSpans and of unitizing.NewStudy and Alpha, each
// item as long as its largest span end; with -gold, regions.ScoreSpans per annotator.
func TestAgreementSpansMatchLibraries(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 7))
	var defined, skipped, overlapping, labelAlpha int // the kinds of study the seeds cover
	for seed := range 25 {
		study := unitizingtest.RandomStudy(rng)
		th := []float64{0.3, 0.5, 0.75, 1}[rng.IntN(4)]
		units := map[string]map[string][]regions.Span{}
		var rows [][]string
		for _, it := range study.Items {
			for r, spans := range it.Spans {
				if rng.IntN(10) == 0 {
					continue
				}
				rs := []regions.Span{}
				for _, s := range spans {
					rs = append(rs, regions.Span{Label: s.Label, Start: s.Start, End: s.End})
				}
				if units[it.ID] == nil {
					units[it.ID] = map[string][]regions.Span{}
				}
				units[it.ID][study.Raters[r]] = rs
				b, err := json.Marshal(append([]unitizing.Span{}, spans...)) // [], not null, for none
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, []string{it.ID, study.Raters[r], string(b)})
			}
		}
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		path := filepath.Join(t.TempDir(), "spans.csv")
		writeCSV(t, path, rows)

		var tally regions.Agreement
		var labels []unitizing.Label
		for id, values := range units {
			c, err := regions.CompareUnitSpans(values, th)
			if err != nil {
				t.Fatal(err)
			}
			tally.Merge(c)
			var length int64
			for _, spans := range values {
				for _, s := range spans {
					length = max(length, s.End)
				}
			}
			for rater, spans := range values {
				l := unitizing.Label{Item: id, Rater: rater, Length: length}
				for _, s := range spans {
					l.Spans = append(l.Spans, unitizing.Span{Label: s.Label, Start: s.Start, End: s.End})
				}
				labels = append(labels, l)
			}
		}
		st, err := unitizing.NewStudy(labels, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := unitizing.Alpha(st)
		if err != nil {
			t.Fatal(err)
		}

		if res.Alpha != nil {
			defined++
		}
		if res.Skipped > 0 {
			skipped++
		}
		if len(res.Overlaps) > 0 {
			overlapping++
		}
		if _, err := tally.Alpha(); err == nil {
			labelAlpha++
		}
		what := fmt.Sprintf("seed %d (t %v)", seed, th)
		doc := agreementJSON(t, "-level", "spans", "-input", path, "-iou", strconv.FormatFloat(th, 'g', -1, 64))
		sameAs(t, what, doc, asJSON(t, tally.Report()))
		sameAs(t, what, doc, asJSON(t, res), "unitizing")
		sameAs(t, what, doc, asJSON(t, res.Alpha), "unitizing_alpha")

		// The first rater as gold: every other rater's spans on the units it labeled.
		gold := study.Raters[0]
		all, by := regions.Figures{}, map[string]*regions.Figures{}
		for _, values := range units {
			g, ok := values[gold]
			if !ok {
				continue
			}
			for rater, spans := range values {
				if rater == gold {
					continue
				}
				f, err := regions.ScoreSpans(spans, g, th)
				if err != nil {
					t.Fatal(err)
				}
				all.Merge(f)
				if by[rater] == nil {
					by[rater] = &regions.Figures{}
				}
				by[rater].Merge(f)
			}
		}
		doc = agreementJSON(t, "-level", "spans", "-input", path, "-iou", strconv.FormatFloat(th, 'g', -1, 64), "-gold", gold)
		sameAs(t, what+" gold", doc, asJSON(t, all.AccuracyReport()), "accuracy", "all")
		for rater, f := range by {
			sameAs(t, what+" gold", doc, asJSON(t, f.AccuracyReport()), "accuracy", "annotators", "annotator="+rater)
		}
		if n := len(at(t, doc, "accuracy", "annotators").([]any)); n != len(by) {
			t.Errorf("%s: accuracy of %d annotators, want %d", what, n, len(by))
		}
	}
	t.Logf("unitizing alpha defined in %d studies, items skipped in %d, overlaps in %d; label alpha defined in %d", defined, skipped, overlapping, labelAlpha)
	if defined < 5 || skipped < 3 || labelAlpha < 5 {
		t.Error("the seeds no longer cover defined unitizing alphas, skipped items and label alphas")
	}
}

// TestAgreementBoxesMatchLibraries: seeded boxes (objects each annotator draws with its corners
// moved, sometimes with another label, sometimes missed, sometimes extra), the CLI's figures
// equal regions.CompareUnitBoxes'.
func TestAgreementBoxesMatchLibraries(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 8))
	labels := []string{"car", "person", "dog"}
	for seed := range 25 {
		th := []float64{0.3, 0.5, 0.75}[rng.IntN(3)]
		raters := 2 + rng.IntN(3)
		units := map[string]map[string][]regions.Box{}
		var rows [][]string
		for u := range 1 + rng.IntN(8) {
			id := fmt.Sprintf("img-%d", u)
			type object struct {
				label      string
				x, y, w, h float64
			}
			var objects []object
			for range rng.IntN(6) {
				objects = append(objects, object{labels[rng.IntN(3)], rng.Float64() * 100, rng.Float64() * 100, 5 + rng.Float64()*40, 5 + rng.Float64()*40})
			}
			for r := range raters {
				if rng.IntN(6) == 0 {
					continue
				}
				boxes := []regions.Box{}
				for _, o := range objects {
					if rng.IntN(8) == 0 {
						continue
					}
					b := regions.Box{Label: o.label, X: max(0, o.x+rng.NormFloat64()*3), Y: max(0, o.y+rng.NormFloat64()*3), W: o.w * (0.8 + 0.4*rng.Float64()), H: o.h * (0.8 + 0.4*rng.Float64())}
					if rng.IntN(6) == 0 {
						b.Label = labels[rng.IntN(3)]
					}
					boxes = append(boxes, b)
				}
				if rng.IntN(5) == 0 {
					boxes = append(boxes, regions.Box{Label: labels[rng.IntN(3)], X: rng.Float64() * 100, Y: rng.Float64() * 100, W: 1 + rng.Float64()*20, H: 1 + rng.Float64()*20})
				}
				rater := fmt.Sprintf("r%d", r)
				if units[id] == nil {
					units[id] = map[string][]regions.Box{}
				}
				units[id][rater] = boxes
				var js []map[string]any
				for _, b := range boxes {
					js = append(js, map[string]any{"label": b.Label, "x": b.X, "y": b.Y, "w": b.W, "h": b.H})
				}
				if js == nil {
					js = []map[string]any{}
				}
				v, err := json.Marshal(js)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, []string{id, rater, string(v)})
			}
		}
		path := filepath.Join(t.TempDir(), "boxes.csv")
		writeCSV(t, path, rows)
		var tally regions.Agreement
		for _, values := range units {
			c, err := regions.CompareUnitBoxes(values, th)
			if err != nil {
				t.Fatal(err)
			}
			tally.Merge(c)
		}
		doc := agreementJSON(t, "-level", "boxes", "-input", path, "-iou", strconv.FormatFloat(th, 'g', -1, 64))
		sameAs(t, fmt.Sprintf("seed %d (t %v)", seed, th), doc, asJSON(t, tally.Report()))
	}
}

// TestAgreementPreferenceMatchesLibraries: seeded preference labels (items of two or three
// responses, 2-5 of 6 annotators each, strengths four times in five on a scale of 1-4, one
// annotator drawn to the first-shown response), the CLI's alphas equal the coincidences of
// preference.NominalValues and OrdinalValues read by agreement's Alpha, and its position bias
// per annotator preference.BiasOf's counts read by Bias.
func TestAgreementPreferenceMatchesLibraries(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 9))
	const scale = 4
	annotators := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	for seed := range 10 {
		units := map[string][]preference.Label{}
		bias := map[string]preference.BiasCounts{}
		var rows [][]string
		for i := range 20 + rng.IntN(60) {
			item := fmt.Sprintf("i%03d", i)
			k := 2
			if rng.IntN(4) == 0 {
				k = 3
			}
			responses := make([]string, k)
			for j := range responses {
				responses[j] = fmt.Sprintf("%s/m%d", item, j)
			}
			better := rng.IntN(k)
			for _, a := range rng.Perm(len(annotators))[:2+rng.IntN(4)] {
				first := rng.IntN(k)
				choice := better
				switch {
				case annotators[a] == "a1" && rng.IntN(10) < 4:
					choice = first
				case rng.IntN(4) == 0:
					choice = rng.IntN(k)
				}
				l := preference.Label{Responses: responses, Choice: responses[choice], ShownFirst: responses[first]}
				if rng.IntN(5) != 0 {
					s := int32(1 + rng.IntN(scale))
					l.Strength = &s
				}
				units[item] = append(units[item], l)
				c, err := preference.BiasOf(l)
				if err != nil {
					t.Fatal(err)
				}
				bias[annotators[a]] = bias[annotators[a]].Add(c)
				v, err := json.Marshal(l)
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, []string{item, annotators[a], string(v)})
			}
		}
		path := filepath.Join(t.TempDir(), "preference.csv")
		writeCSV(t, path, rows)

		nominal, ordinal := agreement.NewCoincidences(), agreement.NewCoincidences()
		for _, item := range slices.Sorted(maps.Keys(units)) {
			nv, err := preference.NominalValues(units[item])
			if err != nil {
				t.Fatal(err)
			}
			ov, err := preference.OrdinalValues(units[item], scale)
			if err != nil {
				t.Fatal(err)
			}
			nominal.AddUnit(nv)
			ordinal.AddUnit(ov)
		}
		what := fmt.Sprintf("seed %d", seed)
		doc := agreementJSON(t, "-level", "preference", "-input", path, "-strength-scale", strconv.Itoa(scale))
		for _, c := range []struct {
			key   string
			co    *agreement.Coincidences
			level agreement.Level
		}{{"nominal", nominal, agreement.Nominal}, {"ordinal", ordinal, agreement.Ordinal}} {
			a, err := c.co.Alpha(c.level)
			if err != nil {
				t.Fatalf("%s: %s alpha: %v", what, c.key, err)
			}
			sameAs(t, what, doc, asJSON(t, a.Alpha), c.key, "alpha")
			sameAs(t, what, doc, asJSON(t, c.co.PairableValues()), c.key, "pairable_values")
		}
		for a, c := range bias {
			b, err := c.Bias(agreement.DefaultConfidence)
			if err != nil {
				t.Fatal(err)
			}
			sameAs(t, what, doc, asJSON(t, b), "position_bias", "annotators", "annotator="+a)
		}
	}
}
