package logview_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/infra/logview"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is an in-process cluster with topics a and b of 3 partitions each (when seed).
func cluster(t *testing.T, seed bool) (*kfake.Cluster, config.Kafka) {
	t.Helper()
	k := config.Kafka{TopicPrefix: "fake."}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if seed {
		opts = append(opts, kfake.SeedTopics(3, k.Topic("a"), k.Topic("b")))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.Brokers = c.ListenAddrs()
	return c, k
}

// produce writes values to topic's partition p; with txn set, in one transaction that
// commits when commit is set and aborts otherwise.
func produce(t *testing.T, k config.Kafka, topic string, p int32, txn, commit bool, values ...string) {
	t.Helper()
	opts := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}
	if txn {
		opts = append(opts, kgo.TransactionalID(fmt.Sprintf("tx-%s-%d-%d", topic, p, time.Now().UnixNano())))
	}
	cl, err := kafka.NewClient(k, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if txn {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if txn {
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
}

// collected is what apply was given, safe to read while Run runs.
type collected struct {
	mu     sync.Mutex
	values []string
	polls  int
}

func (c *collected) apply(recs []*kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(recs) == 0 {
		panic("apply called with no records")
	}
	c.polls++
	for _, r := range recs {
		c.values = append(c.values, r.Topic[len("fake."):]+":"+string(r.Value))
	}
}

func (c *collected) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.values...)
}

// run starts r until the test ends.
func run(t *testing.T, r *logview.Reader, apply func([]*kgo.Record)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, apply) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
	}
}

func sorted(s []string) string {
	out := slices.Clone(s)
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestReaderCatchesUpAndFollows: over two topics, the reader hands over every committed data
// record written before it started (plain ones, a committed transaction's; not an aborted
// one's, nor the transaction markers) and is caught up only after it applied them, although
// the last offsets of some partitions are transaction markers and one partition's records
// were all deleted (its start offset is its end offset: nothing to wait for). It then keeps
// following.
func TestReaderCatchesUpAndFollows(t *testing.T) {
	_, k := cluster(t, true)
	a, b := k.Topic("a"), k.Topic("b")
	produce(t, k, a, 0, false, false, "1", "2")
	produce(t, k, a, 1, true, true, "3")
	produce(t, k, a, 1, true, false, "aborted")
	produce(t, k, b, 2, false, false, "gone-1", "gone-2")
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: b, Partition: 2, At: 2})
	if res, err := kadm.NewClient(cl).DeleteRecords(ctx, offs); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	produce(t, k, b, 0, true, true, "4")

	targets, err := logview.ListTargets(ctx, kadm.NewClient(cl), a, b)
	if err != nil {
		t.Fatal(err)
	}
	if targets.Partitions() != 3 || targets.Left() != 3 {
		t.Fatalf("targets: %d partitions with records, %d left; want a/0, a/1 and b/0", targets.Partitions(), targets.Left())
	}

	r, err := logview.New(k, "test view", []string{a, b}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if r.CaughtUp() || !strings.Contains(r.Progress(), "not started") {
		t.Fatalf("before Run: caught up %v, %q", r.CaughtUp(), r.Progress())
	}
	var got collected
	run(t, r, got.apply)
	waitFor(t, "the reader to catch up", r.CaughtUp)
	atCatchUp := got.get()
	if want := "a:1 a:2 a:3 b:4"; sorted(atCatchUp) != want {
		t.Fatalf("records applied when caught up: %q, want %q", sorted(atCatchUp), want)
	}
	if r.Progress() != "caught up" {
		t.Errorf("Progress once caught up: %q", r.Progress())
	}
	produce(t, k, b, 1, false, false, "5")
	waitFor(t, "the record written after the catch-up", func() bool { return len(got.get()) == 5 })
	if err := r.Run(ctx, got.apply); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a second Run: %v", err)
	}
}

// TestReaderHoldsUntilFetched: while fetches are held, the reader is not caught up and says
// how many partitions it still has to read; released, it catches up.
func TestReaderHoldsUntilFetched(t *testing.T) {
	c, k := cluster(t, true)
	produce(t, k, k.Topic("a"), 0, false, false, "1")
	produce(t, k, k.Topic("b"), 1, false, false, "2")
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	r, err := logview.New(k, "test view", []string{k.Topic("a"), k.Topic("b")}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var got collected
	run(t, r, got.apply)
	waitFor(t, "Progress to say how far the reader is", func() bool {
		return strings.Contains(r.Progress(), "2 of 2 partitions with records not yet read up to their high watermarks at start; 0 records read")
	})
	if r.CaughtUp() {
		t.Fatal("caught up without a fetch")
	}
	close(release)
	waitFor(t, "the reader to catch up", r.CaughtUp)
	if n := len(got.get()); n != 2 {
		t.Errorf("%d records applied, want 2", n)
	}
}

// TestReaderWaitsForTheTopics: started before a topic exists, the reader says it cannot list
// the offsets, and catches up once the topic is created; empty topics are caught up at once.
func TestReaderWaitsForTheTopics(t *testing.T) {
	_, k := cluster(t, false)
	r, err := logview.New(k, "test view", []string{k.Topic("a")}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var got collected
	run(t, r, got.apply)
	waitFor(t, "Progress to name the missing offsets", func() bool {
		return strings.Contains(r.Progress(), "cannot list the topic's offsets")
	})
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, k.Topic("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader to catch up on the empty topic", r.CaughtUp)
}

func TestNewValidates(t *testing.T) {
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}}
	for name, f := range map[string]func() (*logview.Reader, error){
		"no name":   func() (*logview.Reader, error) { return logview.New(k, "", []string{"t"}, quiet) },
		"no topics": func() (*logview.Reader, error) { return logview.New(k, "v", nil, quiet) },
		"no logger": func() (*logview.Reader, error) { return logview.New(k, "v", []string{"t"}, nil) },
		"bad option": func() (*logview.Reader, error) {
			return logview.New(k, "v", []string{"t"}, quiet, kgo.TransactionalID(""))
		},
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
