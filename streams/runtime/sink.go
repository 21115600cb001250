package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"

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
//
// Rows are appended column by column: a column whose values all have the
// Go type clickhouse-go stores it as (string for String, int64 for Int64,
// time.Time for DateTime, ...; see columnar) is appended as one typed
// slice, every other column value by value with the conversions of a row
// append. A value the client cannot convert fails the write with an error
// wrapped in backoff.Permanent, naming its row and column.
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
	if err := appendColumns(b, rows); err != nil {
		_ = b.Abort()
		// Appending converts values client-side: a failure is a row that no
		// retry will fix, so its record is isolated like one the server
		// refuses.
		return backoff.Permanent(fmt.Errorf("append to %s batch: %w", t.Name, err))
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), t.Name, err)
	}
	return nil
}

// appendColumns appends rows to b one column at a time. The batch's
// columns follow the insert's column list, which is the rows' order.
func appendColumns(b driver.Batch, rows [][]any) error {
	cols := b.Columns()
	for j, r := range rows {
		if len(r) != len(cols) {
			// The runner checks every row's width against its table
			// (engine.apply); a sink called directly refuses a row of the
			// wrong width as a row append does.
			return fmt.Errorf("row %d has %d values, the insert has %d columns", j, len(r), len(cols))
		}
	}
	for i, col := range cols {
		if err := appendColumn(b.Column(i), string(col.Type()), rows, i); err != nil {
			return fmt.Errorf("column %s: %w", col.Name(), err)
		}
	}
	return nil
}

// appendColumn appends value i of every row to bc, a column of type
// chType: as one typed slice when the column is one of columnar's types
// and every value has its Go type, else value by value.
func appendColumn(bc driver.BatchColumn, chType string, rows [][]any, i int) error {
	switch columnar(chType) {
	case "String":
		return appendTyped[string](bc, rows, i)
	case "UInt8":
		return appendTyped[uint8](bc, rows, i)
	case "UInt16":
		return appendTyped[uint16](bc, rows, i)
	case "UInt32":
		return appendTyped[uint32](bc, rows, i)
	case "UInt64":
		return appendTyped[uint64](bc, rows, i)
	case "Int8":
		return appendTyped[int8](bc, rows, i)
	case "Int16":
		return appendTyped[int16](bc, rows, i)
	case "Int32":
		return appendTyped[int32](bc, rows, i)
	case "Int64":
		return appendTyped[int64](bc, rows, i)
	case "Float32":
		return appendTyped[float32](bc, rows, i)
	case "Float64":
		return appendTyped[float64](bc, rows, i)
	case "DateTime", "Date":
		return appendTyped[time.Time](bc, rows, i)
	}
	return appendEach(bc, rows, i)
}

// columnar names the column types whose typed-slice append clickhouse-go
// implements exactly as its append of each element (checked in its
// sources: the same conversion, no validation that the row path does and
// the slice path skips), as the kind appendColumn switches on, or "" for
// the others (Nullable, Array, Enum, ...), which go value by value. A
// DateTime with a time zone argument is a DateTime (not a DateTime64).
func columnar(chType string) string {
	switch chType {
	case "String", "UInt8", "UInt16", "UInt32", "UInt64", "Int8", "Int16", "Int32", "Int64",
		"Float32", "Float64", "DateTime", "Date":
		return chType
	}
	if strings.HasPrefix(chType, "DateTime(") {
		return "DateTime"
	}
	return ""
}

// appendTyped appends value i of every row as one []T when each has the
// type T, which saves a type switch and an interface conversion per value;
// a column holding any other value goes through appendEach instead, so that
// it is converted (or refused) exactly as a row append would.
func appendTyped[T any](bc driver.BatchColumn, rows [][]any, i int) error {
	vals := make([]T, len(rows))
	for j, r := range rows {
		v, ok := r[i].(T)
		if !ok {
			return appendEach(bc, rows, i)
		}
		vals[j] = v
	}
	return bc.Append(vals)
}

// appendEach appends value i of every row with the conversions of a row
// append, naming the row a value fails in.
func appendEach(bc driver.BatchColumn, rows [][]any, i int) error {
	for j, r := range rows {
		if err := bc.AppendRow(r[i]); err != nil {
			return fmt.Errorf("row %d: %w", j, err)
		}
	}
	return nil
}
