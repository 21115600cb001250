package ledger

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/runtime"
)

// table is one ledger table whose rows are values of the struct R, so a
// row is written by column name, never by position. Each field of R is a
// column named by its `ch` tag, or else by its JSON name, so that an event
// struct of the contract is a row as it is (its JSON names are the
// contract's field names, which are the ledger's column names). A struct
// field's columns are named <name>_<column> (a label value: value_level,
// ...), or inlined when tagged `ch:",inline"` (a struct, or a non-nil pointer
// to one: the event a row extends). The embedded schemas.Envelope
// of an event is not a column: a typed table (declared with typed) starts
// with the envelope columns of the record instead. The columns, their
// ClickHouse types and where each is in R are found once, when the table is
// declared; a row's values are read from those places, in that order.
type table[R any] struct{ *layout }

// layout is what a table's declaration found: its name and columns.
type layout struct {
	name string
	// typed tables start with the envelope's columns, then cols.
	typed bool
	cols  []column
}

// column is one column of a table: its name, the ClickHouse type its Go
// field maps to, and the field's index path in the row struct.
type column struct {
	name   string
	chType string
	index  []int
	// empty is the empty slice a nil slice field is written as
	// (clickhouse-go refuses nil for an Array column); nil for non-slices.
	empty any
	// value, when set, computes the column's value from the field at index
	// instead of reading it: the columns of an optional record and of a list
	// of records.
	value func(f reflect.Value) any
}

// declared lists the ledger's tables in declaration order (Tables).
var declared []*layout

// declare adds the table name with rows of type R to Tables, typed (after
// the envelope columns) or not, leaving out R's fields whose JSON names are
// in omit (an event's lists, which go to child tables). A row struct outside
// the mapping (a field without a name, a Go type with no ClickHouse type, a
// column named twice) is a programming error that stops the package's
// initialization, so every test run catches it.
func declare[R any](name string, typed bool, omit ...string) table[R] {
	l, err := newLayout(reflect.TypeFor[R](), name, typed, omit...)
	if err != nil {
		panic("ledger: " + err.Error())
	}
	declared = append(declared, l)
	return table[R]{l}
}

// newLayout finds the columns of table name with rows of struct type rt.
func newLayout(rt reflect.Type, name string, typed bool, omit ...string) (*layout, error) {
	l := &layout{name: name, typed: typed}
	if err := l.addColumns(rt, "", nil, omit); err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	seen := map[string]bool{}
	for _, c := range l.columns() {
		if seen[c.name] {
			return nil, fmt.Errorf("table %s: column %s is declared twice", name, c.name)
		}
		seen[c.name] = true
	}
	return l, nil
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	envelopeType = reflect.TypeFor[schemas.Envelope]()
)

