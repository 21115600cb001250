package anomaly

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// seededHistory is a healthy project over five weeks before readNow, with two things wrong
// in the last one:
//
//   - q-vehicle (nominal, 4 categories): three cohorts of 20 annotators each label 150 units
//     a window (2-4 annotators a unit) at alpha 0.85 (r = √0.85), in the previous and the
//     current window; cohort c-a falls to alpha 0.6 in the current one. Cohort c-b is
//     vendor v-b's. Every annotator has about 22 compared labels a window, under the
//     minimum evidence, so annotators are not judged.
//   - q-size: one label per unit (no agreement), 150 units a week for five weeks; the
//     current week's shares move from (.4, .3, .2, .1) to (.1, .2, .3, .4): TV 0.4.
//   - q-color: the same kind of shift (TV 0.4), but a question-narrowed QualityTargetsSet
//     tolerates a drift of 0.6 there.
//
// The project's targets ask 100 pairable values of nominal alpha and a drift of at most 0.3.
func seededHistory(rng *rand.Rand) []schemas.Event {
	var h history
	cur := WindowsAt(readNow, DefaultWindow, DefaultBaselineWindows)
	drift, lax := 0.3, 0.6
	h.targets(&schemas.QualityTargetsSet{ProjectID: "proj-h", EffectiveAt: schemas.Millis(cur.Baseline.From), MaxLabelDrift: &drift,
		Agreement: &schemas.AgreementTarget{Level: schemas.LevelNominal, MinAlpha: 0.8, MinPairableValues: 100}}, cur.Baseline.From)
	h.targets(&schemas.QualityTargetsSet{ProjectID: "proj-h", QuestionID: "q-color", EffectiveAt: schemas.Millis(cur.Baseline.From),
		MaxLabelDrift: &lax}, cur.Baseline.From)
	at := func(s Span, i, n int) time.Time {
		return s.From.Add(time.Duration(float64(s.To.Sub(s.From)) * (float64(i) + 0.5) / float64(n)))
	}
	for w, span := range []Span{cur.Previous, cur.Current} {
		for c, cohort := range []string{"c-a", "c-b", "c-c"} {
			r := math.Sqrt(0.85)
			if w == 1 && cohort == "c-a" {
				r = math.Sqrt(0.6)
			}
			vendor := ""
			if cohort == "c-b" {
				vendor = "v-b"
			}
			for i := range 150 {
				item := fmt.Sprintf("veh-%d-%d-%d", w, c, i)
				truth := rng.IntN(categories)
				t := at(span, i, 150)
				for k, j := range rng.Perm(20)[:2+rng.IntN(3)] {
					v := truth
					if rng.Float64() >= r {
						v = rng.IntN(categories)
					}
					h.label("proj-h", "q-vehicle", item, fmt.Sprintf("%s-ann-%02d", cohort, j), cohort, vendor,
						t.Add(time.Duration(k)*time.Minute), schemas.Nominal(fmt.Sprint("c", v)))
				}
			}
		}
	}
	draw := func(shares []float64) string {
		x := rng.Float64()
		for i, s := range shares {
			if x < s {
				return fmt.Sprint("s", i)
			}
			x -= s
		}
		return fmt.Sprint("s", len(shares)-1)
	}
	before, after := []float64{0.4, 0.3, 0.2, 0.1}, []float64{0.1, 0.2, 0.3, 0.4}
	for week := range 5 {
		span := Span{From: cur.Baseline.From.Add(time.Duration(week) * DefaultWindow)}
		span.To = span.From.Add(DefaultWindow)
		shares := before
		if week == 4 {
			shares = after
		}
		for _, q := range []string{"q-size", "q-color"} {
			for i := range 150 {
				h.label("proj-h", q, fmt.Sprintf("%s-%d-%d", q, week, i), fmt.Sprintf("ann-%d", i%30), "c-x", "",
					at(span, i, 150), schemas.Nominal(draw(shares)))
			}
		}
	}
	return h.evs
}

