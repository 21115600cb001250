package runtime_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-data/assay/streams/runtime"
)

// signaler is counter that closes applied when it applies the record at offset at.
type signaler struct {
	counter
	at      int64
	applied chan struct{}
	once    *sync.Once
}

func (s signaler) Apply(state any, rec runtime.Record) (runtime.Output, error) {
	if rec.Offset == s.at {
		s.once.Do(func() { close(s.applied) })
	}
	return s.counter.Apply(state, rec)
}

// orderSink records the offsets of every insert, checks that no two are in
// flight at once, and holds the first one until applied is closed (or a
// timeout, which it notes).
type orderSink struct {
	mu       sync.Mutex
	inserts  [][]int64
	inflight atomic.Int32
	overlap  atomic.Bool
	applied  chan struct{}
	held     atomic.Bool
	waited   atomic.Bool
	after    atomic.Bool // a Write started after Replay returned
	returned atomic.Bool
}

func (s *orderSink) Write(_ context.Context, _ runtime.Table, rows [][]any) error {
	if s.returned.Load() {
		s.after.Store(true)
	}
	if s.inflight.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.inflight.Add(-1)
	if s.held.CompareAndSwap(false, true) {
		select {
		case <-s.applied:
			s.waited.Store(true)
		case <-time.After(3 * time.Second):
		}
	}
	var offs []int64
	for _, r := range rows {
		offs = append(offs, r[len(r)-1].(int64))
	}
	s.mu.Lock()
	s.inserts = append(s.inserts, offs)
	s.mu.Unlock()
	return nil
}

// TestReplayWritesABatchWhileApplyingTheNext: with overlapped writes the
// first batch's insert is still in flight when the replay applies a record
// of the next batch; without, it is not. Either way the batches are
// written one at a time, in log order, each whole, every row once.
func TestReplayWritesABatchWhileApplyingTheNext(t *testing.T) {
	for _, overlap := range []bool{true, false} {
		t.Run(map[bool]string{true: "overlapped", false: "sequential"}[overlap], func(t *testing.T) {
			k := cluster(t, "p.")
			produce(t, client(t, k), k, sameItem(50)...)
			applied := make(chan struct{})
			p := signaler{at: 15, applied: applied, once: &sync.Once{}}
			sink := &orderSink{applied: applied}
			stats, err := runtime.Replay(context.Background(), p, k, sink, time.Time{}, runtime.WithBatchSize(10),
				runtime.WithOverlappedWrites(overlap))
			sink.returned.Store(true)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Records != 50 || stats.Rows != 50 {
				t.Fatalf("stats %+v", stats)
			}
			if got := sink.waited.Load(); got != overlap {
				t.Errorf("the first batch's insert saw record 15 applied: %v, want %v", got, overlap)
			}
			if sink.overlap.Load() {
				t.Error("two inserts were in flight at once")
			}
			var all []int64
			for i, in := range sink.inserts {
				if len(in) != 10 {
					t.Errorf("insert %d holds %d rows, want a batch of 10", i, len(in))
				}
				all = append(all, in...)
			}
			if !slices.Equal(all, allBut(50)) {
				t.Errorf("offsets in insert order %v, want 0..49 in order", all)
			}
		})
	}
}

// blockedSink fails every insert as an unreachable server does.
type blockedSink struct{ calls atomic.Int32 }

func (s *blockedSink) Write(context.Context, runtime.Table, [][]any) error {
	s.calls.Add(1)
	return errors.New("dial tcp: connection refused")
}

// TestReplayEndsItsWriteWithTheContext: a replay whose ClickHouse is down
// retries until its context ends, then returns without leaving a write
// running.
func TestReplayEndsItsWriteWithTheContext(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, sameItem(30)...)
	sink := &blockedSink{}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for sink.calls.Load() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	stats, err := runtime.Replay(ctx, counter{}, k, sink, time.Time{}, runtime.WithBatchSize(10), runtime.WithRetryMaxInterval(20*time.Millisecond))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("replay returned %v, want the context's end", err)
	}
	if stats.Rows != 0 {
		t.Errorf("stats %+v", stats)
	}
	calls := sink.calls.Load()
	time.Sleep(200 * time.Millisecond)
	if n := sink.calls.Load(); n != calls {
		t.Errorf("%d inserts after Replay returned", n-calls)
	}
}
