package figures_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/gate/figures"
	"github.com/assay-data/assay/streams/runtime"
)

// TestReadOnCurrentClickHouse feeds the scenario through the same processors' Apply, every
// event twice (the copies at later offsets, as a replayed batch or a client duplicate would
// be), into a current ClickHouse (chdb), and requires Read, run whole on it through
// sessionConn, to measure what TestReadOnTheServer measures on the 18.16 server. So every
// statement Read runs (its own, kpi.ReadAgreement's and lineage.ReadVersion's) is accepted by
// both ends of the supported range and answers the same there, without FINAL on the copies.
func TestReadOnCurrentClickHouse(t *testing.T) {
	s := chdb.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs := scenario()
	for _, p := range processors() {
		type tp struct {
			topic     string
			partition int32
		}
		states := map[tp]any{}
		rows := map[string][][]any{}
		offsets := map[string]int64{}
		for range 2 {
			for _, ev := range evs {
				topic := ev.Family().Topic()
				k := tp{topic, 0}
				if _, ok := states[k]; !ok {
					states[k] = p.NewState(topic, 0)
				}
				out, err := p.Apply(states[k], runtime.Record{Topic: topic, Family: ev.Family(), Offset: offsets[topic], Key: []byte(ev.Key()), Event: ev})
				if err != nil {
					t.Fatalf("%s: %s: %v", p.Name(), ev.Meta().EventID, err)
				}
				offsets[topic]++
				for _, r := range out.Rows {
					rows[r.Table] = append(rows[r.Table], r.Values)
				}
			}
		}
		for _, tb := range p.Tables() {
			if err := s.Insert(ctx, tb.Name, tb.Columns, rows[tb.Name]); err != nil {
				t.Fatalf("%s: %v", p.Name(), err)
			}
		}
	}
	conn := sessionConn{s: s}
	for _, c := range want() {
		got, err := figures.Read(ctx, conn, c.req)
		if err != nil {
			t.Fatalf("%s on ClickHouse %s: %v", c.name, s.Version, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s on ClickHouse %s:\n got %s\nwant %s", c.name, s.Version, show(got), show(c.want))
		}
	}
}

// show renders figures with their pointers followed, for failure messages.
func show(f gate.Figures) string {
	p := func(x *float64) string {
		if x == nil {
			return "nil"
		}
		return strconv.FormatFloat(*x, 'g', -1, 64)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{project %q members %d questions %q agreement [", f.ProjectID, f.Members, f.Questions)
	for _, a := range f.Agreement {
		fmt.Fprintf(&b, "{%s %s alpha %s [%s, %s] %q values %d %q}", a.QuestionID, a.Level, p(a.Alpha), p(a.Low), p(a.High), a.Method, a.PairableValues, a.Undefined)
	}
	fmt.Fprintf(&b, "] accuracy %+v coverage ", f.Accuracy)
	if f.Coverage != nil {
		fmt.Fprintf(&b, "%+v", *f.Coverage)
	} else {
		b.WriteString("nil")
	}
	fmt.Fprintf(&b, " lineage %d rework %d/%d findings %v gold %d}", f.LineageComplete, f.ReworkedLabels, f.ReviewedLabels, f.OpenFindings, f.GoldMembers)
	return b.String()
}

// sessionConn serves the reads of a driver.Conn (Query, QueryRow) from a chdb session, which
// cannot speak the native protocol: each query is bound (chdb.Bind) and answered in
// JSONCompactEachRow, whose values Scan converts into the destinations clickhouse-go would
// fill. Only the destination types Read and the reads it calls use are supported; any other
// method of driver.Conn panics (the embedded interface is nil).
type sessionConn struct {
	driver.Conn
	s *chdb.Session
}

func (c sessionConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	q, err := chdb.Bind(query, args...)
	if err != nil {
		return nil, err
	}
	out, err := c.s.Query(ctx, q+"\nFORMAT JSONCompactEachRow")
	if err != nil {
		return nil, fmt.Errorf("ClickHouse %s refused:\n%s\n%w", c.s.Version, q, err)
	}
	r := &sessionRows{i: -1}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var row []any
		if err := d.Decode(&row); err != nil {
			return nil, fmt.Errorf("row %q: %w", line, err)
		}
		r.rows = append(r.rows, row)
	}
	return r, nil
}

func (c sessionConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return sessionRow{err: err}
	}
	if !rows.Next() {
		return sessionRow{err: sql.ErrNoRows}
	}
	return sessionRow{rows: rows}
}

type sessionRows struct {
	driver.Rows
	rows [][]any
	i    int
}

func (r *sessionRows) Next() bool   { r.i++; return r.i < len(r.rows) }
func (r *sessionRows) Close() error { return nil }
func (r *sessionRows) Err() error   { return nil }

func (r *sessionRows) Scan(dest ...any) error {
	row := r.rows[r.i]
	if len(dest) != len(row) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		v := reflect.ValueOf(d)
		if v.Kind() != reflect.Pointer || v.IsNil() {
			return fmt.Errorf("column %d: destination %T is not a pointer", i, d)
		}
		if err := assign(v.Elem(), row[i]); err != nil {
			return fmt.Errorf("column %d into %T: %w", i, d, err)
		}
	}
	return nil
}

type sessionRow struct {
	driver.Row
	rows driver.Rows
	err  error
}

func (r sessionRow) Err() error { return r.err }

func (r sessionRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Scan(dest...)
}

// assign sets dst to the JSON value v (numbers as json.Number, 64-bit integers possibly
// quoted, null for NULL and for a NaN or infinite float).
func assign(dst reflect.Value, v any) error {
	switch dst.Kind() {
	case reflect.Pointer:
		if v == nil {
			dst.SetZero()
			return nil
		}
		p := reflect.New(dst.Type().Elem())
		if err := assign(p.Elem(), v); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%v is not a string", v)
		}
		dst.SetString(s)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text(v), 10, 64)
		if err != nil || dst.OverflowInt(n) {
			return fmt.Errorf("%v does not fit %s", v, dst.Type())
		}
		dst.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text(v), 10, 64)
		if err != nil || dst.OverflowUint(n) {
			return fmt.Errorf("%v does not fit %s", v, dst.Type())
		}
		dst.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		if v == nil {
			dst.SetFloat(math.NaN())
			return nil
		}
		x, err := strconv.ParseFloat(text(v), 64)
		if err != nil {
			return err
		}
		dst.SetFloat(x)
		return nil
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%v is not an array", v)
		}
		s := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, x := range list {
			if err := assign(s.Index(i), x); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	}
	return fmt.Errorf("unsupported destination %s", dst.Type())
}

// text is a JSON number or a quoted one as text.
func text(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case string:
		return v
	}
	var b bytes.Buffer
	fmt.Fprint(&b, v)
	return b.String()
}
