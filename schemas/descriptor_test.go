package schemas_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/schematest"
)

// TestDescriptorsDeriveTheContract: the lists and lookups of the contract are the
// descriptors' facts, in one consistent order.
func TestDescriptorsDeriveTheContract(t *testing.T) {
	ds := schemas.Descriptors()
	if len(ds) == 0 || len(ds) != len(schemas.EventTypes()) {
		t.Fatalf("%d descriptors for %d event types", len(ds), len(schemas.EventTypes()))
	}
	fams := schemas.Families()
	last := -1
	for i, d := range ds {
		if schemas.EventTypes()[i] != d.Type {
			t.Errorf("EventTypes()[%d] = %s, descriptor %s", i, schemas.EventTypes()[i], d.Type)
		}
		fi := slices.Index(fams, d.Family)
		if fi < last {
			t.Errorf("%s (family %s) comes after a type of a later family", d.Type, d.Family)
		}
		last = fi
		if d.Type.Family() != d.Family || !d.Type.Known() || !slices.Contains(d.Family.EventTypes(), d.Type) {
			t.Errorf("%s: Family() = %s, descriptor %s", d.Type, d.Type.Family(), d.Family)
		}
		if d.Topic() != d.Family.Topic() || d.KeyField != d.Family.KeyField() || d.KeyField == "" {
			t.Errorf("%s: topic %s key %s", d.Type, d.Topic(), d.KeyField)
		}
		ev, err := schemas.New(d.Type)
		if err != nil || reflect.TypeOf(ev).Elem() != d.GoType || reflect.TypeOf(d.New()) != reflect.TypeOf(ev) {
			t.Errorf("%s: New gives %T (%v), GoType %s", d.Type, ev, err, d.GoType)
		}
		if got, ok := schemas.DescriptorOf(d.Type); !ok || got.Type != d.Type || got.GoType != d.GoType {
			t.Errorf("DescriptorOf(%s) = %+v, %v", d.Type, got, ok)
		}
		vs := d.Schemas()
		cur, _ := schemas.CurrentSchema(d.Type)
		if len(vs) == 0 || vs[len(vs)-1].Fingerprint != cur.Fingerprint || !strings.HasPrefix(cur.Path, "avro/"+string(d.Family)+"/") {
			t.Errorf("%s: %d schema versions, current %s", d.Type, len(vs), cur.Path)
		}
	}
	for _, f := range fams {
		if len(f.EventTypes()) == 0 {
			t.Errorf("family %s has no event type", f)
		}
	}
	if _, ok := schemas.DescriptorOf("Nope"); ok {
		t.Error("DescriptorOf(Nope) found a descriptor")
	}
	if _, err := schemas.Example("Nope", schemas.Subject{N: 1}); !errors.Is(err, schemas.ErrUnknownEventType) {
		t.Errorf("Example(Nope): %v", err)
	}
}

// TestExamplesOfAnySubject: the one fixture source gives a valid, encodable event of every
// type for any subject; one subject's events share their keys (they are about one item, one
// dataset, one finding) and no two examples of different subjects share an event id or a key
// but their project's.
func TestExamplesOfAnySubject(t *testing.T) {
	subjects := []schemas.Subject{
		{N: 1},
		{N: 2},
		{Prefix: "run-", N: 7},
		{Prefix: "run-", N: 8, Rand: rand.New(rand.NewPCG(1, 2))},
	}
	project := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested).ProjectID
	eventIDs := map[string]schemas.Subject{}
	keys := map[string]schemas.Subject{}
	for _, s := range subjects {
		byField := map[string]string{}
		for _, d := range schemas.Descriptors() {
			ev := d.Example(s)
			if ev.Type() != d.Type || ev.Meta().EventType != d.Type {
				t.Fatalf("%+v: example of %s is %s (event_type %q)", s, d.Type, ev.Type(), ev.Meta().EventType)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("%+v: %s invalid: %v", s, d.Type, err)
				continue
			}
			b, err := schemas.Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := schemas.Decode(b); err != nil || !reflect.DeepEqual(got, ev) {
				t.Errorf("%+v: %s does not round trip (%v)", s, d.Type, err)
			}
			id := ev.Meta().EventID
			if other, dup := eventIDs[id]; dup {
				t.Errorf("event id %s of %+v and %+v", id, s, other)
			}
			eventIDs[id] = s
			if d.Family == schemas.FamilyDLQ {
				continue // keyed by the rejecting component, not by a subject
			}
			k := ev.Key()
			if prev, ok := byField[d.KeyField]; ok && prev != k {
				t.Errorf("%+v: %s keyed %q, the subject's other %s is %q", s, d.Type, k, d.KeyField, prev)
			}
			byField[d.KeyField] = k
			if other, dup := keys[k]; dup && !reflect.DeepEqual(other, s) && k != project {
				t.Errorf("key %s of %+v and %+v", k, s, other)
			}
			keys[k] = s
		}
	}
}
