package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

func init() {
	register("tail", command{
		summary: "print the events of topics as JSON lines ('tail labels', 'tail -since 1h -follow items dlq')",
		run:     runTail,
	})
}

// tailRecord is the -meta output: where the record is, and the event.
type tailRecord struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Timestamp int64           `json:"timestamp"`
	Key       string          `json:"key"`
	Event     json.RawMessage `json:"event"`
}

// runTail reads partitions directly (no consumer group: nothing is committed, any number of
// tails can run) from the beginning or from -since, until the end offsets seen at start, or
// forever with -follow. By default each line is the event exactly as POST /v1/events takes it,
// so `assay tail` output can be fed back to `assay emit`.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", stderr)
	kcfg := config.RegisterKafka(fs)
	since := fs.String("since", "", "start at records from this time: RFC 3339 (2026-01-02T15:04:05Z) or a duration ago (90m)")
	follow := fs.Bool("follow", false, "keep printing new records (until Ctrl-C)")
	limit := fs.Int("n", 0, "stop after this many events (0: no limit)")
	meta := fs.Bool("meta", false, "wrap each event with its topic, partition, offset, timestamp and key")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay tail [flags] <family|topic>...\n\nfamilies: items labels reviews datasets findings dlq (prefixed with -topic-prefix); anything else is a topic name.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "tail", args, nil); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name at least one family or topic", errUsage)
	}
	topics := make([]string, 0, fs.NArg())
	for _, a := range fs.Args() {
		topics = append(topics, tailTopic(*kcfg, a))
	}
	startMs := int64(-1)
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return fmt.Errorf("%w: -since: %v", errUsage, err)
		}
		startMs = t.UnixMilli()
	}

	adminCl, err := kafka.NewClient(*kcfg)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(adminCl)
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	// A topic created a moment ago may not have a leader yet: ask again until it has.
	var ends map[string]map[int32]int64
	starts, err := backoff.RetryWithData(func() (map[string]map[int32]int64, error) {
		s, e, err := tailOffsets(lctx, adm, topics, startMs)
		if err != nil && !kerr.IsRetriable(err) {
			return nil, backoff.Permanent(err)
		}
		ends = e
		return s, err
	}, backoff.WithContext(backoff.NewExponentialBackOff(), lctx))
	cancel()
	adminCl.Close()
	if err != nil {
		return err
	}
	// Partitions left to read up to their end offset, unless following.
	remaining := map[string]map[int32]int64{}
	assign := map[string]map[int32]kgo.Offset{}
	for topic, ps := range starts {
		assign[topic] = map[int32]kgo.Offset{}
		for p, off := range ps {
			assign[topic][p] = kgo.NewOffset().At(off)
			if end := ends[topic][p]; end > off {
				if remaining[topic] == nil {
					remaining[topic] = map[int32]int64{}
				}
				remaining[topic][p] = end
			}
		}
	}
	if !*follow && len(remaining) == 0 {
		return nil
	}
	cl, err := kafka.NewClient(*kcfg, kgo.ConsumePartitions(assign), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()

	printed := 0
	// Offsets held by transaction markers are never delivered, so the last partitions may
	// never "reach" their end: stop after a quiet spell instead. Until the first records
	// arrive the spell is longer: a loaded machine can take seconds to join and fetch, and
	// stopping then would print nothing although the records are there.
	quiet := 30 * time.Second
	for {
		pctx := ctx
		var pcancel context.CancelFunc = func() {}
		if !*follow {
			pctx, pcancel = context.WithTimeout(ctx, quiet)
		}
		fetches := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			return nil // Ctrl-C: a normal way to stop tailing
		}
		if pctx.Err() != nil && fetches.NumRecords() == 0 {
			return nil
		}
		if fetches.NumRecords() > 0 {
			quiet = 5 * time.Second
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				fmt.Fprintf(stderr, "tail: fetch %s/%d: %v\n", fe.Topic, fe.Partition, fe.Err)
			}
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil || (*limit > 0 && printed >= *limit) {
				return
			}
			if end, ok := remaining[r.Topic][r.Partition]; ok && r.Offset >= end-1 {
				delete(remaining[r.Topic], r.Partition)
				if len(remaining[r.Topic]) == 0 {
					delete(remaining, r.Topic)
				}
			}
			if end, ok := ends[r.Topic][r.Partition]; !*follow && ok && r.Offset >= end {
				return // arrived after we started; not part of this snapshot
			}
			line, err := tailLine(r, *meta)
			if err != nil {
				fmt.Fprintf(stderr, "tail: %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if _, err := stdout.Write(line); err != nil {
				werr = err
				return
			}
			printed++
		})
		if werr != nil {
			return fmt.Errorf("write: %w", werr)
		}
		if *limit > 0 && printed >= *limit {
			return nil
		}
		if !*follow && len(remaining) == 0 {
			return nil
		}
	}
}

// tailTopic maps a family name to its topic in the namespace; other names are topics.
func tailTopic(k config.Kafka, name string) string {
	for _, f := range schemas.Families() {
		if name == string(f) {
			return k.Topic(f.Topic())
		}
	}
	return name
}

// parseSince reads an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}

// tailOffsets returns, per topic and partition, where to start (the log start, or the first
// offset at or after startMs) and the end offset at this moment.
func tailOffsets(ctx context.Context, adm *kadm.Client, topics []string, startMs int64) (starts, ends map[string]map[int32]int64, err error) {
	endOffs, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	var startOffs kadm.ListedOffsets
	if startMs >= 0 {
		startOffs, err = adm.ListOffsetsAfterMilli(ctx, startMs, topics...)
	} else {
		startOffs, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	for _, t := range topics {
		if _, ok := endOffs[t]; !ok {
			return nil, nil, fmt.Errorf("topic %s does not exist", t)
		}
	}
	ends, endErr := byPartition(endOffs)
	starts, startErr := byPartition(startOffs)
	if err := errors.Join(endErr, startErr); err != nil {
		return nil, nil, err
	}
	for t, parts := range starts {
		for p, off := range parts {
			if off < 0 { // no record at or after the time: start at the end
				parts[p] = ends[t][p]
			}
		}
	}
	return starts, ends, nil
}

// byPartition folds listed offsets into topic -> partition -> offset, with the errors of
// every partition that has one.
func byPartition(l kadm.ListedOffsets) (map[string]map[int32]int64, error) {
	out := map[string]map[int32]int64{}
	var errs []error
	l.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, errors.Join(errs...)
}

// tailLine renders one record; records that do not decode are reported, not printed.
func tailLine(r *kgo.Record, meta bool) ([]byte, error) {
	ev, err := schemas.Decode(r.Value)
	if err != nil {
		return nil, err
	}
	ev.Meta().EventType = ev.Type()
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", ev.Type(), err)
	}
	if meta {
		b, err = json.Marshal(tailRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: string(r.Key), Event: b})
		if err != nil {
			return nil, err
		}
	}
	return append(b, '\n'), nil
}
