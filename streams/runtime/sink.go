package runtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
		return appendTyped(bc, rows, i, &stringSlices)
	case "UInt8":
		return appendTyped(bc, rows, i, &uint8Slices)
	case "UInt16":
		return appendTyped(bc, rows, i, &uint16Slices)
	case "UInt32":
		return appendTyped(bc, rows, i, &uint32Slices)
	case "UInt64":
		return appendTyped(bc, rows, i, &uint64Slices)
	case "Int8":
		return appendTyped(bc, rows, i, &int8Slices)
	case "Int16":
		return appendTyped(bc, rows, i, &int16Slices)
	case "Int32":
		return appendTyped(bc, rows, i, &int32Slices)
	case "Int64":
		return appendTyped(bc, rows, i, &int64Slices)
	case "Float32":
		return appendTyped(bc, rows, i, &float32Slices)
	case "Float64":
		return appendTyped(bc, rows, i, &float64Slices)
	case "DateTime", "Date":
		return appendTyped(bc, rows, i, &timeSlices)
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
// it is converted (or refused) exactly as a row append would. The []T comes
// from pool and goes back to it: clickhouse-go copies the values into its
// column (strings into its buffer), so the slice is free once Append
// returns.
func appendTyped[T any](bc driver.BatchColumn, rows [][]any, i int, pool *slicePool[T]) error {
	buf := pool.get(len(rows))
	defer pool.put(buf)
	vals := *buf
	for j, r := range rows {
		v, ok := r[i].(T)
		if !ok {
			return appendEach(bc, rows, i)
		}
		vals[j] = v
	}
	return bc.Append(vals)
}

// slicePool recycles the typed slices of appendTyped, one pool per Go type,
// so that a flush allocates no slice per column.
type slicePool[T any] struct{ p sync.Pool }

var (
	stringSlices  slicePool[string]
	uint8Slices   slicePool[uint8]
	uint16Slices  slicePool[uint16]
	uint32Slices  slicePool[uint32]
	uint64Slices  slicePool[uint64]
	int8Slices    slicePool[int8]
	int16Slices   slicePool[int16]
	int32Slices   slicePool[int32]
	int64Slices   slicePool[int64]
	float32Slices slicePool[float32]
	float64Slices slicePool[float64]
	timeSlices    slicePool[time.Time]
)

// get returns a slice of n elements.
func (sp *slicePool[T]) get(n int) *[]T {
	if b, ok := sp.p.Get().(*[]T); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]T, n)
	return &b
}

// put clears b (a pooled slice must not keep the rows' strings alive) and
// returns it to the pool.
func (sp *slicePool[T]) put(b *[]T) {
	clear(*b)
	*b = (*b)[:0]
	sp.p.Put(b)
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
