package httpapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/assay-data/assay/schemas/access"
)

// The read rules of the API that schemas/access does not name (its ReadScope says what a
// principal sees; these are the two refusals that follow from it here). A refusal is a 403
// whose Problem names its rule, as access's own rules (access.RuleRead for the roles that
// read nothing, access.RuleProject for a project outside the principal's).
const (
	// RuleAllProjects: a figure over every project at once (the consumer lag of the
	// pipeline, the rework rate, the count of rejected events: none of them can be split by
	// project) is read only by a principal whose scope is every project (projects=*).
	RuleAllProjects = "scope.all_projects"
	// RuleParty: a vendor asked for a cohort that is not its own (another vendor's, an
	// in-house one, one shared with another party, or one without labels in the project).
	RuleParty = "scope.party"
)

// authError is a request without usable credentials: 401.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }

// authenticate resolves the request's bearer token against the registry in force (loaded
// once, so a reload in the middle of the request changes nothing of it) to the principal's
// read scope. No token or an unknown one is an *authError (401); a principal whose role
// reads nothing an *access.Violation (403, access.RuleRead).
func (s *Server) authenticate(r *http.Request) (access.ReadScope, error) {
	tok, ok := access.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return access.ReadScope{}, &authError{access.ErrNoCredentials}
	}
	p, err := s.cfg.Principals.Load().Authenticate(tok)
	if err != nil {
		return access.ReadScope{}, &authError{err}
	}
	return p.ReadScope()
}

// refusal names what a 401 or 403 refused, for assay_api_refused_requests_total and the log.
func refusal(err error) (reason string, ok bool) {
	var ae *authError
	var v *access.Violation
	switch {
	case errors.As(err, &ae) && errors.Is(ae.err, access.ErrNoCredentials):
		return "no_token", true
	case errors.As(err, &ae):
		return "unknown_token", true
	case errors.As(err, &v):
		return v.Rule, true
	}
	return "", false
}

// everyone is the principal of the API's own reads: the unfiltered history view, whose
// samples also set the KPI gauges of /metrics. It is never in a registry and has no token.
var everyone = &access.Principal{ID: "assay-api", Role: access.RoleAnalyst, Projects: []string{access.All}}

// everything is the read scope of every figure of every project.
func everything() access.ReadScope {
	sc, _ := everyone.ReadScope() // an analyst always reads
	return sc
}

// allProjects reports whether sc sees every project (projects=*): only such a scope reads
// the figures that cannot be split by project (RuleAllProjects).
func allProjects(sc access.ReadScope) bool {
	_, all := sc.Projects()
	return all
}

// WhoAmI is the answer of GET /v1/whoami: who the token is and what it reads, for the
// dashboard's header and its project choice.
type WhoAmI struct {
	// Principal is the principal's id.
	Principal string `json:"principal"`
	Role      string `json:"role"`
	// Projects are the projects it reads; AllProjects when it reads every one (then
	// Projects is ["*"]).
	Projects    []string `json:"projects"`
	AllProjects bool     `json:"all_projects"`
	// Full says it reads every figure of its projects; otherwise (a vendor) the
	// project-level figures and, of the party figures, those of Vendor (and Cohorts).
	Full    bool     `json:"full"`
	Vendor  string   `json:"vendor,omitempty"`
	Cohorts []string `json:"cohorts,omitempty"`
	// Reads says the same in words.
	Reads string `json:"reads"`
}

func whoAmI(sc access.ReadScope) WhoAmI {
	p := sc.Principal()
	out := WhoAmI{Principal: p.ID, Role: string(p.Role), Projects: slices.Clone(p.Projects), AllProjects: allProjects(sc), Full: sc.Full(),
		Vendor: sc.Vendor(), Cohorts: []string{}}
	if !sc.Full() {
		out.Cohorts = slices.Clone(p.Cohorts)
	}
	switch {
	case sc.Full() && out.AllProjects:
		out.Reads = "every figure of every project"
	case sc.Full():
		out.Reads = "every figure of its projects (the figures over every project at once, such as the pipeline's consumer lag, are read by principals of every project)"
	case len(out.Cohorts) > 0:
		out.Reads = "its projects' project-level figures, and the annotators, cohorts and labels of vendor " + out.Vendor + " in its cohorts"
	default:
		out.Reads = "its projects' project-level figures, and the annotators, cohorts and labels of vendor " + out.Vendor
	}
	return out
}
