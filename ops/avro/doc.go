// Package avro checks Assay's event contract against an Avro implementation Assay did not
// write: Apache Avro for Java (org.apache.avro:avro, pinned in pom.xml, from Maven Central).
// README.md promises that any consumer finds a record's writer schema by the fingerprint in its
// single-object header, without a registry; the tests here hold Assay to it in `make test`:
//
//   - SchemaNormalization's Parsing Canonical Form and parsingFingerprint64 equal
//     schemas.Schema.Canonical and Fingerprint for every embedded .avsc, and for the
//     canonical-form cases in schemas/testdata/canonical-form.json (which schemas' own tests
//     check on the Go side);
//   - a BinaryMessageDecoder whose SchemaStore.Cache holds every schema decodes every golden
//     record (schemas/testdata), records Assay's codec encodes for every event type, and every
//     record of a pipeline run's log (gateway, router, DLQ, on the real broker), each datum
//     equal field by field to what Assay meant (the Go event, written in Avro's JSON encoding
//     by AvroJSON), and re-encodes to the record's own bytes;
//   - records with the fingerprints Assay wrote before it followed the spec (decode-only
//     aliases in schemas) are refused by it, which is why they are only aliases.
//
// Check.java, next to this file, does the Java side in source-file mode (so it is never
// stale); ASSAY_AVRO_CLASSPATH names a classpath holding Apache Avro (setup.sh in this
// directory collects the jars with Maven into .data/avro and prints it; make test sets it).
// Without it the checks skip, or fail under ASSAY_INTEGRATION=1, as for the servers.
package avro
