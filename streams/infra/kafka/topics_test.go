package kafka_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// TestEnsureTopics creates the ledger topics on the real broker, checks partitions and the
// ledger configs, and checks that a second run creates nothing.
func TestEnsureTopics(t *testing.T) {
	k := testenv.Kafka(t)
	adm := kadm.NewClient(testenv.KafkaClient(t, k))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	specs := kafka.Topics(k, 4, 1)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), names(specs)...) })

	first, err := kafka.EnsureTopics(ctx, adm, specs)
	if err != nil {
		t.Fatalf("first EnsureTopics: %v", err)
	}
	for _, r := range first {
		if !r.Created {
			t.Errorf("%s not created on the first run", r.Name)
		}
	}
	second, err := kafka.EnsureTopics(ctx, adm, specs)
	if err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	// The second run checks the existing topics, partition counts included.
	for _, r := range second {
		if r.Created || len(r.Problems) > 0 {
			t.Errorf("second run: %+v, want untouched", r)
		}
	}

	rcs, err := adm.DescribeTopicConfigs(ctx, names(specs)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		got := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
		for key, want := range map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"} {
			if got[key] != want {
				t.Errorf("%s: %s=%q, want %q", rc.Name, key, got[key], want)
			}
		}
	}
}

// TestEnsureTopicsRefusesCompactedTopic: an existing topic whose config contradicts the ledger
// (compaction would keep only the last event per key) is reported, not silently accepted.
func TestEnsureTopicsRefusesCompactedTopic(t *testing.T) {
	k := testenv.Kafka(t)
	adm := kadm.NewClient(testenv.KafkaClient(t, k))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := k.Topic(schemas.FamilyLabels.Topic())
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), name) })
	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, name); err != nil {
		t.Fatal(err)
	}
	spec := kafka.TopicSpec{Name: name, Partitions: 4, ReplicationFactor: 1, Configs: kafka.LedgerConfigs(1)}
	_, err := kafka.EnsureTopics(ctx, adm, []kafka.TopicSpec{spec})
	if err == nil {
		t.Fatal("want an error for a compacted topic with too few partitions")
	}
	for _, want := range []string{"cleanup.policy=compact", "has 2 partitions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestEveryEventTypeThroughTheBroker produces one example of every event type to its family's
// topic on the real broker, keyed as the contract says, and reads all of them back: each
// decodes to the value it was made from, on the partition its key hashes to.
func TestEveryEventTypeThroughTheBroker(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	producer := testenv.KafkaClient(t, k)
	want := map[string]schemas.Event{}
	var records []*kgo.Record
	for _, ev := range schematest.Examples() {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatalf("encode %s: %v", ev.Type(), err)
		}
		want[ev.Meta().EventID] = ev
		records = append(records, &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	partitionOf := map[string]int32{} // key -> partition, per topic
	for _, r := range records {
		partitionOf[r.Topic+"/"+string(r.Key)] = r.Partition
	}

	var topics []string
	for _, f := range schemas.Families() {
		topics = append(topics, k.Topic(f.Topic()))
	}
	consumer := testenv.KafkaClient(t, k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]schemas.Event{}
	for len(got) < len(want) {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %d of %d events: %v", len(got), len(want), err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := schemas.Decode(r.Value)
			if err != nil {
				t.Fatalf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			if fam, _ := schemas.FamilyOfTopic(k.TopicPrefix, r.Topic); fam != ev.Family() {
				t.Errorf("%s read from %s", ev.Type(), r.Topic)
			}
			if string(r.Key) != ev.Key() || r.Partition != partitionOf[r.Topic+"/"+string(r.Key)] {
				t.Errorf("%s: key %q partition %d", ev.Type(), r.Key, r.Partition)
			}
			got[ev.Meta().EventID] = ev
		})
	}
	for id, w := range want {
		if !reflect.DeepEqual(got[id], w) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", w.Type(), got[id], w)
		}
	}
}

func names(specs []kafka.TopicSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}
