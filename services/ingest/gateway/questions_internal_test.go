package gateway

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/infra/config"
)

// oneQuestion is a Questions holding one definition.
type oneQuestion struct{ d *schemas.QuestionDefined }

func (o oneQuestion) Definition(project, question string) (*schemas.QuestionDefined, bool, error) {
	if project == o.d.ProjectID && question == o.d.QuestionID {
		return o.d, true, nil
	}
	return nil, true, nil
}

func (o oneQuestion) Definitions(question string, in func(string) bool) ([]*schemas.QuestionDefined, bool, error) {
	if question == o.d.QuestionID && in(o.d.ProjectID) {
		return []*schemas.QuestionDefined{o.d}, true, nil
	}
	return nil, true, nil
}

// TestLabelCheckAllocatesNothing: checking a label the definition of its question admits,
// the path of every label once questions are defined, allocates nothing.
func TestLabelCheckAllocatesNothing(t *testing.T) {
	reg, err := access.Parse("principals", "labeler "+access.HashToken("tok")+" role=labeler projects=proj-1\n")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Principals = access.NewStore(reg)
	cfg.Questions = oneQuestion{&schemas.QuestionDefined{ProjectID: "proj-1", QuestionID: "q-ner", Level: schemas.LevelSpans, Labels: []string{"PER", "ORG"}}}
	g, err := New(cfg, config.Kafka{Brokers: []string{"127.0.0.1:1"}}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.cl.Close)
	prod, _ := reg.Principal("labeler")
	d := Decoded{Event: &schemas.LabelSubmitted{ProjectID: "proj-1", QuestionID: "q-ner",
		Value: schemas.Spans(schemas.UnitCharacters, 20, schemas.Span{Label: "PER", Start: 0, End: 5}, schemas.Span{Label: "ORG", Start: 6, End: 9})}}
	if n := testing.AllocsPerRun(100, func() {
		if e, err := g.admitted(d, prod); e != nil || err != nil {
			t.Fatalf("admitted: %+v, %v", e, err)
		}
	}); n != 0 {
		t.Errorf("%v allocations to check a label its question admits", n)
	}
}
