package schemas

// legacyFingerprints are the fingerprints Assay wrote before it computed the
// spec's (issue 14): goavro v2.15's Rabin of its own canonical form, which
// prepends the enclosing namespace to every nested named type that declares
// one, and so differs from the Parsing Canonical Form for every schema below
// (all of them nest io.assay.common.Trace). Records in existing logs carry
// them, so they stay in the registry as decode-only aliases: Decode, TypeOf
// and SchemaByFingerprint accept them, Encode never writes them.
//
// The values are history, pinned here rather than recomputed with goavro, so
// that upgrading goavro (which may fix its canonical form) cannot make old
// records undecodable. The golden files in testdata/legacy-fingerprint carry
// them and prove they decode. A schema version added after issue 14 was never
// written with a legacy fingerprint and gets no entry.
var legacyFingerprints = map[string]uint64{
	"avro/datasets/CoverageTargetSet.v1.avsc":       0xfe12f4d2c4c6f6f6,
	"avro/datasets/DatasetVersionCommitted.v1.avsc": 0x4e8e68dd376c2a02,
	"avro/datasets/TrainingRunRegistered.v1.avsc":   0x8a3953af6c6191b0,
	"avro/dlq/EventRejected.v1.avsc":                0x783b952f8638a479,
	"avro/findings/EvalFindingReported.v1.avsc":     0x6e4d45c83df780d3,
	"avro/findings/RemediationShipped.v1.avsc":      0xa1de905a80cb0947,
	"avro/findings/RemediationStarted.v1.avsc":      0x79a068f2155dcec3,
	"avro/items/ItemIngested.v1.avsc":               0xdfbec264a90620eb,
	"avro/items/PreLabelProposed.v1.avsc":           0x22227c11de639ad3,
	"avro/items/RoutingDecided.v1.avsc":             0x52f92e56bdb1736a,
	"avro/labels/GoldLabelSet.v1.avsc":              0xb6c9092b23514518,
	"avro/labels/LabelRetracted.v1.avsc":            0x97300ce08055165e,
	"avro/labels/LabelSubmitted.v1.avsc":            0xb179b7f226811a29,
	"avro/labels/LabelSubmitted.v2.avsc":            0x5fa7cdcc34b11f92,
	"avro/reviews/ReviewCompleted.v1.avsc":          0xa99bcac87a78e550,
}
