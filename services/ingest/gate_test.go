package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
)

var ownerToken = ingesttest.TokenOf(access.RoleOwner)

// principalsFile writes ingesttest's principals (one of every role) to a file.
func principalsFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "principals")
	testenv.WriteFileAtomic(t, path, ingesttest.Principals())
	return path
}

// send posts one event as JSON with token and returns the status and the problem, if any.
func send(t *testing.T, url, token string, ev schemas.Event) (int, wire.Problem) {
	t.Helper()
	ev.Meta().EventType = ev.Type()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+wire.Path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", wire.MediaJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p wire.Problem
	if resp.StatusCode != http.StatusAccepted {
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, p
}

func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGateViewHoldsReadiness: the gateway main is not ready (/readyz 503, naming the
// gate_view check and how far the view is) while its view of the datasets topic cannot
// read the log, and becomes ready once the view has caught up; the view's metrics are on
// /metrics.
func TestGateViewHoldsReadiness(t *testing.T) {
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
	gateviewtest.Publish(t, k, gateviewtest.Verdict("ds-ok", "1", 1, true, "meets all targets"))
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	url, logs := startGateway(t, []string{"-principals-file", principalsFile(t),
		"-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}, nil)
	waitFor(t, "/readyz to say the view holds it back", func() bool {
		code, body := readyz(t, url)
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"gate_view":"the gate's view has not read the datasets topic`) &&
			strings.Contains(body, "1 of 1 partitions with records not yet read")
	})
	if m := testenv.Metrics(t, url); !strings.Contains(m, "\nassay_ingest_gate_view_ready 0\n") {
		t.Error("assay_ingest_gate_view_ready is not 0 while the view catches up")
	}
	if code, p := send(t, url, ownerToken, gateviewtest.Run("early", "ds-ok@1")); code != http.StatusServiceUnavailable || p.Code != wire.CodeGateUnavailable {
		t.Errorf("run while the view catches up: %d %+v", code, p)
	}
	close(release)
	testenv.WaitReady(t, url, 30*time.Second, logs)
	m := testenv.Metrics(t, url)
	for _, want := range []string{"assay_ingest_gate_view_ready 1", `assay_ingest_gate_view_records_total{outcome="applied"} 1`} {
		if !strings.Contains(m, "\n"+want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, p := send(t, url, ownerToken, gateviewtest.Run("early", "ds-ok@1")); code != http.StatusAccepted {
		t.Errorf("run once caught up: %d %+v", code, p)
	}
}

// TestIntegrationTrainingRunsGated: the gateway main on the real broker. Verdicts written as
// the gate writes them (in transactions, one of them aborted) are read by the view before
// the gateway is ready: a run on the certified version is accepted, on the rejected one it is
// refused with 409 naming the reason (the aborted certification does not count); the owner's
// override goes through the gateway and, once the view has read it back, so does the run.
// With -gate-training-runs=false (here by its environment variable) nothing is gated and
// there is no view.
func TestIntegrationTrainingRunsGated(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	v := gateviewtest.Verdict
	gateviewtest.PublishTx(t, k, true, v("ds-ok", "1", 1, true, "meets all 4 targets of t-1"), v("ds-rej", "1", 1, false, "min_accuracy on q-1: 0.64 < 0.7"))
	gateviewtest.PublishTx(t, k, false, v("ds-rej", "1", 2, true, "aborted: never certified"))
	path := principalsFile(t)
	args := []string{"-principals-file", path, "-kafka-brokers", strings.Join(k.Brokers, ","), "-topic-prefix", k.TopicPrefix}
	url, logs := gatewayProcess(t, args, nil)

	if code, p := send(t, url, ownerToken, gateviewtest.Run("ok", "ds-ok@1")); code != http.StatusAccepted {
		t.Fatalf("run on a certified version: %d %+v", code, p)
	}
	code, p := send(t, url, ownerToken, gateviewtest.Run("rej", "ds-rej@1"))
	if code != http.StatusConflict || len(p.Errors) != 1 || p.Errors[0].Field != "dataset_versions[0]" || p.Errors[0].Code != wire.CodeNotCertified ||
		!strings.Contains(p.Errors[0].Reason, "min_accuracy on q-1: 0.64 < 0.7") || !p.DeadLettered {
		t.Fatalf("run on a rejected version: %d %+v", code, p)
	}
	if code, p := send(t, url, ownerToken, gateviewtest.Override("ds-rej", "1", "", "signed off by the data owner for the ablation run")); code != http.StatusAccepted {
		t.Fatalf("owner's override: %d %+v", code, p)
	}
	waitFor(t, "the run to pass once the view has read the override", func() bool {
		code, _ := send(t, url, ownerToken, gateviewtest.Run("rej", "ds-rej@1"))
		return code == http.StatusAccepted
	})
	m := testenv.Metrics(t, url)
	for _, want := range []string{"assay_ingest_gate_view_ready 1", `assay_ingest_gate_view_records_total{outcome="applied"} 3`,
		`assay_ingest_training_runs_gated_total{decision="overridden"} 1`} {
		if !strings.Contains(m, "\n"+want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(logs.String(), "gate view caught up") {
		t.Errorf("the catch-up is not logged:\n%s", logs.String())
	}

	url, logs = gatewayProcess(t, args, map[string]string{"ASSAY_INGEST_GATE_TRAINING_RUNS": "false"})
	if code, p := send(t, url, ownerToken, gateviewtest.Run("free", "ds-new@1")); code != http.StatusAccepted {
		t.Fatalf("ungated run: %d %+v", code, p)
	}
	if m := testenv.Metrics(t, url); strings.Contains(m, "assay_ingest_gate_view_ready") {
		t.Error("an ungated gateway exports the view's metrics")
	}
	if !strings.Contains(logs.String(), "training runs are not gated") {
		t.Errorf("the ungated start is not logged:\n%s", logs.String())
	}
}