func (l *layout) addColumns(rt reflect.Type, prefix string, index []int, omit []string) error {
	for i := range rt.NumField() {
		f := rt.Field(i)
		idx := append(append([]int(nil), index...), i)
		if f.Anonymous && f.Type == envelopeType {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("field %s is not exported, so its value cannot be read", f.Name)
		}
		name, inline := columnName(f)
		if name == "" && !inline {
			return fmt.Errorf("field %s has no ch:\"<column>\" or json tag", f.Name)
		}
		if slices.Contains(omit, name) {
			continue
		}
		if inline && f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct {
			// An event inlined by pointer, so a row need not copy it; the
			// pointer is never nil (row reads through it).
			if err := l.addColumns(f.Type.Elem(), prefix, idx, omit); err != nil {
				return err
			}
			continue
		}
		if !inline && f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct {
			if err := l.addOptionalRecord(f.Type.Elem(), prefix+name+"_", idx); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct && f.Type.Elem() != timeType {
			if err := l.addRecordList(f.Type.Elem(), prefix+name+"_", idx); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != timeType {
			inner, innerOmit := prefix, omit // an inline struct's fields are the row's
			if !inline {
				inner, innerOmit = prefix+name+"_", nil
			}
			if err := l.addColumns(f.Type, inner, idx, innerOmit); err != nil {
				return err
			}
			continue
		}
		ct, err := clickHouseType(f.Type)
		if err != nil || inline {
			return fmt.Errorf("field %s: %s has no ClickHouse type", f.Name, f.Type)
		}
		c := column{name: prefix + name, chType: ct, index: idx}
		if f.Type.Kind() == reflect.Slice {
			c.empty = reflect.MakeSlice(f.Type, 0, 0).Interface()
		}
		l.cols = append(l.cols, c)
	}
	return nil
}

// addOptionalRecord adds the columns of an optional record (a pointer to a
// struct of scalars, pointers to scalars and slices of scalars: a label
// value's extent or preference), named <prefix><field>: a scalar's column is
// Nullable (NULL when the record is absent), a string's is a String ("" when
// absent, as the contract's strings mean "not set" by ""), a list's an Array
// (empty when absent).
func (l *layout) addOptionalRecord(rt reflect.Type, prefix string, index []int) error {
	inner := &layout{}
	if err := inner.addColumns(rt, "", nil, nil); err != nil {
		return err
	}
	for _, c := range inner.cols {
		if c.value != nil || len(c.index) != 1 {
			return fmt.Errorf("%s: an optional record holds scalars and lists of scalars only", rt)
		}
		chType, zero := c.chType, any(nil)
		ft := rt.Field(c.index[0]).Type
		switch {
		case ft.Kind() == reflect.String:
			zero = ""
		case ft.Kind() == reflect.Slice:
			zero = c.empty
		case !strings.HasPrefix(chType, "Nullable("):
			chType = "Nullable(" + chType + ")"
		}
		l.cols = append(l.cols, column{name: prefix + c.name, chType: chType, index: index, value: func(f reflect.Value) any {
			if f.IsNil() {
				if zero == nil { // a typed nil, which clickhouse-go writes as NULL
					if ft.Kind() == reflect.Pointer {
						return reflect.Zero(ft).Interface()
					}
					return reflect.Zero(reflect.PointerTo(ft)).Interface()
				}
				return zero
			}
			v := f.Elem().Field(c.index[0])
			switch {
			case v.Kind() == reflect.String:
				return v.String()
			case v.Kind() == reflect.Slice && v.IsNil():
				return c.empty
			case v.Kind() == reflect.Slice || v.Kind() == reflect.Pointer:
				return v.Interface()
			}
			p := reflect.New(ft) // a present scalar is written through a pointer, as the Nullable column takes it
			p.Elem().Set(v)
			return p.Interface()
		}})
	}
	return nil
}

// addRecordList adds the columns of a list of records (a label value's
// spans or boxes) as parallel arrays, one per field of the record, named
// <prefix><field> (value_spans_label, value_spans_start, ...), as
// ClickHouse's Nested columns lay them out: element i of every array is
// record i. The record's fields are scalars or pointers to scalars (an
// Array(Nullable(...)) then).
func (l *layout) addRecordList(rt reflect.Type, prefix string, index []int) error {
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, inline := columnName(f)
		if name == "" || inline || !f.IsExported() {
			return fmt.Errorf("%s.%s: a listed record's fields are named scalars", rt, f.Name)
		}
		ct, err := clickHouseType(f.Type)
		if err != nil || f.Type.Kind() == reflect.Slice {
			return fmt.Errorf("%s.%s: %s cannot be an array element", rt, f.Name, f.Type)
		}
		elem := f.Type
		if elem.Kind() != reflect.Pointer && elem.Kind() != reflect.String && elem.PkgPath() != "" {
			return fmt.Errorf("%s.%s: named type %s", rt, f.Name, elem)
		}
		if elem.Kind() == reflect.String {
			elem = reflect.TypeFor[string]()
		}
		sliceType := reflect.SliceOf(elem)
		fi := i
		l.cols = append(l.cols, column{name: prefix + name, chType: "Array(" + ct + ")", index: index, value: func(list reflect.Value) any {
			out := reflect.MakeSlice(sliceType, list.Len(), list.Len())
			for j := range list.Len() {
				out.Index(j).Set(list.Index(j).Field(fi).Convert(elem))
			}
			return out.Interface()
		}})
	}
	return nil
}

// columnName is the column (or column prefix) a field is written to: its ch
// tag, else its JSON name; inline reports `ch:",inline"`.
func columnName(f reflect.StructField) (name string, inline bool) {
	if tag, ok := f.Tag.Lookup("ch"); ok {
		name, opts, _ := strings.Cut(tag, ",")
		return name, opts == "inline"
	}
	name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return "", false
	}
	return name, false
}

