package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"

	"github.com/assay-data/assay/streams/infra/clickhouse"
)

// Sink makes rows durable. Write either stores all rows or returns an
// error, which the runner classifies (see the package doc): a ClickHouse
// exception (*clickhouse.Exception) by its code and message, an error
// wrapped in backoff.Permanent as rows the sink can never write (the
// records responsible are isolated and sent to the DLQ), and any other
// error as transient (retried without limit).
type Sink interface {
	Write(ctx context.Context, t Table, rows [][]any) error
}

// ClickHouseSink writes through conn, whose default database holds the
// tables: one native-protocol batch insert per table and flush, with the
// table's explicit column list (ClickHouse 18.16 refuses inserts without).
func ClickHouseSink(conn driver.Conn) Sink { return chSink{conn: conn} }

type chSink struct{ conn driver.Conn }

func (s chSink) Write(ctx context.Context, t Table, rows [][]any) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = clickhouse.QuoteIdent(c)
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+clickhouse.QuoteIdent(t.Name)+" ("+strings.Join(cols, ", ")+")")
	if err != nil {
		// No row has been sent yet: whatever the server answered is about
		// the insert (the table, the connection), not about these rows.
		return &notRowsError{fmt.Errorf("prepare insert into %s: %w", t.Name, err)}
	}
	for i, r := range rows {
		if err := b.Append(r...); err != nil {
			_ = b.Abort()
			// Append converts values client-side: a failure is a row that no
			// retry will fix, so its record is isolated like one the server
			// refuses.
			return backoff.Permanent(fmt.Errorf("append row %d to %s batch: %w", i, t.Name, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), t.Name, err)
	}
	return nil
}
