package runtime_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/runtime"
)

// downSink is ClickHouse unavailable for good: every write hangs until its
// context ends (a server that accepted the connection and never answers),
// or fails at once with a refused connection.
type downSink struct {
	hang  bool
	calls atomic.Int64
}

func (s *downSink) Write(ctx context.Context, _ runtime.Table, _ [][]any) error {
	s.calls.Add(1)
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

const grace = 700 * time.Millisecond

// runBounded starts p and returns a function that cancels its context
// and returns Run's error, failing t when Run has not returned long after
// the grace (without the bound it never would: the sink never recovers).
func runBounded(t *testing.T, p runtime.Processor, k config.Kafka, sink runtime.Sink, opts ...runtime.Option) (stop func() error) {
	t.Helper()
	opts = append([]runtime.Option{runtime.WithFlushInterval(50 * time.Millisecond), runtime.WithRetryMaxInterval(50 * time.Millisecond),
		runtime.WithShutdownTimeout(grace)}, opts...)
	r, err := runtime.New(p, k, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(grace + 20*time.Second):
			t.Fatal("Run did not return after the shutdown grace")
			return nil
		}
	}
}

func checkUncommitted(t *testing.T, err error, k config.Kafka, group string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "shutdown grace") {
		t.Errorf("Run returned %v, want the shutdown grace error", err)
	}
	if c := committed(t, k, group); c != 0 {
		t.Fatalf("committed %d offsets of a batch that was never written", c)
	}
}

func TestShutdownIsBoundedDuringAFlushInTheLoop(t *testing.T) {
	for _, hang := range []bool{true, false} {
		t.Run(map[bool]string{true: "hanging", false: "refusing"}[hang], func(t *testing.T) {
			k := cluster(t, "p.")
			produce(t, client(t, k), k, items(0, 20, 4)...)
			sink := &downSink{hang: hang}
			stop := runBounded(t, counter{}, k, sink)
			eventually(t, "a flush in progress", func() bool { return sink.calls.Load() >= 2 || hang && sink.calls.Load() >= 1 })
			checkUncommitted(t, stop(), k, group)
		})
	}
}

func TestShutdownIsBoundedDuringAFlushInARevokeCallback(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, items(0, 30, 6)...)
	sink := &downSink{}
	reg := prometheus.NewRegistry()
	// The loop never flushes: the only flush before shutdown is the one
	// the revoke callback makes when a second member joins.
	stop := runBounded(t, counter{}, k, sink, runtime.WithFlushInterval(time.Hour), runtime.WithBatchSize(1000), runtime.WithRegisterer(reg),
		runtime.WithKafkaOptions(kgo.SessionTimeout(6*time.Second), kgo.RebalanceTimeout(10*time.Second)))
	eventually(t, "30 records polled", func() bool { return sumMetric(t, reg, "assay_processor_records_in_total") == 30 })

	other := client(t, k, kgo.ConsumerGroup(group), kgo.ConsumeTopics(k.Topic(schemas.FamilyItems.Topic())),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.DisableAutoCommit())
	pollCtx, stopPolling := context.WithCancel(context.Background())
	defer stopPolling()
	go func() {
		for pollCtx.Err() == nil {
			other.PollFetches(pollCtx)
		}
	}()
	eventually(t, "the revoke callback flushing", func() bool { return sink.calls.Load() >= 2 })
	checkUncommitted(t, stop(), k, group)
}

func TestShutdownIsBoundedForATransactionalRunner(t *testing.T) {
	k := cluster(t, "p.")
	l := &schemas.LabelSubmitted{LabelID: "l1", ItemID: "i1", ProjectID: "p", TaskID: "t", QuestionID: "q",
		AnnotatorID: "a", GuidelineVersion: "g", Value: schemas.Nominal("x")}
	l.EventID = "label-1"
	schemas.Stamp(l, "test", time.UnixMilli(1_700_000_000_000))
	produce(t, client(t, k), k, l)
	sink := &downSink{hang: true}
	stop := runBounded(t, reviewer{}, k, sink)
	eventually(t, "a flush in progress", func() bool { return sink.calls.Load() >= 1 })
	checkUncommitted(t, stop(), k, "p.assay.processor.reviewer")
	if reviews := readAll(t, k, k.Topic("assay.reviews.v1"), 0); len(reviews) != 0 {
		t.Fatalf("%d reviews visible from a batch that was never written", len(reviews))
	}
}

func (c counts) StateKeys() int { return len(c) }

func TestRunnerExportsStateKeys(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, items(0, 40, 7)...)
	reg := prometheus.NewRegistry()
	r := start(t, counter{}, k, newMemSink(), runtime.WithRegisterer(reg))
	eventually(t, "offsets committed", func() bool { return committed(t, k, group) == 40 })
	eventually(t, "7 keys over the partitions", func() bool { return sumMetric(t, reg, "assay_processor_state_keys") == 7 })
	r.stop(t)
	if hasMetric(t, reg, "assay_processor_state_keys") {
		t.Fatal("state_keys series left after the runner stopped")
	}
}
