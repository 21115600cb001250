package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"

	"github.com/linkedin/goavro/v2"
)

// avscFS holds every schema version ever published; old versions stay so
// their messages keep decoding.
//
//go:embed avro/*/*.avsc
var avscFS embed.FS

// Schema describes one embedded schema version, for tooling: registering
// with a schema registry, printing, the CLI's topic/contract admin.
type Schema struct {
	// Type is the event type the schema encodes.
	Type EventType
	// Version is the N of <EventType>.v<N>.avsc; higher is newer.
	Version int
	// Fingerprint is the CRC-64-AVRO (Rabin) fingerprint of Canonical, as
	// the Avro specification defines it: the id Encode writes into the
	// single-object header, which Apache Avro's SchemaNormalization
	// .parsingFingerprint64 (or any other Avro library) computes alike.
	Fingerprint uint64
	// LegacyFingerprint is the fingerprint Assay wrote for this version
	// before it followed the spec (goavro v2.15's; see legacy.go), accepted
	// by Decode and never written; 0 for versions that never had one.
	LegacyFingerprint uint64
	// Path is the file inside this package, e.g. "avro/labels/LabelSubmitted.v2.avsc".
	Path string
	// JSON is the .avsc text as written (with docs).
	JSON string
	// Canonical is the schema's Parsing Canonical Form (Avro specification),
	// the UTF-8 text the fingerprint is computed over.
	Canonical string
}

// schemaVersion is a Schema plus what the codec needs at run time.
type schemaVersion struct {
	Schema
	codec *goavro.Codec
	avro  *avroType
	dec   *decoder // this version's bodies into the current Go struct (decode.go)
	// newEvent returns a new zero event of the type (its descriptor's New).
	newEvent func() Event
}

// registry is built once at init from the embedded files; it is read-only
// afterwards, so the codec is safe for concurrent use without locks.
var registry struct {
	// byFP finds a version by its fingerprint or its legacy fingerprint.
	byFP     map[uint64]*schemaVersion
	current  map[EventType]*schemaVersion
	versions map[EventType][]*schemaVersion
	plans    map[EventType]*plan
}

var avscName = regexp.MustCompile(`^avro/([a-z]+)/([A-Za-z]+)\.v([1-9][0-9]*)\.avsc$`)

func init() {
	err := buildCatalog()
	if err == nil {
		err = loadRegistry()
	}
	if err != nil {
		// The descriptors and schemas are compiled into the binary; a
		// broken one is a programming error that every test run catches.
		panic("schemas: " + err.Error())
	}
}

