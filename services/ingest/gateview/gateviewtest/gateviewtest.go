// Package gateviewtest writes what the gate's view reads, for the tests of the view and of the
// gateway: the gate's verdicts (as the gate writes them, or as an impostor would) and
// overrides, produced straight to a cluster's datasets topic, plainly or in a transaction.
package gateviewtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// Project is the project of the verdicts and overrides made here: ingesttest's, so that its
// owner principal may write the overrides.
var Project = ingesttest.Project

// Verdict is the gate's verdict number seq on ds@version: DatasetVersionCertified when
// certified, else DatasetVersionRejected, with reason, written by the gate (gate.Producer).
// A later sequence supersedes the previous one (its Supersedes names it).
func Verdict(ds, version string, seq int64, certified bool, reason string) schemas.Event {
	id := func(s int64) string { return fmt.Sprintf("verdict-%s-%s-%d", ds, version, s) }
	env := schemas.Envelope{EventID: id(seq), OccurredAt: time.Now().UnixMilli(), RecordedAt: time.Now().UnixMilli(), Producer: gate.Producer}
	v := schemas.GateVerdict{DatasetID: ds, Version: version, ProjectID: Project, Sequence: seq, Reason: reason,
		TargetsVersions: []string{"targets-1"}}
	if seq > 1 {
		v.Supersedes = id(seq - 1)
	}
	if certified {
		v.Checks = []schemas.TargetCheck{{Target: "min_lineage_completeness", Threshold: 1, Evidence: 2, Status: schemas.CheckPass}}
		env.EventType = schemas.TypeDatasetVersionCertified
		return &schemas.DatasetVersionCertified{Envelope: env, GateVerdict: v}
	}
	v.Checks = []schemas.TargetCheck{{Target: "min_lineage_completeness", Threshold: 1, Evidence: 2, Status: schemas.CheckFail, Detail: reason}}
	env.EventType = schemas.TypeDatasetVersionRejected
	return &schemas.DatasetVersionRejected{Envelope: env, GateVerdict: v}
}

// By returns ev with its producer replaced: a verdict "by" someone other than the gate.
func By(producer string, ev schemas.Event) schemas.Event {
	ev.Meta().Producer = producer
	ev.Meta().EventID += "-by-" + producer
	return ev
}

// Override is an owner's GateOverrideGranted for ds@version.
func Override(ds, version, owner, reason string) schemas.Event {
	return &schemas.GateOverrideGranted{
		Envelope: schemas.Envelope{EventID: fmt.Sprintf("override-%s-%s", ds, version), EventType: schemas.TypeGateOverrideGranted,
			OccurredAt: time.Now().UnixMilli(), RecordedAt: time.Now().UnixMilli(), Producer: owner},
		DatasetID: ds, Version: version, ProjectID: Project, Reason: reason,
	}
}

// Owner is the producer stamped on events that have none (ingesttest's samples), as the
// gateway stamps an owner's events.
const Owner = "owner-1"

// Run is a TrainingRunRegistered of id on the versions given as "dataset@version", as a
// client sends it (no producer: the gateway stamps it). Its primary dataset is the first's.
func Run(id string, versions ...string) *schemas.TrainingRunRegistered {
	ev := &schemas.TrainingRunRegistered{Envelope: schemas.Envelope{EventID: "run-" + id, EventType: schemas.TypeTrainingRunRegistered,
		OccurredAt: time.Now().Add(-time.Minute).UnixMilli()}, RunID: id, Model: "detector-2"}
	for _, v := range versions {
		ds, ver, _ := strings.Cut(v, "@")
		ev.DatasetVersions = append(ev.DatasetVersions, schemas.DatasetVersionRef{DatasetID: ds, Version: ver})
	}
	if len(ev.DatasetVersions) > 0 {
		ev.DatasetID = ev.DatasetVersions[0].DatasetID
	}
	return ev
}

// Records encodes events as records of their family's topic in k's namespace, keyed as the
// contract says. An event without a producer is stamped by Owner now.
func Records(t testing.TB, k config.Kafka, evs ...schemas.Event) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for _, ev := range evs {
		if ev.Meta().Producer == "" {
			schemas.Stamp(ev, Owner, time.Now())
		}
		val, err := schemas.Encode(ev)
		if err != nil {
			t.Fatalf("encode %s: %v", ev.Type(), err)
		}
		recs = append(recs, &kgo.Record{Topic: k.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: val})
	}
	return recs
}

// Publish produces events to their topics and waits for their acknowledgement.
func Publish(t testing.TB, k config.Kafka, evs ...schemas.Event) {
	t.Helper()
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, Records(t, k, evs...)...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// PublishTx produces events in one transaction, committed or aborted, as the gate writes its
// verdicts.
func PublishTx(t testing.TB, k config.Kafka, commit bool, evs ...schemas.Event) {
	t.Helper()
	cl, err := kafka.NewClient(k, kgo.TransactionalID(fmt.Sprintf("gateviewtest-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, Records(t, k, evs...)...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}
