package access_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/schemas/schematest"
)

// principals has one principal of every role, scoped to the examples' project, vendor,
// cohort and model (schematest: proj-1, vendor-x, cohort-a, detector).
const principals = `
collector-1  ` + h1 + ` role=collector projects=proj-1
labeler-1    ` + h2 + ` role=labeler projects=proj-1 vendor=vendor-x cohorts=cohort-a
model-1      ` + h3 + ` role=model projects=proj-1 models=detector
qa-1         ` + h4 + ` role=qa projects=proj-1
owner-1      ` + h5 + ` role=owner projects=proj-1
analyst-1    ` + h6 + ` role=analyst projects=proj-1
vendor-1     ` + h7 + ` role=vendor projects=proj-1 vendor=vendor-x
`

const (
	h1 = "1111111111111111111111111111111111111111111111111111111111111111"
	h2 = "2222222222222222222222222222222222222222222222222222222222222222"
	h3 = "3333333333333333333333333333333333333333333333333333333333333333"
	h4 = "4444444444444444444444444444444444444444444444444444444444444444"
	h5 = "5555555555555555555555555555555555555555555555555555555555555555"
	h6 = "6666666666666666666666666666666666666666666666666666666666666666"
	h7 = "7777777777777777777777777777777777777777777777777777777777777777"
)

