package schemas

import (
	"fmt"
	"reflect"
)

// EncodeVersion encodes ev with an older schema version of its type, as a
// producer built against that version would have: fields the version lacks
// are dropped. Tests use it to write the golden bytes of old versions.
func EncodeVersion(ev Event, version int) ([]byte, error) {
	vs := registry.versions[ev.Type()]
	if version < 1 || version > len(vs) {
		return nil, fmt.Errorf("%s has no v%d", ev.Type(), version)
	}
	sv := vs[version-1]
	native := toNative(registry.plans[ev.Type()], reflect.ValueOf(ev).Elem()).(map[string]any)
	native["event_type"] = string(ev.Type())
	keep := map[string]bool{}
	for _, f := range sv.avro.fields {
		keep[f.name] = true
	}
	for k := range native {
		if !keep[k] {
			delete(native, k)
		}
	}
	return sv.appendSingle(nil, native)
}

// EncodeNative encodes a raw native datum with a schema version, bypassing
// the Go mapping and Validate, to craft inputs Encode would refuse.
func EncodeNative(t EventType, version int, native map[string]any) ([]byte, error) {
	return registry.versions[t][version-1].appendSingle(nil, native)
}

// Native returns ev in goavro's native form (current schema).
func Native(ev Event) map[string]any {
	return toNative(registry.plans[ev.Type()], reflect.ValueOf(ev).Elem()).(map[string]any)
}

// CanonicalForm and Fingerprint64 expose the spec's transformations to the
// external tests.
var (
	CanonicalForm = canonicalForm
	Fingerprint64 = fingerprint64
	CheckContract = checkContract
)

// DecodeGoavro is Decode as it was before the typed decoder: goavro's native form
// (decodeGoavro), the baseline of the decode benchmarks.
func DecodeGoavro(b []byte) (Event, error) {
	fp, body, err := Header(b)
	if err != nil {
		return nil, err
	}
	sv, ok := registry.byFP[fp]
	if !ok {
		return nil, fmt.Errorf("decode: %w: %016x", ErrUnknownFingerprint, fp)
	}
	return decodeGoavro(sv, body)
}
