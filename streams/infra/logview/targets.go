package logview

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partition names one partition of one topic.
type partition struct {
	topic string
	p     int32
}

// Targets are the end offsets the partitions of some topics had when they were listed, and
// which partitions have not been read up to theirs yet. Not safe for concurrent use.
type Targets struct {
	left  map[partition]int64
	parts int
}

// ListTargets lists the start and end offsets of every partition of topics: each partition
// whose start offset is below its end offset is to be read up to its end offset; the others
// hold no record and are caught up already. It fails when an offset cannot be listed or a
// topic has no partitions (it does not exist).
func ListTargets(ctx context.Context, adm *kadm.Client, topics ...string) (*Targets, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	for _, t := range topics {
		if len(ends[t]) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions (run `assay admin topics`)", t)
		}
	}
	t := &Targets{left: map[partition]int64{}}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
			t.left[partition{o.Topic, o.Partition}] = o.Offset
		}
	})
	t.parts = len(t.left)
	return t, nil
}

// Saw notes a fetched record, a data record or a control record (a transaction marker): its
// partition is caught up once a record at its end offset minus one or later was fetched.
func (t *Targets) Saw(r *kgo.Record) {
	k := partition{r.Topic, r.Partition}
	if end, ok := t.left[k]; ok && r.Offset+1 >= end {
		delete(t.left, k)
	}
}

// Done reports whether every partition was read up to its end offset.
func (t *Targets) Done() bool { return len(t.left) == 0 }

// Left is the number of partitions not yet read up to their end offsets.
func (t *Targets) Left() int { return len(t.left) }

// Partitions is the number of partitions that had records to read when listed.
func (t *Targets) Partitions() int { return t.parts }
