package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// readRange reads the partitions of ends directly (no consumer group), each
// from its start (nil: the beginning of the log) up to, not including, its
// end offset, and calls fn for every data record. Control records are
// fetched too, only to see the reader's position move past transaction
// markers: the last offset below a high-water mark is often one.
func readRange(ctx context.Context, e *engine, starts map[tp]kgo.Offset, ends map[tp]int64, fn func(*kgo.Record) error) (int, error) {
	parts := map[string]map[int32]kgo.Offset{}
	remaining := map[tp]bool{}
	for k, end := range ends {
		start := kgo.NewOffset().AtStart()
		if s, ok := starts[k]; ok {
			start = s
		}
		if end <= 0 || start.EpochOffset().Offset >= end {
			continue // nothing to read (a snapshot may cover everything committed)
		}
		if parts[k.topic] == nil {
			parts[k.topic] = map[int32]kgo.Offset{}
		}
		parts[k.topic][k.partition] = start
		remaining[k] = true
	}
	if len(remaining) == 0 {
		return 0, nil
	}
	cl, err := kafka.NewClient(e.kcfg,
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n := 0
	lastProgress := time.Now()
	for len(remaining) > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollRecords(pctx, 10000)
		cancel()
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s[%d]: %w", t, p, err))
			}
		})
		if ferr != nil {
			return n, ferr
		}
		progressed := false
		var fnErr error
		fetches.EachRecord(func(kr *kgo.Record) {
			k := tp{kr.Topic, kr.Partition}
			if fnErr != nil || !remaining[k] || kr.Offset >= ends[k] {
				return
			}
			progressed = true
			if kr.Offset >= ends[k]-1 {
				delete(remaining, k)
			}
			if kr.Attrs.IsControl() {
				return
			}
			n++
			fnErr = fn(kr)
		})
		if fnErr != nil {
			return n, fnErr
		}
		if progressed {
			lastProgress = time.Now()
		} else if time.Since(lastProgress) > e.o.rebuildIdle {
			return n, fmt.Errorf("no progress for %s reading %d partitions up to their end offsets (log truncated?)", e.o.rebuildIdle, len(remaining))
		}
	}
	return n, nil
}

// rebuild replays [start, end) of each partition into its state, discarding
// the outputs: they were made durable before end was committed. It returns
// the number of records replayed into each partition's state.
func rebuild(ctx context.Context, e *engine, states map[tp]any, starts map[tp]kgo.Offset, ends map[tp]int64) (map[tp]int, error) {
	counts := map[tp]int{}
	n, err := readRange(ctx, e, starts, ends, func(kr *kgo.Record) error {
		// Poison records were sent to the DLQ when first seen; Apply left
		// the state unchanged for them then, and does so again now.
		k := tp{kr.Topic, kr.Partition}
		_, _ = e.apply(states[k], kr)
		counts[k]++
		return nil
	})
	e.m.rebuildRecords.WithLabelValues(e.name).Add(float64(n))
	if err != nil {
		return counts, fmt.Errorf("processor %s: rebuild state: %w", e.name, err)
	}
	return counts, nil
}

// ReplayStats reports what a Replay did.
type ReplayStats struct {
	// Records is the number of data records read (poison included).
	Records int
	// Rows is the number of rows written.
	Rows int
	// Rejected is the number of poison records (already in the DLQ topic
	// from live processing, so not produced again).
	Rejected int
	// Isolated is the number of records whose rows ClickHouse refused
	// (see the package doc). A replay produces no DLQ record for them: it
	// logs each one with its coordinates and the server's error, and counts
	// them in assay_processor_write_isolated_records_total.
	Isolated int
	// Duration is the wall time from start to the last durable write.
	Duration time.Duration
}

// EventsPerSecond is Records over Duration.
func (s ReplayStats) EventsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Records) / s.Duration.Seconds()
}

