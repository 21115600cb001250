package ingesttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/ops/kafka"
	"github.com/assay-data/assay/schemas"
)

// Hash is a valid sha256 hex value.
const Hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// Sample returns a valid event of type t (envelope without producer and recorded_at, which
// the gateway stamps), distinguished by n: ids and keys contain it.
func Sample(t schemas.EventType, n int) schemas.Event {
	item := fmt.Sprintf("item-%d", n)
	env := schemas.Envelope{EventID: fmt.Sprintf("evt-%s-%d", t, n), OccurredAt: time.Now().Add(-time.Minute).UnixMilli(),
		Trace: schemas.Trace{CorrelationID: fmt.Sprintf("corr-%d", n)}}
	rank := int32(n % 5)
	share := 0.5
	switch t {
	case schemas.TypeItemIngested:
		return &schemas.ItemIngested{Envelope: env, ItemID: item, Source: "crawler", URI: "s3://bucket/" + item, SHA256: Hash,
			Modality: "text", SliceTags: []string{"en", "short"}, EdgeCaseTags: []string{"sarcasm"}, DatasetID: "ds-1", ProjectID: "proj-1"}
	case schemas.TypePreLabelProposed:
		return &schemas.PreLabelProposed{Envelope: env, ItemID: item, QuestionID: "q-sentiment", Model: "m", ModelVersion: "1", Value: schemas.Nominal("positive"), Confidence: 0.9}
	case schemas.TypeRoutingDecided:
		return &schemas.RoutingDecided{Envelope: env, ItemID: item, QuestionID: "q-sentiment", Route: schemas.RouteHumanReview, Rule: "low-confidence",
			Inputs: []schemas.RoutingInput{{Name: "confidence", Value: 0.4}}}
	case schemas.TypeLabelSubmitted:
		return &schemas.LabelSubmitted{Envelope: env, LabelID: fmt.Sprintf("label-%d", n), ItemID: item, ProjectID: "proj-1", TaskID: "task-1",
			QuestionID: "q-quality", AnnotatorID: fmt.Sprintf("ann-%d", n%7), Cohort: "c1", GuidelineVersion: "g3",
			Value: schemas.Ordinal("good", rank), TimeSpentMS: 4200, PreLabel: &schemas.PreLabelRef{Model: "m", ModelVersion: "1"}}
	case schemas.TypeLabelRetracted:
		return &schemas.LabelRetracted{Envelope: env, LabelID: fmt.Sprintf("label-%d", n), ItemID: item, Reason: "mistake"}
	case schemas.TypeGoldLabelSet:
		return &schemas.GoldLabelSet{Envelope: env, ItemID: item, QuestionID: "q-count", Value: schemas.Ratio(3), SetBy: "expert"}
	case schemas.TypeReviewCompleted:
		v := schemas.MultiLabel("cat", "dog")
		return &schemas.ReviewCompleted{Envelope: env, ReviewID: fmt.Sprintf("rev-%d", n), LabelID: fmt.Sprintf("label-%d", n), ItemID: item,
			ReviewerID: "rev-a", Verdict: schemas.VerdictCorrect, CorrectedValue: &v, Reason: "missed dog"}
	case schemas.TypeCoverageTargetSet:
		return &schemas.CoverageTargetSet{Envelope: env, DatasetID: fmt.Sprintf("ds-%d", n), SliceTargets: []schemas.SliceTarget{{Slice: "en", TargetShare: &share}},
			EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "sarcasm", MinCount: 10}}}
	case schemas.TypeDatasetVersionCommitted:
		members := []schemas.Member{{ItemID: item, LabelID: "label-1"}, {ItemID: "item-x", LabelID: "label-2"}}
		return &schemas.DatasetVersionCommitted{Envelope: env, DatasetID: fmt.Sprintf("ds-%d", n), Version: "v2", ParentVersion: "v1",
			Members: members, ManifestDigest: schemas.ManifestDigest(members)}
	case schemas.TypeTrainingRunRegistered:
		ds := fmt.Sprintf("ds-%d", n)
		return &schemas.TrainingRunRegistered{Envelope: env, RunID: "run-1", Model: "m2", DatasetID: ds,
			DatasetVersions: []schemas.DatasetVersionRef{{DatasetID: ds, Version: "v2"}}}
	case schemas.TypeEvalFindingReported:
		return &schemas.EvalFindingReported{Envelope: env, FindingID: fmt.Sprintf("f-%d", n), EvalRun: "eval-1", Model: "m2", TrainingRunID: "run-1",
			Slice: "en", ImplicatedItemIDs: []string{item}, Severity: schemas.SeverityHigh, ProjectID: "proj-1"}
	case schemas.TypeRemediationStarted:
		return &schemas.RemediationStarted{Envelope: env, FindingID: fmt.Sprintf("f-%d", n), Owner: "alice", Plan: "relabel"}
	case schemas.TypeRemediationShipped:
		return &schemas.RemediationShipped{Envelope: env, FindingID: fmt.Sprintf("f-%d", n), DatasetID: "ds-1", FixingVersion: "v3"}
	}
	panic("ingesttest: no sample for " + string(t))
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
	cl, err := kafka.NewClient(k, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded {
				t.Logf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		out = append(out, fs.Records()...)
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
