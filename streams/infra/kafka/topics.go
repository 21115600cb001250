package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
)

// DefaultPartitions is the partition count of the ledger topics. The partition is Assay's unit
// of state and of scale, so it bounds how many processor instances can share a group; it can
// not be raised later without moving keys to other partitions, so it is chosen generously.
const DefaultPartitions = 6

// TopicSpec is the desired shape of one topic.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]string
}

// LedgerConfigs are the topic configs of every contract topic: the log is the system of record,
// so nothing is ever deleted by age or size, and nothing is compacted (compaction would keep
// only the last event per key and destroy history). With three or more replicas an acks=all
// write must reach two of them before it is acknowledged.
func LedgerConfigs(replication int16) map[string]string {
	isr := "1"
	if replication >= 3 {
		isr = "2"
	}
	return map[string]string{
		"cleanup.policy":      "delete",
		"retention.ms":        "-1",
		"retention.bytes":     "-1",
		"min.insync.replicas": isr,
	}
}

// Topics returns the specs of every contract topic in the namespace of k.
// replication is the replication factor (1 on a single local broker, 3 in production).
func Topics(k config.Kafka, partitions int32, replication int16) []TopicSpec {
	var out []TopicSpec
	for _, f := range schemas.Families() {
		p := partitions
		if f == schemas.FamilyDLQ {
			// Dead letters are rare and read by people, not by partitioned state.
			p = min(partitions, 3)
		}
		out = append(out, TopicSpec{Name: k.Topic(f.Topic()), Partitions: p, ReplicationFactor: replication, Configs: LedgerConfigs(replication)})
	}
	return out
}

// TopicResult says what EnsureTopics found or did for one topic.
type TopicResult struct {
	Name    string
	Created bool
	// Problems lists differences between the existing topic and its spec that EnsureTopics
	// refuses to repair by itself: fewer partitions (adding some would move keys), or a config
	// that contradicts the ledger's guarantees.
	Problems []string
}

// EnsureTopics creates the topics of specs that do not exist and checks the ones that do.
// It is idempotent. It returns an error when a topic could not be created, or when an existing
// topic differs from its spec in a way that breaks the ledger's guarantees.
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs []TopicSpec) ([]TopicResult, error) {
	details, err := adm.ListTopics(ctx, specNames(specs)...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var (
		results []TopicResult
		errs    []error
	)
	for _, s := range specs {
		r := TopicResult{Name: s.Name}
		if d, exists := details[s.Name]; !exists || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			cfg := make(map[string]*string, len(s.Configs))
			for k, v := range s.Configs {
				cfg[k] = kadm.StringPtr(v)
			}
			resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, cfg, s.Name)
			if err == nil {
				err = resp.Err
			}
			// Already existing means another process created it since we listed: check it
			// like any existing topic.
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("create topic %s: %w", s.Name, err))
				continue
			}
			r.Created = err == nil
		}
		results = append(results, r)
	}
	if err := checkPartitions(ctx, adm, specs, results); err != nil {
		errs = append(errs, err)
	}
	ready := make([]string, len(results))
	for i, r := range results {
		ready[i] = r.Name
	}
	if err := waitLeaders(ctx, adm, ready); err != nil {
		errs = append(errs, err)
	}
	if err := checkConfigs(ctx, adm, specs, results); err != nil {
		errs = append(errs, err)
	}
	for _, r := range results {
		for _, p := range r.Problems {
			errs = append(errs, fmt.Errorf("topic %s: %s", r.Name, p))
		}
	}
	return results, errors.Join(errs...)
}

// checkPartitions records, on results, every existing topic with fewer partitions than its
// spec. A topic created a moment ago may still show no partitions in metadata, so the check
// asks again for a few seconds before it believes a count of zero.
func checkPartitions(ctx context.Context, adm *kadm.Client, specs []TopicSpec, results []TopicResult) error {
	want := map[string]int32{}
	for _, s := range specs {
		want[s.Name] = s.Partitions
	}
	var check []string
	for _, r := range results {
		if !r.Created {
			check = append(check, r.Name)
		}
	}
	if len(check) == 0 {
		return nil
	}
	var details kadm.TopicDetails
	for attempt := 0; ; attempt++ {
		var err error
		if details, err = adm.ListTopics(ctx, check...); err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		settled := true
		for _, n := range check {
			if len(details[n].Partitions) == 0 {
				settled = false
			}
		}
		if settled || attempt == 20 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topic metadata: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	for i := range results {
		r := &results[i]
		if r.Created {
			continue
		}
		if d := details[r.Name]; d.Err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("describe: %v", d.Err))
		} else if n := int32(len(d.Partitions)); n < want[r.Name] {
			r.Problems = append(r.Problems, fmt.Sprintf("has %d partitions, spec says %d (not raised automatically: it would move keys between partitions)", n, want[r.Name]))
		}
	}
	return nil
}

// leaderWait bounds how long EnsureTopics waits for new partitions to get a leader.
const leaderWait = 30 * time.Second

// waitLeaders returns once every partition of topics has a leader in the broker's metadata.
// CreateTopics returns when the controller has recorded a topic, before the brokers have
// learned of it; a client that lists offsets or produces in that moment is told the partition
// does not exist. Waiting here means that topics EnsureTopics reports are usable at once, as
// with Kafka Streams, which waits for its internal topics the same way.
func waitLeaders(ctx context.Context, adm *kadm.Client, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, leaderWait)
	defer cancel()
	var pending []string
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if err == nil {
			pending = pending[:0]
			for _, t := range topics {
				d, ok := details[t]
				if !ok || d.Err != nil || len(d.Partitions) == 0 {
					pending = append(pending, t)
					continue
				}
				for _, p := range d.Partitions {
					if p.Err != nil || p.Leader < 0 {
						pending = append(pending, fmt.Sprintf("%s/%d", t, p.Partition))
					}
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("wait for partition leaders: %w", err)
			}
			return fmt.Errorf("wait for partition leaders: still none after %s for %v", leaderWait, pending)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func specNames(specs []TopicSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// checkConfigs records, on results, every ledger config whose live value differs from its spec.
func checkConfigs(ctx context.Context, adm *kadm.Client, specs []TopicSpec, results []TopicResult) error {
	var names []string
	for _, r := range results {
		if !r.Created {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe topic configs: %w", err)
	}
	want := map[string]map[string]string{}
	for _, s := range specs {
		want[s.Name] = s.Configs
	}
	live := map[string]map[string]string{}
	for _, rc := range rcs {
		m := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				m[c.Key] = *c.Value
			}
		}
		live[rc.Name] = m
	}
	for i := range results {
		r := &results[i]
		if r.Created {
			continue
		}
		keys := make([]string, 0, len(want[r.Name]))
		for k := range want[r.Name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got, ok := live[r.Name][k]; ok && !sameConfig(got, want[r.Name][k]) {
				r.Problems = append(r.Problems, fmt.Sprintf("config %s=%s, spec says %s", k, got, want[r.Name][k]))
			}
		}
	}
	return nil
}

// sameConfig compares config values, treating numbers numerically ("-1" and "-01" alike).
func sameConfig(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	return err1 == nil && err2 == nil && x == y
}

// NewClient returns a franz-go client for the cluster of k with the options every Assay client
// shares, followed by opts.
func NewClient(k config.Kafka, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", k.Brokers, err)
	}
	return cl, nil
}
