package runtime

import (
	"slices"
	"testing"
)

// TestAddIsolationKeepsTheFirstTableByName: whatever order a record's
// refusals arrive in, its isolation names the first refusing table by name
// (the DLQ id derives from it) and the others once each, sorted.
func TestAddIsolationKeepsTheFirstTableByName(t *testing.T) {
	for _, order := range [][]string{{"a", "b", "c"}, {"c", "a", "b"}, {"b", "c", "a", "a", "c"}} {
		b := newBatch()
		for _, table := range order {
			b.addIsolation(&isolation{rec: 1, table: table})
		}
		b.addIsolation(&isolation{rec: 2, table: "z"})
		if iso := b.isolated[1]; iso.table != "a" || !slices.Equal(iso.also, []string{"b", "c"}) {
			t.Errorf("refusals %v: isolation names %s, also %v; want a, also [b c]", order, iso.table, iso.also)
		}
		if iso := b.isolated[2]; iso.table != "z" || len(iso.also) != 0 || len(b.isolated) != 2 {
			t.Errorf("refusals %v: the other record's isolation %+v", order, iso)
		}
	}
}
