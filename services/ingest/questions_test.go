package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/questionview/questionviewtest"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
)

var labelerToken = ingesttest.TokenOf(access.RoleLabeler)

// spansLabel is a labeler's LabelSubmitted n of question with spans on a text of 100
// characters.
func spansLabel(n int, question string, spans ...schemas.Span) *schemas.LabelSubmitted {
	l := ingesttest.Sample(schemas.TypeLabelSubmitted, n).(*schemas.LabelSubmitted)
	l.QuestionID, l.Value = question, schemas.Spans(schemas.UnitCharacters, 100, spans...)
	return l
}

// TestQuestionViewHoldsReadiness: the gateway main is not ready (/readyz 503, naming the
// question_view check and how far the view is) while its view of the projects topic cannot
// read the log; a label then gets 503 questions_unavailable. Once caught up the main is
// ready, and a spans label of a question not defined is refused (422, question_id).
func TestQuestionViewHoldsReadiness(t *testing.T) {
	k := config.Kafka{TopicPrefix: "fake."}
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k.Brokers = c.ListenAddrs()
	gateviewtest.Publish(t, k, questionviewtest.Define(ingesttest.Project, "q-ner", schemas.LevelSpans, "PER"))
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	url, logs := startGateway(t, []string{"-principals-file", principalsFile(t),
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, nil)
	waitFor(t, "/readyz to say the view of questions holds it back", func() bool {
		code, body := readyz(t, url)
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"question_view":"the view of questions has not read the projects topic`) &&
			strings.Contains(body, "1 of 1 partitions with records not yet read")
	})
	if code, p := send(t, url, labelerToken, spansLabel(1, "q-ner", schemas.Span{Label: "PER", Start: 0, End: 4})); code != http.StatusServiceUnavailable || p.Code != wire.CodeQuestionsUnavailable {
		t.Errorf("a label while the view catches up: %d %+v", code, p)
	}
	close(release)
	testenv.WaitReady(t, url, 30*time.Second, logs)
	if code, p := send(t, url, labelerToken, spansLabel(1, "q-ner", schemas.Span{Label: "PER", Start: 0, End: 4})); code != http.StatusAccepted {
		t.Errorf("a label its question admits, once caught up: %d %+v", code, p)
	}
	code, p := send(t, url, labelerToken, spansLabel(2, "q-other", schemas.Span{Label: "PER", Start: 0, End: 4}))
	if code != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "question_id" || p.Errors[0].Code != wire.CodeInvalid {
		t.Errorf("spans of a question not defined: %d %+v", code, p)
	}
	if m := testenv.Metrics(t, url); !strings.Contains(m, "\nassay_ingest_question_view_ready 1\n") {
		t.Error("assay_ingest_question_view_ready is not 1 once caught up")
	}
	if !strings.Contains(logs.String(), "question view caught up") {
		t.Errorf("the catch-up is not logged:\n%s", logs.String())
	}
}

// TestIntegrationQuestionsChecked: the gateway main on the real broker. Only an owner
// defines a question, and only in its own projects; once the view has read the owner's
// definition back, a spans label it admits reaches the labels topic, while a label with a
// span label outside the set, spans of a question not defined, and a batch holding one
// such label reach only the DLQ, each record naming its field. With
// -check-questions=false (here by its environment variable) there is no view, and spans of
// a question not defined are accepted.
func TestIntegrationQuestionsChecked(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	args := []string{"-principals-file", principalsFile(t), "-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}
	url, _ := gatewayProcess(t, args, nil)
	span := func(l string, start, end int64) schemas.Span { return schemas.Span{Label: l, Start: start, End: end} }

	def := questionviewtest.Define(ingesttest.Project, "q-ner", schemas.LevelSpans, "PER", "ORG", "LOC")
	if code, p := send(t, url, labelerToken, def); code != http.StatusForbidden || p.Errors[0].Rule != access.RuleEventType {
		t.Fatalf("a labeler defining a question: %d %+v", code, p)
	}
	elsewhere := questionviewtest.Define("proj-elsewhere", "q-ner", schemas.LevelSpans, "GENE")
	if code, p := send(t, url, ownerToken, elsewhere); code != http.StatusForbidden || p.Errors[0].Rule != access.RuleProject || p.Errors[0].Field != "project_id" {
		t.Fatalf("an owner defining a question in another project: %d %+v", code, p)
	}
	if code, p := send(t, url, ownerToken, def); code != http.StatusAccepted {
		t.Fatalf("the owner defining a question of its project: %d %+v", code, p)
	}
	waitFor(t, "the view to read the definition back", func() bool {
		return strings.Contains(testenv.Metrics(t, url), "\n"+`assay_ingest_question_view_records_total{outcome="applied"} 1`+"\n")
	})

	valid := spansLabel(1, "q-ner", span("PER", 0, 5), span("LOC", 10, 16))
	if code, p := send(t, url, labelerToken, valid); code != http.StatusAccepted {
		t.Fatalf("spans the definition admits: %d %+v", code, p)
	}
	refusals := []struct {
		ev    schemas.Event
		field string
	}{
		{spansLabel(2, "q-ner", span("PER", 0, 5), span("GENE", 6, 9)), "value.spans[1].label"},
		{spansLabel(3, "q-undefined", span("PER", 0, 5)), "question_id"},
		{spansLabel(4, "q-ner", span("PER", 90, 101)), "value.spans[0].end"},
	}
	for _, r := range refusals {
		code, p := send(t, url, labelerToken, r.ev)
		if code != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != r.field || p.Errors[0].Code != wire.CodeInvalid || !p.DeadLettered {
			t.Errorf("%s: %d %+v, want 422 naming %s", r.ev.Meta().EventID, code, p, r.field)
		}
	}

	// A batch with one refused label: nothing of it is published, the refused label alone is
	// dead-lettered.
	batchOK, batchBad := spansLabel(6, "q-ner", span("ORG", 0, 5)), spansLabel(7, "q-ner", span("MISC", 0, 5))
	refusals = append(refusals, struct {
		ev    schemas.Event
		field string
	}{batchBad, "value.spans[0].label"})
	var body bytes.Buffer
	for _, ev := range []schemas.Event{batchOK, batchBad} {
		ev.Meta().EventType = ev.Type()
		b, _ := json.Marshal(ev)
		body.Write(append(b, '\n'))
	}
	req, _ := http.NewRequest(http.MethodPost, url+wire.Path, &body)
	req.Header.Set("Authorization", "Bearer "+labelerToken)
	req.Header.Set("Content-Type", wire.MediaNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p wire.Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || p.Rejected != 1 || p.Errors[0].Index != 1 || p.Errors[0].Field != "value.spans[0].label" {
		t.Fatalf("a batch with one refused label: %d %+v", resp.StatusCode, p)
	}

	labels := ingesttest.ReadTopic(t, k, 2, 5*time.Second, k.Topic(schemas.FamilyLabels.Topic()))
	if len(labels) != 1 {
		t.Fatalf("%d records on the labels topic, want the valid label only", len(labels))
	}
	if ev, err := schemas.DecodeAs[schemas.LabelSubmitted](labels[0].Value); err != nil || ev.EventID != valid.EventID ||
		len(ev.Value.Spans) != 2 || ev.Value.Spans[1] != span("LOC", 10, 16) || ev.Value.Extent == nil || *ev.Value.Extent.Length != 100 {
		t.Fatalf("the label on the ledger: %+v (%v)", ev, err)
	}
	defs := ingesttest.ReadTopic(t, k, 2, 3*time.Second, k.Topic(schemas.FamilyProjects.Topic()))
	if len(defs) != 1 {
		t.Fatalf("%d records on the projects topic, want the owner's definition in its project only", len(defs))
	}
	var rejected []*schemas.EventRejected
	for _, r := range ingesttest.ReadTopic(t, k, 7, 10*time.Second, k.Topic(schemas.FamilyDLQ.Topic())) {
		rej, err := schemas.DecodeAs[schemas.EventRejected](r.Value)
		if err != nil {
			t.Fatal(err)
		}
		rejected = append(rejected, rej)
	}
	if len(rejected) != 6 {
		t.Fatalf("%d DLQ records, want the 2 refused definitions and the 4 refused labels (not the batch's valid one)", len(rejected))
	}
	for _, r := range refusals {
		found := false
		for _, rej := range rejected {
			if ingesttest.Contains(rej.Original, r.ev.Meta().EventID) {
				found = rej.Field == r.field && strings.HasPrefix(rej.Reason, wire.CodeInvalid+": ") && rej.OriginalProducer == "labeler"
			}
		}
		if !found {
			t.Errorf("%s: no DLQ record naming %s", r.ev.Meta().EventID, r.field)
		}
	}

	url, _ = gatewayProcess(t, args, map[string]string{"ASSAY_INGEST_CHECK_QUESTIONS": "false"})
	if code, p := send(t, url, labelerToken, spansLabel(5, "q-undefined", span("ANY", 0, 5))); code != http.StatusAccepted {
		t.Fatalf("spans of a question not defined, questions not checked: %d %+v", code, p)
	}
	if m := testenv.Metrics(t, url); strings.Contains(m, "assay_ingest_question_view_ready") {
		t.Error("a gateway that does not check questions exports the view's metrics")
	}
}
