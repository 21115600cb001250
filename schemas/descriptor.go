package schemas

import (
	"fmt"
	"reflect"
	"slices"
)

// Descriptor is what the contract knows about one event type. Each event
// type is declared in one place, its family's events_<family>.go: the type
// constant, the Go struct with its Type, Family, Key and Validate methods,
// and one describe call that registers the struct with an example of it.
// Everything that lists or dispatches on event types derives from the
// descriptors: EventTypes, EventType.Family and Family.EventTypes, New, the
// schema registry (which requires avro/<family>/<Type>.v<N>.avsc for each
// and maps it onto GoType), the ingest gateway (which decodes into New), the
// fixtures (Example, used by schematest, the ingest tests and
// loadtest/workload) and the ledger (whose tests require a table per type).
type Descriptor struct {
	// Type names the event type; it equals the Avro record name and
	// event_type.
	Type EventType
	// Family is the family of the type, and so its topic.
	Family Family
	// KeyField is the payload field (its JSON and Avro name) whose value is
	// the Kafka record key: Family.KeyField(), which Key returns.
	KeyField string
	// GoType is the event struct; New returns a pointer to a zero one.
	GoType reflect.Type

	newEvent func() Event
	example  func(Subject) Event
}

// Topic is the topic of the type's family, without deployment prefix.
func (d Descriptor) Topic() string { return d.Family.Topic() }

// New returns a zero event of the type.
func (d Descriptor) New() Event { return d.newEvent() }

// Example returns a valid event of the type about s (see Subject).
func (d Descriptor) Example(s Subject) Event { return d.example(s) }

// Schemas lists the embedded schema versions of the type, oldest first; the
// last one is what Encode writes.
func (d Descriptor) Schemas() []Schema {
	var out []Schema
	for _, sv := range registry.versions[d.Type] {
		out = append(out, sv.Schema)
	}
	return out
}

// Descriptors returns the descriptor of every event type, in EventTypes
// order.
func Descriptors() []Descriptor {
	out := make([]Descriptor, len(catalog.ordered))
	for i, d := range catalog.ordered {
		out[i] = *d
	}
	return out
}

// DescriptorOf returns the descriptor of t; ok is false for an unknown type.
func DescriptorOf(t EventType) (d Descriptor, ok bool) {
	p, ok := catalog.byType[t]
	if !ok {
		return Descriptor{}, false
	}
	return *p, true
}

// catalog holds the descriptors: declared in package variable
// initialization (describe), ordered and indexed at init (buildCatalog),
// read-only afterwards.
var catalog struct {
	declared []*Descriptor
	ordered  []*Descriptor // grouped by family in Families order, then as declared
	byType   map[EventType]*Descriptor
}

// describe registers the event type whose struct is E, with a function that
// builds a valid example of it about a Subject. It is called once per event
// type, beside the struct, as
//
//	var _ = describe(func(s Subject) *LabelRetracted { return &LabelRetracted{...} })
//
// Type and Family come from the struct's own methods, so they are written
// once (Go cannot give a struct methods that read its fields from
// elsewhere); buildCatalog checks the rest at init.
func describe[E any, P interface {
	*E
	Event
}](example func(Subject) P) struct{} {
	catalog.declared = append(catalog.declared, newDescriptor(example))
	return struct{}{}
}

// newDescriptor is the descriptor of E; example's events get their
// event_type, like encoded ones.
func newDescriptor[E any, P interface {
	*E
	Event
}](example func(Subject) P) *Descriptor {
	var zero P = new(E)
	return &Descriptor{
		Type:     zero.Type(),
		Family:   zero.Family(),
		GoType:   reflect.TypeFor[E](),
		newEvent: func() Event { return P(new(E)) },
		example: func(s Subject) Event {
			ev := example(s)
			ev.Meta().EventType = ev.Type()
			return ev
		},
	}
}

// buildCatalog orders and indexes the declared descriptors.
func buildCatalog() error {
	var err error
	catalog.ordered, catalog.byType, err = indexDescriptors(catalog.declared)
	return err
}

// indexDescriptors orders descriptors (grouped by family in Families order,
// then as declared), indexes them by type and checks what the compiler
// cannot: each type is declared once, in a known family, and its Key method
// returns the family's key field (which it fills in).
func indexDescriptors(declared []*Descriptor) ([]*Descriptor, map[EventType]*Descriptor, error) {
	byType := map[EventType]*Descriptor{}
	fams := Families()
	for _, d := range declared {
		if d.Type == "" {
			return nil, nil, fmt.Errorf("%s: Type() is empty", d.GoType)
		}
		if other, dup := byType[d.Type]; dup {
			return nil, nil, fmt.Errorf("event type %s is declared by %s and %s", d.Type, other.GoType, d.GoType)
		}
		if !slices.Contains(fams, d.Family) {
			return nil, nil, fmt.Errorf("%s: unknown family %q", d.Type, d.Family)
		}
		d.KeyField = d.Family.KeyField()
		if err := checkKey(d); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d.Type, err)
		}
		byType[d.Type] = d
	}
	ordered := slices.Clone(declared)
	slices.SortStableFunc(ordered, func(a, b *Descriptor) int {
		return slices.Index(fams, a.Family) - slices.Index(fams, b.Family)
	})
	return ordered, byType, nil
}

// checkKey requires the struct to have a string field named (in JSON) like
// the family's key field, and Key to return it.
func checkKey(d *Descriptor) error {
	fields := map[string][]int{}
	jsonFields(d.GoType, nil, fields)
	idx, ok := fields[d.KeyField]
	if !ok || d.GoType.FieldByIndex(idx).Type.Kind() != reflect.String {
		return fmt.Errorf("family %s is keyed by %s, which is not a string field of %s", d.Family, d.KeyField, d.GoType)
	}
	ev := d.New()
	const probe = "key-probe"
	reflect.ValueOf(ev).Elem().FieldByIndex(idx).SetString(probe)
	if got := ev.Key(); got != probe {
		return fmt.Errorf("Key() returns %q, not the value of %s", got, d.KeyField)
	}
	return nil
}
