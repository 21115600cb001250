package demo

import (
	"slices"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/demo/annotation"
)

// Principals are the principals that play programs of projects, one per party, each scoped
// to those projects: the collector of its items, the model of its pre-labels, one labeler per
// vendor (the in-house cohorts together, and the crowd vendor's cohort), the qa team (gold and
// reviews), the owner (targets, dataset versions, training run, findings, remediation), and
// two readers for the dashboard: an analyst and the crowd vendor's own view. Their ids start
// "demo-", never "assay-" (reserved for Assay's own components).
func Principals(projects ...string) []access.Principal {
	projects = slices.Clone(projects)
	cfg := annotation.DefaultConfig("demo", 1)
	var models []string
	for _, m := range cfg.PreLabelers {
		if !slices.Contains(models, m.Model) {
			models = append(models, m.Model)
		}
	}
	ps := []access.Principal{
		{ID: "demo-collector", Role: access.RoleCollector, Projects: projects},
		{ID: "demo-prelabeler", Role: access.RoleModel, Projects: projects, Models: models},
	}
	byVendor := map[string][]string{}
	var vendors []string
	for _, c := range Cohorts() {
		if _, ok := byVendor[c.Vendor]; !ok {
			vendors = append(vendors, c.Vendor)
		}
		byVendor[c.Vendor] = append(byVendor[c.Vendor], c.Name)
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
