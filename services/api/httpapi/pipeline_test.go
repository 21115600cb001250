package httpapi_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/streams/kpi"
)

type pipelineAnswer struct {
	Pipeline httpapi.PipelineKPI `json:"pipeline"`
}

// TestPipelineLagFromBroker: /v1/pipeline reads the consumer lag from the broker, so a
// processor that stops shows its lag growing with every record that arrives after it, while
// the others drain theirs; its own /metrics, gone with it, could not say so.
func TestPipelineLagFromBroker(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	const project = "proj-lag"
	s.play(t, "lag", project, 5, 30)
	var pl pipelineAnswer
	waitFor(t, 2*time.Minute, "every processor to catch up", func() (bool, string) {
		get(t, s.api.URL, "/v1/pipeline", &pl)
		l := pl.Pipeline
		return l.ConsumerLagRecords != nil && *l.ConsumerLagRecords == 0 && len(l.Stopped) == 0, fmt.Sprintf("%+v", l)
	})

	s.stop(t, kpi.FlowName)
	labels := func(round int) []schemas.Event {
		var evs []schemas.Event
		for i := range 20 {
			evs = append(evs, &schemas.LabelSubmitted{LabelID: fmt.Sprintf("lag-extra-%d-%d", round, i), ItemID: fmt.Sprintf("lag-extra-item-%d", i),
				ProjectID: project, TaskID: "lag-task", QuestionID: "species", AnnotatorID: "lag-annotator", GuidelineVersion: "v1",
				Value: schemas.Nominal("cat"), TimeSpentMS: 1000})
		}
		return evs
	}
	// lagAfter waits until every processor but the stopped one has caught up and returns the
	// stopped one's lag.
	lagAfter := func(what string) int64 {
		t.Helper()
		var flow int64
		waitFor(t, time.Minute, what, func() (bool, string) {
			get(t, s.api.URL, "/v1/pipeline", &pl)
			l := pl.Pipeline
			others := int64(0)
			for name, n := range l.Processors {
				if name != kpi.FlowName {
					others += n
				}
			}
			flow = l.Processors[kpi.FlowName]
			return l.ConsumerLagRecords != nil && others == 0 && slices.Equal(l.Stopped, []string{kpi.FlowName}), fmt.Sprintf("%+v", l)
		})
		return flow
	}
	s.send(t, labels(1))
	first := lagAfter("the others to catch up with 20 new labels")
	s.send(t, labels(2))
	second := lagAfter("the others to catch up with 20 more")
	if first < 20 || second < first+20 {
		t.Errorf("lag of the stopped %s: %d after 20 labels, %d after 40; want at least 20, then 20 more", kpi.FlowName, first, second)
	}
	t.Logf("lag of the stopped %s: %d, then %d records", kpi.FlowName, first, second)
}
