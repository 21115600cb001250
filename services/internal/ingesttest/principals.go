package ingesttest

import (
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
)

// Project, Vendor, Cohort and Model are the scope of Sample's events, read from the contract's
// examples (schemas.Example) so the principals can never drift from the events: the project of
// its items, labels and findings, the vendor and cohort of its labels, the model of its
// pre-labels.
var Project, Vendor, Cohort, Model = exampleScope()

func exampleScope() (project, vendor, cohort, model string) {
	l := Sample(schemas.TypeLabelSubmitted, 1).(*schemas.LabelSubmitted)
	p := Sample(schemas.TypePreLabelProposed, 1).(*schemas.PreLabelProposed)
	return l.ProjectID, l.Vendor, l.Cohort, p.Model
}

// TokenOf is the bearer token of the principal of role r in Principals.
func TokenOf(r access.Role) string { return "tok-" + string(r) + "-secret" }

// Principals is a principals file with one principal of every role, named after its role
// ("collector", "labeler", ...), with the token TokenOf(role), and scoped to what Sample
// writes: project Project, labels of vendor Vendor and cohort Cohort, pre-labels of model
// Model, so each may write Sample's events of the types its role writes.
func Principals() string {
	var b strings.Builder
	for _, r := range access.Roles() {
		p := access.Principal{ID: string(r), Role: r, Projects: []string{Project}}
		switch r {
		case access.RoleLabeler:
			p.Vendor, p.Cohorts = Vendor, []string{Cohort}
		case access.RoleModel:
			p.Models = []string{Model}
		case access.RoleVendor:
			p.Vendor = Vendor
		}
		b.WriteString(p.Line(access.HashToken(TokenOf(r))) + "\n")
	}
	return b.String()
}

// WriterToken is the token of the principal of Principals that writes event type t, or ""
// for the types no principal writes (RoutingDecided, the gate's verdicts, EventRejected).
func WriterToken(t schemas.EventType) string {
	r, ok := access.WriterOf(t)
	if !ok {
		return ""
	}
	return TokenOf(r)
}
