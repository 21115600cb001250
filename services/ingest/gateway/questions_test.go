package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/questionview"
	"github.com/assay-data/assay/services/ingest/questionview/questionviewtest"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
)

// Tokens of the principals the question tests add to the harness's: a qa principal of two
// projects (ingesttest.Project and otherProject) and a model principal of every project.
const (
	otherProject  = "proj-other"
	qaBothToken   = "tok-qa-both-secret"
	modelAllToken = "tok-model-all-secret"
	modelToken    = "tok-model-secret"
)

// checkedPrincipals is the harness's principals and the two above.
func checkedPrincipals(t testing.TB) *access.Store {
	t.Helper()
	file := testPrincipalsFile() +
		"qa-both " + access.HashToken(qaBothToken) + " role=qa projects=" + ingesttest.Project + "," + otherProject + "\n" +
		"model-all " + access.HashToken(modelAllToken) + " role=model projects=* models=*\n"
	reg, err := access.Parse("test principals", file)
	if err != nil {
		t.Fatal(err)
	}
	return access.NewStore(reg)
}

// checked is a gateway whose label values are checked against a view of the projects topic
// of k, as the ingest main wires them.
type checked struct {
	*harness
	view    *questionview.View
	viewReg *prometheus.Registry
}

// newChecked starts a view of the questions of k (running until the test ends) and a
// gateway asking it; mutate adjusts the gateway's configuration.
func newChecked(t *testing.T, k config.Kafka, mutate func(*gateway.Config)) checked {
	t.Helper()
	reg := prometheus.NewRegistry()
	v, err := questionview.New(k, questionview.Config{MaxBytes: questionview.DefaultMaxBytes}, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("view: %v", err)
		}
	})
	h := newHarness(t, k, func(c *gateway.Config) {
		c.Principals = checkedPrincipals(t)
		c.Questions = v
		if mutate != nil {
			mutate(c)
		}
	})
	return checked{h, v, reg}
}

func (c checked) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "the view of questions to catch up", func() bool { return c.view.Ready(context.Background()) == nil })
}

// label is a labeler's LabelSubmitted n answering question with v, in ingesttest.Project.
func label(n int, question string, v schemas.LabelValue) *schemas.LabelSubmitted {
	l := ingesttest.Sample(schemas.TypeLabelSubmitted, n).(*schemas.LabelSubmitted)
	l.QuestionID, l.Value = question, v
	return l
}

// gold is a GoldLabelSet n of question with v (no project: its item's).
func gold(n int, question string, v schemas.LabelValue) *schemas.GoldLabelSet {
	g := ingesttest.Sample(schemas.TypeGoldLabelSet, n).(*schemas.GoldLabelSet)
	g.QuestionID, g.Value = question, v
	return g
}

// prelabel is a model's PreLabelProposed n of question with v (no project: its item's).
func prelabel(n int, question string, v schemas.LabelValue) *schemas.PreLabelProposed {
	p := ingesttest.Sample(schemas.TypePreLabelProposed, n).(*schemas.PreLabelProposed)
	p.QuestionID, p.Value = question, v
	return p
}

// withValue is ev's JSON with its value replaced by raw, verbatim: values no encoder writes.
func withValue(t testing.TB, ev schemas.Event, raw string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(marshal(t, ev), &m); err != nil {
		t.Fatal(err)
	}
	m["value"] = json.RawMessage(`"VALUE-HERE"`)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(b, []byte(`"VALUE-HERE"`), []byte(raw), 1)
}

func span(l string, start, end int64) schemas.Span {
	return schemas.Span{Label: l, Start: start, End: end}
}

func box(l string, x, y, w, h float64) schemas.Box {
	return schemas.Box{Label: l, X: x, Y: y, W: w, H: h}
}

func strength(v schemas.LabelValue, s int32) schemas.LabelValue {
	v.Preference.Strength = &s
	return v
}

