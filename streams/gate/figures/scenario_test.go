package figures_test

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/gate/figures"
)

// The scenario both stores (the 18.16 server and current ClickHouse) are fed through the
// processors, and the figures each version must read. Minutes from t0:
//
//   - 0: items i1 (night, occluded), i2 (night, glare), i3 (urban, occluded), i4, gold items
//     g1..g4 of project proj-g; x1 of project proj-x;
//   - 5: CoverageTargetSet cov-1 of ds-g: night share 0.5, urban at least 1; occluded 1, glare 2;
//   - 10-24: labels of question q (nominal): i1 car/car, i2 car/truck, i3 bus, i4 car;
//     g1 car (lg1a) then truck (lg1b), g2 car, g3 bus (lg3) and bus (lg3r, retracted at 19),
//     g4 car (lg4a) then truck (lg4b); question q2 (ordinal) on i1 (0, 2) and i2 (1, 1);
//     qx on x1 (project proj-x); q2 on g4 (mid, lg4q2); q3 (nominal) on i3: yes/yes, whose
//     alpha is undefined (no expected disagreement);
//   - 30-31: gold q: g1 truck, corrected to car at 31; g2 truck, g3 bus, g4 car; gold q2: g4 mid;
//   - 40-46: reviews: l1 accept, l2 correct (truck), l3 reject, lg2 correct (truck), lg3
//     reject, lg1a accept, lg4q2 correct (high); l4, lg1b, lg4a, lg4b unreviewed;
//   - 100: ds-g@1 = {i1/l1, i2/l2, i3/l3, i4/l4}; ds-nocov@1 = {i3/l3, i4/l4, x1/lx1} (no
//     coverage targets); ds-ghost@1 = {gh/lgh} (an item and label the ledger never saw);
//   - 150-153: findings f1 high (i3), f2 critical (i4), f3 low (x1, g1), f4 medium (i1, i3);
//     160, 170: f2 remediated (started, shipped);
//   - 200: CoverageTargetSet cov-2 of ds-g (after ds-g@1's commit): night share 0.9; occluded 5;
//   - 300: ds-g@2 = {i1/l1, g1/lg1a} (a gold item in the version).
var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func at(m int) int64 { return schemas.Millis(t0.Add(time.Duration(m) * time.Minute)) }

func env(id string, m int, producer string) schemas.Envelope {
	return schemas.Envelope{EventID: "ev-" + id, OccurredAt: at(m), RecordedAt: at(m) + 100, Producer: producer}
}

