package auditor_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

// BenchmarkRebuildVsRawConsume measures the audit's replay (read, decode, fold into the graph)
// against a bare franz-go read of the same partitions to the same high-water marks, in the same
// run on the same broker, so the difference is the audit's own cost. Reported as events/s.
func BenchmarkRebuildVsRawConsume(b *testing.B) {
	env := testenv.Stack(b, 6, testenv.NoDatabase)
	k, cl := env.Kafka, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const rounds = 3000
	evs := workload.New("bench", 9).Rounds(rounds)
	if err := workload.Produce(ctx, cl, k, evs); err != nil {
		b.Fatal(err)
	}
	var topics []string
	lineageFamily := map[schemas.Family]bool{}
	for _, f := range auditor.Families {
		topics = append(topics, k.Topic(f.Topic()))
		lineageFamily[f] = true
	}
	want := 0 // the workload also writes the DLQ topic, which lineage does not read
	for _, ev := range evs {
		if lineageFamily[ev.Family()] {
			want++
		}
	}

	b.Run("audit-rebuild", func(b *testing.B) {
		n := 0
		defer cpuPerEvent(b, &n)()
		for b.Loop() {
			_, stats, err := auditor.Rebuild(ctx, k, 0)
			if err != nil {
				b.Fatal(err)
			}
			if stats.Records != want {
				b.Fatalf("rebuild read %d records, produced %d", stats.Records, want)
			}
			n += stats.Records
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})
	for _, decode := range []bool{false, true} {
		name := "raw-franz-go"
		if decode {
			name += "+decode"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			defer cpuPerEvent(b, &n)()
			for b.Loop() {
				c, err := rawConsume(ctx, k, topics, decode)
				if err != nil {
					b.Fatal(err)
				}
				if c != want {
					b.Fatalf("read %d records, produced %d", c, want)
				}
				n += c
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// cpuPerEvent reports, when the function it returns is called after the benchmark's loop, the
// process's CPU time (user and system, the collector's included; the broker's is not) per
// event read, *n of them, as cpu-ns/event: steadier than events/s on a shared machine.
func cpuPerEvent(b *testing.B, n *int) func() {
	cpu0 := cpuTime(b)
	return func() {
		if *n > 0 {
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(*n), "cpu-ns/event")
		}
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawConsume reads every partition of topics from the start to the end offsets listed first,
// optionally decoding each value, and returns the number of records.
func rawConsume(ctx context.Context, k config.Kafka, topics []string, decode bool) (int, error) {
	admCl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return 0, err
	}
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topics...)
	admCl.Close()
	if err != nil {
		return 0, fmt.Errorf("list end offsets: %w", err)
	}
	parts := map[string]map[int32]kgo.Offset{}
	remaining := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset <= 0 {
			return
		}
		if parts[o.Topic] == nil {
			parts[o.Topic], remaining[o.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		parts[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
		remaining[o.Topic][o.Partition] = o.Offset
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumePartitions(parts))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	left := 0
	for _, ps := range remaining {
		left += len(ps)
	}
	n := 0
	for left > 0 {
		fs := cl.PollRecords(ctx, 10000)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s[%d]: %w", t, p, err)) })
		if ferr != nil {
			return n, ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Topic][r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			n++
			if decode {
				if _, err := schemas.Decode(r.Value); err != nil && derr == nil {
					derr = err
				}
			}
			if r.Offset >= end-1 {
				delete(remaining[r.Topic], r.Partition)
				left--
			}
		})
		if derr != nil {
			return n, derr
		}
	}
	return n, nil
}
