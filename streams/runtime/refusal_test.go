package runtime_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// Records that a real ClickHouse refuses, proven on the 18.16 server and on a current
// release (chdb): the runner isolates them into the DLQ, writes the rest and moves on.

// guarded writes one row per item into a table that the tests create with server-side
// checks (see guardedDDL).
type guarded struct{}

func (guarded) Name() string               { return "guarded" }
func (guarded) Families() []schemas.Family { return []schemas.Family{schemas.FamilyItems} }
func (guarded) Tables() []runtime.Table {
	return []runtime.Table{{Name: "guarded", Columns: []string{"item_id", "modality", "tags", "offset"}}}
}
func (guarded) NewState(string, int32) any { return nil }
func (guarded) Apply(_ any, rec runtime.Record) (runtime.Output, error) {
	it := rec.Event.(*schemas.ItemIngested)
	tags := it.SliceTags
	if tags == nil {
		tags = []string{}
	}
	return runtime.Output{Rows: []runtime.Row{{Table: "guarded", Values: []any{it.ItemID, it.Modality, tags, rec.Offset}}}}, nil
}

// guardedDDL: the materialized column throws for items named refuse-* (both servers), the
// enum has no "hologram" (clickhouse-go refuses it client-side; a current server refuses it
// in JSONEachRow), and on current servers a CONSTRAINT (not in 18.16) refuses more than
// three tags.
func guardedDDL(current bool) string {
	constraint := ""
	if current {
		constraint = ", CONSTRAINT few_tags CHECK length(tags) <= 3"
	}
	return `CREATE TABLE guarded (item_id String, modality Enum8('text' = 1, 'image' = 2), tags Array(String), offset Int64,
		chk UInt8 MATERIALIZED throwIf(item_id LIKE 'refuse-%')` + constraint + `) ENGINE = MergeTree() ORDER BY (item_id, offset)`
}

// poisonItems returns n good items with a few refused ones among them, and the ids of those
// with what their DLQ reason must say.
func poisonItems(n int, current bool) (evs []schemas.Event, refused map[string][]string) {
	refused = map[string][]string{
		"refuse-1": {"table guarded", "395", "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", "throwIf"},
		"refuse-2": {"table guarded", "395", "throwIf"},
		"holo-1":   {"table guarded", "hologram"},
	}
	if current {
		refused["tags-1"] = []string{"table guarded", "469", "VIOLATED_CONSTRAINT", "few_tags"}
	}
	for i := range n {
		evs = append(evs, item(fmt.Sprintf("item-%d", i), i))
		switch i {
		case 3:
			evs = append(evs, item("refuse-1", 1000))
		case 7:
			holo := item("holo-1", 1001)
			holo.Modality = "hologram"
			evs = append(evs, holo)
		case 11:
			evs = append(evs, item("refuse-2", 1002))
		case 12:
			if current {
				tags := item("tags-1", 1003)
				tags.SliceTags = []string{"a", "b", "c", "d"}
				evs = append(evs, tags)
			}
		}
	}
	return evs, refused
}

// checkRefusals checks that the DLQ holds exactly the refused items, with reasons.
func checkRefusals(t *testing.T, k config.Kafka, refused map[string][]string) {
	t.Helper()
	rs := rejections(t, k, len(refused))
	var ids []string
	for _, r := range rs {
		ev, err := schemas.DecodeAs[schemas.ItemIngested](r.Original)
		if err != nil {
			t.Fatalf("DLQ original: %v", err)
		}
		ids = append(ids, ev.ItemID)
		for _, want := range refused[ev.ItemID] {
			if !strings.Contains(r.Reason, want) {
				t.Errorf("%s: reason %q lacks %q", ev.ItemID, r.Reason, want)
			}
		}
		t.Logf("DLQ: %s: %.300s", ev.ItemID, r.Reason)
	}
	slices.Sort(ids)
	want := make([]string, 0, len(refused))
	for id := range refused {
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("DLQ holds %v, want %v", ids, want)
	}
}

// TestRefusedRecordsOnClickHouse1816: the live 18.16 server refuses rows (a throwing
// materialized column) and clickhouse-go refuses a value (an Enum8 element that does not
// exist); the partition moves on, the rest is written and committed.
func TestRefusedRecordsOnClickHouse1816(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 3, testenv.EmptyDatabase)
	k, conn := env.Kafka, env.Conn
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, guardedDDL(false)); err != nil {
		t.Fatal(err)
	}
	evs, refused := poisonItems(20, false)
	cl := testenv.KafkaClient(t, k)
	produce(t, cl, k, evs...)
	reg := prometheus.NewRegistry()
	start(t, guarded{}, k, runtime.ClickHouseSink(conn), runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithRegisterer(reg), runtime.WithIsolateAfter(2))
	adm := kadm.NewClient(cl)
	committed := func() int64 { // one admin client for the real broker, not one per poll
		offs, err := adm.FetchOffsets(ctx, k.TopicPrefix+"assay.processor.guarded")
		if err != nil {
			return -1 // the group may not exist yet
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	eventually(t, "every record committed", func() bool { return committed() == int64(len(evs)) })
	checkRefusals(t, k, refused)
	count := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM guarded").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 20 {
		t.Fatalf("%d rows in guarded, want the 20 good items", n)
	}
	// The partitions moved on: later records are written and committed.
	produce(t, cl, k, items(100, 6, 6)...)
	eventually(t, "later records committed", func() bool { return committed() == int64(len(evs)+6) })
	if n := count(); n != 26 {
		t.Fatalf("%d rows after more records, want 26", n)
	}
	if got := sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != float64(len(refused)) {
		t.Errorf("isolated metric %v, want %d", got, len(refused))
	}
}