// Replay feeds p every record of its topics from the beginning of the log
// (or from the first record at or after since, when since is not zero) up
// to the high-water marks read when it starts, and writes the rows to sink.
// It uses no consumer group and commits nothing, so it can rebuild a
// projection into fresh tables while the live processor runs. It emits no
// events and produces no DLQ records: both happened when the log was first
// processed. Records whose rows ClickHouse refuses are isolated as in the
// Runner (a replay never stalls on them either) and reported in
// ReplayStats.Isolated. With since, stateful processors start from empty
// state at since. Each batch is written while the next one is read and
// applied (WithOverlappedWrites), so a replay holds up to two batches.
func Replay(ctx context.Context, p Processor, k config.Kafka, sink Sink, since time.Time, opts ...Option) (ReplayStats, error) {
	e, err := newEngine(p, k, sink, opts)
	if err != nil {
		return ReplayStats{}, err
	}
	start := time.Now()
	cl, err := kafka.NewClient(k)
	if err != nil {
		return ReplayStats{}, err
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	endOffsets, err := adm.ListEndOffsets(ctx, e.topics()...)
	if err != nil {
		return ReplayStats{}, fmt.Errorf("replay %s: list end offsets: %w", e.name, err)
	}
	if err := endOffsets.Error(); err != nil {
		return ReplayStats{}, fmt.Errorf("replay %s: list end offsets: %w", e.name, err)
	}
	ends := map[tp]int64{}
	starts := map[tp]kgo.Offset{}
	endOffsets.Each(func(o kadm.ListedOffset) { ends[tp{o.Topic, o.Partition}] = o.Offset })
	if !since.IsZero() {
		after, err := adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), e.topics()...)
		if err != nil {
			return ReplayStats{}, fmt.Errorf("replay %s: offsets after %s: %w", e.name, since, err)
		}
		after.Each(func(o kadm.ListedOffset) {
			k := tp{o.Topic, o.Partition}
			if o.Err != nil || o.Offset < 0 || o.Offset >= ends[k] {
				delete(ends, k) // nothing at or after since
				return
			}
			starts[k] = kgo.NewOffset().At(o.Offset)
		})
	}
	states := map[tp]any{}
	b := newBatch()
	var stats ReplayStats
	// With overlapped writes (the default), a full batch is written in the
	// background while the next one is read and applied: one write at a
	// time, so the tables get their batches in log order, and the write is
	// waited for before the next flush and before Replay returns (wctx ends
	// it early when reading fails).
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		writing *batch
		done    chan error
	)
	wait := func() error {
		if writing == nil {
			return nil
		}
		err := <-done
		stats.Rows += writing.written
		stats.Isolated += len(writing.isolated)
		if err == nil {
			e.m.batchSize.WithLabelValues(e.name).Observe(float64(writing.records))
		}
		writing = nil
		if err != nil {
			return fmt.Errorf("replay %s: %w", e.name, err)
		}
		return nil
	}
	flush := func() error {
		if err := wait(); err != nil {
			return err
		}
		writing, done = b, make(chan error, 1)
		b = newBatch()
		if !e.o.overlap {
			done <- e.write(wctx, writing)
			return wait()
		}
		go func(w *batch) { done <- e.write(wctx, w) }(writing)
		return nil
	}
	n, err := readRange(ctx, e, starts, ends, func(kr *kgo.Record) error {
		k := tp{kr.Topic, kr.Partition}
		s, ok := states[k]
		if !ok {
			s = p.NewState(kr.Topic, kr.Partition)
			states[k] = s
		}
		if e.add(b, s, kr, false) {
			stats.Rejected++
		}
		e.m.recordsIn.WithLabelValues(e.name, kr.Topic).Inc()
		if b.records >= e.o.batchSize || time.Since(b.first) >= e.o.flushInterval {
			return flush()
		}
		return nil
	})
	stats.Records = n
	if err != nil {
		stop() // the write in flight ends too; its durable rows still count
		_ = wait()
		return stats, fmt.Errorf("replay %s: %w", e.name, err)
	}
	if err := flush(); err != nil {
		return stats, err
	}
	if err := wait(); err != nil {
		return stats, err
	}
	stats.Duration = time.Since(start)
	return stats, nil
}