// clickHouseType is the type of the column a Go field of type rt is written
// to: the types clickhouse-go converts without loss, as the ledger's
// migrations declare them (DateTime, not DateTime64, which 18.16 lacks;
// bytes as String, the verbatim input of the DLQ). Named string types
// (schemas.Severity, ...) are Strings; other named types have no column
// type, so that, say, a time.Duration is not silently written as Int64.
func clickHouseType(rt reflect.Type) (string, error) {
	switch {
	case rt == timeType:
		return "DateTime", nil
	case rt.Kind() == reflect.Pointer:
		if k := rt.Elem().Kind(); k == reflect.Slice || k == reflect.Pointer || k == reflect.Struct {
			return "", fmt.Errorf("%s has no ClickHouse type", rt)
		}
		inner, err := clickHouseType(rt.Elem())
		if err != nil {
			return "", err
		}
		return "Nullable(" + inner + ")", nil
	case rt.Kind() == reflect.Slice && rt.Elem().Kind() == reflect.Uint8 && rt.Elem().PkgPath() == "":
		return "String", nil
	case rt.Kind() == reflect.Slice:
		inner, err := clickHouseType(rt.Elem())
		if err != nil {
			return "", err
		}
		return "Array(" + inner + ")", nil
	case rt.Kind() == reflect.String:
		return "String", nil
	}
	names := map[reflect.Kind]string{
		reflect.Uint8: "UInt8", reflect.Uint32: "UInt32", reflect.Uint64: "UInt64",
		reflect.Int32: "Int32", reflect.Int64: "Int64", reflect.Float64: "Float64",
	}
	if n, ok := names[rt.Kind()]; ok && rt.PkgPath() == "" {
		return n, nil
	}
	return "", fmt.Errorf("%s has no ClickHouse type", rt)
}

// columns are all of the table's columns, the envelope's first in a typed
// table.
func (l *layout) columns() []column {
	if !l.typed {
		return l.cols
	}
	return append(append([]column(nil), envelopeLayout.cols...), l.cols...)
}

// Table is the runtime's description of the table: its name and columns.
func (l *layout) Table() runtime.Table {
	cols := l.columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return runtime.Table{Name: l.name, Columns: names}
}

// row is r as the runtime writes it: its values in column order, after
// env's in a typed table (env is nil for the others).
func (t table[R]) row(env *envelopeValues, r *R) runtime.Row {
	var vals []any
	if t.typed {
		vals = make([]any, 0, len(env.values)+len(t.cols))
		vals = append(vals, env.values...)
	} else {
		vals = make([]any, 0, len(t.cols))
	}
	return runtime.Row{Table: t.name, Values: appendValues(vals, t.cols, reflect.ValueOf(r).Elem())}
}

// appendValues appends the values of v's columns cols as the plain Go types
// clickhouse-go takes (a named string as a string, bytes as a string).
// Basic kinds are boxed by conversion rather than Value.Interface, which
// allocates for every value where the compiler's conversions do not for
// empty strings and small numbers.
func appendValues(vals []any, cols []column, v reflect.Value) []any {
	for _, c := range cols {
		f := v.FieldByIndex(c.index)
		if c.value != nil {
			vals = append(vals, c.value(f))
			continue
		}
		switch f.Kind() {
		case reflect.String:
			vals = append(vals, f.String())
		case reflect.Uint8, reflect.Uint32, reflect.Uint64, reflect.Int32, reflect.Int64, reflect.Float64:
			vals = append(vals, basic(f))
		case reflect.Slice:
			switch {
			case c.chType == "String":
				vals = append(vals, string(f.Bytes()))
			case f.IsNil():
				vals = append(vals, c.empty)
			default:
				vals = append(vals, f.Interface())
			}
		default: // time.Time, pointers
			vals = append(vals, f.Interface())
		}
	}
	return vals
}

// basic is a numeric field's value as its unnamed type.
func basic(f reflect.Value) any {
	switch f.Kind() {
	case reflect.Uint8:
		return uint8(f.Uint())
	case reflect.Uint32:
		return uint32(f.Uint())
	case reflect.Uint64:
		return f.Uint()
	case reflect.Int32:
		return int32(f.Int())
	case reflect.Int64:
		return f.Int()
	}
	return f.Float()
}

// envelopeValues is the envelope of one record, its values boxed once for
// all the typed rows of the record.
type envelopeValues struct {
	values []any
}

// envelopeLayout is the envelope's columns (the struct envelope). Its
// columns are checked for duplicates with each typed table's.
var envelopeLayout = func() *layout {
	l := &layout{name: "envelope"}
	if err := l.addColumns(reflect.TypeFor[envelope](), "", nil, nil); err != nil {
		panic("ledger: envelope: " + err.Error())
	}
	return l
}()

// values boxes e's columns.
func (e *envelope) values() *envelopeValues {
	return &envelopeValues{values: appendValues(make([]any, 0, len(envelopeLayout.cols)), envelopeLayout.cols, reflect.ValueOf(e).Elem())}
}

// ColumnType names a column of a ledger table and the ClickHouse type its Go
// field maps to.
type ColumnType struct {
	Table, Column, Type string
}

// ColumnTypes lists every column of every ledger table with the ClickHouse
// type of its Go field, table by table in Tables order, for checking the
// tables against a migrated database by name and type.
func ColumnTypes() []ColumnType {
	var out []ColumnType
	for _, t := range declared {
		for _, c := range t.columns() {
			out = append(out, ColumnType{Table: t.name, Column: c.name, Type: c.chType})
		}
	}
	return out
}