// chdbSink is the runner's write path into a current ClickHouse (chdb).
type chdbSink struct{ s *chdb.Session }

func (c chdbSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	return c.s.Insert(ctx, t.Name, t.Columns, rows)
}

// TestRefusedRecordsOnCurrentClickHouse: the same refusals on ClickHouse 26.9 (chdb), where
// the Enum8 element is refused by the server, plus a CONSTRAINT 18.16 does not have.
func TestRefusedRecordsOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx := context.Background()
	if err := s.Exec(ctx, guardedDDL(true)); err != nil {
		t.Fatal(err)
	}
	k := cluster(t, "p.")
	evs, refused := poisonItems(20, true)
	produce(t, client(t, k), k, evs...)
	start(t, guarded{}, k, chdbSink{s}, runtime.WithBatchSize(1000), runtime.WithFlushInterval(300*time.Millisecond),
		runtime.WithIsolateAfter(2))
	eventually(t, "every record committed", func() bool { return committed(t, k, "p.assay.processor.guarded") == int64(len(evs)) })
	checkRefusals(t, k, refused)
	if got, err := s.Query(ctx, "SELECT count() FROM guarded"); err != nil || got != "20\n" {
		t.Fatalf("guarded holds %q (%v), want the 20 good items", got, err)
	}
}

// monthly returns n items whose occurred_at are one month apart, from January 2001.
func monthly(n int) []schemas.Event {
	var out []schemas.Event
	start := time.Date(2001, 1, 15, 12, 0, 0, 0, time.UTC)
	for i := range n {
		ev := &schemas.ItemIngested{ItemID: fmt.Sprintf("m-%d", i), Source: "s", URI: "u", SHA256: strings.Repeat("a", 64), Modality: "text", ProjectID: "p"}
		ev.EventID = fmt.Sprintf("month-%d", i)
		ev.OccurredAt = schemas.Millis(start.AddDate(0, i, 0))
		schemas.Stamp(ev, "test", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		out = append(out, ev)
	}
	return out
}

// TestLedgerWritesAManyMonthBatchOnCurrentClickHouse is issue 13's point 2: ClickHouse 26.9
// refuses a block of the ledger's events table (PARTITION BY toYYYYMM(occurred_at)) touching
// more than 100 months. The runner splits it and writes everything, isolating nothing, both
// live and in a replay with assay replay's 20,000-record batches.
func TestLedgerWritesAManyMonthBatchOnCurrentClickHouse(t *testing.T) {
	k := cluster(t, "p.")
	produce(t, client(t, k), k, monthly(150)...)
	check := func(t *testing.T, s *chdb.Session) {
		t.Helper()
		got, err := s.Query(context.Background(), "SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM events")
		if err != nil || got != "150\t150\n" {
			t.Fatalf("events: %q (%v), want 150 rows over 150 months", got, err)
		}
		if got, err := s.Query(context.Background(), "SELECT count() FROM items"); err != nil || got != "150\n" {
			t.Fatalf("items: %q (%v)", got, err)
		}
	}

	t.Run("runner", func(t *testing.T) {
		s := chdb.Start(t)
		reg := prometheus.NewRegistry()
		start(t, ledger.New(), k, chdbSink{s}, runtime.WithBatchSize(1000), runtime.WithFlushInterval(500*time.Millisecond), runtime.WithRegisterer(reg))
		eventually(t, "every record committed", func() bool { return committed(t, k, "p.assay.processor.ledger") == 150 })
		check(t, s)
		if got := sumMetric(t, reg, "assay_processor_write_splits_total"); got < 1 {
			t.Errorf("splits %v: the 150-month block was not split", got)
		}
		if got := sumMetric(t, reg, "assay_processor_write_isolated_records_total"); got != 0 {
			t.Errorf("%v records isolated, want none", got)
		}
		if rs := rejections(t, k, 0); len(rs) != 0 {
			t.Fatalf("%d DLQ records", len(rs))
		}
	})

	t.Run("replay", func(t *testing.T) {
		s := chdb.Start(t)
		stats, err := runtime.Replay(context.Background(), ledger.New(), k, chdbSink{s}, time.Time{}, runtime.WithBatchSize(20000))
		if err != nil {
			t.Fatal(err)
		}
		if stats.Records != 150 || stats.Rows != 300 || stats.Isolated != 0 {
			t.Fatalf("stats %+v", stats)
		}
		check(t, s)
	})
}

// TestLedgerWritesAManyMonthBatchOnClickHouse1816: 18.16 has no partitions-per-block limit,
// so the same batch goes in as one insert there.
func TestLedgerWritesAManyMonthBatchOnClickHouse1816(t *testing.T) {
	t.Parallel()
	env := testenv.Stack(t, 3, testenv.MigratedDatabase)
	k, conn := env.Kafka, env.Conn
	produce(t, testenv.KafkaClient(t, k), k, monthly(150)...)
	stats, err := runtime.Replay(context.Background(), ledger.New(), k, runtime.ClickHouseSink(conn), time.Time{}, runtime.WithBatchSize(20000))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 150 || stats.Rows != 300 || stats.Isolated != 0 {
		t.Fatalf("stats %+v", stats)
	}
	var rows, months uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM events").Scan(&rows, &months); err != nil {
		t.Fatal(err)
	}
	if rows != 150 || months != 150 {
		t.Fatalf("events: %d rows over %d months, want 150 over 150", rows, months)
	}
}
