package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// PipelineKPI is how far the processors are behind the log, read from the broker: per
// processor, the records of its topics past the offsets its consumer group committed.
type PipelineKPI struct {
	// ConsumerLagRecords is the total over every processor; null unless every processor's
	// lag was read (a sum over the others would understate it).
	ConsumerLagRecords *int64 `json:"consumer_lag_records"`
	// Processors is the lag of each processor whose lag was read.
	Processors map[string]int64 `json:"processors"`
	// Stopped lists the processors whose consumer group has no live member: no instance
	// consumes their topics, so their lag grows with every record (a group that never
	// committed counts its topics from their first offset).
	Stopped []string `json:"stopped"`
	// Unanswered lists the processors whose lag could not be read (the broker did not answer,
	// a topic does not exist); the detail is in the API's log.
	Unanswered []string `json:"unanswered,omitempty"`
}

// Consumer is a processor whose lag a LagReader reads: its name, its consumer group and the
// topics it consumes (full names, with the topic prefix).
type Consumer struct {
	Name   string
	Group  string
	Topics []string
}

// LagReader reads the consumer lag of processors from the broker: each group's committed
// offsets against the last stable offsets of its topics (what a read_committed consumer can
// reach). Committed offsets outlive the processes that committed them, so a processor that
// stopped, or never started, shows a lag that grows, where its own metrics would show none.
type LagReader struct {
	adm       *kadm.Client
	consumers []Consumer
	timeout   time.Duration
}

// NewLagReader returns a reader of consumers' lag through adm, which the caller owns (and
// closes). timeout bounds one read (default 2s), so that a broker that does not answer costs
// /v1/kpis that long, not the whole query timeout.
func NewLagReader(adm *kadm.Client, consumers []Consumer, timeout time.Duration) (*LagReader, error) {
	if adm == nil {
		return nil, errors.New("httpapi: NewLagReader needs a kadm client")
	}
	if len(consumers) == 0 {
		return nil, errors.New("httpapi: NewLagReader needs at least one consumer")
	}
	for _, c := range consumers {
		if c.Name == "" || c.Group == "" || len(c.Topics) == 0 {
			return nil, fmt.Errorf("httpapi: consumer %+v needs a name, a group and topics", c)
		}
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &LagReader{adm: adm, consumers: consumers, timeout: timeout}, nil
}

// Read reads every consumer's lag. A consumer whose lag cannot be read is listed in
// Unanswered, leaves the total null and is in the error; the figure is returned in every
// case, for /v1/kpis, which reports the ClickHouse figures beside it.
func (l *LagReader) Read(ctx context.Context) (*PipelineKPI, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	out := &PipelineKPI{Processors: map[string]int64{}, Stopped: []string{}}
	var topics, groups []string
	for _, c := range l.consumers {
		groups = append(groups, c.Group)
		for _, t := range c.Topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	unanswered := func(err error) (*PipelineKPI, error) {
		for _, c := range l.consumers {
			out.Unanswered = append(out.Unanswered, c.Name)
		}
		return out, err
	}
	ends, err := l.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return unanswered(fmt.Errorf("list end offsets: %w", err))
	}
	starts, err := l.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return unanswered(fmt.Errorf("list start offsets: %w", err))
	}
	described, err := l.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return unanswered(fmt.Errorf("describe consumer groups: %w", err))
	}
	commits := l.adm.FetchManyOffsets(ctx, groups...)
	// A processor that never started has no group: no member and no commit, which the
	// broker says with GROUP_ID_NOT_FOUND; its lag is its topics from their start.
	for g, d := range described {
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			d.Err = nil
			described[g] = d
		}
	}
	for g, c := range commits {
		if errors.Is(c.Err, kerr.GroupIDNotFound) {
			c.Err = nil
			commits[g] = c
		}
	}
	var errs []error
	var total int64
	for _, c := range l.consumers {
		lag, err := consumerLag(c, ends, starts, commits[c.Group])
		if err == nil {
			err = described[c.Group].Err
		}
		if err != nil {
			out.Unanswered = append(out.Unanswered, c.Name)
			errs = append(errs, fmt.Errorf("lag of %s (group %s): %w", c.Name, c.Group, err))
			continue
		}
		out.Processors[c.Name] = lag
		total += lag
		if len(described[c.Group].Members) == 0 {
			out.Stopped = append(out.Stopped, c.Name)
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	out.ConsumerLagRecords = &total
	return out, nil
}

// consumerLag sums, over every partition of c's topics, the records from the group's
// committed offset (from the partition's start when it never committed) to the end.
func consumerLag(c Consumer, ends, starts kadm.ListedOffsets, commits kadm.FetchOffsetsResponse) (int64, error) {
	if commits.Err != nil {
		return 0, commits.Err
	}
	var lag int64
	for _, t := range c.Topics {
		parts, ok := ends[t]
		if !ok {
			return 0, fmt.Errorf("topic %s: no end offsets", t)
		}
		for p, end := range parts {
			if end.Err != nil {
				return 0, fmt.Errorf("topic %s partition %d: %w", t, p, end.Err)
			}
			from := int64(0)
			if s, ok := starts.Lookup(t, p); ok && s.Err == nil {
				from = s.Offset
			}
			if o, ok := commits.Fetched.Lookup(t, p); ok && o.Err == nil && o.At >= 0 {
				from = o.At
			}
			lag += max(0, end.Offset-from)
		}
	}
	return lag, nil
}
