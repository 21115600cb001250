package access_test

import (
	"strings"
	"testing"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/schemas/schematest"
)

func TestWritersPick(t *testing.T) {
	r := registry(t, principals+`
acme-crowd  `+strings.Repeat("c", 64)+` role=labeler projects=proj-1 vendor=acme cohorts=crowd
inhouse     `+strings.Repeat("d", 64)+` role=labeler projects=proj-1 cohorts=experts
retired     - role=collector projects=*
`)
	w := access.NewWriters(r)
	pick := func(ev schemas.Event) string {
		p, err := w.Pick(ev)
		if err != nil {
			return access.RuleEventType + "?" + err.Error()
		}
		return p.ID
	}
	label := func(id, vendor, cohort string) *schemas.LabelSubmitted {
		l := schematest.Example(schemas.TypeLabelSubmitted).(*schemas.LabelSubmitted)
		l.LabelID, l.Vendor, l.Cohort = id, vendor, cohort
		return l
	}
	retract := func(id string) *schemas.LabelRetracted {
		r := schematest.Example(schemas.TypeLabelRetracted).(*schemas.LabelRetracted)
		r.LabelID = id
		return r
	}
	for _, tt := range []struct {
		ev   schemas.Event
		want string
	}{
		{schematest.Example(schemas.TypeItemIngested), "collector-1"}, // not "retired": it has no token
		{label("l-acme", "acme", "crowd"), "acme-crowd"},
		{label("l-in", "", "experts"), "inhouse"},
		{label("l-x", "vendor-x", "cohort-a"), "labeler-1"},
		{retract("l-in"), "inhouse"},
		{retract("l-acme"), "acme-crowd"},
		{schematest.Example(schemas.TypeGoldLabelSet), "qa-1"},
		{schematest.Example(schemas.TypeRemediationShipped), "owner-1"},
		{schematest.Example(schemas.TypeQualityTargetsSet), "owner-1"},
		{schematest.Example(schemas.TypeGateOverrideGranted), "owner-1"},
	} {
		if got := pick(tt.ev); got != tt.want {
			t.Errorf("%s: picked %s, want %s", tt.ev.Type(), got, tt.want)
		}
	}
	if _, err := w.Pick(label("l-y", "vendor-y", "")); ruleOf(err) != access.RuleOwnVendor {
		t.Errorf("a label of a vendor without a principal: %v", err)
	}
	if _, err := w.Pick(schematest.Example(schemas.TypeRoutingDecided)); ruleOf(err) != access.RuleInternal {
		t.Errorf("routing decision: %v", err)
	}
	for _, typ := range []schemas.EventType{schemas.TypeDatasetVersionCertified, schemas.TypeDatasetVersionRejected} {
		if _, err := w.Pick(schematest.Example(typ)); ruleOf(err) != access.RuleInternal {
			t.Errorf("gate verdict %s: %v", typ, err)
		}
	}
}
