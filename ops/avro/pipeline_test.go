package avro

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/infra/config"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}

// TestPipelineLogDecodesWithApacheAvro runs a small pipeline on the real broker, in a topic
// prefix of its own, with the real binaries: the ingest gateway, the router processor, and
// `assay demo` playing an annotation program through the gateway (items, pre-labels, labels,
// gold, reviews, dataset versions, a training run, findings); a request the gateway refuses and
// a record no processor can read add the DLQ's records. Then every record of every contract
// topic, as a consumer reads the log, goes to Apache Avro, whose decoder must find its writer
// by the header and decode it to what Assay decodes.
func TestPipelineLogDecodesWithApacheAvro(t *testing.T) {
	Classpath(t) // before any work: skip (or fail) early without the checker
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, ch := env.Kafka, env.ClickHouse
	ingestBin := testenv.Binary(t, "github.com/assay-data/assay/services/ingest")
	processorBin := testenv.Binary(t, "github.com/assay-data/assay/services/processor")
	assayBin := testenv.Binary(t, "github.com/assay-data/assay/services/assay")

	kafkaEnv := []string{"ASSAY_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","), "ASSAY_TOPIC_PREFIX=" + k.TopicPrefix}
	// The demo's principals (one per party: collector, model, labelers, qa, owner), made by
	// `assay demo -setup` as make run does.
	principals := t.TempDir()
	if out, err := exec.Command(assayBin, "demo", "-setup", principals, "-project", "avro-check").CombinedOutput(); err != nil {
		t.Fatalf("assay demo -setup: %v\n%s", err, out)
	}
	tokens, err := os.ReadFile(filepath.Join(principals, "demo-tokens"))
	if err != nil {
		t.Fatal(err)
	}
	var token string // the demo collector's
	for _, l := range strings.Split(string(tokens), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "demo-collector" {
			token = f[1]
		}
	}
	addr := freeAddr(t)
	// No gate runs here: training runs are not gated (the demo would wait for a verdict).
	ingest := testenv.StartProcess(t, "ingest", ingestBin, kafkaEnv, "-addr", addr, "-principals-file", filepath.Join(principals, "principals"), "-gate-training-runs=false")
	waitReady(t, ingest, "http://"+addr+"/readyz")
	router := testenv.StartProcess(t, "router", processorBin,
		append(kafkaEnv, "ASSAY_CLICKHOUSE_ADDR="+ch.Addr[0], "ASSAY_CLICKHOUSE_DATABASE="+ch.Database),
		"-processors", "router", "-http", "127.0.0.1:0", "-flush-interval", "200ms", "-session-timeout", "6s")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	demo := exec.CommandContext(ctx, assayBin, "demo", "-url", "http://"+addr, "-api-url", "", "-items", "12", "-rate", "2000", "-project", "avro-check",
		"-tokens", filepath.Join(principals, "demo-tokens"))
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("assay demo: %v\n%s", err, out)
	}
	// The gateway dead-letters an event of a type the contract does not have (202 or 207 or 400
	// by its batch rules: only the DLQ record matters here).
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+wire.Path, strings.NewReader(`{"event_type":"NoSuchEvent","event_id":"e-1"}`))
	req.Header.Set("Content-Type", wire.MediaJSON)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A record that is not an event, as a broken producer would write it: the router
	// dead-letters it with its coordinates.
	cl := testenv.KafkaClient(t, k)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: k.Topic(schemas.FamilyItems.Topic()), Key: []byte("item-x"), Value: []byte(notAnEvent)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The router works asynchronously: wait until its decisions and its DLQ record are in the
	// log and nothing new arrived for a while, then stop it.
	var recs []*kgo.Record
	var count map[schemas.EventType]int
	deadline := time.Now().Add(2 * time.Minute)
	for last := -1; ; {
		recs = readLog(t, k)
		count = countTypes(recs)
		if count[schemas.TypeRoutingDecided] > 0 && count[schemas.TypeEventRejected] >= 2 && len(recs) == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the router did not finish within 2 minutes: %v", count)
		}
		last = len(recs)
		time.Sleep(2 * time.Second)
	}
	router.Term(t, time.Minute)
	ingest.Term(t, time.Minute)

	var in []Record
	for _, r := range recs {
		if string(r.Value) == notAnEvent {
			continue
		}
		rec, err := ContractRecord(fmt.Sprintf("%s/%d/%d", strings.TrimPrefix(r.Topic, k.TopicPrefix), r.Partition, r.Offset), r.Value)
		if err != nil {
			t.Errorf("a record of the log is not an event Assay knows: %v", err)
			continue
		}
		in = append(in, rec)
	}
	verdict := Run(t, ContractSchemas(), in)
	for _, r := range in {
		checkDecoded(t, verdict, r, nil)
	}
	var types []string
	for typ, n := range count {
		types = append(types, fmt.Sprintf("%s %d", typ, n))
	}
	slices.Sort(types)
	t.Logf("Apache Avro %s decoded all %d records of the run's log (%d event types: %s)", verdict.Avro, len(in), len(count), strings.Join(types, ", "))
	if len(count) < 10 {
		t.Errorf("the run's log has only %d event types: %v", len(count), count)
	}
}

// notAnEvent is the value of the record the test writes as a broken producer would.
const notAnEvent = "not an event"

// readLog reads every committed record of the contract topics in k's namespace, from the start
// to the end as of the call.
func readLog(t *testing.T, k config.Kafka) []*kgo.Record {
	t.Helper()
	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	cl := testenv.KafkaClient(t, k, kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	var out []*kgo.Record
	for idle := 0; idle < 2; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return out
}

func countTypes(recs []*kgo.Record) map[schemas.EventType]int {
	out := map[schemas.EventType]int{}
	for _, r := range recs {
		if typ, _, err := schemas.TypeOf(r.Value); err == nil {
			out[typ]++
		}
	}
	return out
}

// freeAddr is a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls url until it answers 200, failing t if the process exits or a minute passes.
func waitReady(t *testing.T, p *testenv.Process, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited: %v", p.Cmd.Path, p.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within a minute: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
