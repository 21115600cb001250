package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v4"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/streams/infra/clickhouse"
	"github.com/assay-data/assay/streams/runtime"
)

// rowSink is ClickHouseSink as it was before its appends became columnar:
// every row appended with Batch.Append. The tests prove the columnar sink
// writes and refuses what it did; the benchmarks measure one against the
// other.
type rowSink struct{ conn driver.Conn }

func (s rowSink) Write(ctx context.Context, t runtime.Table, rows [][]any) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = clickhouse.QuoteIdent(c)
	}
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+clickhouse.QuoteIdent(t.Name)+" ("+strings.Join(cols, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.Name, err)
	}
	for i, r := range rows {
		if err := b.Append(r...); err != nil {
			_ = b.Abort()
			return backoff.Permanent(fmt.Errorf("append row %d to %s batch: %w", i, t.Name, err))
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), t.Name, err)
	}
	return nil
}

// everyType has a column of each type the project's tables use (and the
// other plain numbers), so the sink's typed and value-by-value paths both
// meet each.
const everyTypeColumns = `k UInt32, s String, named String, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64,
	i8 Int8, i16 Int16, i32 Int32, i64 Int64, f32 Float32, f64 Float64, dt DateTime, dtz DateTime('UTC'), d Date,
	n_i32 Nullable(Int32), n_f64 Nullable(Float64), n_s Nullable(String),
	a_s Array(String), a_f64 Array(Float64), a_i64 Array(Int64), a_nf64 Array(Nullable(Float64)),
	e Enum8('text' = 1, 'image' = 2)`

var everyType = runtime.Table{Name: "every_type", Columns: []string{"k", "s", "named", "u8", "u16", "u32", "u64",
	"i8", "i16", "i32", "i64", "f32", "f64", "dt", "dtz", "d", "n_i32", "n_f64", "n_s", "a_s", "a_f64", "a_i64", "a_nf64", "e"}}

// everyTypeRows are rows of everyType: most with each column's own Go type
// (the typed path), some with other types a row append converts (the
// value-by-value path for that whole column), nil pointers and empty
// arrays.
func everyTypeRows(n int) [][]any {
	at := time.Date(2026, 11, 30, 12, 34, 56, 0, time.UTC)
	rows := make([][]any, n)
	for j := range rows {
		i32, f64, s := int32(j), float64(j)/3, fmt.Sprintf("n-%d", j)
		r := []any{uint32(j), fmt.Sprintf("s-%d\t'\"\\%d", j, j), "plain", uint8(j), uint16(j), uint32(j) * 7, uint64(j) << 40,
			int8(-j % 100), int16(-j), int32(-j), int64(j) - 1<<40, float32(j) / 7, float64(j) / 9, at.Add(time.Duration(j) * time.Hour),
			at, at.AddDate(0, 0, j), &i32, &f64, &s,
			[]string{"a", fmt.Sprint(j)}, []float64{float64(j), 0.5}, []int64{int64(j)}, []*float64{&f64, nil}, "text"}
		switch j % 5 {
		case 1:
			// Types a row append converts, each making its whole column go
			// value by value.
			r[2], r[6], r[10], r[14] = []byte("bytes"), j, time.Duration(j), &at
			r[16], r[17], r[18] = (*int32)(nil), (*float64)(nil), (*string)(nil)
			r[19], r[20], r[21], r[22] = []string{}, []float64{}, []int64{}, []*float64{}
			r[23] = "image"
		case 2:
			r[13] = at.In(time.FixedZone("X", 3600)) // another location, the same instant
			r[16], r[17], r[18] = nil, nil, nil
		}
		rows[j] = r
	}
	return rows
}

// readAllRows reads table ordered by k, every value printed, so two tables
// can be compared whole.
func readAllRows(t *testing.T, conn driver.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT * FROM "+table+" ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	cts := rows.ColumnTypes()
	for rows.Next() {
		ptrs := make([]any, len(cts))
		for i, ct := range cts {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line, err := json.Marshal(ptrs) // follows pointers, also inside arrays
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestClickHouseSinkWritesWhatRowAppendsWrite: on the 18.16 server, the
// columnar sink and row appends store the same values for every column type
// the project uses, whether a column goes in as one typed slice or value by
// value.
func TestClickHouseSinkWritesWhatRowAppendsWrite(t *testing.T) {
	t.Parallel()
	_, conn := testenv.ClickHouse(t)
	ctx := context.Background()
	for _, name := range []string{"by_rows", "by_columns"} {
		if err := conn.Exec(ctx, "CREATE TABLE "+name+" ("+everyTypeColumns+") ENGINE = MergeTree() ORDER BY k"); err != nil {
			t.Fatal(err)
		}
	}
	rows := everyTypeRows(50)
	tbl := everyType
	tbl.Name = "by_rows"
	if err := (rowSink{conn}).Write(ctx, tbl, rows); err != nil {
		t.Fatal(err)
	}
	tbl.Name = "by_columns"
	if err := runtime.ClickHouseSink(conn).Write(ctx, tbl, rows); err != nil {
		t.Fatal(err)
	}
	want, got := readAllRows(t, conn, "by_rows"), readAllRows(t, conn, "by_columns")
	if len(want) != len(rows) {
		t.Fatalf("row appends stored %d rows, want %d", len(want), len(rows))
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("row %d:\ncolumnar   %v\nrow append %s", i, got[min(i, len(got)-1)], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("columnar stored %d rows, row appends %d", len(got), len(want))
	}
	t.Logf("first row: %s", got[0])
}

// TestClickHouseSinkRefusesWhatRowAppendsRefuse: a value the client cannot
// convert fails the whole write before anything reaches the server, with an
// error the runner classifies as refused rows (so it isolates the record),
// naming the row and column; the same rows refused by row appends are
// refused here, and the connection pool is usable afterwards.
func TestClickHouseSinkRefusesWhatRowAppendsRefuse(t *testing.T) {
	t.Parallel()
	_, conn := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE TABLE every_type ("+everyTypeColumns+") ENGINE = MergeTree() ORDER BY k"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		col   int
		value any
		want  []string // in the error
	}{
		{"unknown enum element", 23, "hologram", []string{"row 3", "column e", "hologram"}},
		{"string in a UInt64 column", 6, "seven", []string{"row 3", "column u64"}},
		{"struct in a DateTime column", 13, struct{}{}, []string{"row 3", "column dt"}},
		{"number in an Array column", 19, 42, []string{"row 3", "column a_s"}},
		{"row too short", -1, nil, []string{"row 3", "values"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := everyTypeRows(6)
			if c.col >= 0 {
				rows[3][c.col] = c.value
			} else {
				rows[3] = rows[3][:5]
			}
			for _, s := range []runtime.Sink{rowSink{conn}, runtime.ClickHouseSink(conn)} {
				err := s.Write(ctx, everyType, rows)
				if err == nil {
					t.Fatalf("%T wrote the rows", s)
				}
				if got := runtime.ClassifyWriteError(err); got != "rows refused" {
					t.Errorf("%T: %v classified %q, want rows refused", s, err, got)
				}
				var pe *backoff.PermanentError
				if !errors.As(err, &pe) {
					t.Errorf("%T: %v is not backoff.Permanent", s, err)
				}
				if _, ok := s.(rowSink); ok {
					continue
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				t.Logf("%v", err)
			}
		})
	}
	// Nothing was inserted, and the pool still writes.
	if err := runtime.ClickHouseSink(conn).Write(ctx, everyType, everyTypeRows(4)); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM every_type").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("every_type holds %d rows, want the 4 of the last write", n)
	}
}
