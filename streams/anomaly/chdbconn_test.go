package anomaly

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/ops/clickhouse/chdb"
)

// chdbConn answers Query from an embedded current ClickHouse (chdb.Session), so that Read,
// and kpi.ReadAgreement under it, run unchanged on the newest end of the supported range:
// the query is bound client-side (chdb.Bind, as clickhouse-go binds ?) and its TabSeparated
// answer scanned into the destinations the reads use. Any other method of driver.Conn
// panics (the embedded interface is nil): the reads call none.
type chdbConn struct {
	driver.Conn
	s *chdb.Session
}

func (c chdbConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	sql, err := chdb.Bind(query, args...)
	if err != nil {
		return nil, err
	}
	out, err := c.s.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	r := &tsvRows{}
	if out != "" {
		r.lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	return r, nil
}

// tsvRows scans TabSeparated lines.
type tsvRows struct {
	driver.Rows
	lines []string
	cur   []string
	err   error
}

func (r *tsvRows) Next() bool {
	if r.err != nil || len(r.lines) == 0 {
		return false
	}
	r.cur, r.lines = strings.Split(r.lines[0], "\t"), r.lines[1:]
	return true
}

func (r *tsvRows) Close() error { return nil }
func (r *tsvRows) Err() error   { return r.err }

func (r *tsvRows) Scan(dest ...any) error {
	if len(dest) != len(r.cur) {
		return fmt.Errorf("scan %d values from %d columns", len(dest), len(r.cur))
	}
	for i, d := range dest {
		if r.cur[i] == `\N` { // NULL
			switch d := d.(type) {
			case **float64:
				*d = nil
				continue
			case **int64:
				*d = nil
				continue
			}
		}
		var (
			v   any = unescapeField(r.cur[i])
			err error
		)
		if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Slice {
			var rest string
			if v, rest, err = parseLiteral(r.cur[i]); err == nil && rest != "" {
				err = fmt.Errorf("trailing %q", rest)
			}
		}
		if err == nil {
			err = assign(d, v)
		}
		if err != nil {
			return fmt.Errorf("column %d (%q): %w", i, r.cur[i], err)
		}
	}
	return nil
}

// unescapeField reads a scalar TabSeparated field (backslash escapes).
func unescapeField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			b.WriteByte(unescape(s[i]))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseLiteral reads an array of ClickHouse's text form, [..] of arrays, quoted strings '..'
// or bare numbers; strings and numbers come back as string, arrays as []any.
func parseLiteral(s string) (any, string, error) {
	switch {
	case strings.HasPrefix(s, "["):
		var out []any
		s = s[1:]
		for !strings.HasPrefix(s, "]") {
			v, rest, err := parseLiteral(s)
			if err != nil {
				return nil, "", err
			}
			out = append(out, v)
			s = strings.TrimPrefix(rest, ",")
			if s == "" {
				return nil, "", fmt.Errorf("unterminated array")
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, s[1:], nil
	case strings.HasPrefix(s, "'"):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
				b.WriteByte(unescape(s[i]))
			case '\'':
				return b.String(), s[i+1:], nil
			default:
				b.WriteByte(s[i])
			}
		}
		return nil, "", fmt.Errorf("unterminated string")
	}
	end := strings.IndexAny(s, ",]")
	if end < 0 {
		return nil, "", fmt.Errorf("unterminated array element in %q", s)
	}
	return s[:end], s[end:], nil
}

func unescape(c byte) byte {
	switch c {
	case 't':
		return '\t'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case '0':
		return 0
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	}
	return c
}

func number(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a scalar", v)
	}
	return s, nil
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "nan", "-nan":
		return math.NaN(), nil
	case "inf", "+inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// assign stores v in d, for the destination types the reads scan.
func assign(d any, v any) error {
	var err error
	switch d := d.(type) {
	case *string:
		*d, err = number(v)
	case *int64:
		var s string
		if s, err = number(v); err == nil {
			*d, err = strconv.ParseInt(s, 10, 64)
		}
	case *int32:
		var s string
		var n int64
		if s, err = number(v); err == nil {
			n, err = strconv.ParseInt(s, 10, 32)
			*d = int32(n)
		}
	case *uint8, *uint32, *uint64:
		var s string
		var n uint64
		if s, err = number(v); err == nil {
			n, err = strconv.ParseUint(s, 10, 64)
		}
		switch d := d.(type) {
		case *uint8:
			*d = uint8(n)
		case *uint32:
			*d = uint32(n)
		case *uint64:
			*d = n
		}
	case *float64:
		var s string
		if s, err = number(v); err == nil {
			*d, err = parseFloat(s)
		}
	case **float64, **int64:
		switch d := d.(type) {
		case **float64:
			*d = new(float64)
			return assign(*d, v)
		case **int64:
			*d = new(int64)
			return assign(*d, v)
		}
	default:
		// A slice (of scalars or of slices): element by element.
		rv := reflect.ValueOf(d)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Slice {
			return fmt.Errorf("cannot scan into %T", d)
		}
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%v is not an array", v)
		}
		out := reflect.MakeSlice(rv.Elem().Type(), len(a), len(a))
		for i, x := range a {
			if err := assign(out.Index(i).Addr().Interface(), x); err != nil {
				return err
			}
		}
		rv.Elem().Set(out)
	}
	return err
}
