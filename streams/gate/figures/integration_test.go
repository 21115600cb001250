package figures_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate/figures"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/runtime"
)

// processors are the writers of every table Read reads.
func processors() []runtime.Processor {
	return []runtime.Processor{ledger.New(), lineage.NewProcessor(), kpi.NewAgreement(), kpi.NewAccuracy()}
}

// TestReadOnTheServer produces the scenario to the broker, replays the ledger, lineage,
// agreement and accuracy processors into a fresh database of the 18.16 server twice (a
// replayed batch must collapse, not change a figure), and requires Read to measure every
// version's figures as the story says.
func TestReadOnTheServer(t *testing.T) {
	e := testenv.Stack(t, 3, testenv.MigratedDatabase)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for _, ev := range scenario() {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Meta().EventID, err)
		}
		recs = append(recs, &kgo.Record{Topic: e.Kafka.Topic(ev.Family().Topic()), Key: []byte(ev.Key()), Value: b})
	}
	if err := e.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, p := range processors() {
		for range 2 {
			st, err := runtime.Replay(ctx, p, e.Kafka, runtime.ClickHouseSink(e.Conn), time.Time{})
			if err != nil {
				t.Fatalf("replay %s: %v", p.Name(), err)
			}
			if st.Rejected != 0 || st.Isolated != 0 {
				t.Fatalf("replay %s: %d records refused, %d isolated", p.Name(), st.Rejected, st.Isolated)
			}
		}
	}
	for _, c := range want() {
		got, err := figures.Read(ctx, e.Conn, c.req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, show(got), show(c.want))
		}
	}
	if _, err := figures.Read(ctx, e.Conn, figures.Request{DatasetID: "ds-g"}); err == nil {
		t.Error("a request without a version was read")
	}
}
