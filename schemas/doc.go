// Package schemas is Assay's event contract: every other package imports it
// to name, build, validate, encode and decode events.
//
// It owns:
//
//   - the Avro schemas (avro/<family>/<EventType>.v<N>.avsc, embedded), one
//     self-contained file per event type and version, each starting with the
//     same envelope fields (event_id, event_type, occurred_at, recorded_at,
//     producer, trace);
//   - the families and their topics (assay.<family>.v1) and the partition key
//     of every event, so that state stays partition-local (DESIGN.md, Events);
//   - one Descriptor per event type (descriptor.go), declared beside its Go
//     struct in events_<family>.go, from which everything that lists event
//     types derives: EventTypes, Family, New, the schema registry, the
//     gateway's decoding, the ledger's tables (checked by its tests) and the
//     fixtures (Example of a Subject: one generator of a valid event of every
//     type, used by schematest, the ingest tests and loadtest/workload);
//   - typed Go events whose JSON form (snake_case, the Avro field names) is
//     what the ingest gateway accepts, and their Validate rules, so the gateway
//     and the stream runtime reject exactly the same things;
//   - the codec: Avro single-object encoding (0xC3 0x01, 8-byte little-endian
//     CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form,
//     Avro binary body). Decode finds the writer schema by fingerprint among
//     all embedded versions, so no registry is needed and old versions keep
//     decoding: fields a writer did not know take the reader's defaults.
//     Encode writes the body from the Go struct directly (encode.go, no
//     goavro native form); goavro stays the reference: the tests and
//     FuzzTypedEncoder hold the typed encoder to goavro's bytes for every
//     schema, and a value goavro refuses is refused with goavro's error.
//     Decode reads the body straight into the current Go struct too
//     (decode.go): a decoder per schema version, compiled at init, resolves
//     the writer's schema against the current one (fields matched by name,
//     defaults for the fields the writer lacked, enums by symbol), and checks
//     every length and count against the bytes left before allocating, so no
//     record on a topic makes it allocate beyond its size, or panic. The
//     tests and FuzzTypedDecoder hold it to goavro's native form read into
//     the struct, the way Decode worked before: the same event for every
//     schema version, or both refuse the bytes.
//
// Fingerprints are the Avro specification's (canonical.go): the Parsing
// Canonical Form and CRC-64-AVRO computed here, equal to Apache Avro's
// SchemaNormalization.parsingFingerprint64, so any Avro library's
// single-object decoder with a schema store holding the .avsc files finds a
// record's writer schema (ops/avro proves it with Apache Avro for Java).
// goavro's CanonicalSchema is not used for them: v2.15 prepends the parent
// namespace to a nested type that declares its own. The fingerprints Assay
// wrote with it before are decode-only aliases (legacy.go, the golden files
// in testdata/legacy-fingerprint): Decode and TypeOf accept them, Encode
// never writes them.
//
// The Avro subset (contract.go enforces it at init; a schema outside it does
// not load). It is what the schemas have always used, so that the Go mapping
// is total, encoding is deterministic and every Avro library reads the
// schemas and their fingerprints alike:
//
//   - types: records, enums, arrays, and the union ["null", T]; primitives
//     string, long, int, double, boolean and bytes, always written as plain
//     names ("long", never {"type": "long"}). No maps, fixed, float, null on
//     its own, error types, nested or other unions, and no logical types
//     (instants are long epoch milliseconds, durations long milliseconds);
//     a boolean is a required flag (false unless stated, Go bool), never
//     optional, an array's items or defaulted, so a version can never add
//     one: a later flag is an optional record or long;
//   - optional values: ["null", T] with T long, int, double or a record, and
//     the default null; a string is never optional (its default "" means "not
//     set"), nor is an array (its default [] is empty); arrays hold strings or
//     records and appear only as a field's type;
//   - defaults: "" on strings that may be left out, null on every optional
//     field, [] on every array; no other field has one (so a field added in
//     a new version, which needs a default, is one of these three kinds);
//   - names: the top-level record is io.assay.<family>.<EventType>; named
//     types are UpperCamelCase short names, in io.assay.common (shared:
//     Trace, LabelValue, MeasurementLevel, identical everywhere) or in their
//     file's io.assay.<family>, declared with "namespace" or inherited from
//     the enclosing type, never the null namespace; field names and enum
//     symbols are lower snake_case (field names are also the JSON names), so
//     no field is named like a type;
//   - each named type is defined once per file, inline where first used; a
//     later use refers to it by its full name (io.assay....), never by a
//     short name that needs the namespace rules to resolve;
//   - attributes: type, name, namespace, doc, fields, symbols, items, default
//     only; no aliases, order, logicalType or custom properties.
//
// Adding an event type: in its family's events_<family>.go, the EventType
// constant, the struct (JSON names = Avro names) with Type, Family, Key and
// Validate, and a describe call with its example; the schema
// avro/<family>/<Type>.v1.avsc; the golden file (go test ./schemas -run
// TestGolden -update). Outside this package: the ledger's table
// (streams/ledger/tables.go, one eventTable line when the table is the event
// as it is) with a new ClickHouse migration, README's tables, and the role
// that writes it (schemas/access: a line in its writers table, a row in its
// test's matrix; until then no principal may write the type). Nothing else
// lists event types: tests fail until each of these exists. A new
// family is a constant and a row (with its key field) of the families table
// in types.go; its topic is created with the others.
//
// Evolution rule: never edit a committed .avsc that has been used; add
// <EventType>.v<N+1>.avsc in which every new field has a default, update the
// Go struct, and keep the old file (the golden tests prove it still decodes).
//
// Conventions of the Go types: optional strings are plain strings whose empty
// value means "not set" (Avro default ""); optional numbers and records are
// pointers (Avro ["null", T] with default null); lists are slices (Avro
// arrays, default []). Maps are never used, so encoding is deterministic.
package schemas