func sha(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

const (
	project = "proj-g"
	labeler = "labeler-1"
	qa      = "qa-1"
)

func scenario() []schemas.Event {
	var evs []schemas.Event
	item := func(id, proj string, slice, edge []string) {
		evs = append(evs, &schemas.ItemIngested{Envelope: env("ingest-"+id, 0, "collector-1"), ItemID: id, Source: "cam",
			URI: "s3://cam/" + id, SHA256: sha(id), Modality: "image", SliceTags: slice, EdgeCaseTags: edge, ProjectID: proj})
	}
	label := func(id, itemID, proj, question, ann string, m int, v schemas.LabelValue) {
		evs = append(evs, &schemas.LabelSubmitted{Envelope: env("label-"+id, m, labeler), LabelID: id, ItemID: itemID, ProjectID: proj,
			TaskID: "task", QuestionID: question, AnnotatorID: ann, GuidelineVersion: "g1", Value: v, TimeSpentMS: 1000})
	}
	gold := func(itemID string, m int, cat string) {
		evs = append(evs, &schemas.GoldLabelSet{Envelope: env("gold-"+itemID+"-"+cat, m, qa), ItemID: itemID, QuestionID: "q",
			Value: schemas.Nominal(cat), SetBy: qa})
	}
	review := func(labelID, itemID string, m int, v schemas.Verdict, corrected string) {
		r := &schemas.ReviewCompleted{Envelope: env("review-"+labelID, m, qa), ReviewID: "r-" + labelID, LabelID: labelID, ItemID: itemID,
			ReviewerID: qa, Verdict: v}
		if corrected != "" {
			c := schemas.Nominal(corrected)
			r.CorrectedValue = &c
		}
		evs = append(evs, r)
	}
	commit := func(ds, version string, m int, members ...schemas.Member) {
		evs = append(evs, &schemas.DatasetVersionCommitted{Envelope: env("commit-"+ds+"-"+version, m, "pipeline"), DatasetID: ds,
			Version: version, Members: members, ManifestDigest: schemas.ManifestDigest(members)})
	}
	finding := func(id string, m int, sev schemas.Severity, items ...string) {
		evs = append(evs, &schemas.EvalFindingReported{Envelope: env("finding-"+id, m, "evaluator"), FindingID: id, EvalRun: "eval-1",
			Model: "detector", ImplicatedItemIDs: items, Severity: sev, ProjectID: project})
	}
	share := func(x float64) *float64 { return &x }
	count := func(n int64) *int64 { return &n }
	nominal := schemas.Nominal

	for _, id := range []string{"i1", "i2", "i3", "i4", "g1", "g2", "g3", "g4"} {
		slice, edge := map[string][]string{"i1": {"night"}, "i2": {"night"}, "i3": {"urban"}}[id],
			map[string][]string{"i1": {"occluded"}, "i2": {"glare"}, "i3": {"occluded"}}[id]
		item(id, project, slice, edge)
	}
	item("x1", "proj-x", nil, nil)
	evs = append(evs, &schemas.CoverageTargetSet{Envelope: env("cov-1", 5, "owner-1"), DatasetID: "ds-g",
		SliceTargets:     []schemas.SliceTarget{{Slice: "night", TargetShare: share(0.5)}, {Slice: "urban", MinCount: count(1)}},
		EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "occluded", MinCount: 1}, {Tag: "glare", MinCount: 2}}})

	label("l1", "i1", project, "q", "ann-a", 10, nominal("car"))
	label("l1b", "i1", project, "q", "ann-b", 10, nominal("car"))
	label("l2", "i2", project, "q", "ann-a", 11, nominal("car"))
	label("l2b", "i2", project, "q", "ann-b", 11, nominal("truck"))
	label("l3", "i3", project, "q", "ann-a", 12, nominal("bus"))
	label("l4", "i4", project, "q", "ann-a", 13, nominal("car"))
	label("lg1a", "g1", project, "q", "ann-a", 14, nominal("car"))
	label("lg1b", "g1", project, "q", "ann-b", 15, nominal("truck"))
	label("lg2", "g2", project, "q", "ann-a", 16, nominal("car"))
	label("lg3", "g3", project, "q", "ann-a", 17, nominal("bus"))
	label("lg3r", "g3", project, "q", "ann-c", 18, nominal("bus"))
	evs = append(evs, &schemas.LabelRetracted{Envelope: env("retract-lg3r", 19, labeler), LabelID: "lg3r", ItemID: "g3", Reason: "misclick"})
	label("lg4a", "g4", project, "q", "ann-a", 20, nominal("car"))
	label("lg4b", "g4", project, "q", "ann-b", 21, nominal("truck"))
	label("l1q2a", "i1", project, "q2", "ann-a", 22, schemas.Ordinal("low", 0))
	label("l1q2b", "i1", project, "q2", "ann-b", 22, schemas.Ordinal("high", 2))
	label("l2q2a", "i2", project, "q2", "ann-a", 23, schemas.Ordinal("mid", 1))
	label("l2q2b", "i2", project, "q2", "ann-b", 23, schemas.Ordinal("mid", 1))
	label("lx1", "x1", "proj-x", "qx", "ann-z", 24, nominal("a"))
	label("lg4q2", "g4", project, "q2", "ann-a", 24, schemas.Ordinal("mid", 1))
	label("l3q3a", "i3", project, "q3", "ann-a", 24, nominal("yes"))
	label("l3q3b", "i3", project, "q3", "ann-b", 24, nominal("yes"))

	gold("g1", 30, "truck")
	gold("g1", 31, "car")
	gold("g2", 30, "truck")
	gold("g3", 30, "bus")
	gold("g4", 30, "car")
	evs = append(evs, &schemas.GoldLabelSet{Envelope: env("gold-g4-q2", 30, qa), ItemID: "g4", QuestionID: "q2", Value: schemas.Ordinal("mid", 1), SetBy: qa})

	review("l1", "i1", 40, schemas.VerdictAccept, "")
	review("l2", "i2", 41, schemas.VerdictCorrect, "truck")
	review("l3", "i3", 42, schemas.VerdictReject, "")
	review("lg2", "g2", 43, schemas.VerdictCorrect, "truck")
	review("lg3", "g3", 44, schemas.VerdictReject, "")
	review("lg1a", "g1", 45, schemas.VerdictAccept, "")
	high := schemas.Ordinal("high", 2)
	evs = append(evs, &schemas.ReviewCompleted{Envelope: env("review-lg4q2", 46, qa), ReviewID: "r-lg4q2", LabelID: "lg4q2", ItemID: "g4",
		ReviewerID: qa, Verdict: schemas.VerdictCorrect, CorrectedValue: &high})

	m := func(item, label string) schemas.Member { return schemas.Member{ItemID: item, LabelID: label} }
	commit("ds-g", "1", 100, m("i1", "l1"), m("i2", "l2"), m("i3", "l3"), m("i4", "l4"))
	commit("ds-nocov", "1", 100, m("i3", "l3"), m("i4", "l4"), m("x1", "lx1"))
	commit("ds-ghost", "1", 100, m("gh", "lgh"))

	finding("f1", 150, schemas.SeverityHigh, "i3")
	finding("f2", 151, schemas.SeverityCritical, "i4")
	finding("f3", 152, schemas.SeverityLow, "x1", "g1")
	finding("f4", 153, schemas.SeverityMedium, "i1", "i3")
	evs = append(evs, &schemas.RemediationStarted{Envelope: env("rem-start-f2", 160, "owner-1"), FindingID: "f2", Owner: "data-team", Plan: "relabel"},
		&schemas.RemediationShipped{Envelope: env("rem-ship-f2", 170, "owner-1"), FindingID: "f2", DatasetID: "ds-g", FixingVersion: "2"})

	evs = append(evs, &schemas.CoverageTargetSet{Envelope: env("cov-2", 200, "owner-1"), DatasetID: "ds-g",
		SliceTargets:     []schemas.SliceTarget{{Slice: "night", TargetShare: share(0.9)}},
		EdgeCaseMinimums: []schemas.EdgeCaseMinimum{{Tag: "occluded", MinCount: 5}}})
	commit("ds-g", "2", 300, m("i1", "l1"), m("g1", "lg1a"))
	return evs
}