func loadRegistry() error {
	registry.byFP = map[uint64]*schemaVersion{}
	registry.current = map[EventType]*schemaVersion{}
	registry.versions = map[EventType][]*schemaVersion{}
	registry.plans = map[EventType]*plan{}
	paths, err := fs.Glob(avscFS, "avro/*/*.avsc")
	if err != nil {
		return err
	}
	byPath := map[string]*schemaVersion{}
	for _, p := range paths {
		sv, err := loadSchema(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if other, dup := registry.byFP[sv.Fingerprint]; dup {
			return fmt.Errorf("%s and %s have the same fingerprint %016x", p, other.Path, sv.Fingerprint)
		}
		registry.byFP[sv.Fingerprint] = sv
		registry.versions[sv.Type] = append(registry.versions[sv.Type], sv)
		byPath[sv.Path] = sv
	}
	// Aliases go in after every spec fingerprint, so that a collision with
	// any of them is caught whatever the file order.
	for p, fp := range legacyFingerprints {
		sv := byPath[p]
		if sv == nil {
			return fmt.Errorf("legacy fingerprint %016x names %s, which is not embedded", fp, p)
		}
		if other, dup := registry.byFP[fp]; dup {
			return fmt.Errorf("legacy fingerprint %016x of %s is also the fingerprint of %s", fp, p, other.Path)
		}
		sv.LegacyFingerprint = fp
		registry.byFP[fp] = sv
	}
	for _, d := range catalog.ordered {
		t := d.Type
		vs := registry.versions[t]
		if len(vs) == 0 {
			return fmt.Errorf("no schema for %s", t)
		}
		slices.SortFunc(vs, func(a, b *schemaVersion) int { return a.Version - b.Version })
		for i, sv := range vs {
			if sv.Version != i+1 {
				return fmt.Errorf("%s: versions must be 1..N without gaps, found v%d at position %d", t, sv.Version, i+1)
			}
		}
		cur := vs[len(vs)-1]
		registry.current[t] = cur
		pl, err := compilePlan(cur.avro, d.GoType)
		if err != nil {
			return fmt.Errorf("%s: Go struct does not match %s: %w", t, cur.Path, err)
		}
		registry.plans[t] = pl
		for _, sv := range vs {
			sv.dec, sv.newEvent = compileDecoder(sv.avro, pl, t), d.newEvent
		}
	}
	return nil
}

func loadSchema(p string) (*schemaVersion, error) {
	m := avscName.FindStringSubmatch(p)
	if m == nil {
		return nil, fmt.Errorf("file name must be avro/<family>/<EventType>.v<N>.avsc")
	}
	fam, typ := Family(m[1]), EventType(m[2])
	ver, _ := strconv.Atoi(m[3])
	if typ.Family() != fam {
		return nil, fmt.Errorf("event type %s belongs to family %q, not %q", typ, typ.Family(), fam)
	}
	text, err := avscFS.ReadFile(p)
	if err != nil {
		return nil, err
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		return nil, fmt.Errorf("goavro: %w", err)
	}
	var doc any
	if err := json.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	canonical, err := canonicalForm(doc)
	if err != nil {
		return nil, fmt.Errorf("parsing canonical form: %w", err)
	}
	if err := checkContract(fam, typ, doc); err != nil {
		return nil, err
	}
	at, err := parseSchema(doc)
	if err != nil {
		return nil, err
	}
	computeMinSize(at, map[*avroType]bool{})
	if want := "io.assay." + string(fam) + "." + string(typ); at.kind != kRecord || at.name != want {
		return nil, fmt.Errorf("top-level type must be record %s, is %s", want, at.name)
	}
	return &schemaVersion{
		Schema: Schema{
			Type: typ, Version: ver, Fingerprint: fingerprint64([]byte(canonical)), Path: path.Clean(p),
			JSON: string(text), Canonical: canonical,
		},
		codec: codec,
		avro:  at,
	}, nil
}

// Schemas lists every embedded schema version, in EventTypes order and by
// version, oldest first.
func Schemas() []Schema {
	var out []Schema
	for _, d := range catalog.ordered {
		for _, sv := range registry.versions[d.Type] {
			out = append(out, sv.Schema)
		}
	}
	return out
}

// CurrentSchema returns the newest version of t's schema: the one Encode
// writes and the Go struct mirrors.
func CurrentSchema(t EventType) (Schema, error) {
	sv, ok := registry.current[t]
	if !ok {
		return Schema{}, fmt.Errorf("%w: %q", ErrUnknownEventType, string(t))
	}
	return sv.Schema, nil
}

// Fingerprint returns the fingerprint Encode writes for t (its current
// schema), e.g. for consumers that filter by type without decoding. Records
// written before Assay followed the spec carry the LegacyFingerprint instead;
// TypeOf knows both.
func Fingerprint(t EventType) (uint64, error) {
	s, err := CurrentSchema(t)
	return s.Fingerprint, err
}

// SchemaByFingerprint finds the embedded schema version with fingerprint fp,
// which may also be a version's LegacyFingerprint; ok is false for schemas
// this build does not know.
func SchemaByFingerprint(fp uint64) (s Schema, ok bool) {
	sv, ok := registry.byFP[fp]
	if !ok {
		return Schema{}, false
	}
	return sv.Schema, true
}
