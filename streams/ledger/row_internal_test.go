package ledger

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
)

// TestLayoutMapsStructsToColumns: columns come in field order, prefixed for a tagged struct,
// after the envelope's in a typed table, with the ClickHouse type of each Go type; a row's
// values are read by name in that order, nil slices written as empty arrays.
func TestLayoutMapsStructsToColumns(t *testing.T) {
	type value struct {
		Level string `ch:"level"`
		Rank  *int32 `ch:"rank"`
	}
	type row struct {
		B      uint64     `ch:"b"`
		A      string     `ch:"a"`
		Value  value      `ch:"value"`
		At     time.Time  `ch:"at"`
		Tags   []string   `ch:"tags"`
		Shares []*float64 `ch:"shares"`
		Part   uint32     `ch:"part"`
		N      int64      `ch:"n"`
		X      float64    `ch:"x"`
	}
	l := wantColumns(t, reflect.TypeFor[row](), "b UInt64,a String,value_level String,value_rank Nullable(Int32),at DateTime,"+
		"tags Array(String),shares Array(Nullable(Float64)),part UInt32,n Int64,x Float64")
	at := time.Unix(1_800_000_000, 0).UTC()
	r := table[row]{l}.row(nil, &row{B: 7, A: "a", Value: value{Level: "ordinal"}, At: at, Part: 2, N: -1, X: 0.5})
	vals := []any{uint64(7), "a", "ordinal", (*int32)(nil), at, []string{}, []*float64{}, uint32(2), int64(-1), 0.5}
	if r.Table != "t" || !reflect.DeepEqual(r.Values, vals) {
		t.Fatalf("row %s %#v\nwant %#v", r.Table, r.Values, vals)
	}

	// A label value's regions and extent: a list of records as parallel arrays, an
	// optional record as Nullable columns (strings "" and lists [] when absent).
	type region struct {
		Label string   `json:"label"`
		Start int64    `json:"start"`
		Score *float64 `json:"score"`
	}
	type regions struct {
		Spans  []region        `json:"spans"`
		Extent *schemas.Extent `json:"extent"`
		Pref   *struct {
			Responses []string `json:"responses"`
			Strength  int32    `json:"strength"`
		} `json:"pref"`
	}
	rl := wantColumns(t, reflect.TypeFor[regions](), "spans_label Array(String),spans_start Array(Int64),spans_score Array(Nullable(Float64)),"+
		"extent_unit String,extent_length Nullable(Int64),extent_width Nullable(Float64),extent_height Nullable(Float64),"+
		"pref_responses Array(String),pref_strength Nullable(Int32)")
	score, length := 0.5, int64(120)
	got := table[regions]{rl}.row(nil, &regions{Spans: []region{{"PER", 3, &score}, {"LOC", 9, nil}},
		Extent: &schemas.Extent{Unit: schemas.UnitCharacters, Length: &length}}).Values
	want := []any{[]string{"PER", "LOC"}, []int64{3, 9}, []*float64{&score, nil}, "characters", &length, (*float64)(nil), (*float64)(nil),
		[]string{}, (*int32)(nil)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("regions row %#v\nwant %#v", got, want)
	}

	typed, err := newLayout(reflect.TypeFor[struct {
		ItemID string `ch:"item_id"`
	}](), "typed", true)
	if err != nil {
		t.Fatal(err)
	}
	cols := typed.Table().Columns
	if len(cols) != len(envelopeLayout.cols)+1 || cols[0] != "event_id" || cols[len(cols)-1] != "item_id" {
		t.Fatalf("typed table columns %v", cols)
	}
	env := (&envelope{Meta: meta{EventID: "e"}, KafkaPartition: 3}).values()
	vals = table[struct {
		ItemID string `ch:"item_id"`
	}]{typed}.row(env, &struct {
		ItemID string `ch:"item_id"`
	}{"i"}).Values
	if len(vals) != len(cols) || vals[0] != "e" || vals[len(vals)-1] != "i" || vals[10] != uint32(3) {
		t.Fatalf("typed row %v", vals)
	}
}

