package runtime

import "testing"

// TestColumnarTypes: the column types ClickHouse names in an insert's header
// that the sink appends as typed slices, and some it must not (their typed
// appends differ from row appends in clickhouse-go, or they have no single
// Go type).
func TestColumnarTypes(t *testing.T) {
	for chType, want := range map[string]string{
		"String": "String", "UInt8": "UInt8", "UInt32": "UInt32", "UInt64": "UInt64", "Int32": "Int32",
		"Int64": "Int64", "Float64": "Float64", "DateTime": "DateTime", "DateTime('UTC')": "DateTime", "Date": "Date",
		"DateTime64(3)": "", "Nullable(String)": "", "Nullable(Date)": "", "Array(String)": "",
		"Enum8('a' = 1)": "", "LowCardinality(String)": "", "FixedString(4)": "", "UUID": "",
	} {
		if got := columnar(chType); got != want {
			t.Errorf("columnar(%q) = %q, want %q", chType, got, want)
		}
	}
}