// publishQuestions writes the definitions the question tests check against, as the gateway
// would have accepted them from an owner: in ingesttest.Project a named-entity question
// (spans PER, ORG, LOC), a detection question (boxes car, person), a preference question
// with a strength scale of 3 and a closed nominal question; in otherProject the same
// named-entity question id with other labels (GENE).
func publishQuestions(t *testing.T, k config.Kafka) {
	t.Helper()
	d, p := questionviewtest.Define, ingesttest.Project
	gateviewtest.Publish(t, k,
		d(p, "q-ner", schemas.LevelSpans, "PER", "ORG", "LOC"),
		d(p, "q-det", schemas.LevelBoxes, "car", "person"),
		questionviewtest.Preference(p, "q-pref", 3),
		d(p, "q-vehicle", schemas.LevelNominal, "car", "truck"),
		d(otherProject, "q-ner", schemas.LevelSpans, "GENE"),
	)
}

// TestLabelValuesCheckedAgainstQuestions: with the view of questions on, a label, gold
// label or pre-label whose value its question's definition admits is accepted; one it does
// not admit (a region label outside the closed set, another level, a strength above the
// scale, a category outside the set), and a spans, boxes or preference value whose question
// no project it may belong to defines, is refused with 422 and code invalid naming the
// field and saying how to proceed, like the contract's own checks (a span past the extent,
// a box of negative size, a choice that is not a response, ...) and the decoder's (region
// JSON of the wrong shape, numbers out of range). A value of a level that needs no
// definition passes when its question is not defined. A gold label or pre-label names no
// project: it is checked against the definitions of its question id in the projects its
// principal may write, and refused only when none admits it.
func TestLabelValuesCheckedAgainstQuestions(t *testing.T) {
	_, k := fakeKafka(t)
	publishQuestions(t, k)
	c := newChecked(t, k, nil)
	c.waitReady(t)

	text := func(spans ...schemas.Span) schemas.LabelValue {
		return schemas.Spans(schemas.UnitCharacters, 120, spans...)
	}
	image := func(boxes ...schemas.Box) schemas.LabelValue { return schemas.Boxes(640, 480, boxes...) }
	pref := schemas.Choice("r2", "r1", "r1", "r2")
	cases := []struct {
		name   string
		token  string
		body   []byte
		status int
		code   string
		field  string
		reason []string // substrings of the reason
	}{
		{name: "spans the definition admits", body: marshal(t, label(1, "q-ner", text(span("PER", 0, 11), span("LOC", 20, 26)))), status: 202},
		{name: "no regions", body: marshal(t, label(2, "q-ner", text())), status: 202},
		{name: "boxes the definition admits", body: marshal(t, label(3, "q-det", image(box("car", 10, 20, 100, 50)))), status: 202},
		{name: "a preference within the scale", body: marshal(t, label(4, "q-pref", strength(pref, 3))), status: 202},
		{name: "a preference without strength", body: marshal(t, label(5, "q-pref", pref)), status: 202},
		{name: "a category of the closed set", body: marshal(t, label(6, "q-vehicle", schemas.Nominal("truck"))), status: 202},
		{name: "a nominal value of a question not defined", body: marshal(t, label(7, "q-free", schemas.Nominal("anything"))), status: 202},

		{name: "a span label outside the set", body: marshal(t, label(10, "q-ner", text(span("PER", 0, 3), span("ORG", 4, 8), span("GENE", 9, 12)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[2].label", reason: []string{`"GENE" is not a label of question q-ner`}},
		{name: "a box label outside the set", body: marshal(t, label(11, "q-det", image(box("car", 1, 1, 5, 5), box("bus", 1, 1, 5, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.boxes[1].label", reason: []string{`"bus" is not a label of question q-det`}},
		{name: "the wrong level for a defined question", body: marshal(t, label(12, "q-ner", schemas.Nominal("PER"))),
			status: 422, code: wire.CodeInvalid, field: "value.level", reason: []string{"question q-ner is spans, got nominal"}},
		{name: "boxes for a spans question", body: marshal(t, label(13, "q-ner", image(box("PER", 1, 1, 5, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.level"},
		{name: "a strength above the scale", body: marshal(t, label(14, "q-pref", strength(pref, 4))),
			status: 422, code: wire.CodeInvalid, field: "value.preference.strength", reason: []string{"must be <= the strength scale 3 of question q-pref, got 4"}},
		{name: "a category outside the closed set", body: marshal(t, label(15, "q-vehicle", schemas.Nominal("bus"))),
			status: 422, code: wire.CodeInvalid, field: "value.category"},
		{name: "spans of a question not defined", body: marshal(t, label(16, "q-undefined", text(span("PER", 0, 3)))),
			status: 422, code: wire.CodeInvalid, field: "question_id",
			reason: []string{"question q-undefined is not defined in project " + ingesttest.Project, "a spans answer needs its question's definition", "an owner of the project sends a QuestionDefined"}},
		{name: "a preference of a question not defined", body: marshal(t, label(17, "q-undefined", pref)),
			status: 422, code: wire.CodeInvalid, field: "question_id", reason: []string{"strength_scale"}},
		{name: "a span label only another project's definition has", body: marshal(t, label(18, "q-ner", text(span("GENE", 0, 3)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[0].label"},

		// The contract's own checks, before any definition is asked.
		{name: "a span that ends before it starts", body: marshal(t, label(20, "q-ner", text(span("PER", 5, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[0].end", reason: []string{"must be > start"}},
		{name: "a span past the extent", body: marshal(t, label(21, "q-ner", text(span("PER", 100, 121)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[0].end", reason: []string{"past the extent's length 120"}},
		{name: "a box of negative size", body: marshal(t, label(22, "q-det", image(box("car", 10, 10, -5, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.boxes[0].w", reason: []string{"must be > 0"}},
		{name: "a box outside the image", body: marshal(t, label(23, "q-det", image(box("car", 600, 10, 50, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.boxes[0].w", reason: []string{"past the image's width 640"}},
		{name: "a box at a huge position", body: marshal(t, label(24, "q-det", image(box("car", 1e308, 10, 1e308, 5)))),
			status: 422, code: wire.CodeInvalid, field: "value.boxes[0].w"},
		{name: "a choice that is not a response", body: marshal(t, label(25, "q-pref", schemas.Choice("r3", "r1", "r1", "r2"))),
			status: 422, code: wire.CodeInvalid, field: "value.preference.choice", reason: []string{`"r3" is not one of the responses`}},
		{name: "spans without their extent", body: withValue(t, label(26, "q-ner", text()), `{"level":"spans","spans":[{"label":"PER","start":0,"end":3}]}`),
			status: 422, code: wire.CodeInvalid, field: "value.extent"},

		// Region JSON of the wrong shape: the decoder's errors.
		{name: "a span offset as a string", body: withValue(t, label(30, "q-ner", text()), `{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","start":"0","end":3}]}`),
			status: 422, code: wire.CodeWrongType, field: "value.spans.start"},
		{name: "spans as an object", body: withValue(t, label(31, "q-ner", text()), `{"level":"spans","extent":{"unit":"characters","length":120},"spans":{"label":"PER","start":0,"end":3}}`),
			status: 422, code: wire.CodeWrongType, field: "value.spans"},
		{name: "an unknown member of a span", body: withValue(t, label(32, "q-ner", text()), `{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","begin":0,"end":3}]}`),
			status: 422, code: wire.CodeUnknownField, field: "begin"},
		{name: "a span offset past int64", body: withValue(t, label(33, "q-ner", text()), `{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","start":9223372036854775808,"end":3}]}`),
			status: 422, code: wire.CodeWrongType, field: "value.spans.start"},
		{name: "a fractional span offset", body: withValue(t, label(34, "q-ner", text()), `{"level":"spans","extent":{"unit":"characters","length":120},"spans":[{"label":"PER","start":0.5,"end":3}]}`),
			status: 422, code: wire.CodeWrongType, field: "value.spans.start"},
		{name: "a box size past float64", body: withValue(t, label(35, "q-det", image()), `{"level":"boxes","extent":{"unit":"pixels","width":640,"height":480},"boxes":[{"label":"car","x":0,"y":0,"w":1e400,"h":1}]}`),
			status: 422, code: wire.CodeWrongType, field: "value.boxes.w"},
		{name: "a NaN box coordinate", body: withValue(t, label(36, "q-det", image()), `{"level":"boxes","extent":{"unit":"pixels","width":640,"height":480},"boxes":[{"label":"car","x":NaN,"y":0,"w":1,"h":1}]}`),
			status: 400, code: wire.CodeMalformedJSON},

		// Gold labels and pre-labels name no project.
		{name: "gold spans of a project the qa principal writes", token: qaToken, body: marshal(t, gold(40, "q-ner", text(span("ORG", 0, 3)))), status: 202},
		{name: "gold spans another project's definition admits, not the principal's", token: qaToken, body: marshal(t, gold(41, "q-ner", text(span("GENE", 0, 3)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[0].label", reason: []string{"(the definition of project " + ingesttest.Project + ")"}},
		{name: "gold spans one of the principal's projects admits", token: qaBothToken, body: marshal(t, gold(42, "q-ner", text(span("GENE", 0, 3)))), status: 202},
		{name: "gold spans none of the principal's projects admits", token: qaBothToken, body: marshal(t, gold(43, "q-ner", text(span("CHEM", 0, 3)))),
			status: 422, code: wire.CodeInvalid, field: "value.spans[0].label",
			reason: []string{"the definition of project " + ingesttest.Project, "also defined in " + otherProject}},
		{name: "gold boxes of a question not defined", token: qaToken, body: marshal(t, gold(44, "q-undefined", image(box("car", 1, 1, 1, 1)))),
			status: 422, code: wire.CodeInvalid, field: "question_id", reason: []string{"in any project qa may write (" + ingesttest.Project + ";"}},
		{name: "a pre-label at the wrong level", token: modelToken, body: marshal(t, prelabel(45, "q-det", schemas.Nominal("car"))),
			status: 422, code: wire.CodeInvalid, field: "value.level"},
		{name: "pre-label boxes the definition admits", token: modelToken, body: marshal(t, prelabel(46, "q-det", image(box("person", 1, 1, 1, 1)))), status: 202},
		{name: "pre-label boxes of a question not defined anywhere", token: modelAllToken, body: marshal(t, prelabel(47, "q-undefined", image(box("car", 1, 1, 1, 1)))),
			status: 422, code: wire.CodeInvalid, field: "question_id", reason: []string{"not defined in any project,"}},
		{name: "a pre-label box score above 1", token: modelToken, body: marshal(t, prelabel(48, "q-det", func() schemas.LabelValue {
			v := image(box("car", 1, 1, 1, 1))
			v.Boxes[0].Score = new(float64)
			*v.Boxes[0].Score = 1.5
			return v
		}())), status: 422, code: wire.CodeInvalid, field: "value.boxes[0].score"},
	}
	rejected := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = labelerToken
			}
			a := c.post(t, token, wire.MediaJSON, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status == 202 {
				return
			}
			rejected++
			if !a.problem.DeadLettered {
				t.Errorf("not dead-lettered: %s", a.body)
			}
			if len(a.problem.Errors) == 0 {
				if a.problem.Code != tc.code {
					t.Errorf("code %q, want %q", a.problem.Code, tc.code)
				}
				return
			}
			e := a.problem.Errors[0]
			if len(a.problem.Errors) != 1 || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("errors %+v, want one of code %s, field %s", a.problem.Errors, tc.code, tc.field)
			}
			for _, want := range tc.reason {
				if !strings.Contains(e.Reason, want) {
					t.Errorf("reason %q lacks %q", e.Reason, want)
				}
			}
		})
	}
	if n := dlqCount(t, k); n != int64(rejected) {
		t.Errorf("%d DLQ records, want one for each of the %d refusals", n, rejected)
	}
	m := scrape(t, c.harness)
	for _, want := range []string{
		`assay_ingest_label_values_checked_total{outcome="undefined"} 4`,
		`assay_ingest_label_values_checked_total{outcome="no_definition"} 1`,
		`assay_ingest_label_values_checked_total{outcome="unchecked"} 0`,
	} {
		if !containsLine(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRefusedValueInABatch: a label refused for its question in a batch is the only event
// named and the only DLQ record, and nothing of the batch is published (the batch rule).
func TestRefusedValueInABatch(t *testing.T) {
	_, k := fakeKafka(t)
	publishQuestions(t, k)
	c := newChecked(t, k, nil)
	c.waitReady(t)
	text := func(spans ...schemas.Span) schemas.LabelValue {
		return schemas.Spans(schemas.UnitCharacters, 50, spans...)
	}
	body := ndjson(t,
		label(1, "q-ner", text(span("PER", 0, 5))),
		label(2, "q-ner", text(span("MISC", 0, 5))),
		label(3, "q-vehicle", schemas.Nominal("car")))
	a := c.post(t, labelerToken, wire.MediaNDJSON, body)
	if a.status != http.StatusUnprocessableEntity || len(a.problem.Errors) != 1 || a.problem.Errors[0].Index != 1 ||
		a.problem.Errors[0].Line != 2 || a.problem.Errors[0].Field != "value.spans[0].label" {
		t.Fatalf("batch with one refused value: %d %s", a.status, a.body)
	}
	rejs := dlqRecords(t, k, 1)
	if len(rejs) != 1 || !strings.HasPrefix(rejs[0].Reason, wire.CodeInvalid+": event 1 of 3: value.spans[0].label: ") ||
		rejs[0].Field != "value.spans[0].label" || !ingesttest.Contains(rejs[0].Original, `"MISC"`) {
		t.Fatalf("DLQ records %+v: want the refused label alone, with its field and bytes", rejs)
	}
	if recs := ingesttest.ReadTopic(t, k, 1, 2*time.Second, k.Topic(schemas.FamilyLabels.Topic())); len(recs) != 0 {
		t.Errorf("%d labels on the ledger after a refused batch", len(recs))
	}
}

// TestQuestionRedefined: the owner defines a question through the gateway (the view reads it
// back from the topic); a label using a label the definition lacks is refused until the
// owner redefines the question with it, then accepted; a retry of a label accepted before a
// redefinition that would refuse it is still the duplicate it is.
func TestQuestionRedefined(t *testing.T) {
	_, k := fakeKafka(t)
	c := newChecked(t, k, nil)
	c.waitReady(t)
	p := ingesttest.Project
	text := func(spans ...schemas.Span) schemas.LabelValue {
		return schemas.Spans(schemas.UnitMilliseconds, 60_000, spans...)
	}
	if a := c.post(t, ownerToken, wire.MediaJSON, marshal(t, questionviewtest.Define(p, "q-speakers", schemas.LevelSpans, "A", "B"))); a.status != http.StatusAccepted {
		t.Fatalf("owner's definition: %d %s", a.status, a.body)
	}
	first := marshal(t, label(1, "q-speakers", text(span("A", 0, 1500))))
	waitFor(t, "the view to read the definition back", func() bool {
		return c.post(t, labelerToken, wire.MediaJSON, first).status == http.StatusAccepted
	})
	third := label(2, "q-speakers", text(span("C", 0, 1500)))
	if a := c.post(t, labelerToken, wire.MediaJSON, marshal(t, third)); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("a speaker the definition lacks: %d %s", a.status, a.body)
	}
	if a := c.post(t, ownerToken, wire.MediaJSON, marshal(t, questionviewtest.Define(p, "q-speakers", schemas.LevelSpans, "B", "C"))); a.status != http.StatusAccepted {
		t.Fatalf("owner's redefinition: %d %s", a.status, a.body)
	}
	third.EventID += "-retry"
	waitFor(t, "the view to read the redefinition", func() bool {
		return c.post(t, labelerToken, wire.MediaJSON, marshal(t, third)).status == http.StatusAccepted
	})
	if a := c.post(t, labelerToken, wire.MediaJSON, first); a.status != http.StatusAccepted || a.accepted.Duplicates != 1 {
		t.Fatalf("retry of a label accepted before the redefinition: %d %s, want a 202 duplicate", a.status, a.body)
	}
}

// TestQuestionDefinedOwnersOnly: only an owner defines questions, and only in its own
// projects; a definition refused is not in the view.
func TestQuestionDefinedOwnersOnly(t *testing.T) {
	_, k := fakeKafka(t)
	c := newChecked(t, k, nil)
	c.waitReady(t)
	def := func(project string) []byte {
		return marshal(t, questionviewtest.Define(project, "q-owned", schemas.LevelBoxes, "car"))
	}
	for _, tok := range []string{labelerToken, qaToken, collectorToken, modelToken} {
		a := c.post(t, tok, wire.MediaJSON, def(ingesttest.Project))
		if a.status != http.StatusForbidden || a.problem.Errors[0].Rule != access.RuleEventType {
			t.Errorf("a definition by a non-owner: %d %s", a.status, a.body)
		}
	}
	a := c.post(t, ownerToken, wire.MediaJSON, def(otherProject))
	if a.status != http.StatusForbidden || a.problem.Errors[0].Rule != access.RuleProject || a.problem.Errors[0].Field != "project_id" {
		t.Fatalf("an owner defining in another project: %d %s", a.status, a.body)
	}
	if a := c.post(t, ownerToken, wire.MediaJSON, def(ingesttest.Project)); a.status != http.StatusAccepted {
		t.Fatalf("an owner defining in its project: %d %s", a.status, a.body)
	}
	waitFor(t, "the definition in the view", func() bool {
		ds, _, err := c.view.Definitions("q-owned", func(string) bool { return true })
		return err == nil && len(ds) == 1
	})
	ds, _, _ := c.view.Definitions("q-owned", func(string) bool { return true })
	if ds[0].ProjectID != ingesttest.Project || ds[0].Producer != "owner" {
		t.Errorf("the view holds %+v, want the owner's definition in its project only", ds[0])
	}
}

// TestLabelsWhileTheQuestionViewCatchesUp: until the view of questions has read the topic, a
// request with a label gets 503 with Retry-After (never a 422 decided on a partial view) and
// nothing is dead-lettered; requests without labels are served. Once caught up, the label
// is checked.
func TestLabelsWhileTheQuestionViewCatchesUp(t *testing.T) {
	cl, k := fakeKafka(t)
	publishQuestions(t, k)
	release := make(chan struct{})
	cl.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		cl.SleepControl(func() { <-release })
		return nil, nil, false
	})
	c := newChecked(t, k, nil)
	body := marshal(t, label(1, "q-ner", schemas.Spans(schemas.UnitCharacters, 10, span("PER", 0, 3))))
	a := c.post(t, labelerToken, wire.MediaJSON, body)
	if a.status != http.StatusServiceUnavailable || a.problem.Code != wire.CodeQuestionsUnavailable || a.header.Get("Retry-After") == "" ||
		!strings.Contains(a.problem.Error, "not read the projects topic") {
		t.Fatalf("a label before the view caught up: %d %s", a.status, a.body)
	}
	if a := c.post(t, collectorToken, wire.MediaJSON, marshal(t, ingesttest.Sample(schemas.TypeItemIngested, 1))); a.status != http.StatusAccepted {
		t.Fatalf("an item while the view catches up: %d %s", a.status, a.body)
	}
	close(release)
	c.waitReady(t)
	if a := c.post(t, labelerToken, wire.MediaJSON, body); a.status != http.StatusAccepted {
		t.Fatalf("the retry once caught up: %d %s", a.status, a.body)
	}
	if n := dlqCount(t, k); n != 0 {
		t.Errorf("%d DLQ records: a 503 refuses nothing", n)
	}
}

// incomplete is a Questions that holds no definition and says it is incomplete, as the view
// does past its cap.
type incomplete struct{}

func (incomplete) Definition(string, string) (*schemas.QuestionDefined, bool, error) {
	return nil, false, nil
}

func (incomplete) Definitions(string, func(string) bool) ([]*schemas.QuestionDefined, bool, error) {
	return nil, false, nil
}

// TestIncompleteViewRefusesNoUndefined: when the view is past its cap, a spans value whose
// question it does not hold is accepted (its definition may be among those dropped) and
// counted as unchecked; the contract's own checks still apply.
func TestIncompleteViewRefusesNoUndefined(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) { c.Questions = incomplete{} })
	text := func(spans ...schemas.Span) schemas.LabelValue {
		return schemas.Spans(schemas.UnitCharacters, 10, spans...)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, marshal(t, label(1, "q-dropped", text(span("PER", 0, 3))))); a.status != http.StatusAccepted {
		t.Fatalf("spans of a question the incomplete view does not hold: %d %s", a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, marshal(t, label(2, "q-dropped", text(span("PER", 0, 11))))); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("a span past the extent: %d %s", a.status, a.body)
	}
	if got := metric(scrape(t, h), `assay_ingest_label_values_checked_total{outcome="unchecked"}`); got != 1 {
		t.Errorf("unchecked values: %v, want 1", got)
	}
}
