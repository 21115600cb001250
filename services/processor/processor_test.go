package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger/ledgertest"
)

// These tests run the real binary (built with go build into a temp dir)
// against the real broker and ClickHouse, each in its own namespace, and
// break things around it: kill -9, a ClickHouse outage, poison input, a
// second instance. The invariant is always the same: after FINAL, every
// ledger table holds exactly the rows the produced events imply.

func processorBinary(t *testing.T) string {
	t.Helper()
	return testenv.Binary(t, ".")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}

// proc is one running processor process.
type proc struct {
	*testenv.Process
	t *testing.T
}

func startProcessor(t *testing.T, k config.Kafka, chAddr, db string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"-http", "127.0.0.1:0", "-flush-interval", "300ms", "-batch-size", "2000", "-processors", "ledger", "-session-timeout", "6s"}, extra...)
	return &proc{t: t, Process: testenv.StartProcess(t, "processor", processorBinary(t), []string{
		"ASSAY_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","),
		"ASSAY_TOPIC_PREFIX=" + k.TopicPrefix,
		"ASSAY_CLICKHOUSE_ADDR=" + chAddr,
		"ASSAY_CLICKHOUSE_DATABASE=" + db,
	}, args...)}
}

// kill9 kills the process without letting it flush or commit anything.
func (p *proc) kill9() {
	p.t.Helper()
	p.Kill9(p.t)
}

// term stops the process gracefully and requires a clean exit.
func (p *proc) term() {
	p.t.Helper()
	p.Term(p.t, 60*time.Second)
}

// metric returns the sum of a metric family's samples from /metrics.
func (p *proc) metric(name string) float64 {
	p.t.Helper()
	var sum float64
	for _, line := range strings.Split(p.Metrics(p.t), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			var v float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &v)
			sum += v
		}
	}
	return sum
}

