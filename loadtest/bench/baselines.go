package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// rawProduce produces n records of size bytes (random values, keys spread like item ids) to
// topic with franz-go's defaults (acks=all, idempotent), as fast as the client goes, and
// returns records per second from the first produce to the last acknowledgement.
func rawProduce(ctx context.Context, k config.Kafka, topic string, n, size int) (float64, error) {
	cl, err := kafka.NewClient(k, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	val := make([]byte, size)
	_, _ = rand.Read(val)
	errc := make(chan error, 1)
	start := time.Now()
	for i := range n {
		rec := &kgo.Record{Topic: topic, Key: []byte("item-" + strconv.Itoa(i)), Value: val}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, fmt.Errorf("flush raw produce: %w", err)
	}
	el := time.Since(start)
	select {
	case err := <-errc:
		return 0, fmt.Errorf("raw produce: %w", err)
	default:
	}
	return float64(n) / el.Seconds(), nil
}

// rawConsume reads n records of topics from the beginning with a plain franz-go consumer
// (no group, no decoding) and returns records per second.
func rawConsume(ctx context.Context, k config.Kafka, n int, topics ...string) (float64, error) {
	cl, err := kafka.NewClient(k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("raw consume: %d of %d records: %w", got, n, err)
		}
		got += fs.NumRecords()
	}
	return float64(got) / time.Since(start).Seconds(), nil
}

var perfLine = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec`)

// javaProducerPerformance runs org.apache.kafka.tools.ProducerPerformance from the broker's
// jars with the same record count and size and acks=all, and returns its records/sec.
func javaProducerPerformance(ctx context.Context, libs string, k config.Kafka, topic string, n, size int) (float64, string, error) {
	args := []string{"-Xmx512m", "-cp", filepath.Join(libs, "*"), "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", strconv.Itoa(size), "--throughput", "-1",
		"--producer-props", "bootstrap.servers=" + strings.Join(k.Brokers, ","), "acks=all"}
	out, err := exec.CommandContext(ctx, "java", args...).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("ProducerPerformance: %w\n%s", err, tail(out, 1500))
	}
	lines := perfLine.FindAllSubmatch(out, -1)
	for i := len(lines) - 1; i >= 0; i-- {
		if sent, _ := strconv.Atoi(string(lines[i][1])); sent == n {
			rate, _ := strconv.ParseFloat(string(lines[i][2]), 64)
			return rate, "java " + strings.Join(args[3:], " "), nil
		}
	}
	return 0, "", fmt.Errorf("ProducerPerformance printed no summary line:\n%s", tail(out, 1500))
}

// javaConsumerPerformance runs org.apache.kafka.tools.ConsumerPerformance over n records of
// topic and returns its nMsg.sec (end to end, group join included, as the tool reports it).
func javaConsumerPerformance(ctx context.Context, libs string, k config.Kafka, topic string, n int) (float64, string, error) {
	args := []string{"-Xmx512m", "-cp", filepath.Join(libs, "*"), "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", strings.Join(k.Brokers, ","), "--topic", topic, "--num-records", strconv.Itoa(n),
		"--group", topic + "-perf", "--timeout", "60000"}
	out, err := exec.CommandContext(ctx, "java", args...).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("ConsumerPerformance: %w\n%s", err, tail(out, 1500))
	}
	// A header line naming the columns, then one CSV line of figures.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	col := -1
	for i, line := range lines {
		fields := strings.Split(line, ",")
		for j, f := range fields {
			if strings.TrimSpace(f) == "nMsg.sec" {
				col = j
			}
		}
		if col >= 0 && i+1 < len(lines) {
			vals := strings.Split(lines[i+1], ",")
			if col < len(vals) {
				rate, err := strconv.ParseFloat(strings.TrimSpace(vals[col]), 64)
				if err == nil {
					return rate, "java " + strings.Join(args[3:], " "), nil
				}
			}
			break
		}
	}
	return 0, "", fmt.Errorf("ConsumerPerformance printed no nMsg.sec figure:\n%s", tail(out, 1500))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// ledgerRows are the rows the ledger writes for evs, computed once without Kafka, grouped by
// table, so the raw insert measures ClickHouse alone on exactly the pipeline's rows.
func ledgerRows(evs []schemas.Event) (map[string][][]any, int, error) {
	l := ledger.New()
	rows := map[string][][]any{}
	n := 0
	for i, ev := range evs {
		val, err := schemas.Encode(ev)
		if err != nil {
			return nil, 0, fmt.Errorf("encode %s: %w", ev.Meta().EventID, err)
		}
		rec := runtime.Record{Topic: "bench." + ev.Family().Topic(), Family: ev.Family(), Partition: int32(i % 6), Offset: int64(i),
			Key: []byte(ev.Key()), Timestamp: time.UnixMilli(ev.Meta().RecordedAt), Value: val, Event: ev}
		out, err := l.Apply(nil, rec)
		if err != nil {
			return nil, 0, fmt.Errorf("ledger apply %s: %w", ev.Meta().EventID, err)
		}
		for _, r := range out.Rows {
			rows[r.Table] = append(rows[r.Table], r.Values)
			n++
		}
	}
	return rows, n, nil
}

// rawInsert writes rows with one batch insert per table per chunk of batch events' worth of
// rows, as the runner does, and returns events per second.
func rawInsert(ctx context.Context, conn driver.Conn, rows map[string][][]any, events, batch int) (float64, error) {
	sink := runtime.ClickHouseSink(conn)
	tables := map[string]runtime.Table{}
	for _, t := range ledger.Tables() {
		tables[t.Name] = t
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	chunks := (events + batch - 1) / batch
	start := time.Now()
	for c := range chunks {
		for _, n := range names {
			rs := rows[n]
			lo, hi := c*len(rs)/chunks, (c+1)*len(rs)/chunks
			if lo == hi {
				continue
			}
			if err := sink.Write(ctx, tables[n], rs[lo:hi]); err != nil {
				return 0, fmt.Errorf("raw insert: %w", err)
			}
		}
	}
	return float64(events) / time.Since(start).Seconds(), nil
}

// flushFloor is the median time of writing one small batch (the rows of the first events
// events) into every ledger table, one insert per table as the runner does: the fixed cost of
// a flush, which bounds both how often a processor can flush and the latency it adds.
func flushFloor(ctx context.Context, conn driver.Conn, evs []schemas.Event, times int) (time.Duration, int, error) {
	rows, _, err := ledgerRows(evs)
	if err != nil {
		return 0, 0, err
	}
	var ds []time.Duration
	for range times {
		start := time.Now()
		if _, err := rawInsert(ctx, conn, rows, len(evs), len(evs)); err != nil {
			return 0, 0, err
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return ds[len(ds)/2], len(rows), nil
}
