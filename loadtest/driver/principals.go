package driver

import (
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
)

// Principals are principals that may write every event the generators make:
// loadtest/workload's rounds (the contract's example events: a vendor's labels, pre-labels of
// model m) and
// services/demo/annotation's default programs (in-house experts, vendor acme's crowd, pre-labels
// of species-clf). The internal ones are scoped to every project; acme's labeler, a vendor's,
// to the projects given (a vendor's scope names its projects: the annotation programs'
// projects are "<run>-proj").
func Principals(vendorProjects ...string) []access.Principal {
	all := []string{access.All}
	ps := []access.Principal{
		{ID: "load-collector", Role: access.RoleCollector, Projects: all},
		{ID: "load-model", Role: access.RoleModel, Projects: all, Models: []string{access.All}},
		{ID: "load-labelers", Role: access.RoleLabeler, Projects: all, Cohorts: []string{"c1", "experts", "inhouse"}},
		{ID: "load-qa", Role: access.RoleQA, Projects: all},
		{ID: "load-owner", Role: access.RoleOwner, Projects: all},
	}
	// The workload's labels are the contract's example labels: a vendor's, in its project.
	if ex, err := schemas.Example(schemas.TypeLabelSubmitted, schemas.Subject{N: 1}); err == nil {
		l := ex.(*schemas.LabelSubmitted)
		ps = append(ps, access.Principal{ID: "load-" + l.Vendor, Role: access.RoleLabeler, Projects: []string{l.ProjectID}, Vendor: l.Vendor, Cohorts: []string{l.Cohort}})
	}
	if len(vendorProjects) > 0 {
		ps = append(ps, access.Principal{ID: "load-acme", Role: access.RoleLabeler, Projects: vendorProjects, Vendor: "acme", Cohorts: []string{"crowd"}})
	}
	return ps
}

// Credentials gives each principal a fresh token: the principals file (for the gateway), the
// tokens by principal id (Config.Tokens), and Writers over them (Prepare).
func Credentials(ps []access.Principal) (file string, tokens map[string]string, writers *access.Writers, err error) {
	var b strings.Builder
	tokens = map[string]string{}
	for _, p := range ps {
		tok, err := access.NewToken()
		if err != nil {
			return "", nil, nil, err
		}
		tokens[p.ID] = tok
		b.WriteString(p.Line(access.HashToken(tok)) + "\n")
	}
	reg, err := access.Parse("load principals", b.String())
	if err != nil {
		return "", nil, nil, err
	}
	return b.String(), tokens, access.NewWriters(reg), nil
}
