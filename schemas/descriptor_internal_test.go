package schemas

import (
	"strings"
	"testing"
)

// keyedWrong is an event whose Key does not return its family's key field.
type keyedWrong struct {
	Envelope
	ItemID string `json:"item_id"`
	Other  string `json:"other"`
}

func (*keyedWrong) Type() EventType { return "KeyedWrong" }
func (*keyedWrong) Family() Family  { return FamilyItems }
func (e *keyedWrong) Key() string   { return e.Other }
func (*keyedWrong) Validate() error { return nil }

// noKeyField lacks its family's key field.
type noKeyField struct {
	Envelope
	Name string `json:"name"`
}

func (*noKeyField) Type() EventType { return "NoKeyField" }
func (*noKeyField) Family() Family  { return FamilyDatasets }
func (e *noKeyField) Key() string   { return e.Name }
func (*noKeyField) Validate() error { return nil }

// strayFamily names a family that is not in the families table.
type strayFamily struct {
	Envelope
	ItemID string `json:"item_id"`
}

func (*strayFamily) Type() EventType { return "StrayFamily" }
func (*strayFamily) Family() Family  { return "strays" }
func (e *strayFamily) Key() string   { return e.ItemID }
func (*strayFamily) Validate() error { return nil }

// TestIndexDescriptorsRefuses: what the compiler cannot check about a descriptor fails the
// package's init, naming the type.
func TestIndexDescriptorsRefuses(t *testing.T) {
	ex := func(s Subject) *ItemIngested { return &ItemIngested{} }
	tests := map[string]struct {
		ds   []*Descriptor
		want string
	}{
		"key method reads another field": {[]*Descriptor{newDescriptor(func(Subject) *keyedWrong { return nil })}, "KeyedWrong: Key() returns"},
		"no key field":                   {[]*Descriptor{newDescriptor(func(Subject) *noKeyField { return nil })}, "keyed by dataset_id, which is not a string field"},
		"unknown family":                 {[]*Descriptor{newDescriptor(func(Subject) *strayFamily { return nil })}, `unknown family "strays"`},
		"declared twice":                 {[]*Descriptor{newDescriptor(ex), newDescriptor(ex)}, "ItemIngested is declared by"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := indexDescriptors(tc.ds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := indexDescriptors(contract.declared); err != nil {
		t.Fatalf("the contract's own descriptors: %v", err)
	}
}
