package router

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unique"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/regions"
	"github.com/assay-data/assay/streams/runtime"
)

// testRules are the rules of the table tests: audit off unless a case
// turns it on, so every other rule is seen on its own.
func testRules() *Rules {
	return &Rules{
		Version:                    "test-1",
		DefaultConfidenceThreshold: 0.9,
		Questions: map[string]QuestionRules{
			"q-vehicle":    {ConfidenceThreshold: ptr(0.85)},
			"q-pedestrian": {ConfidenceThreshold: ptr(0.97)},
			"q-det":        {ConfidenceThreshold: ptr(0.8), BoxScoreThreshold: ptr(0.5)},
			"q-ner-loose":  {IoUThreshold: ptr(0.3)},
		},
		QuestionsWithoutPrelabel: map[string][]string{"proj-1": {"q-caption"}},
		TagRules: []TagRule{
			{ID: "safety_critical", Tags: []string{"child", "weapon"}, Route: schemas.RouteExpertReview},
			{ID: "rare_edge_case", Tags: []string{"occluded", "night_rain"}, Route: schemas.RouteHumanReview},
		},
		Agreement: AgreementRules{MinLabels: 2, MinAgreement: 0.67, MinRegionF1: 0.6},
	}
}

func ptr[T any](v T) *T { return &v }

var seq int

func envelope() schemas.Envelope {
	seq++
	at := int64(1_790_000_000_000 + seq*1000)
	return schemas.Envelope{EventID: fmt.Sprintf("ev-%d", seq), OccurredAt: at, RecordedAt: at, Producer: "test"}
}

// ingest is an item of project proj-2, which has no question without a
// pre-label; ingestP1 is one of proj-1, which has (q-caption).
func ingest(item string, tags ...string) *schemas.ItemIngested {
	return &schemas.ItemIngested{Envelope: envelope(), ItemID: item, Source: "s", URI: "u://" + item,
		SHA256: strings.Repeat("ab", 32), Modality: "image", EdgeCaseTags: tags, ProjectID: "proj-2"}
}

func ingestP1(item string, tags ...string) *schemas.ItemIngested {
	e := ingest(item, tags...)
	e.ProjectID = "proj-1"
	return e
}

func pre(item, q string, conf float64) *schemas.PreLabelProposed {
	return &schemas.PreLabelProposed{Envelope: envelope(), ItemID: item, QuestionID: q, Model: "det", ModelVersion: "1.0",
		Value: schemas.Nominal("car"), Confidence: conf}
}

func label(id, item, q, annotator, value string) *schemas.LabelSubmitted {
	return &schemas.LabelSubmitted{Envelope: envelope(), LabelID: id, ItemID: item, ProjectID: "proj-1", TaskID: "t",
		QuestionID: q, AnnotatorID: annotator, GuidelineVersion: "g1", Value: schemas.Nominal(value)}
}

// unscored marks a box of preBoxes that has no score.
const unscored = -1.0

// preBoxes is a boxes pre-label of overall confidence conf with one car box
// per score, side by side on a 640 x 480 image.
func preBoxes(item, q string, conf float64, scores ...float64) *schemas.PreLabelProposed {
	boxes := []schemas.Box{}
	for i, sc := range scores {
		b := schemas.Box{Label: "car", X: float64(20 * i), Y: 10, W: 15, H: 15}
		if sc != unscored {
			b.Score = ptr(sc)
		}
		boxes = append(boxes, b)
	}
	e := pre(item, q, conf)
	e.Value = schemas.Boxes(640, 480, boxes...)
	return e
}

// sp is a span.
func sp(l string, start, end int64) schemas.Span {
	return schemas.Span{Label: l, Start: start, End: end}
}

// bx is a box.
func bx(l string, x, y, w, h float64) schemas.Box {
	return schemas.Box{Label: l, X: x, Y: y, W: w, H: h}
}

// spans is a spans label on a text of 1000 characters.
func spans(id, item, q, annotator string, ss ...schemas.Span) *schemas.LabelSubmitted {
	e := label(id, item, q, annotator, "")
	e.Value = schemas.Spans(schemas.UnitCharacters, 1000, ss...)
	return e
}

// boxes is a boxes label on a 640 x 480 image.
func boxes(id, item, q, annotator string, bs ...schemas.Box) *schemas.LabelSubmitted {
	e := label(id, item, q, annotator, "")
	e.Value = schemas.Boxes(640, 480, bs...)
	return e
}

func retract(id, item string) *schemas.LabelRetracted {
	return &schemas.LabelRetracted{Envelope: envelope(), LabelID: id, ItemID: item, Reason: "oops"}
}

func routed(item, q string, route schemas.Route, rule, producer string) *schemas.RoutingDecided {
	e := &schemas.RoutingDecided{Envelope: envelope(), ItemID: item, QuestionID: q, Route: route, Rule: rule}
	e.Producer = producer
	return e
}