// wantCase is one version's request and the figures it must read.
type wantCase struct {
	name string
	req  figures.Request
	want gate.Figures
}

// want lists the figures of every version of the scenario, computed by hand from the story
// above (alpha with streams/agreement from the units' values).
func want() []wantCase {
	alpha := func(level agreement.Level, units ...[]agreement.Value) gate.AgreementFigure {
		co := agreement.NewCoincidences()
		for _, u := range units {
			co.AddUnit(u)
		}
		r, err := co.Alpha(level)
		if err != nil {
			return gate.AgreementFigure{PairableValues: co.PairableValues(), Undefined: err.Error()}
		}
		f := gate.AgreementFigure{Alpha: &r.Alpha, PairableValues: r.PairableValues}
		if ci, err := agreement.AlphaInterval(agreement.Profiles(units), level, agreement.DefaultConfidence); err == nil {
			f.Low, f.High, f.Method = &ci.Low, &ci.High, ci.Method
		}
		return f
	}
	c, r := agreement.Category, agreement.Rank
	// q: i1 car/car, i2 car/truck, g1 car/truck, g4 car/truck (g3's second label was
	// retracted; g2, i3, i4 have one label); q2: i1 0/2, i2 1/1.
	q := alpha(agreement.Nominal, []agreement.Value{c("car"), c("car")}, []agreement.Value{c("car"), c("truck")},
		[]agreement.Value{c("car"), c("truck")}, []agreement.Value{c("car"), c("truck")})
	q.QuestionID, q.Level = "q", schemas.LevelNominal
	q2 := alpha(agreement.Ordinal, []agreement.Value{r(0), r(2)}, []agreement.Value{r(1), r(1)})
	q2.QuestionID, q2.Level = "q2", schemas.LevelOrdinal
	if q.Low == nil || q2.Low != nil {
		panic("q's interval is undefined, or q2's (all its disagreement in one unit) is defined")
	}
	q3 := alpha(agreement.Nominal, []agreement.Value{c("yes"), c("yes")})
	q3.QuestionID, q3.Level = "q3", schemas.LevelNominal
	if q3.Alpha != nil {
		panic("alpha of q3 is defined")
	}
	agreementFigs := []gate.AgreementFigure{q, q2, q3}

	// all_submitted is the accuracy KPI: lg1a car = car, lg1b truck, lg2 car (gold truck),
	// lg3 bus = bus, lg4a car = car, lg4b truck; lg3r retracted: 3 of 6.
	// final_after_review: g1's latest standing label lg1b truck (or the member lg1a car in
	// ds-g@2), g2 lg2 corrected to truck, g3 nothing stands (lg3 rejected, lg3r retracted),
	// g4 lg4b truck: 1 of 3, or 2 of 3 with lg1a. q2 (ordinal): g4's lg4q2 mid equals the
	// gold mid as submitted, but a review corrected it to high.
	accuracy := func(finalCorrect int64) []gate.AccuracyFigure {
		return []gate.AccuracyFigure{
			{QuestionID: "q", Denominator: schemas.DenominatorAllSubmitted, Correct: 3, Total: 6},
			{QuestionID: "q", Denominator: schemas.DenominatorFinalAfterReview, Correct: finalCorrect, Total: 3},
			{QuestionID: "q2", Denominator: schemas.DenominatorAllSubmitted, Correct: 1, Total: 1},
			{QuestionID: "q2", Denominator: schemas.DenominatorFinalAfterReview, Correct: 0, Total: 1},
			{QuestionID: "q3", Denominator: schemas.DenominatorAllSubmitted},
			{QuestionID: "q3", Denominator: schemas.DenominatorFinalAfterReview},
		}
	}
	questions := []string{"q", "q2", "q3"}
	return []wantCase{
		{name: "ds-g@1: coverage by cov-1 (cov-2 came after the commit)", req: figures.Request{DatasetID: "ds-g", Version: "1", CommittedAt: at(100)},
			want: gate.Figures{ProjectID: project, Members: 4, Questions: questions, Agreement: agreementFigs, Accuracy: accuracy(1),
				// night 2 of 4 items (0.5), urban 1: both met; occluded: i1 accepted (i3
				// rejected), met; glare: i2 corrected, not accepted, 0 of 2.
				Coverage: &gate.CoverageFigure{TargetsEventID: "ev-cov-1", SliceTargets: 2, SlicesMet: 2, EdgeCaseTargets: 2, EdgeCasesMet: 1},
				// l1 accepted and l2 corrected are complete; l3 rejected, l4 unreviewed.
				LineageComplete: 2, ReviewedLabels: 3, ReworkedLabels: 2,
				// f1 (i3) and f4 (i1, i3) open; f2 (i4) remediated; f3 implicates no member.
				OpenFindings: map[schemas.Severity]int64{schemas.SeverityHigh: 1, schemas.SeverityMedium: 1}}},
		{name: "ds-g@2: a gold item in the version, coverage by cov-2", req: figures.Request{DatasetID: "ds-g", Version: "2", CommittedAt: at(300)},
			want: gate.Figures{ProjectID: project, Members: 2, Questions: questions, Agreement: agreementFigs, Accuracy: accuracy(2),
				// night 1 of 2 items, below 0.9; occluded: 1 accepted item, below 5.
				Coverage:        &gate.CoverageFigure{TargetsEventID: "ev-cov-2", SliceTargets: 1, SlicesMet: 0, EdgeCaseTargets: 1, EdgeCasesMet: 0},
				LineageComplete: 2, ReviewedLabels: 2, ReworkedLabels: 0,
				OpenFindings: map[schemas.Severity]int64{schemas.SeverityLow: 1, schemas.SeverityMedium: 1},
				GoldMembers:  1}},
		{name: "ds-nocov@1: no coverage targets, two projects' items", req: figures.Request{DatasetID: "ds-nocov", Version: "1", CommittedAt: at(100)},
			want: gate.Figures{ProjectID: project, Members: 3, Questions: questions, Agreement: agreementFigs, Accuracy: accuracy(1),
				LineageComplete: 0, ReviewedLabels: 1, ReworkedLabels: 1,
				OpenFindings: map[schemas.Severity]int64{schemas.SeverityHigh: 1, schemas.SeverityMedium: 1, schemas.SeverityLow: 1}}},
		{name: "ds-ghost@1: members whose items the ledger never saw", req: figures.Request{DatasetID: "ds-ghost", Version: "1", CommittedAt: at(100)},
			want: gate.Figures{Members: 1, OpenFindings: map[schemas.Severity]int64{}}},
		{name: "ds-g@9: a version not in the ledger", req: figures.Request{DatasetID: "ds-g", Version: "9", CommittedAt: at(400)},
			want: gate.Figures{OpenFindings: map[schemas.Severity]int64{}}},
	}
}