func rawCount(t *testing.T, conn driver.Conn, table string) int {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// noGaps checks that every produced event id is in events exactly once
// per offset and that the typed tables hold every item.
func noGaps(t *testing.T, conn driver.Conn, events int) {
	t.Helper()
	var ids, offsets uint64
	if err := conn.QueryRow(context.Background(), "SELECT uniqExact(event_id), uniqExact(topic, partition, offset) FROM events FINAL").Scan(&ids, &offsets); err != nil {
		t.Fatal(err)
	}
	if int(ids) != events || int(offsets) != events {
		t.Fatalf("events holds %d distinct ids at %d distinct offsets, want %d of each", ids, offsets, events)
	}
}

func committedOffsets(t *testing.T, k config.Kafka) int64 {
	t.Helper()
	adm := kadm.NewClient(testenv.KafkaClient(t, k))
	offs, err := adm.FetchOffsets(context.Background(), k.TopicPrefix+"assay.processor.ledger")
	if err != nil {
		return 0
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
	return sum
}

// produceSlowly produces rounds in chunks, pausing between chunks, so the
// processor is consuming while the test breaks things.
func produceSlowly(ctx context.Context, cl *kgo.Client, k config.Kafka, gen *workload.Generator, from, rounds, chunk int, pause time.Duration) error {
	for i := from; i < from+rounds; i += chunk {
		if err := workload.Produce(ctx, cl, k, roundsFrom(gen, i, min(chunk, from+rounds-i))); err != nil {
			return err
		}
		time.Sleep(pause)
	}
	return nil
}

// roundsFrom returns rounds first..first+n-1 of gen.
func roundsFrom(gen *workload.Generator, first, n int) []schemas.Event {
	var out []schemas.Event
	for i := first; i < first+n; i++ {
		out = append(out, gen.Round(i)...)
	}
	return out
}

func TestKillNineMidBatchThenRestart(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const rounds = 1500 // 21000 events
	gen := workload.New("kill", 7)
	produced := make(chan error, 1)
	go func() { produced <- produceSlowly(ctx, cl, k, gen, 0, rounds, 50, 30*time.Millisecond) }()

	p := startProcessor(t, k, cfg.Addr[0], cfg.Database)
	deadline := time.Now().Add(time.Minute)
	for rawCount(t, conn, "events") < rounds*workload.TypesPerRound/4 {
		if time.Now().After(deadline) {
			t.Fatal("processor wrote nothing in a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill9()
	killedAt := rawCount(t, conn, "events")
	t.Logf("killed with %d of %d events rows written, %d offsets committed", killedAt, rounds*workload.TypesPerRound, committedOffsets(t, k))

	time.Sleep(time.Second)
	startProcessor(t, k, cfg.Addr[0], cfg.Database)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	ledgertest.WaitCounts(t, conn, workload.ExpectedRows(rounds), 2*time.Minute)
	noGaps(t, conn, rounds*workload.TypesPerRound)
	t.Logf("events rows before FINAL: %d for %d events (more would be replayed copies not merged yet)", rawCount(t, conn, "events"), rounds*workload.TypesPerRound)
}

func TestClickHouseOutageOfSixtySeconds(t *testing.T) {
	t.Parallel()
	outage := 60 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	proxy := testenv.NewTCPProxy(t, cfg.Addr[0])

	const half = 300
	gen := workload.New("outage", 9)
	if err := workload.Produce(ctx, cl, k, gen.Rounds(half)); err != nil {
		t.Fatal(err)
	}
	p := startProcessor(t, k, proxy.Addr(), cfg.Database)
	ledgertest.WaitCounts(t, conn, workload.ExpectedRows(half), time.Minute)
	committedBefore := committedOffsets(t, k)

	proxy.Cut()
	t.Logf("ClickHouse cut off from the processor for %s", outage)
	if err := workload.Produce(ctx, cl, k, roundsFrom(gen, half, half)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(outage)
	if got := committedOffsets(t, k); got != committedBefore {
		t.Fatalf("offsets moved from %d to %d while ClickHouse was unreachable", committedBefore, got)
	}
	if got := ledgertest.FinalCounts(t, conn)["events"]; got != half*workload.TypesPerRound {
		t.Fatalf("events = %d during the outage", got)
	}
	select {
	case <-p.Done():
		t.Fatalf("processor exited during the outage: %v", p.Err())
	default:
	}
	retries := p.metric("assay_processor_write_retries_total")
	proxy.Restore(t)
	ledgertest.WaitCounts(t, conn, workload.ExpectedRows(2*half), time.Minute)
	noGaps(t, conn, 2*half*workload.TypesPerRound)
	t.Logf("%v write retries during the outage; all rows exact after it", retries)
	if retries == 0 {
		t.Error("no write retries counted during the outage")
	}
	p.term()
}

func TestPoisonRecordGoesToDLQAndThePartitionContinues(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 1, testenv.MigratedDatabase) // one partition: the poison sits between valid records
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	gen := workload.New("poison", 3)
	if err := workload.Produce(ctx, cl, k, gen.Rounds(5)); err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 100)
	_, _ = rand.Read(garbage)
	itemsTopic := k.Topic("assay.items.v1")
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: itemsTopic, Key: []byte("x"), Value: garbage}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := workload.Produce(ctx, cl, k, roundsFrom(gen, 5, 5)); err != nil {
		t.Fatal(err)
	}
	p := startProcessor(t, k, cfg.Addr[0], cfg.Database)
	want := workload.ExpectedRows(10)
	want["dlq"]++    // the rejection of the garbage
	want["events"]++ // ... which is itself an event on the DLQ topic
	ledgertest.WaitCounts(t, conn, want, time.Minute)
	var (
		reason, original, topic string
		offset                  *int64
	)
	if err := conn.QueryRow(ctx, "SELECT reason, original, original_topic, original_offset FROM dlq FINAL WHERE source = 'assay-processor/ledger'").
		Scan(&reason, &original, &topic, &offset); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reason, "decode:") || original != string(garbage) || topic != itemsTopic || offset == nil {
		t.Fatalf("dlq row: reason %q, topic %q, offset %v, original matches: %v", reason, topic, offset, original == string(garbage))
	}
	t.Logf("DLQ reason: %s", reason)
	if n := p.metric("assay_processor_dlq_records_total"); n != 1 {
		t.Fatalf("dlq metric %v, want 1", n)
	}
	p.term()
}

// waitGroupSplit waits until group has members members that each own at least one
// partition, and returns the partition count per member.
func waitGroupSplit(ctx context.Context, t *testing.T, adm *kadm.Client, group string, members int, limit time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last map[string]int
	for time.Now().Before(deadline) {
		groups, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		last = map[string]int{}
		for _, m := range groups[group].Members {
			n := 0
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range ca.Topics {
					n += len(tp.Partitions)
				}
			}
			last[m.MemberID] = n
		}
		split := len(last) == members
		for _, n := range last {
			split = split && n > 0
		}
		if split {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s never split between %d members within %s; last seen %v", group, members, limit, last)
	return nil
}

func TestTwoInstancesSplitPartitions(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 6, testenv.MigratedDatabase)
	k, cfg, conn, cl := env.Kafka, env.ClickHouse, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Records flow until the second member owns partitions and a little after, so both
	// instances consume whatever the timing of the cooperative rebalance on this machine.
	gen := workload.New("two", 5)
	const chunk = 20
	stop := make(chan struct{})
	type result struct {
		rounds int
		err    error
	}
	produced := make(chan result, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				produced <- result{n, nil}
				return
			default:
			}
			if err := produceSlowly(ctx, cl, k, gen, n, chunk, chunk, 50*time.Millisecond); err != nil {
				produced <- result{n, err}
				return
			}
			n += chunk
		}
	}()
	a := startProcessor(t, k, cfg.Addr[0], cfg.Database)
	for rawCount(t, conn, "events") == 0 {
		time.Sleep(50 * time.Millisecond)
	}
	// The second member joins mid-stream: a cooperative rebalance moves
	// partitions while records flow.
	b := startProcessor(t, k, cfg.Addr[0], cfg.Database)
	adm := kadm.NewClient(testenv.KafkaClient(t, k))
	group := k.TopicPrefix + "assay.processor.ledger"
	owned := waitGroupSplit(ctx, t, adm, group, 2, time.Minute)
	time.Sleep(time.Second)
	close(stop)
	res := <-produced
	if res.err != nil {
		t.Fatal(res.err)
	}
	rounds := res.rounds
	ledgertest.WaitCounts(t, conn, workload.ExpectedRows(rounds), 2*time.Minute)
	noGaps(t, conn, rounds*workload.TypesPerRound)
	for member, n := range owned {
		t.Logf("member %s owns %d partitions", member, n)
	}
	inA, inB := a.metric("assay_processor_records_in_total"), b.metric("assay_processor_records_in_total")
	t.Logf("records consumed: first instance %v, second %v (total %d events)", inA, inB, rounds*workload.TypesPerRound)
	if inA == 0 || inB == 0 {
		t.Fatal("one instance consumed nothing")
	}
	a.term()
	b.term()
}
