package chdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
)

var eventsColumns = []string{"topic", "partition", "offset", "record_key", "event_id", "event_type",
	"occurred_at", "occurred_at_ms", "recorded_at", "recorded_at_ms", "producer", "correlation_id",
	"causation_id", "schema_fingerprint", "payload"}

func eventRow(offset uint64, at time.Time) []any {
	return []any{"assay.items.v1", uint32(0), offset, "k", "e", "ItemIngested", at, at.UnixMilli(), at, at.UnixMilli(),
		"p", "c", "", uint64(1<<63 + 5), `{"a":1}`}
}

// TestSessionInsertsAndAnswersServerErrors: the rows a runtime.Sink receives go in as one
// block, and a refusal comes back as the *clickhouse.Exception clickhouse-go would return.
func TestSessionInsertsAndAnswersServerErrors(t *testing.T) {
	s := chdb.Start(t)
	ctx := context.Background()
	t.Logf("ClickHouse %s (chdb)", s.Version)

	start := time.Date(2001, 1, 15, 12, 0, 0, 0, time.UTC)
	var rows [][]any
	for i := range 150 {
		rows = append(rows, eventRow(uint64(i), start.AddDate(0, i, 0)))
	}
	err := s.Insert(ctx, "events", eventsColumns, rows)
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 252 || ex.CodeName != "TOO_MANY_PARTS" || !strings.HasPrefix(ex.Message, "Too many partitions for single INSERT block (more than 100)") {
		t.Fatalf("150 months in one block: %v (%#v)", err, ex)
	}
	if err := s.Insert(ctx, "events", eventsColumns, rows[:100]); err != nil {
		t.Fatalf("100 months in one block: %v", err)
	}
	got, err := s.Query(ctx, "SELECT count(), min(occurred_at), max(offset), max(schema_fingerprint) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if want := "100\t2001-01-15 12:00:00\t99\t9223372036854775813\n"; got != want {
		t.Fatalf("events: %q, want %q", got, want)
	}
}

func TestSessionQueryErrors(t *testing.T) {
	s := chdb.Start(t)
	err := s.Exec(context.Background(), "SELECT * FROM no_such_table")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 || ex.CodeName != "UNKNOWN_TABLE" {
		t.Fatalf("%v (%#v)", err, ex)
	}
}