// feed applies events to one partition of each topic, as the runner would.
type feed struct {
	t      *testing.T
	r      *Router
	states map[string]any
	offs   map[string]int64
}

func newFeed(t *testing.T, rules *Rules) *feed {
	return &feed{t: t, r: newRouter(t, Config{Rules: NewRuleSet(rules)}), states: map[string]any{}, offs: map[string]int64{}}
}

func newRouter(t *testing.T, cfg Config) *Router {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// apply applies evs in order, then the decisions they emitted, which the
// runner produces to the items topic and so reads back (as the real log
// would, after the records that caused them). It returns everything that
// happened, the read-back included.
func (f *feed) apply(evs ...schemas.Event) runtime.Output {
	f.t.Helper()
	var all runtime.Output
	tables := map[string]int{}
	for _, tb := range Tables() {
		tables[tb.Name] = len(tb.Columns)
	}
	queue := slices.Clone(evs)
	for len(queue) > 0 {
		ev := queue[0]
		queue = queue[1:]
		topic := "pfx." + ev.Family().Topic()
		st, ok := f.states[topic]
		if !ok {
			st = f.r.NewState(topic, 0)
			f.states[topic] = st
		}
		rec := runtime.Record{Topic: topic, Family: ev.Family(), Partition: 0, Offset: f.offs[topic], Key: []byte(ev.Key()), Event: ev}
		f.offs[topic]++
		out, err := f.r.Apply(st, rec)
		if err != nil {
			f.t.Fatalf("Apply %s: %v", ev.Type(), err)
		}
		for _, row := range out.Rows {
			if n, ok := tables[row.Table]; !ok || n != len(row.Values) {
				f.t.Fatalf("row for %s has %d values, table has %d columns (declared %v)", row.Table, len(row.Values), n, ok)
			}
		}
		for _, em := range out.Emit {
			// The runtime encodes (and so validates) every emitted event.
			if _, err := schemas.Encode(em); err != nil {
				f.t.Fatalf("emitted event does not encode: %v", err)
			}
			if em.Family() != schemas.FamilyItems {
				f.t.Fatalf("emitted %s to %s", em.Type(), em.Family())
			}
			queue = append(queue, em)
		}
		all.Rows = append(all.Rows, out.Rows...)
		all.Emit = append(all.Emit, out.Emit...)
	}
	return all
}

// decided renders the emitted decisions as "item/question route rule".
func decided(out runtime.Output) []string {
	var s []string
	for _, ev := range out.Emit {
		d := ev.(*schemas.RoutingDecided)
		s = append(s, fmt.Sprintf("%s/%s %s %s", d.ItemID, d.QuestionID, d.Route, d.Rule))
	}
	return s
}

func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		rules func(*Rules)
		evs   []schemas.Event
		want  []string
	}{
		{name: "confident pre-label is auto-accepted",
			evs:  []schemas.Event{ingest("i1"), pre("i1", "q-other", 0.95)},
			want: []string{"i1/q-other auto_accept confident"}},
		{name: "confidence below the default threshold goes to human review",
			evs:  []schemas.Event{ingest("i1"), pre("i1", "q-other", 0.89)},
			want: []string{"i1/q-other human_review low_confidence"}},
		{name: "confidence equal to the threshold is accepted",
			evs:  []schemas.Event{ingest("i1"), pre("i1", "q-other", 0.9)},
			want: []string{"i1/q-other auto_accept confident"}},
		{name: "per-question thresholds",
			evs:  []schemas.Event{ingest("i1"), pre("i1", "q-vehicle", 0.86), pre("i1", "q-pedestrian", 0.96)},
			want: []string{"i1/q-vehicle auto_accept confident", "i1/q-pedestrian human_review low_confidence"}},
		{name: "safety-critical tag goes to experts whatever the confidence",
			evs:  []schemas.Event{ingest("i1", "child"), pre("i1", "q-vehicle", 0.999)},
			want: []string{"i1/q-vehicle expert_review safety_critical"}},
		{name: "rare edge-case tag goes to human review",
			evs:  []schemas.Event{ingest("i1", "night_rain"), pre("i1", "q-vehicle", 0.999)},
			want: []string{"i1/q-vehicle human_review rare_edge_case"}},
		{name: "the first matching tag rule wins",
			evs:  []schemas.Event{ingest("i1", "occluded", "weapon"), pre("i1", "q-vehicle", 0.5)},
			want: []string{"i1/q-vehicle expert_review safety_critical"}},
		{name: "untagged item with unrelated tags is not caught",
			evs:  []schemas.Event{ingest("i1", "daylight"), pre("i1", "q-vehicle", 0.9)},
			want: []string{"i1/q-vehicle auto_accept confident"}},
		{name: "question without a pre-label goes to human labeling at ingest",
			evs:  []schemas.Event{ingestP1("i1")},
			want: []string{"i1/q-caption human_label no_prelabel"}},
		{name: "question without a pre-label of another project is not decided",
			evs: []schemas.Event{ingest("i1")}},
		{name: "no pre-label and a review tag: nothing to review, human labeling",
			evs:  []schemas.Event{ingestP1("i1", "occluded")},
			want: []string{"i1/q-caption human_label rare_edge_case"}},
		{name: "no pre-label and a safety tag: experts",
			evs:  []schemas.Event{ingestP1("i1", "weapon")},
			want: []string{"i1/q-caption expert_review safety_critical"}},
		{name: "a pre-label before its item waits for the item's tags",
			evs:  []schemas.Event{pre("i1", "q-vehicle", 0.99), ingestP1("i1", "child")},
			want: []string{"i1/q-caption expert_review safety_critical", "i1/q-vehicle expert_review safety_critical"}},
		{name: "a pre-label before its item, no tags",
			evs:  []schemas.Event{pre("i1", "q-vehicle", 0.99), pre("i1", "q-vehicle", 0.1), ingest("i1")},
			want: []string{"i1/q-vehicle auto_accept confident"}},
		{name: "decided once per item/question: a second pre-label does not re-route",
			evs:  []schemas.Event{ingest("i1"), pre("i1", "q-vehicle", 0.99), pre("i1", "q-vehicle", 0.1)},
			want: []string{"i1/q-vehicle auto_accept confident"}},
		{name: "a duplicate ingest decides nothing again",
			evs:  []schemas.Event{ingestP1("i1"), ingestP1("i1")},
			want: []string{"i1/q-caption human_label no_prelabel"}},
		{name: "own RoutingDecided emits nothing but marks the question decided",
			evs: []schemas.Event{routed("i1", "q-vehicle", schemas.RouteHumanReview, RuleLowConfidence, Producer), ingest("i1", "daylight"), pre("i1", "q-vehicle", 0.99)},
		},
		// Someone else's RoutingDecided is refused: TestForeignDecisionsAreRefused.
		{name: "audit sample at rate 1: auto-acceptable goes to human review",
			rules: func(r *Rules) { r.Audit.Rate = 1 },
			evs:   []schemas.Event{ingest("i1"), pre("i1", "q-vehicle", 0.99)},
			want:  []string{"i1/q-vehicle human_review audit_sample"}},
		{name: "audit sample does not touch low-confidence pre-labels",
			rules: func(r *Rules) { r.Audit.Rate = 1 },
			evs:   []schemas.Event{ingest("i1"), pre("i1", "q-vehicle", 0.5)},
			want:  []string{"i1/q-vehicle human_review low_confidence"}},
		{name: "disagreeing annotators go to expert review",
			evs:  []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "bus")},
			want: []string{"i1/q expert_review low_agreement"}},
		{name: "agreeing annotators stay",
			evs: []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "car")}},
		{name: "a third dissenting annotator lowers agreement to 1/3",
			evs:  []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "car"), label("l3", "i1", "q", "a3", "bus")},
			want: []string{"i1/q expert_review low_agreement"}},
		{name: "escalated once: more disagreement emits nothing",
			evs:  []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "bus"), label("l3", "i1", "q", "a3", "van")},
			want: []string{"i1/q expert_review low_agreement"}},
		{name: "an annotator's relabel replaces the earlier answer",
			evs: []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a1", "bus")}},
		{name: "questions are judged apart",
			evs: []schemas.Event{label("l1", "i1", "q1", "a1", "car"), label("l2", "i1", "q2", "a2", "bus")}},
		{name: "a retracted label leaves the judgement",
			rules: func(r *Rules) { r.Agreement.MinLabels = 3 },
			evs: []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "bus"), retract("l2", "i1"),
				label("l3", "i1", "q", "a3", "car"), label("l4", "i1", "q", "a4", "car")}},
		{name: "without the retraction the same labels escalate",
			rules: func(r *Rules) { r.Agreement.MinLabels = 3 },
			evs: []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "bus"),
				label("l3", "i1", "q", "a3", "car"), label("l4", "i1", "q", "a4", "car")},
			want: []string{"i1/q expert_review low_agreement"}},
		{name: "agreement rule off",
			rules: func(r *Rules) { r.Agreement.MinLabels = 0 },
			evs:   []schemas.Event{label("l1", "i1", "q", "a1", "car"), label("l2", "i1", "q", "a2", "bus")}},

		// Boxes pre-labels: every box and the whole must be confident.
		{name: "boxes all scored at or above the threshold are auto-accepted",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.95, 0.9, 0.99, 0.93)},
			want: []string{"i1/q-other auto_accept confident"}},
		{name: "one box below the threshold sends a confident pre-label to human review",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.99, 0.99, 0.89, 0.99)},
			want: []string{"i1/q-other human_review low_box_confidence"}},
		{name: "the lowest score decides, not the mean (nine boxes at 0.99 do not hide one at 0.3)",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.3)},
			want: []string{"i1/q-other human_review low_box_confidence"}},
		{name: "confident boxes, unconfident pre-label: low confidence",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.5, 0.99, 0.95)},
			want: []string{"i1/q-other human_review low_confidence"}},
		{name: "an empty box list is routed by its confidence, as before: confident",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.95)},
			want: []string{"i1/q-other auto_accept confident"}},
		{name: "an empty box list is routed by its confidence, as before: low",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.5)},
			want: []string{"i1/q-other human_review low_confidence"}},
		{name: "a box without a score counts at the pre-label's confidence",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.95, unscored, 0.99), ingest("i2"), preBoxes("i2", "q-vehicle", 0.88, unscored)},
			want: []string{"i1/q-other auto_accept confident", "i2/q-vehicle auto_accept confident"}},
		{name: "a box score equal to the threshold is accepted",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.9, 0.9, 0.9)},
			want: []string{"i1/q-other auto_accept confident"}},
		{name: "a question's own box threshold",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-det", 0.85, 0.55, 0.6), ingest("i2"), preBoxes("i2", "q-det", 0.85, 0.45, 0.99)},
			want: []string{"i1/q-det auto_accept confident", "i2/q-det human_review low_box_confidence"}},
		{name: "without a box threshold the question's confidence threshold applies to boxes",
			evs:  []schemas.Event{ingest("i1"), preBoxes("i1", "q-vehicle", 0.9, 0.86), ingest("i2"), preBoxes("i2", "q-vehicle", 0.9, 0.84)},
			want: []string{"i1/q-vehicle auto_accept confident", "i2/q-vehicle human_review low_box_confidence"}},
		{name: "a tag rule wins over a low box",
			evs:  []schemas.Event{ingest("i1", "occluded"), preBoxes("i1", "q-other", 0.99, 0.1)},
			want: []string{"i1/q-other human_review rare_edge_case"}},
		{name: "the audit samples confident boxes only",
			rules: func(r *Rules) { r.Audit.Rate = 1 },
			evs:   []schemas.Event{ingest("i1"), preBoxes("i1", "q-other", 0.99, 0.95), ingest("i2"), preBoxes("i2", "q-other", 0.99, 0.5)},
			want:  []string{"i1/q-other human_review audit_sample", "i2/q-other human_review low_box_confidence"}},
		{name: "a boxes pre-label waiting for its item keeps its lowest score",
			evs:  []schemas.Event{preBoxes("i1", "q-other", 0.99, 0.99, 0.2), ingest("i1")},
			want: []string{"i1/q-other human_review low_box_confidence"}},

		// Region agreement between the first labels (min_labels 2, min_region_f1 0.6).
		{name: "the same spans agree",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5), sp("ORG", 10, 20)), spans("l2", "i1", "q", "a2", sp("ORG", 11, 20), sp("PER", 0, 5))}},
		{name: "one span missed of two: F1 2/3, not below 0.6",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5), sp("ORG", 10, 20)), spans("l2", "i1", "q", "a2", sp("PER", 0, 5))}},
		{name: "two spans missed of three: F1 1/2, below 0.6",
			evs:  []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5), sp("ORG", 10, 20), sp("LOC", 30, 35)), spans("l2", "i1", "q", "a2", sp("PER", 0, 5))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "same stretch, other label: no match",
			evs:  []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2", sp("ORG", 0, 5))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "overlap below the IoU threshold (1/3 < 0.5): no match",
			evs:  []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 10)), spans("l2", "i1", "q", "a2", sp("PER", 5, 15))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "the question's own IoU threshold (0.3): the same overlap matches",
			evs: []schemas.Event{spans("l1", "i1", "q-ner-loose", "a1", sp("PER", 0, 10)), spans("l2", "i1", "q-ner-loose", "a2", sp("PER", 5, 15))}},
		{name: "nobody marked anything: F1 undefined, nothing to disagree about",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1"), spans("l2", "i1", "q", "a2")}},
		{name: "one marked a span, the other none: F1 0",
			evs:  []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2")},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "judged once on the first labels: a dissenting third changes nothing",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2", sp("PER", 0, 5)),
				spans("l3", "i1", "q", "a3", sp("LOC", 50, 60))}},
		{name: "escalated once",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2"),
				spans("l3", "i1", "q", "a3", sp("LOC", 50, 60))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "a relabel before the judgement replaces the annotator's regions",
			rules: func(r *Rules) { r.Agreement.MinLabels = 3 },
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2", sp("ORG", 0, 5)),
				spans("l3", "i1", "q", "a2", sp("PER", 0, 5)), spans("l4", "i1", "q", "a3", sp("PER", 0, 5))}},
		{name: "a retracted first label leaves the judgement; the next annotator's counts",
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), retract("l1", "i1"),
				spans("l2", "i1", "q", "a2", sp("ORG", 0, 5)), spans("l3", "i1", "q", "a3", sp("ORG", 0, 5))}},
		{name: "min_labels 3: judged at the third annotator, over the three pairs",
			rules: func(r *Rules) { r.Agreement.MinLabels = 3 },
			evs: []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2", sp("PER", 0, 5)),
				spans("l3", "i1", "q", "a3", sp("LOC", 20, 25))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "boxes that agree",
			evs: []schemas.Event{boxes("l1", "i1", "q", "a1", bx("car", 10, 10, 100, 50), bx("person", 300, 100, 40, 120)),
				boxes("l2", "i1", "q", "a2", bx("person", 302, 98, 40, 120), bx("car", 12, 10, 100, 50))}},
		{name: "boxes that do not",
			evs: []schemas.Event{boxes("l1", "i1", "q", "a1", bx("car", 10, 10, 100, 50), bx("person", 300, 100, 40, 120)),
				boxes("l2", "i1", "q", "a2", bx("car", 60, 10, 100, 50))},
			want: []string{"i1/q expert_review low_region_agreement"}},
		{name: "region rule off: spans are not judged, by either rule",
			rules: func(r *Rules) { r.Agreement.MinRegionF1 = 0 },
			evs:   []schemas.Event{spans("l1", "i1", "q", "a1", sp("PER", 0, 5)), spans("l2", "i1", "q", "a2", sp("LOC", 50, 60))}},
		{name: "a spans and a nominal question of one item are judged apart, each by its rule",
			evs: []schemas.Event{spans("l1", "i1", "q-ner", "a1", sp("PER", 0, 5)), label("l2", "i1", "q-kind", "a1", "news"),
				spans("l3", "i1", "q-ner", "a2", sp("LOC", 50, 60)), label("l4", "i1", "q-kind", "a2", "blog")},
			want: []string{"i1/q-ner expert_review low_region_agreement", "i1/q-kind expert_review low_agreement"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules := testRules()
			if c.rules != nil {
				c.rules(rules)
			}
			if err := rules.Validate(); err != nil {
				t.Fatal(err)
			}
			got := decided(newFeed(t, rules).apply(c.evs...))
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("decisions\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestDecisionContents(t *testing.T) {
	f := newFeed(t, testRules())
	in := pre("i1", "q-vehicle", 0.5)
	in.Trace = schemas.Trace{CorrelationID: "corr-9"}
	out := f.apply(ingest("i1", "daylight"), in)
	if len(out.Emit) != 1 {
		t.Fatalf("emitted %d events", len(out.Emit))
	}
	d := out.Emit[0].(*schemas.RoutingDecided)
	if d.Producer != Producer || d.Trace.CausationID != in.EventID || d.Trace.CorrelationID != "corr-9" {
		t.Errorf("envelope %+v", d.Envelope)
	}
	if d.OccurredAt != in.RecordedAt {
		t.Errorf("occurred_at %d, want the causing record's time %d (never the clock)", d.OccurredAt, in.RecordedAt)
	}
	wantIn := []schemas.RoutingInput{{Name: "confidence", Value: 0.5}, {Name: "threshold", Value: 0.85}}
	if !reflect.DeepEqual(d.Inputs, wantIn) {
		t.Errorf("inputs %v, want %v", d.Inputs, wantIn)
	}
	if !strings.HasPrefix(d.Reason, "rules test-1: ") {
		t.Errorf("reason %q does not name the rules version", d.Reason)
	}
	var row []any
	for _, r := range out.Rows {
		if r.Table == TableDecisions {
			if row != nil {
				t.Fatal("two routing_decisions rows for one decision")
			}
			row = r.Values
		}
	}
	cols := Tables()[0].Columns
	got := map[string]any{}
	for i, c := range cols {
		got[c] = row[i]
	}
	for c, want := range map[string]any{
		"item_id": "i1", "question_id": "q-vehicle", "stage": stageItems, "route": "human_review", "rule": RuleLowConfidence,
		"rules_version": "test-1", "project_id": "proj-2", "model": "det", "model_version": "1.0",
		"prelabel_value": "nominal:car", "confidence": 0.5, "audited": uint8(0), "event_id": d.EventID, "cause_event_id": in.EventID,
		"kafka_offset": uint64(2), // the RoutingDecided read back, after ingest and pre-label
	} {
		if got[c] != want {
			t.Errorf("routing_decisions.%s = %v, want %v", c, got[c], want)
		}
	}
}

func TestDecisionsAreDeterministic(t *testing.T) {
	log := []schemas.Event{ingest("i1", "occluded"), pre("i1", "q-vehicle", 0.99), ingest("i2"), pre("i2", "q-vehicle", 0.3),
		label("l1", "i2", "q-vehicle", "a1", "car"), label("l2", "i2", "q-vehicle", "a2", "bus")}
	rules := testRules()
	rules.Audit.Rate = 0.5
	a := newFeed(t, rules).apply(log...)
	b := newFeed(t, rules).apply(log...)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("replaying the same log into fresh state gave different output")
	}
	ids := map[string]bool{}
	for _, ev := range a.Emit {
		if ids[ev.Meta().EventID] {
			t.Fatalf("event id %s emitted twice", ev.Meta().EventID)
		}
		ids[ev.Meta().EventID] = true
	}
}

func TestAuditSample(t *testing.T) {
	rules := testRules()
	rules.Audit = AuditRules{Rate: 0.1, Salt: "s1"}
	const n = 20000
	var evs []schemas.Event
	for i := range n {
		id := fmt.Sprintf("item-%d", i)
		e := ingest(id)
		e.ProjectID = "proj-2"
		evs = append(evs, e, pre(id, "q-vehicle", 0.99))
	}
	out := newFeed(t, rules).apply(evs...)
	audited := 0
	for _, ev := range out.Emit {
		d := ev.(*schemas.RoutingDecided)
		if d.Rule == RuleAuditSample {
			audited++
			if rules.auditPoint(d.ItemID) >= 0.1 {
				t.Fatalf("%s audited with point %v", d.ItemID, rules.auditPoint(d.ItemID))
			}
		}
	}
	// Binomial(20000, 0.1): sd 42; 5 sd is a test that does not flake.
	if math.Abs(float64(audited)-n*0.1) > 5*42 {
		t.Fatalf("audited %d of %d at rate 0.1", audited, n)
	}
	// Another salt samples other items, at the same rate.
	other := *rules
	other.Audit.Salt = "s2"
	same := 0
	for i := range n {
		id := fmt.Sprintf("item-%d", i)
		if rules.auditPoint(id) < 0.1 && other.auditPoint(id) < 0.1 {
			same++
		}
	}
	if same > audited/4 {
		t.Fatalf("salts s1 and s2 share %d of %d audited items", same, audited)
	}
}

func TestRulesSwapBetweenRecords(t *testing.T) {
	set := NewRuleSet(testRules())
	r := newRouter(t, Config{Rules: set})
	st := r.NewState("assay.items.v1", 0)
	apply := func(ev schemas.Event, off int64) *schemas.RoutingDecided {
		out, err := r.Apply(st, runtime.Record{Topic: "assay.items.v1", Family: schemas.FamilyItems, Offset: off, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Emit) == 0 {
			return nil
		}
		return out.Emit[len(out.Emit)-1].(*schemas.RoutingDecided)
	}
	apply(ingest("i1"), 0)
	apply(ingest("i2"), 1)
	if d := apply(pre("i1", "q-vehicle", 0.9), 2); d.Route != schemas.RouteAutoAccept {
		t.Fatalf("under test-1: %s", d.Route)
	}
	next := testRules()
	next.Version = "test-2"
	next.Questions["q-vehicle"] = QuestionRules{ConfidenceThreshold: ptr(0.95)}
	if err := set.Swap(next); err != nil {
		t.Fatal(err)
	}
	d := apply(pre("i2", "q-vehicle", 0.9), 3)
	if d.Route != schemas.RouteHumanReview || !strings.HasPrefix(d.Reason, "rules test-2:") {
		t.Fatalf("under test-2: %s %q", d.Route, d.Reason)
	}
	bad := testRules()
	bad.DefaultConfidenceThreshold = 2
	if err := set.Swap(bad); err == nil || set.Current().Version != "test-2" {
		t.Fatalf("invalid rules swapped in (err %v, version %s)", err, set.Current().Version)
	}
}

func TestValueKeyAndAgreement(t *testing.T) {
	x, y := 0.1, 0.2 // variables: constant arithmetic would be exact
	for _, c := range []struct {
		a, b  schemas.LabelValue
		equal bool
	}{
		{schemas.MultiLabel("b", "a"), schemas.MultiLabel("a", "b"), true},
		{schemas.MultiLabel("a"), schemas.MultiLabel("a", "b"), false},
		{schemas.Ordinal("good", 2), schemas.Ordinal("good", 2), true},
		{schemas.Interval(x + y), schemas.Interval(0.3), false},
		{schemas.Ratio(3), schemas.Ratio(3.0), true},
		{schemas.Nominal("3"), schemas.Ratio(3), false},
	} {
		if got := valueKey(c.a) == valueKey(c.b); got != c.equal {
			t.Errorf("valueKey(%v) == valueKey(%v) is %v, want %v", c.a, c.b, got, c.equal)
		}
	}
	l := func(vs ...string) map[name]annotatorLabel {
		m := map[name]annotatorLabel{}
		for i, v := range vs {
			m[unique.Make(fmt.Sprint(i))] = annotatorLabel{value: unique.Make(valueKey(schemas.Nominal(v)))}
		}
		return m
	}
	for _, c := range []struct {
		labels map[name]annotatorLabel
		want   float64
	}{
		{l("a"), 1}, {l("a", "a"), 1}, {l("a", "b"), 0}, {l("a", "a", "b"), 1.0 / 3}, {l("a", "a", "b", "b"), 2.0 / 6},
	} {
		if got := agreement(c.labels); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("agreement(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}

// decisionRows returns "item/question stage rule audited version" of the
// routing_decisions rows in out.
func decisionRows(out runtime.Output) []string {
	var s []string
	for _, r := range out.Rows {
		if r.Table == TableDecisions {
			v := r.Values
			s = append(s, fmt.Sprintf("%s/%s %s %s %d %s", v[0], v[1], v[2], v[4], v[11], v[5]))
		}
	}
	return s
}

func TestDecisionRowsComeFromTheReadBack(t *testing.T) {
	rules := testRules()
	rules.Audit.Rate = 1
	f := newFeed(t, rules)
	// Decided, but not read back yet: no row.
	st := f.r.NewState("assay.items.v1", 0)
	out, err := f.r.Apply(st, runtime.Record{Topic: "assay.items.v1", Event: ingest("i0")})
	if err != nil {
		t.Fatal(err)
	}
	out, err = f.r.Apply(st, runtime.Record{Topic: "assay.items.v1", Offset: 1, Event: pre("i0", "q", 0.99)})
	if err != nil || len(out.Emit) != 1 || len(decisionRows(out)) != 0 {
		t.Fatalf("deciding wrote %v (err %v)", decisionRows(out), err)
	}

	out = f.apply(ingestP1("i1"), pre("i1", "q-vehicle", 0.99),
		label("l1", "i1", "q-vehicle", "a1", "car"), label("l2", "i1", "q-vehicle", "a2", "bus"))
	// Another producer's decision is refused: it writes no row either
	// (TestForeignDecisionsAreRefused).
	want := []string{
		"i1/q-caption prelabel no_prelabel 0 test-1",
		"i1/q-vehicle prelabel audit_sample 1 test-1",
		"i1/q-vehicle agreement low_agreement 0 test-1",
	}
	if got := decisionRows(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("routing_decisions rows\n got %q\nwant %q", got, want)
	}
}

func TestRulesVersionOfADecision(t *testing.T) {
	d := routed("i", "q", schemas.RouteAutoAccept, RuleConfident, Producer)
	d.Reason = "rules 2026-11-25.1: confidence 0.95 at or above threshold 0.9"
	if v := RulesVersion(d); v != "2026-11-25.1" {
		t.Fatalf("RulesVersion = %q", v)
	}
	d.Producer = "someone"
	if v := RulesVersion(d); v != "" {
		t.Fatalf("RulesVersion of another producer's decision = %q", v)
	}
}

// inputsOf renders a decision's inputs as name=value.
func inputsOf(d *schemas.RoutingDecided) []string {
	var s []string
	for _, in := range d.Inputs {
		s = append(s, fmt.Sprintf("%s=%v", in.Name, in.Value))
	}
	return s
}

// TestBoxDecisionContents: a boxes pre-label's decision records the
// numbers the box rule compared, whatever rule decided.
func TestBoxDecisionContents(t *testing.T) {
	rules := testRules()
	rules.Audit.Rate = 1
	out := newFeed(t, rules).apply(ingest("i1"), preBoxes("i1", "q-det", 0.85, 0.7, unscored, 0.45),
		ingest("i2"), preBoxes("i2", "q-det", 0.85, 0.7, 0.6), ingest("i3"), preBoxes("i3", "q-det", 0.85), ingest("i4", "child"), preBoxes("i4", "q-det", 0.85, 0.1))
	want := [][]string{
		{"confidence=0.85", "threshold=0.8", "boxes=3", "lowest_box_score=0.45", "box_threshold=0.5"},
		{"confidence=0.85", "threshold=0.8", "boxes=2", "lowest_box_score=0.6", "box_threshold=0.5", "audit_point=" + fmt.Sprint(rules.auditPoint("i2")), "audit_rate=1"},
		{"confidence=0.85", "threshold=0.8", "audit_point=" + fmt.Sprint(rules.auditPoint("i3")), "audit_rate=1"}, // no boxes: as any pre-label
		{"confidence=0.85", "threshold=0.8", "boxes=1", "lowest_box_score=0.1", "box_threshold=0.5"},
	}
	wantReason := []string{
		"rules test-1: lowest box score 0.45 (of 3 boxes) below box threshold 0.5 of question q-det",
		"rules test-1: auto-acceptable (confidence 0.85 >= 0.8), sampled for human audit at rate 1",
		"rules test-1: auto-acceptable (confidence 0.85 >= 0.8), sampled for human audit at rate 1",
		`rules test-1: edge-case tag "child" always goes to humans`,
	}
	if len(out.Emit) != len(want) {
		t.Fatalf("%d decisions: %v", len(out.Emit), decided(out))
	}
	for i, ev := range out.Emit {
		d := ev.(*schemas.RoutingDecided)
		if got := inputsOf(d); !slices.Equal(got, want[i]) {
			t.Errorf("%s inputs %v, want %v", d.ItemID, got, want[i])
		}
		if d.Reason != wantReason[i] {
			t.Errorf("%s reason %q, want %q", d.ItemID, d.Reason, wantReason[i])
		}
	}
	rules.Audit.Rate = 0
	d := newFeed(t, rules).apply(ingest("i1"), preBoxes("i1", "q-det", 0.85, 0.7)).Emit[0].(*schemas.RoutingDecided)
	if want := "rules test-1: confidence 0.85 at or above threshold 0.8 of question q-det, every box scored at or above 0.5"; d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
}

// TestRegionDecisionContents: an escalation for low region agreement
// records what was compared, is a labels-stage decision (its read-back
// row has stage agreement) and names its rules.
func TestRegionDecisionContents(t *testing.T) {
	rules := testRules()
	rules.Agreement.MinLabels = 3
	f := newFeed(t, rules)
	in := spans("l3", "i1", "q-ner-loose", "a3", sp("PER", 0, 10))
	out := f.apply(
		spans("l1", "i1", "q-ner-loose", "a1", sp("PER", 0, 10), sp("ORG", 20, 30)),
		spans("l2", "i1", "q-ner-loose", "a2", sp("PER", 6, 16), sp("LOC", 40, 45)), // PER IoU 4/16 = 0.25 < 0.3
		in)
	if len(out.Emit) != 1 {
		t.Fatalf("decisions %v", decided(out))
	}
	d := out.Emit[0].(*schemas.RoutingDecided)
	// Pairs: a1-a2 0 of 4, a1-a3 1 of 3, a2-a3 0 of 3: F1 = 2*1/10.
	want := []string{"annotators=3", "regions=5", "f1=0.2", "matched=1", "pair_regions=10", "iou_threshold=0.3", "min_region_f1=0.6"}
	if got := inputsOf(d); !slices.Equal(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
	wantReason := "rules test-1: the first 3 annotators' 5 regions agree at pairwise F1 0.2 (1 matched pairs of 10 paired regions at IoU >= 0.3), below 0.6"
	if d.Route != schemas.RouteExpertReview || d.Rule != RuleLowRegionAgreement || d.Reason != wantReason || d.Trace.CausationID != in.EventID {
		t.Errorf("decision %s %s %q caused by %s", d.Route, d.Rule, d.Reason, d.Trace.CausationID)
	}
	if got := decisionRows(out); !slices.Equal(got, []string{"i1/q-ner-loose agreement low_region_agreement 0 test-1"}) {
		t.Errorf("routing_decisions rows %q", got)
	}
}

// TestRegionCountsAreTheRegionsDefinition: the F1 the rule compares is
// streams/regions' pairwise F1 of the unit, checked here on a worked
// example by hand: three annotators' boxes, every pair.
func TestRegionCountsAreTheRegionsDefinition(t *testing.T) {
	a := map[string][]regions.Box{
		"a1": {{Label: "car", X: 0, Y: 0, W: 10, H: 10}, {Label: "car", X: 100, Y: 0, W: 10, H: 10}},
		"a2": {{Label: "car", X: 1, Y: 0, W: 10, H: 10}},                                             // IoU with a1's first 90/110
		"a3": {{Label: "car", X: 5, Y: 0, W: 10, H: 10}, {Label: "bus", X: 100, Y: 0, W: 10, H: 10}}, // IoU 50/150 with a1's first
	}
	answers := map[name]annotatorLabel{}
	for ann, bs := range a {
		answers[unique.Make(ann)] = annotatorLabel{regions: &heldRegions{boxes: bs}}
	}
	c, err := regionCounts(answers, regionBoxes, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// a1-a2: 1 matched of 3; a1-a3: 0 of 4 (IoU 1/3; the bus is not a car); a2-a3: 0 of 3
	// (IoU 60/140). F1 = 2*1/10.
	if f1, _ := c.F1(); c.Matched != 1 || c.RegionsA+c.RegionsB != 10 || math.Abs(f1-0.2) > 1e-15 {
		t.Fatalf("counts %+v (F1 %v), want 1 matched of 10", c, f1)
	}
	u, err := regions.CompareUnitBoxes(a, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if u.Counts != c {
		t.Fatalf("regionCounts %+v, regions.CompareUnitBoxes %+v", c, u.Counts)
	}
	// At IoU 0.3 the cars of a1-a3 (1/3) and of a2-a3 (3/7) match too: 3 of 10.
	if c, _ := regionCounts(answers, regionBoxes, 0.3); c.Matched != 3 {
		t.Fatalf("at 0.3: %+v", c)
	}
}
