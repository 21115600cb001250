package kpi_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// rework is one row of the kpi_rework view.
type rework struct {
	labelsReviewed, labelsReworked, reviews, reworkReviews int64
	rate, reviewRate                                       float64
}

func readRework(t *testing.T, ctx context.Context, conn driver.Conn) rework {
	t.Helper()
	var r rework
	if err := conn.QueryRow(ctx, "SELECT labels_reviewed, labels_reworked, rework_rate, reviews, rework_reviews, review_rework_rate FROM kpi_rework").
		Scan(&r.labelsReviewed, &r.labelsReworked, &r.rate, &r.reviews, &r.reworkReviews, &r.reviewRate); err != nil {
		t.Fatal(err)
	}
	return r
}

// produced produces evs, each as a new record, and returns the records in
// the order of evs, with the partitions and offsets the broker gave them.
func produced(t *testing.T, ctx context.Context, cl *kgo.Client, k config.Kafka, evs ...schemas.Event) []*kgo.Record {
	t.Helper()
	recs, err := workload.Records(k, evs)
	if err != nil {
		t.Fatal(err)
	}
	// The results come in the order of completion; the client sets the
	// partition and offset on the records themselves.
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// waitProcessed waits until the runner's group has committed past rec: the
// runner commits only after the rows of everything before are durable.
func waitProcessed(t *testing.T, ctx context.Context, cl *kgo.Client, r *runtime.Runner, rec *kgo.Record) {
	t.Helper()
	adm := kadm.NewClient(cl)
	for {
		offs, err := adm.FetchOffsets(ctx, r.Group())
		if err == nil {
			if o, ok := offs.Lookup(rec.Topic, rec.Partition); ok && o.Err == nil && o.At > rec.Offset {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s never committed past %s/%d@%d", r.Group(), rec.Topic, rec.Partition, rec.Offset)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDuplicateDeliveryChangesNoKPI: a review delivered a second time
// straight to Kafka (a client's retry of an acknowledged review that escaped
// the gateway's duplicate window: the same event id, stamped again, in a new
// record) leaves kpi_rework as it was; an older gold answer delivered again
// after a correction leaves kpi_accuracy scored against the correction.
func TestDuplicateDeliveryChangesNoKPI(t *testing.T) {
	env := testenv.Stack(t, 2, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	reg := prometheus.NewRegistry()
	stop, rs := runWith(t, ctx, k, conn, []runtime.Option{runtime.WithRegisterer(reg)}, kpi.NewFlow(), kpi.NewAccuracy())
	defer stop()
	flow, accuracy := rs[0], rs[1]
	waitReady(t, ctx, rs)

	now := time.Now()
	stamp := func(ev schemas.Event) schemas.Event {
		schemas.Stamp(ev, "client", now)
		return ev
	}
	rejected := stamp(review("r1", "l1", "i1", schemas.VerdictReject, now.UnixMilli()-3000))
	evs := []schemas.Event{
		rejected,
		stamp(review("r2", "l2", "i2", schemas.VerdictAccept, now.UnixMilli()-2000)),
		stamp(review("r3", "l3", "i1", schemas.VerdictAccept, now.UnixMilli()-1000)),
	}
	cat, dog := schemas.Nominal("cat"), schemas.Nominal("dog")
	oldGold := stamp(goldSet("i1", dog))
	evs = append(evs, stamp(label("l1", "i1", "ann1", "", cat)), oldGold, stamp(goldSet("i1", cat)))
	recs := produced(t, ctx, cl, k, evs...)
	waitProcessed(t, ctx, cl, flow, recs[2])
	waitProcessed(t, ctx, cl, accuracy, recs[5])

	before := readRework(t, ctx, conn)
	if want := (rework{3, 1, 3, 1, 1. / 3, 1. / 3}); before != want {
		t.Fatalf("kpi_rework before the duplicate: %+v, want %+v", before, want)
	}
	if c, n, _ := accuracyRow(t, ctx, conn, "p", kpi.ScopeAll); c != 1 || n != 1 {
		t.Fatalf("kpi_accuracy before the duplicate: %d/%d, want 1/1", c, n)
	}

	// The retry: the same event, recorded again by whoever accepted it.
	retry := *rejected.(*schemas.ReviewCompleted)
	schemas.Stamp(&retry, "client", now.Add(time.Minute))
	dups := produced(t, ctx, cl, k, &retry, oldGold)
	if dups[0].Offset <= recs[0].Offset {
		t.Fatalf("the duplicate review is at offset %d, the original at %d", dups[0].Offset, recs[0].Offset)
	}
	waitProcessed(t, ctx, cl, flow, dups[0])
	waitProcessed(t, ctx, cl, accuracy, dups[1])

	after := readRework(t, ctx, conn)
	if after != before {
		t.Errorf("kpi_rework after a duplicate review: %+v, before %+v", after, before)
	}
	if c, n, _ := accuracyRow(t, ctx, conn, "p", kpi.ScopeAll); c != 1 || n != 1 {
		t.Errorf("kpi_accuracy after the older gold delivered again: %d/%d, want 1/1", c, n)
	}
	t.Logf("kpi_rework after a duplicate review: %+v", after)

	// The runner exports the size of the states: the reviews partitions of
	// kpi_flow hold, for three reviews, three stages (i1 first_rework and
	// accepted, i2 accepted), three reviewed labels and three reviews; the
	// copy added nothing. Each processor exports its cap beside it.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	reviewKeys, limits := 0.0, map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "assay_processor_state_keys":
				if l["processor"] == kpi.FlowName && l["topic"] == k.Topic(schemas.FamilyReviews.Topic()) {
					reviewKeys += m.GetGauge().GetValue()
				}
			case "assay_kpi_state_keys_limit":
				limits[l["processor"]] = m.GetGauge().GetValue()
			}
		}
	}
	if reviewKeys != 9 {
		t.Errorf("assay_processor_state_keys of kpi_flow's reviews partitions: %v, want 9", reviewKeys)
	}
	if limits[kpi.FlowName] != kpi.DefaultMaxStateKeys || limits[kpi.AccuracyName] != kpi.DefaultMaxStateKeys {
		t.Errorf("assay_kpi_state_keys_limit: %v", limits)
	}
}