// TestEventStructsAreRows: an event struct is a row as it is: columns by JSON name, its
// embedded envelope left out, named strings and bytes as String, omitted fields and their
// columns left out, the columns of a struct inlined through a pointer in place.
func TestEventStructsAreRows(t *testing.T) {
	type row struct {
		Event *schemas.EventRejected `ch:",inline"`
		Extra string                 `ch:"extra"`
	}
	l := wantColumns(t, reflect.TypeFor[row](), "source String,original String,reason String,original_producer String,"+
		"original_topic String,original_partition Nullable(Int32),extra String", "original_offset", "field")
	r := table[row]{l}.row(nil, &row{Event: &schemas.EventRejected{Envelope: schemas.Envelope{EventID: "e"}, Source: "s",
		Original: []byte("{bad"), OriginalPartition: ptr(int32(4))}, Extra: "x"})
	if r.Values[0] != "s" || r.Values[1] != "{bad" || *r.Values[5].(*int32) != 4 || r.Values[6] != "x" {
		t.Fatalf("row %#v", r.Values)
	}
	type level struct {
		Level schemas.MeasurementLevel `json:"level"`
	}
	lv, err := newLayout(reflect.TypeFor[level](), "t", false)
	if err != nil || lv.cols[0].chType != "String" {
		t.Fatalf("a named string: %v %v", lv, err)
	}
	if v := (table[level]{lv}).row(nil, &level{schemas.LevelOrdinal}).Values[0]; v != "ordinal" {
		t.Fatalf("a named string is written as %#v, want a plain string", v)
	}
}

func ptr[T any](v T) *T { return &v }

// wantColumns declares a table of rows rt, less omit, and requires its columns to be want
// ("name type,...").
func wantColumns(t *testing.T, rt reflect.Type, want string, omit ...string) *layout {
	t.Helper()
	l, err := newLayout(rt, "t", false, omit...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range l.columns() {
		got = append(got, c.name+" "+c.chType)
	}
	if strings.Join(got, ",") != want {
		t.Fatalf("columns\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	return l
}

// TestLayoutRefuses: a row struct outside the mapping fails its table's declaration.
func TestLayoutRefuses(t *testing.T) {
	tests := map[string]struct {
		rt   reflect.Type
		want string
	}{
		"untagged field": {reflect.TypeFor[struct {
			A string
		}](), "field A has no ch"},
		"json -": {reflect.TypeFor[struct {
			A string `json:"-"`
		}](), "field A has no ch"},
		"optional record of a record": {reflect.TypeFor[struct {
			P *struct {
				Inner schemas.PreLabelRef `json:"inner"`
			} `json:"p"`
		}](), "an optional record holds scalars and lists of scalars only"},
		"list of records of lists": {reflect.TypeFor[struct {
			L []struct {
				Tags []string `json:"tags"`
			} `json:"l"`
		}](), "cannot be an array element"},
		"inline scalar": {reflect.TypeFor[struct {
			A string `ch:",inline"`
		}](), "field A: string has no ClickHouse type"},
		"unexported field": {reflect.TypeFor[struct {
			a string `ch:"a"`
		}](), "field a is not exported"},
		"no ClickHouse type": {reflect.TypeFor[struct {
			M map[string]string `ch:"m"`
		}](), "map[string]string has no ClickHouse type"},
		"named type": {reflect.TypeFor[struct {
			D time.Duration `ch:"d"`
		}](), "time.Duration has no ClickHouse type"},
		"nullable array": {reflect.TypeFor[struct {
			P *[]string `ch:"p"`
		}](), "has no ClickHouse type"},
		"column twice": {reflect.TypeFor[struct {
			A string `ch:"a"`
			B string `ch:"a"`
		}](), "column a is declared twice"},
		"envelope column twice": {reflect.TypeFor[struct {
			E string `ch:"event_id"`
		}](), "column event_id is declared twice"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := newLayout(tc.rt, "t", true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
