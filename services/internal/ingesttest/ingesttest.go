package ingesttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Sample returns a valid event of type t as a collector sends it, distinguished by n: the
// example of its descriptor (schemas.Example) about subject n, so ids and keys contain n, with
// the envelope a client writes: an event id, occurred_at a minute ago and a correlation id,
// but no producer and no recorded_at, which the gateway stamps.
func Sample(t schemas.EventType, n int) schemas.Event {
	ev, err := schemas.Example(t, schemas.Subject{N: n})
	if err != nil {
		panic("ingesttest: " + err.Error())
	}
	*ev.Meta() = schemas.Envelope{EventID: fmt.Sprintf("evt-%s-%d", t, n), OccurredAt: time.Now().Add(-time.Minute).UnixMilli(),
		Trace: schemas.Trace{CorrelationID: fmt.Sprintf("corr-%d", n)}}
	return ev
}

// AllTypes lists the event types of every family but the DLQ's (RoutingDecided among them,
// which only Assay's router may write: access.WriterOf tells who writes which).
func AllTypes() []schemas.EventType {
	var out []schemas.EventType
	for _, t := range schemas.EventTypes() {
		if t.Family() != schemas.FamilyDLQ {
			out = append(out, t)
		}
	}
	return out
}

// Murmur2 is Kafka's murmur2 hash (the Java client's Utils.murmur2), written independently
// of franz-go so tests check where the gateway's records land rather than trusting it.
func Murmur2(data []byte) int32 {
	const seed uint32 = 0x9747b28c
	const m uint32 = 0x5bd1e995
	const r = 24
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	rest := length % 4
	tail := data[length-rest:]
	switch rest {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// Partition is the partition the Java client's default partitioner picks for a non-empty key:
// toPositive(murmur2(key)) % partitions.
func Partition(key string, partitions int32) int32 {
	return (Murmur2([]byte(key)) & 0x7fffffff) % partitions
}

// ReadTopic reads the records of topics from the beginning until want records arrived or
// timeout passed, without a consumer group.
func ReadTopic(t testing.TB, k config.Kafka, want int, timeout time.Duration, topics ...string) []*kgo.Record {
	t.Helper()
	return readTopic(t, k, want, timeout, 0, topics...)
}

// ReadTopicExactly reads topics from the start until it has want records (waiting up to a
// minute: a loaded machine can take seconds to fetch from fresh topics), then until no record
// has come for a second more, and returns them all: the caller checks there are exactly want,
// i.e. that nothing beyond the expected records was written (which ReadTopic with want+1 and a
// short timeout checks only when the expected ones come in time).
func ReadTopicExactly(t testing.TB, k config.Kafka, want int, topics ...string) []*kgo.Record {
	t.Helper()
	return readTopic(t, k, want, time.Minute, time.Second, topics...)
}

func readTopic(t testing.TB, k config.Kafka, want int, timeout, quiet time.Duration, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kafka.NewClient(k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	poll := func(ctx context.Context) bool {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded && e.Err != context.Canceled {
				t.Logf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		n := len(out)
		out = append(out, fs.Records()...) // a poll ended by the deadline may still carry records
		return len(out) > n
	}
	for len(out) < want && ctx.Err() == nil {
		poll(ctx)
	}
	for quiet > 0 && len(out) >= want {
		qctx, qcancel := context.WithTimeout(context.Background(), quiet)
		more := poll(qctx)
		qcancel()
		if !more {
			break
		}
	}
	return out
}

// Topics returns the full names of families' topics in k's namespace.
func Topics(k config.Kafka, fams ...schemas.Family) []string {
	var out []string
	for _, f := range fams {
		out = append(out, k.Topic(f.Topic()))
	}
	return out
}

// Contains reports whether s has sub, for matching DLQ originals in tests.
func Contains(b []byte, sub string) bool { return strings.Contains(string(b), sub) }