func registry(t *testing.T, text string) *access.Registry {
	t.Helper()
	r, err := access.Parse("test", text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ruleOf(err error) string {
	if err == nil {
		return "allow"
	}
	var v *access.Violation
	if !errors.As(err, &v) {
		return "not a violation: " + err.Error()
	}
	return v.Rule
}

// TestRoleByEventTypeMatrix: every role against every event type of the contract, each
// event inside the principal's scope, so the answer is the role's alone. The table is written
// out by hand, from the issue, not derived from the package's own table.
func TestRoleByEventTypeMatrix(t *testing.T) {
	const (
		ok   = "allow"
		deny = access.RuleEventType
		intl = access.RuleInternal
	)
	want := map[schemas.EventType]map[access.Role]string{
		schemas.TypeItemIngested:            {"collector": ok, "labeler": deny, "model": deny, "qa": deny, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypePreLabelProposed:        {"collector": deny, "labeler": deny, "model": ok, "qa": deny, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypeRoutingDecided:          {"collector": intl, "labeler": intl, "model": intl, "qa": intl, "owner": intl, "analyst": intl, "vendor": intl},
		schemas.TypeLabelSubmitted:          {"collector": deny, "labeler": ok, "model": deny, "qa": deny, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypeLabelRetracted:          {"collector": deny, "labeler": ok, "model": deny, "qa": deny, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypeGoldLabelSet:            {"collector": deny, "labeler": deny, "model": deny, "qa": ok, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypeReviewCompleted:         {"collector": deny, "labeler": deny, "model": deny, "qa": ok, "owner": deny, "analyst": deny, "vendor": deny},
		schemas.TypeCoverageTargetSet:       {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeDatasetVersionCommitted: {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeTrainingRunRegistered:   {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeEvalFindingReported:     {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeRemediationStarted:      {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeRemediationShipped:      {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeGuidelineReleased:       {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeQualityTargetsSet:       {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeQuestionDefined:         {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeDatasetVersionCertified: {"collector": intl, "labeler": intl, "model": intl, "qa": intl, "owner": intl, "analyst": intl, "vendor": intl},
		schemas.TypeDatasetVersionRejected:  {"collector": intl, "labeler": intl, "model": intl, "qa": intl, "owner": intl, "analyst": intl, "vendor": intl},
		schemas.TypeGateOverrideGranted:     {"collector": deny, "labeler": deny, "model": deny, "qa": deny, "owner": ok, "analyst": deny, "vendor": deny},
		schemas.TypeEventRejected:           {"collector": intl, "labeler": intl, "model": intl, "qa": intl, "owner": intl, "analyst": intl, "vendor": intl},
	}
	r := registry(t, principals)
	if r.Len() != len(access.Roles()) {
		t.Fatalf("%d principals, want one per role", r.Len())
	}
	for _, typ := range schemas.EventTypes() {
		row, ok := want[typ]
		if !ok {
			t.Errorf("the matrix has no row for %s: decide who writes it", typ)
			continue
		}
		for _, p := range r.Principals() {
			ev := schematest.Example(typ)
			// In scope for the stateful rules too: the item's project is the principal's,
			// and the retracted label is its own.
			facts := access.Facts{Project: "proj-1", LabelProducer: p.ID}
			for name, err := range map[string]error{"Authorize": access.Authorize(p, ev), "AuthorizeWith": access.AuthorizeWith(p, ev, facts)} {
				if got := ruleOf(err); got != row[p.Role] {
					t.Errorf("%s: %s writing %s: %s (%v), want %s", name, p.Role, typ, got, err, row[p.Role])
				}
			}
		}
	}
}

func TestWritesOfEveryWriterRole(t *testing.T) {
	for _, r := range access.Roles() {
		n := len(access.WritesOf(r))
		if r.Writes() != (n > 0) {
			t.Errorf("role %s: Writes() %v but writes %d types", r, r.Writes(), n)
		}
	}
	for _, typ := range schemas.EventTypes() {
		_, ok := access.WriterOf(typ)
		if ok == access.Internal(typ) {
			t.Errorf("%s: has a writer %v and is internal %v", typ, ok, access.Internal(typ))
		}
	}
}

// TestScopeRules: each scope rule refuses what it should and names itself.
func TestScopeRules(t *testing.T) {
	r := registry(t, principals+`
inhouse-1   8888888888888888888888888888888888888888888888888888888888888888 role=labeler projects=proj-1 cohorts=experts,inhouse
prefixed-1  9999999999999999999999999999999999999999999999999999999999999999 role=labeler projects=proj-1 vendor=vendor-x cohorts=cohort-a annotators=vx-
anymodel-1  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa role=model projects=* models=*
allowner-1  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb role=owner projects=*
`)
	p := func(id string) *access.Principal {
		pr, ok := r.Principal(id)
		if !ok {
			t.Fatalf("no principal %s", id)
		}
		return pr
	}
	label := func(edit func(*schemas.LabelSubmitted)) schemas.Event {
		ev := schematest.Example(schemas.TypeLabelSubmitted).(*schemas.LabelSubmitted)
		edit(ev)
		return ev
	}
	for _, tt := range []struct {
		name  string
		p     *access.Principal
		ev    schemas.Event
		facts access.Facts
		want  string
		field string
	}{
		{"collector in another project", p("collector-1"), func() schemas.Event {
			ev := schematest.Example(schemas.TypeItemIngested).(*schemas.ItemIngested)
			ev.ProjectID = "proj-2"
			return ev
		}(), access.Facts{}, access.RuleProject, "project_id"},
		{"labeler in another project", p("labeler-1"), label(func(l *schemas.LabelSubmitted) { l.ProjectID = "proj-2" }), access.Facts{}, access.RuleProject, "project_id"},
		{"labeler claiming another vendor", p("labeler-1"), label(func(l *schemas.LabelSubmitted) { l.Vendor = "vendor-y" }), access.Facts{}, access.RuleOwnVendor, "vendor"},
		{"labeler claiming no vendor", p("labeler-1"), label(func(l *schemas.LabelSubmitted) { l.Vendor = "" }), access.Facts{}, access.RuleOwnVendor, "vendor"},
		{"in-house labeler claiming a vendor", p("inhouse-1"), label(func(l *schemas.LabelSubmitted) { l.Vendor, l.Cohort = "vendor-x", "experts" }), access.Facts{}, access.RuleOwnVendor, "vendor"},
		{"in-house labeler, own cohort", p("inhouse-1"), label(func(l *schemas.LabelSubmitted) { l.Vendor, l.Cohort = "", "inhouse" }), access.Facts{}, "allow", ""},
		{"labeler claiming another cohort", p("labeler-1"), label(func(l *schemas.LabelSubmitted) { l.Cohort = "cohort-b" }), access.Facts{}, access.RuleOwnCohort, "cohort"},
		{"labeler with cohorts, label without", p("labeler-1"), label(func(l *schemas.LabelSubmitted) { l.Cohort = "" }), access.Facts{}, access.RuleOwnCohort, "cohort"},
		{"annotator outside the prefix", p("prefixed-1"), label(func(l *schemas.LabelSubmitted) { l.AnnotatorID = "other-1" }), access.Facts{}, access.RuleOwnAnnotators, "annotator_id"},
		{"annotator inside the prefix", p("prefixed-1"), label(func(l *schemas.LabelSubmitted) { l.AnnotatorID = "vx-7" }), access.Facts{}, "allow", ""},
		{"retracting another producer's label", p("labeler-1"), schematest.Example(schemas.TypeLabelRetracted), access.Facts{LabelProducer: "labeler-2"}, access.RuleOwnLabels, "label_id"},
		{"retracting a label of unknown producer (the door)", p("labeler-1"), schematest.Example(schemas.TypeLabelRetracted), access.Facts{}, "allow", ""},
		{"retraction in another project", p("labeler-1"), schematest.Example(schemas.TypeLabelRetracted), access.Facts{Project: "proj-2", LabelProducer: "labeler-1"}, access.RuleProject, ""},
		{"model proposing for another model", p("model-1"), func() schemas.Event {
			ev := schematest.Example(schemas.TypePreLabelProposed).(*schemas.PreLabelProposed)
			ev.Model = "segmenter"
			return ev
		}(), access.Facts{}, access.RuleOwnModels, "model"},
		{"model with models=* in any project", p("anymodel-1"), schematest.Example(schemas.TypePreLabelProposed), access.Facts{Project: "proj-9"}, "allow", ""},
		{"pre-label of an item of another project", p("model-1"), schematest.Example(schemas.TypePreLabelProposed), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"gold of an item of another project", p("qa-1"), schematest.Example(schemas.TypeGoldLabelSet), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"review in another project", p("qa-1"), schematest.Example(schemas.TypeReviewCompleted), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"dataset of another project", p("owner-1"), schematest.Example(schemas.TypeDatasetVersionCommitted), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"targets of another project", p("owner-1"), schematest.Example(schemas.TypeCoverageTargetSet), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"remediating another project's finding", p("owner-1"), schematest.Example(schemas.TypeRemediationShipped), access.Facts{Project: "proj-2"}, access.RuleProject, ""},
		{"finding in another project", p("owner-1"), func() schemas.Event {
			ev := schematest.Example(schemas.TypeEvalFindingReported).(*schemas.EvalFindingReported)
			ev.ProjectID = "proj-2"
			return ev
		}(), access.Facts{}, access.RuleProject, "project_id"},
		{"quality targets of another project", p("owner-1"), func() schemas.Event {
			ev := schematest.Example(schemas.TypeQualityTargetsSet).(*schemas.QualityTargetsSet)
			ev.ProjectID = "proj-2"
			return ev
		}(), access.Facts{}, access.RuleProject, "project_id"},
		{"gate override in another project", p("owner-1"), func() schemas.Event {
			ev := schematest.Example(schemas.TypeGateOverrideGranted).(*schemas.GateOverrideGranted)
			ev.ProjectID = "proj-2"
			return ev
		}(), access.Facts{}, access.RuleProject, "project_id"},
		{"owner of every project", p("allowner-1"), schematest.Example(schemas.TypeRemediationStarted), access.Facts{Project: "proj-2"}, "allow", ""},
		{"the door does not know a dataset's project", p("owner-1"), schematest.Example(schemas.TypeDatasetVersionCommitted), access.Facts{}, "allow", ""},
		{"no principal", nil, schematest.Example(schemas.TypeItemIngested), access.Facts{}, access.RuleUnknownPrincipal, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := access.AuthorizeWith(tt.p, tt.ev, tt.facts)
			if got := ruleOf(err); got != tt.want {
				t.Fatalf("%s (%v), want %s", got, err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), tt.want+": ") {
				t.Fatalf("error %q does not start with its rule", err)
			}
			var v *access.Violation
			if errors.As(err, &v) && v.Field != tt.field {
				t.Fatalf("field %q, want %q", v.Field, tt.field)
			}
		})
	}
}

func TestDeferred(t *testing.T) {
	r := registry(t, principals+"allowner-1 "+strings.Repeat("b", 64)+" role=owner projects=*\n")
	owner, _ := r.Principal("owner-1")
	all, _ := r.Principal("allowner-1")
	labeler, _ := r.Principal("labeler-1")
	for _, tt := range []struct {
		p    *access.Principal
		typ  schemas.EventType
		want string
	}{
		{owner, schemas.TypeEvalFindingReported, ""},
		{owner, schemas.TypeDatasetVersionCommitted, access.RuleProject},
		{all, schemas.TypeDatasetVersionCommitted, ""},
		{labeler, schemas.TypeLabelSubmitted, ""},
		{labeler, schemas.TypeLabelRetracted, access.RuleProject + "," + access.RuleOwnLabels},
		{owner, schemas.TypeRoutingDecided, ""},
		{owner, schemas.TypeQualityTargetsSet, ""},
		{owner, schemas.TypeGateOverrideGranted, ""},
		{owner, schemas.TypeDatasetVersionRejected, ""},
	} {
		if got := strings.Join(access.Deferred(tt.p, schematest.Example(tt.typ)), ","); got != tt.want {
			t.Errorf("Deferred(%s, %s) = %q, want %q", tt.p.ID, tt.typ, got, tt.want)
		}
	}
}

// TestCheckByProducer: what the processors do with events read from the log.
func TestCheckByProducer(t *testing.T) {
	r := registry(t, principals+"old-labeler - role=labeler projects=proj-1 vendor=vendor-x cohorts=cohort-a\n")
	with := func(typ schemas.EventType, producer string) schemas.Event {
		ev := schematest.Example(typ)
		ev.Meta().Producer = producer
		return ev
	}
	for _, tt := range []struct {
		ev   schemas.Event
		want string
	}{
		{with(schemas.TypeRoutingDecided, "assay-processor/router"), "allow"},
		{with(schemas.TypeEventRejected, "assay-ingest"), "allow"},
		{with(schemas.TypeGoldLabelSet, "assay-processor/router"), access.RuleReservedProducer},
		{with(schemas.TypeGoldLabelSet, "ASSAY-ingest"), access.RuleReservedProducer},
		{with(schemas.TypeRoutingDecided, "qa-1"), access.RuleInternal},
		{with(schemas.TypeDatasetVersionCertified, "assay-processor/gate"), "allow"},
		{with(schemas.TypeDatasetVersionRejected, "assay-processor/gate"), "allow"},
		{with(schemas.TypeDatasetVersionCertified, "owner-1"), access.RuleInternal},
		{with(schemas.TypeGateOverrideGranted, "assay-processor/gate"), access.RuleReservedProducer},
		{with(schemas.TypeGateOverrideGranted, "owner-1"), "allow"},
		{with(schemas.TypeQualityTargetsSet, "qa-1"), access.RuleEventType},
		{with(schemas.TypeQualityTargetsSet, "owner-1"), "allow"},
		{with(schemas.TypeGoldLabelSet, "labeler-1"), access.RuleEventType},
		{with(schemas.TypeGoldLabelSet, "qa-1"), "allow"},
		{with(schemas.TypeGoldLabelSet, "loadtest/annotation"), access.RuleUnknownPrincipal},
		// A principal kept without a token still has its history attributed.
		{with(schemas.TypeLabelSubmitted, "old-labeler"), "allow"},
	} {
		if got := ruleOf(r.Check(tt.ev, access.Facts{})); got != tt.want {
			t.Errorf("%s by %s: %s, want %s", tt.ev.Type(), tt.ev.Meta().Producer, got, tt.want)
		}
	}
}

func TestProjectOf(t *testing.T) {
	named := map[schemas.EventType]bool{schemas.TypeItemIngested: true, schemas.TypeLabelSubmitted: true, schemas.TypeEvalFindingReported: true,
		schemas.TypeGuidelineReleased: true, schemas.TypeQualityTargetsSet: true, schemas.TypeGateOverrideGranted: true,
		schemas.TypeQuestionDefined: true}
	for _, typ := range schemas.EventTypes() {
		p, ok := access.ProjectOf(schematest.Example(typ))
		if ok != named[typ] || ok && p != "proj-1" {
			t.Errorf("ProjectOf(%s) = %q, %v", typ, p, ok)
		}
	}
}
