package logview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Reader reads topics from the start of their logs and hands their data records to the
// caller (Run's apply), saying whether it has caught up with where the log stood when it
// started. Create it with New and call Run once; CaughtUp and Progress are safe for
// concurrent use.
type Reader struct {
	k      config.Kafka
	name   string
	topics []string
	log    *slog.Logger
	opts   []kgo.Opt

	started  atomic.Bool
	caughtUp atomic.Bool
	mu       sync.Mutex
	progress string // until caughtUp: how far the reader is
}

// New returns a reader of topics (full names, in k's namespace) whose name ("gate view")
// prefixes its log messages. It validates the consumer's options (opts are added to the
// reader's own: every partition from the start, read_committed, control records kept) but
// connects nothing: Run does.
func New(k config.Kafka, name string, topics []string, log *slog.Logger, opts ...kgo.Opt) (*Reader, error) {
	switch {
	case name == "":
		return nil, errors.New("logview: a name is required")
	case len(topics) == 0:
		return nil, fmt.Errorf("logview: %s: no topics", name)
	case log == nil:
		return nil, fmt.Errorf("logview: %s: a logger is required", name)
	}
	base := []kgo.Opt{
		// Every partition, now and added later, from the start of the log; no group, no commits.
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Records written in a transaction count once it commits, never when it aborts.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are fetched too, only to see the position pass them (Targets).
		kgo.KeepControlRecords(),
	}
	opts = append(base, opts...)
	if err := kgo.ValidateOpts(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, opts...)...); err != nil {
		return nil, fmt.Errorf("logview: %s: %w", name, err)
	}
	return &Reader{k: k, name: name, topics: topics, log: log, opts: opts,
		progress: "not started (Run has not listed the offsets yet)"}, nil
}

// CaughtUp reports whether every partition has been read up to the end offset it had when
// Run listed it; once true it stays true.
func (r *Reader) CaughtUp() bool { return r.caughtUp.Load() }

// Progress says how far the reader is while it has not caught up ("caught up" after).
func (r *Reader) Progress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress
}

func (r *Reader) setProgress(format string, args ...any) {
	r.mu.Lock()
	r.progress = fmt.Sprintf(format, args...)
	r.mu.Unlock()
}

// Run reads the topics until ctx ends, then closes its consumer and returns nil. It calls
// apply from its own goroutine, once a poll, with the poll's data records (control records
// left out, never empty), in offset order within each partition; apply may keep the records
// but not the slice, which the next poll reuses. CaughtUp turns true after
// the apply of the poll that reached the last target, so state read then holds everything
// up to the targets. Kafka being unreachable or a topic missing is not an error: Run retries
// (with backoff, logging each failure) and stays not caught up, which Progress reports. The
// error is for a client that cannot be made, or a second call.
func (r *Reader) Run(ctx context.Context, apply func([]*kgo.Record)) error {
	if !r.started.CompareAndSwap(false, true) {
		return fmt.Errorf("logview: %s: Run called twice", r.name)
	}
	cl, err := kafka.NewClient(r.k, r.opts...)
	if err != nil {
		return fmt.Errorf("logview: %s: %w", r.name, err)
	}
	defer cl.Close()
	start := time.Now()
	targets, err := r.targets(ctx, kadm.NewClient(cl))
	if err != nil {
		return nil // ctx ended
	}
	read := 0
	r.catchUp(targets, read, start)
	var recs []*kgo.Record
	for {
		fetches := cl.PollRecords(ctx, 10_000)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.log.Warn(r.name+": fetch failed; retrying", "topic", t, "partition", p, "err", err)
			}
		})
		recs = recs[:0]
		fetches.EachRecord(func(rec *kgo.Record) {
			targets.Saw(rec)
			if !rec.Attrs.IsControl() {
				recs = append(recs, rec)
			}
		})
		if len(recs) > 0 {
			read += len(recs)
			apply(recs)
		}
		r.catchUp(targets, read, start)
	}
}

// catchUp marks the reader caught up once no partition is left to read up to its target,
// and otherwise records how far it is.
func (r *Reader) catchUp(targets *Targets, read int, start time.Time) {
	if r.caughtUp.Load() {
		return
	}
	if !targets.Done() {
		r.setProgress("%d of %d partitions with records not yet read up to their high watermarks at start; %d records read",
			targets.Left(), targets.Partitions(), read)
		return
	}
	r.setProgress("caught up")
	r.caughtUp.Store(true)
	r.log.Info(r.name+" caught up", "topics", r.topics, "records", read, "took", time.Since(start).Round(time.Millisecond))
}

// targets lists the targets, retrying until it succeeds or ctx ends.
func (r *Reader) targets(ctx context.Context, adm *kadm.Client) (*Targets, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 10*time.Second, 0
	which := "the topic's"
	if len(r.topics) > 1 {
		which = "the topics'"
	}
	for {
		targets, err := ListTargets(ctx, adm, r.topics...)
		if err == nil {
			return targets, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := b.NextBackOff()
		r.setProgress("cannot list %s offsets: %v", which, err)
		r.log.Warn(r.name+": cannot list the offsets; retrying", "topics", strings.Join(r.topics, ","), "err", err,
			"retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
