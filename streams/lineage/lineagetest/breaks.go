package lineagetest

import (
	"fmt"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/lineage"
)

// Break is one way a member's chain can break, or one that looks like it but does not: the
// member of the dataset version named Version, alone in it, and the links lineage.Links.Missing
// must name for its chain.
type Break struct {
	Name    string
	Version string
	Member  schemas.Member
	Missing []string
}

// Record is one encoded event with the topic family and key it is produced with.
type Record struct {
	Family schemas.Family
	Key    string
	Value  []byte
}

// Breaks is a history with one dataset version per way a chain can break (and per way that
// does not), for tests that run the same cases against the graph replayed from the log and
// against the ClickHouse read model behind the API. Ids start with prefix; the items belong
// to project and every version to the dataset prefix+"-ds". Beside the one-member versions
// there are:
//
//   - "all": every case's member, so incomplete;
//   - "bad-manifest": a complete member under a manifest digest that does not recompute;
//   - training runs "<prefix>-run-ok" on "complete" (complete), "<prefix>-run-broken" on
//     "complete" and "rejected" (incomplete), "<prefix>-run-ghost" on "complete" and a version
//     never committed (incomplete).
//
// Events the contract refuses (an ingest without source or hash, a label without annotator,
// a manifest that does not recompute) reach a log through an older producer or a bug rather
// than the gateway; they are encoded here without validation, as such a producer would, and
// every record decodes with schemas.Decode. Replaying the records in any order gives the
// same lineage: "latest" is decided by occurred_at, not by position.
func Breaks(prefix, project string, t0 time.Time) ([]Break, []Record, error) {
	ds := prefix + "-ds"
	at := func(m int) int64 { return schemas.Millis(t0.Add(time.Duration(m) * time.Second)) }
	n := 0
	env := func(m int) schemas.Envelope {
		n++
		return schemas.Envelope{EventID: fmt.Sprintf("%s-ev-%03d", prefix, n), OccurredAt: at(m), RecordedAt: at(m) + 10, Producer: "lineagetest"}
	}
	sha := func(item string) string { return SHA(item) }
	var recs []Record
	var errs []error
	put := func(ev schemas.Event, blank map[string]any) {
		b, err := encode(ev, blank)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", ev.Type(), ev.Meta().EventID, err))
			return
		}
		recs = append(recs, Record{Family: ev.Family(), Key: ev.Key(), Value: b})
	}
	item := func(id string, m int, blank map[string]any) {
		put(&schemas.ItemIngested{Envelope: env(m), ItemID: id, Source: "cam-" + prefix, URI: "s3://" + prefix + "/" + id, SHA256: sha(id),
			Modality: "image", DatasetID: ds, ProjectID: project}, blank)
	}
	label := func(id, itemID string, m int, blank map[string]any) {
		put(&schemas.LabelSubmitted{Envelope: env(m), LabelID: id, ItemID: itemID, ProjectID: project, TaskID: prefix + "-task",
			QuestionID: "q", AnnotatorID: "ann-" + id, Cohort: "cohort-" + prefix, GuidelineVersion: "g1", Value: schemas.Nominal("car"), TimeSpentMS: 1000}, blank)
	}
	review := func(labelID, itemID string, m int, v schemas.Verdict) {
		r := &schemas.ReviewCompleted{Envelope: env(m), ReviewID: fmt.Sprintf("%s-r%d", labelID, m), LabelID: labelID, ItemID: itemID,
			ReviewerID: "rev-" + prefix, Verdict: v}
		if v == schemas.VerdictCorrect {
			c := schemas.Nominal("truck")
			r.CorrectedValue = &c
		}
		put(r, nil)
	}
	version := func(v string, m int, blank map[string]any, members ...schemas.Member) {
		put(&schemas.DatasetVersionCommitted{Envelope: env(m), DatasetID: ds, Version: v, Members: members,
			ManifestDigest: schemas.ManifestDigest(members)}, blank)
	}
	noBlank := map[string]any(nil)

	// Each case: its item i and label l, set up at second 0..9, reviewed at 10..19.
	var cases []Break
	add := func(name string, missing ...string) schemas.Member {
		m := schemas.Member{ItemID: prefix + "-i-" + name, LabelID: prefix + "-l-" + name}
		cases = append(cases, Break{Name: name, Version: name, Member: m, Missing: missing})
		return m
	}
	ok := add("complete")
	item(ok.ItemID, 0, noBlank)
	label(ok.LabelID, ok.ItemID, 1, noBlank)
	review(ok.LabelID, ok.ItemID, 10, schemas.VerdictAccept)

	corrected := add("corrected")
	item(corrected.ItemID, 0, noBlank)
	label(corrected.LabelID, corrected.ItemID, 1, noBlank)
	review(corrected.LabelID, corrected.ItemID, 10, schemas.VerdictCorrect)

	noIngest := add("no-ingest", lineage.MissingItem)
	label(noIngest.LabelID, noIngest.ItemID, 1, noBlank)
	review(noIngest.LabelID, noIngest.ItemID, 10, schemas.VerdictAccept)

	noSource := add("no-source", lineage.MissingSource)
	item(noSource.ItemID, 0, map[string]any{"source": ""})
	label(noSource.LabelID, noSource.ItemID, 1, noBlank)
	review(noSource.LabelID, noSource.ItemID, 10, schemas.VerdictAccept)

	noHash := add("no-hash", lineage.MissingHash)
	item(noHash.ItemID, 0, map[string]any{"sha256": ""})
	label(noHash.LabelID, noHash.ItemID, 1, noBlank)
	review(noHash.LabelID, noHash.ItemID, 10, schemas.VerdictAccept)

	// Re-ingested later without a hash: the latest ingest describes the item.
	lostHash := add("hash-lost-on-reingest", lineage.MissingHash)
	item(lostHash.ItemID, 0, noBlank)
	item(lostHash.ItemID, 5, map[string]any{"sha256": ""})
	label(lostHash.LabelID, lostHash.ItemID, 1, noBlank)
	review(lostHash.LabelID, lostHash.ItemID, 10, schemas.VerdictAccept)

	noLabel := add("no-label", lineage.MissingLabel, lineage.MissingReview)
	item(noLabel.ItemID, 0, noBlank)

	// A review of a label that was never submitted reviews nothing.
	reviewOnly := add("review-without-label", lineage.MissingLabel, lineage.MissingReview)
	item(reviewOnly.ItemID, 0, noBlank)
	review(reviewOnly.LabelID, reviewOnly.ItemID, 10, schemas.VerdictAccept)

	noAnnotator := add("unknown-annotator", lineage.MissingAnnotator)
	item(noAnnotator.ItemID, 0, noBlank)
	label(noAnnotator.LabelID, noAnnotator.ItemID, 1, map[string]any{"annotator_id": ""})
	review(noAnnotator.LabelID, noAnnotator.ItemID, 10, schemas.VerdictAccept)

	otherItem := add("label-of-another-item", lineage.LabelOtherItem)
	item(otherItem.ItemID, 0, noBlank)
	item(otherItem.ItemID+"-other", 0, noBlank)
	label(otherItem.LabelID, otherItem.ItemID+"-other", 1, noBlank)
	review(otherItem.LabelID, otherItem.ItemID+"-other", 10, schemas.VerdictAccept)

	noReview := add("no-review", lineage.MissingReview)
	item(noReview.ItemID, 0, noBlank)
	label(noReview.LabelID, noReview.ItemID, 1, noBlank)

	rejected := add("rejected", lineage.ReviewRejected)
	item(rejected.ItemID, 0, noBlank)
	label(rejected.LabelID, rejected.ItemID, 1, noBlank)
	review(rejected.LabelID, rejected.ItemID, 10, schemas.VerdictReject)

	// Accepted, then rejected: the latest review decides.
	laterRejected := add("accepted-then-rejected", lineage.ReviewRejected)
	item(laterRejected.ItemID, 0, noBlank)
	label(laterRejected.LabelID, laterRejected.ItemID, 1, noBlank)
	review(laterRejected.LabelID, laterRejected.ItemID, 10, schemas.VerdictAccept)
	review(laterRejected.LabelID, laterRejected.ItemID, 12, schemas.VerdictReject)

	laterAccepted := add("rejected-then-accepted")
	item(laterAccepted.ItemID, 0, noBlank)
	label(laterAccepted.LabelID, laterAccepted.ItemID, 1, noBlank)
	review(laterAccepted.LabelID, laterAccepted.ItemID, 10, schemas.VerdictReject)
	review(laterAccepted.LabelID, laterAccepted.ItemID, 12, schemas.VerdictAccept)

	retracted := add("retracted", lineage.LabelRetracted)
	item(retracted.ItemID, 0, noBlank)
	label(retracted.LabelID, retracted.ItemID, 1, noBlank)
	review(retracted.LabelID, retracted.ItemID, 10, schemas.VerdictAccept)
	put(&schemas.LabelRetracted{Envelope: env(15), LabelID: retracted.LabelID, ItemID: retracted.ItemID, Reason: "wrong box"}, nil)

	// Nothing at all: the member names an item and a label the log never saw.
	add("nothing", lineage.MissingItem, lineage.MissingLabel, lineage.MissingReview)

	var all []schemas.Member
	for i, c := range cases {
		version(c.Version, 30+i, noBlank, c.Member)
		all = append(all, c.Member)
	}
	version("all", 60, noBlank, all...)
	// A complete member under a digest that does not recompute: the version is incomplete,
	// its member is not.
	version("bad-manifest", 61, map[string]any{"manifest_digest": "sha256:" + SHA("not the members")}, ok)

	run := func(id string, m int, versions ...string) {
		var refs []schemas.DatasetVersionRef
		for _, v := range versions {
			refs = append(refs, schemas.DatasetVersionRef{DatasetID: ds, Version: v})
		}
		put(&schemas.TrainingRunRegistered{Envelope: env(m), RunID: id, Model: "detector", DatasetID: ds, DatasetVersions: refs}, nil)
	}
	run(prefix+"-run-ok", 70, "complete")
	run(prefix+"-run-broken", 71, "complete", "rejected")
	run(prefix+"-run-ghost", 72, "complete", "never-committed")
	if len(errs) > 0 {
		return nil, nil, errs[0]
	}
	return cases, recs, nil
}