// TestDetectOnTheStack writes the seeded history through the broker and replays the ledger
// and the agreement KPI processor into a fresh database, as the pipeline does, and requires
// Detect to report exactly cohort c-a's agreement drop on q-vehicle and q-size's label
// drift: not the healthy cohorts or the vendor, not the annotators (under the minimum
// evidence), not q-color (its own target tolerates its drift).
func TestDetectOnTheStack(t *testing.T) {
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs := seededHistory(rand.New(rand.NewPCG(20, 2)))
	// Labels of the structured levels, which the detectors leave to kpi_regions and
	// kpi_preference: two annotators' spans and preferences on one item, in the current window.
	for _, ev := range evs {
		l, ok := ev.(*schemas.LabelSubmitted)
		if !ok || l.OccurredAt < readNow.Add(-24*time.Hour).UnixMilli() {
			continue
		}
		for i, v := range []schemas.LabelValue{
			schemas.Spans(schemas.UnitCharacters, 40, schemas.Span{Label: "PER", Start: 0, End: 5}),
			schemas.Spans(schemas.UnitCharacters, 40),
			schemas.Choice("r1", "r2", "r1", "r2"),
			schemas.Choice("r2", "r1", "r1", "r2"),
		} {
			c := *l
			c.EventID, c.LabelID, c.AnnotatorID = fmt.Sprintf("%s-structured-%d", l.EventID, i), fmt.Sprintf("%s-structured-%d", l.LabelID, i), fmt.Sprintf("ann-s%d", i%2)
			c.QuestionID, c.Value = "q-"+string(v.Level), v
			evs = append(evs, &c)
		}
		break
	}
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Meta().EventID, err)
		}
		recs[i] = &kgo.Record{Topic: env.Kafka.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b}
	}
	if err := env.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []runtime.Processor{ledger.New(), kpi.NewAgreement()} {
		if _, err := runtime.Replay(ctx, p, env.Kafka, runtime.ClickHouseSink(env.Conn), time.Time{}); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
	}

	got, err := Detect(ctx, env.Conn, Config{Now: readNow})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range got {
		keys = append(keys, a.Kind+" "+a.ProjectID+" "+a.QuestionID+" "+a.Scope)
		t.Logf("%s: %s", a.Kind, a.Detail)
	}
	want := []string{"agreement_drop proj-h q-vehicle cohort:c-a", "label_drift proj-h q-size all"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("anomalies %q, want %q", keys, want)
	}
	drop, drift := got[0], got[1]
	if drop.Current > 0.7 || *drop.Previous < 0.78 || drop.Current >= drop.Threshold || drop.Evidence < 100 ||
		drop.ReferenceEvidence < 100 || drop.Since != "2026-03-09" {
		t.Errorf("drop %+v", drop)
	}
	if math.Abs(drift.Current-0.4) > 0.12 || drift.Threshold < 0.3 || drift.Current <= drift.Threshold ||
		drift.Evidence != 150 || drift.ReferenceEvidence != 600 {
		t.Errorf("drift %+v", drift)
	}

	// The inputs say why the rest did not fire.
	in, err := Read(ctx, env.Conn, Config{Now: readNow})
	if err != nil {
		t.Fatal(err)
	}
	scopes := map[string]bool{}
	for _, s := range in.Agreement {
		scopes[s.Scope] = true
		if s.Scope[:len(annotatorPrefix)] == annotatorPrefix && s.Current.Evidence >= 100 {
			t.Errorf("annotator %s has %d compared labels: the history meant them under the minimum", s.Scope, s.Current.Evidence)
		}
	}
	for _, s := range []string{"cohort:c-a", "cohort:c-b", "cohort:c-c", "vendor:v-b"} {
		if !scopes[s] {
			t.Errorf("scope %s was not judged", s)
		}
	}
	for _, d := range in.Distributions {
		if d.QuestionID == "q-color" {
			if tv := TotalVariation(d.Current, d.Baseline); tv < 0.3 || tv > 0.6 {
				t.Errorf("q-color drifted %.3f: the history meant a drift the project's 0.3 catches and the question's 0.6 tolerates", tv)
			}
		}
	}
}
