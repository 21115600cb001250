package demo

import (
	"slices"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/services/demo/detection"
	"github.com/assay-data/assay/services/demo/ner"
	"github.com/assay-data/assay/services/demo/preference"
)

// Principals are the principals that play programs of projects, one per party, each scoped
// to those projects: the collector of their items, the model of their pre-labels (the main
// program's classifier and the detection program's detector), one labeler per vendor (the
// in-house cohorts together, and each vendor's cohorts: the crowd vendor's of every program,
// the named-entity program's specialist vendor's), the qa team (gold and reviews), the owner
// (targets, questions, dataset versions, training run, findings, remediation), and readers
// for the dashboard: an analyst and each vendor's own view. Their ids start "demo-", never
// "assay-" (reserved for Assay's own components). `assay demo` scopes them to
// Projects(project), the main program's project and the structured programs'.
func Principals(projects ...string) []access.Principal {
	projects = slices.Clone(projects)
	cfg := annotation.DefaultConfig("demo", 1)
	var models []string
	for _, m := range cfg.PreLabelers {
		if !slices.Contains(models, m.Model) {
			models = append(models, m.Model)
		}
	}
	if m := detection.DefaultConfig("demo", 1).Detector.Model; !slices.Contains(models, m) {
		models = append(models, m)
	}
	ps := []access.Principal{
		{ID: "demo-collector", Role: access.RoleCollector, Projects: projects},
		{ID: "demo-prelabeler", Role: access.RoleModel, Projects: projects, Models: models},
	}
	byVendor := map[string][]string{}
	var vendors []string
	for _, c := range teams() {
		if _, ok := byVendor[c.Vendor]; !ok {
			vendors = append(vendors, c.Vendor)
		}
		if !slices.Contains(byVendor[c.Vendor], c.Name) {
			byVendor[c.Vendor] = append(byVendor[c.Vendor], c.Name)
		}
	}
	for _, v := range vendors {
		id := "demo-labelers-inhouse"
		if v != "" {
			id = "demo-labelers-" + v
		}
		ps = append(ps, access.Principal{ID: id, Role: access.RoleLabeler, Projects: projects, Vendor: v, Cohorts: byVendor[v]})
	}
	ps = append(ps,
		access.Principal{ID: "demo-qa", Role: access.RoleQA, Projects: projects},
		access.Principal{ID: "demo-owner", Role: access.RoleOwner, Projects: projects},
		access.Principal{ID: "demo-analyst", Role: access.RoleAnalyst, Projects: projects},
	)
	for _, v := range vendors {
		if v != "" {
			ps = append(ps, access.Principal{ID: "demo-vendor-" + v, Role: access.RoleVendor, Projects: projects, Vendor: v})
		}
	}
	return ps
}

// team is a cohort and its vendor, as a labeler principal is scoped to them.
type team struct{ Name, Vendor string }

// teams are the cohorts of every program the demo plays: the main program's first, then the
// named-entity, detection and preference programs'.
func teams() []team {
	var out []team
	for _, c := range Cohorts() {
		out = append(out, team{c.Name, c.Vendor})
	}
	for _, c := range ner.DefaultConfig("demo", 1).Cohorts {
		out = append(out, team{c.Name, c.Vendor})
	}
	for _, c := range detection.DefaultConfig("demo", 1).Cohorts {
		out = append(out, team{c.Name, c.Vendor})
	}
	for _, c := range preference.DefaultConfig("demo", 1).Cohorts {
		out = append(out, team{c.Name, c.Vendor})
	}
	return out
}