// BreakCompleteness is the lineage completeness of the history of Breaks, counted from the
// cases' expected verdicts: the one-member versions whose member is complete, "all" and
// "bad-manifest" incomplete; one complete training run of three.
func BreakCompleteness(cases []Break) lineage.Completeness {
	c := lineage.Completeness{Versions: len(cases) + 2, Members: 2*len(cases) + 1, CompleteMembers: 1, Runs: 3, CompleteRuns: 1}
	for _, b := range cases {
		if len(b.Missing) == 0 {
			c.CompleteVersions++
			c.CompleteMembers += 2
		}
	}
	return c
}

// encode returns ev in single-object encoding with the fields of blank set in the Avro record
// (by their Avro names) after validation, so that it carries what the contract would refuse.
func encode(ev schemas.Event, blank map[string]any) ([]byte, error) {
	b, err := schemas.Encode(ev)
	if err != nil || len(blank) == 0 {
		return b, err
	}
	fp, body, err := schemas.Header(b)
	if err != nil {
		return nil, err
	}
	s, ok := schemas.SchemaByFingerprint(fp)
	if !ok {
		return nil, fmt.Errorf("no schema with fingerprint %016x", fp)
	}
	codec, err := goavro.NewCodec(s.JSON)
	if err != nil {
		return nil, err
	}
	native, _, err := codec.NativeFromBinary(body)
	if err != nil {
		return nil, err
	}
	rec, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s decodes to %T, not a record", s.Path, native)
	}
	for k, v := range blank {
		if _, ok := rec[k]; !ok {
			return nil, fmt.Errorf("%s has no field %q", s.Path, k)
		}
		rec[k] = v
	}
	return codec.BinaryFromNative(append([]byte(nil), b[:schemas.HeaderLen]...), rec)
}
