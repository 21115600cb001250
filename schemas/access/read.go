package access

import "slices"

// ReadScope is what a principal may read: the projects whose figures it sees, and whether it
// sees every party's figures there or only its own vendor's. The read API filters every
// answer through it, server-side.
//
// Figures are of two kinds. Project-level figures (a project's agreement, accuracy, coverage,
// cycle time, remediation, routing, over all labels) are shared with every reader of the
// project. Party figures (per annotator, per cohort, per vendor, and anything naming
// annotators, labels or items: lineage) are shown to full readers, and to a vendor reader
// only for rows of its own vendor (and cohorts, when its principal names some).
type ReadScope struct {
	principal *Principal
	full      bool
}

// ReadScope returns the principal's read scope, or a *Violation (RuleRead) when its role
// reads nothing. Full readers are the internal roles that act on figures: analyst, owner and
// qa. A vendor reader sees its own party only. Collector, labeler and model tokens sit on
// machines that write; they read nothing, so a leaked one exposes no figure.
func (p *Principal) ReadScope() (ReadScope, error) {
	if p == nil {
		return ReadScope{}, violation(RuleUnknownPrincipal, "no principal")
	}
	switch p.Role {
	case RoleAnalyst, RoleOwner, RoleQA:
		return ReadScope{principal: p, full: true}, nil
	case RoleVendor:
		return ReadScope{principal: p}, nil
	}
	return ReadScope{}, violation(RuleRead, "%s (role %s) writes events and reads no figures; readers are analyst, owner, qa and vendor", p.ID, p.Role)
}

// Principal is the principal the scope is of.
func (s ReadScope) Principal() *Principal { return s.principal }

// Full reports whether the scope sees every party's figures of its projects.
func (s ReadScope) Full() bool { return s.full }

// Projects returns the projects the scope sees, or all=true for every project.
func (s ReadScope) Projects() (projects []string, all bool) {
	if s.principal == nil {
		return nil, false
	}
	if s.principal.AllProjects() {
		return nil, true
	}
	return slices.Clone(s.principal.Projects), false
}

// SeesProject reports whether the scope sees the project-level figures of project.
func (s ReadScope) SeesProject(project string) bool {
	return s.principal != nil && s.principal.InProject(project)
}

// Vendor is the vendor a partial scope is restricted to ("" for a full scope).
func (s ReadScope) Vendor() string {
	if s.full || s.principal == nil {
		return ""
	}
	return s.principal.Vendor
}

// SeesParty reports whether the scope sees a party figure (an annotator's, a cohort's, a
// label's, an item reached through labels) whose labels name vendor and cohort: always for
// a full scope; for a vendor reader only its own vendor, and among it only its cohorts when
// it names some. In-house rows (vendor "") are never a vendor reader's. The caller checks
// the project separately (SeesProject).
func (s ReadScope) SeesParty(vendor, cohort string) bool {
	switch {
	case s.principal == nil:
		return false
	case s.full:
		return true
	case vendor == "" || vendor != s.principal.Vendor:
		return false
	}
	return len(s.principal.Cohorts) == 0 || slices.Contains(s.principal.Cohorts, cohort)
}
