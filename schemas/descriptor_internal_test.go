package schemas

import (
	"strings"
	"testing"
)

// probe is an event whose family and key the cases choose.
type probe struct {
	Envelope
	ItemID string `json:"item_id"`
	Other  string `json:"other"`
}

var (
	probeFamily   Family
	probeKeyOther bool // Key returns Other instead of ItemID
)

func (*probe) Type() EventType { return "Probe" }
func (*probe) Family() Family  { return probeFamily }
func (*probe) Validate() error { return nil }

func (e *probe) Key() string {
	if probeKeyOther {
		return e.Other
	}
	return e.ItemID
}

// TestIndexDescriptorsRefuses: what the compiler cannot check about a descriptor fails the
// package's init, naming the type.
func TestIndexDescriptorsRefuses(t *testing.T) {
	tests := map[string]struct {
		family   Family
		keyOther bool
		twice    bool
		want     string
	}{
		"key method reads another field": {family: FamilyItems, keyOther: true, want: "Probe: Key() returns"},
		"no key field":                   {family: FamilyDatasets, want: "keyed by dataset_id, which is not a string field"},
		"unknown family":                 {family: "strays", want: `unknown family "strays"`},
		"declared twice":                 {family: FamilyItems, twice: true, want: "Probe is declared by"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			probeFamily, probeKeyOther = tc.family, tc.keyOther
			ds := []*Descriptor{newDescriptor(func(Subject) *probe { return nil })}
			if tc.twice {
				ds = append(ds, ds[0])
			}
			_, _, err := indexDescriptors(ds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := indexDescriptors(catalog.declared); err != nil {
		t.Fatalf("the contract's own descriptors: %v", err)
	}
}
