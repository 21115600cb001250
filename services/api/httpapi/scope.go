package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assay-data/assay/schemas/access"
)

// View is what one answer covers: the filter a client asked for, narrowed by the read scope
// of the principal asking (Reader.View makes one). Every Reader method reads the figures of a
// View and only those: the project-level figures of its project, and, for a partial scope
// (a vendor), only the party figures (annotators, cohorts, labels) of its own party.
type View struct {
	Filter
	scope access.ReadScope
	// parties are the project's parties, read for a partial scope only (nil for a full one).
	parties *parties
}

// Scope is the read scope the view is narrowed by.
func (v View) Scope() access.ReadScope { return v.scope }

// allProjects reports whether the view's scope is every project: only then does it carry
// the figures that cannot be split by project (RuleAllProjects).
func (v View) allProjects() bool { return allProjects(v.scope) }

// seesCohort reports whether the view shows the party figures of cohort (its within-cohort
// agreement and accuracy).
func (v View) seesCohort(cohort string) bool {
	return v.scope.Full() || v.parties.seesCohort(v.scope, cohort)
}

// seesAnnotator reports whether the view shows the figures of annotator.
func (v View) seesAnnotator(id string) bool {
	return v.scope.Full() || v.parties.seesAnnotator(v.scope, id)
}

// seesVendor reports whether the view shows the figures of vendor as a whole (an agreement
// drop of vendor:<v>): a full scope does; a vendor's only its own, and only when every label
// of it in the project is in the scope's cohorts (so not when its principal names some
// cohorts and the vendor labeled in others too).
func (v View) seesVendor(vendor string) bool {
	if v.scope.Full() {
		return true
	}
	if v.parties == nil || vendor == "" || vendor != v.scope.Vendor() {
		return false
	}
	found := false
	for _, pairs := range v.parties.cohorts {
		for _, p := range pairs {
			if p.vendor != vendor {
				continue
			}
			if !v.scope.SeesParty(p.vendor, p.cohort) {
				return false
			}
			found = true
		}
	}
	return found
}

// key identifies the view for the history: the filter and the part of the scope that changes
// what a summary holds (full or a vendor's party, every project or not), never the principal,
// so that readers of one scope share one sampled view.
func (v View) key() string {
	return scopeKey(v.Filter, v.scope)
}

func scopeKey(f Filter, sc access.ReadScope) string {
	q := url.Values{"full": {strconv.FormatBool(sc.Full())}, "all_projects": {strconv.FormatBool(allProjects(sc))}}
	if !sc.Full() {
		q.Set("vendor", sc.Vendor())
		q.Set("cohorts", strings.Join(slices.Sorted(slices.Values(sc.Principal().Cohorts)), ","))
	}
	return f.Key() + "&" + q.Encode()
}

// EveryFigure is the view of f over every figure of every project: Assay's own reads (the
// unfiltered history behind the KPI gauges), and callers that authorize elsewhere.
func EveryFigure(f Filter) View { return View{Filter: f, scope: everything()} }

// View narrows f to what sc reads, or refuses it:
//
//   - a scope of every project reads any project (f.Project "" is every project);
//   - any other scope reads one of its projects per answer: f.Project must be one of them
//     (access.RuleProject, 403), and when f names none the scope's only project is taken,
//     or, for a scope of several projects, the request must name one (400): a figure over a
//     set of projects (a quantile, an alpha) cannot be put together from per-project ones,
//     and the KPI tables hold no other;
//   - a vendor's cohort filter must name a cohort of its own in the project (RuleParty):
//     one whose every label names its vendor (and, when its principal lists cohorts, one of
//     them), so that no cohort figure it reads counts another party's labels.
//
// For a partial scope it reads the project's parties (one query on the labels).
func (r *Reader) View(ctx context.Context, f Filter, sc access.ReadScope) (View, error) {
	if sc.Principal() == nil {
		return View{}, &access.Violation{Rule: access.RuleUnknownPrincipal, Reason: "no principal"}
	}
	projects, all := sc.Projects()
	if !all {
		switch {
		case f.Project != "" && !sc.SeesProject(f.Project):
			return View{}, &access.Violation{Rule: access.RuleProject, Field: "project",
				Reason: fmt.Sprintf("%s reads projects %s, not %q", sc.Principal().ID, strings.Join(projects, ","), f.Project)}
		case f.Project == "" && len(projects) == 1:
			f.Project = projects[0]
		case f.Project == "":
			return View{}, &ParamError{Param: "project", Reason: fmt.Sprintf("required: %s reads projects %s; name one (figures over several projects at once are read only by principals of every project)",
				sc.Principal().ID, strings.Join(projects, ","))}
		}
	}
	v := View{Filter: f, scope: sc}
	if sc.Full() {
		return v, nil
	}
	ps, err := r.partiesOf(ctx, f.Project)
	if err != nil {
		return View{}, err
	}
	v.parties = ps
	if f.Cohort != "" && !v.seesCohort(f.Cohort) {
		return View{}, &access.Violation{Rule: RuleParty, Field: "cohort",
			Reason: fmt.Sprintf("%s reads the cohorts of vendor %s%s; cohort %q of project %q is not one of them (not every one of its labels is the vendor's, or it has none)",
				sc.Principal().ID, sc.Vendor(), cohortList(sc), f.Cohort, f.Project)}
	}
	return v, nil
}

func cohortList(sc access.ReadScope) string {
	if c := sc.Principal().Cohorts; len(c) > 0 {
		return " (" + strings.Join(c, ",") + ")"
	}
	return ""
}

// party is a vendor and cohort that labels name.
type party struct{ vendor, cohort string }

// parties are who labeled in a project: the (vendor, cohort) pairs of each annotator's labels
// and the vendors of each cohort's. A party figure is a vendor's when every label behind it
// is (access.ReadScope.SeesParty): an annotator or a cohort that also labeled for another
// party, or in house, is not shown to a vendor, since its figures count those labels too.
type parties struct {
	annotators map[string][]party
	cohorts    map[string][]party
}

// partiesQuery lists the distinct (annotator, cohort, vendor) of a project's labels. Without
// FINAL: a duplicate row adds no pair. Retracted labels count too: the KPI tables counted
// them until the retraction, and a party must not be shown another's figures meanwhile.
const partiesQuery = `SELECT annotator_id, cohort, vendor
FROM labels
WHERE project_id = ?
GROUP BY annotator_id, cohort, vendor`

// partyCache keeps the parties read per project for ttl (0: not at all), so that the cost of
// the vendors' views grows with the projects they read, not with their number: every vendor
// dashboard asks /v1/kpis and /v1/history every two seconds, and each reads the project's
// labels. Parties only grow (a label is never deleted), and for at most ttl a view may miss
// an annotator's newest label: the KPI tables, written by other processors than the labels
// table, are never more in step with it than that.
type partyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedParties
}

type cachedParties struct {
	at time.Time
	ps *parties
}

// partiesOf returns the parties of project, read at most ttl ago.
func (r *Reader) partiesOf(ctx context.Context, project string) (*parties, error) {
	c := &r.parties
	now := r.now()
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[project]
		c.mu.Unlock()
		if ok && now.Sub(e.at) < c.ttl {
			return e.ps, nil
		}
	}
	ps, err := r.readParties(ctx, project)
	if err != nil || c.ttl <= 0 {
		return ps, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedParties{}
	}
	for p, e := range c.m {
		if now.Sub(e.at) >= c.ttl {
			delete(c.m, p) // bounded by the projects read within ttl
		}
	}
	c.m[project] = cachedParties{at: now, ps: ps}
	return ps, nil
}

func (r *Reader) readParties(ctx context.Context, project string) (*parties, error) {
	ps := &parties{annotators: map[string][]party{}, cohorts: map[string][]party{}}
	if err := r.each(ctx, partiesQuery, []any{project}, func(v []string) {
		p := party{vendor: v[2], cohort: v[1]}
		ps.annotators[v[0]] = append(ps.annotators[v[0]], p)
		if !slices.Contains(ps.cohorts[v[1]], p) {
			ps.cohorts[v[1]] = append(ps.cohorts[v[1]], p)
		}
	}, 3); err != nil {
		return nil, fmt.Errorf("parties of project %q: %w", project, err)
	}
	return ps, nil
}

// sees reports whether every pair is the scope's party (and there is one).
func sees(sc access.ReadScope, pairs []party) bool {
	if len(pairs) == 0 {
		return false
	}
	for _, p := range pairs {
		if !sc.SeesParty(p.vendor, p.cohort) {
			return false
		}
	}
	return true
}

func (ps *parties) seesAnnotator(sc access.ReadScope, id string) bool {
	return ps != nil && sees(sc, ps.annotators[id])
}

func (ps *parties) seesCohort(sc access.ReadScope, cohort string) bool {
	return ps != nil && sees(sc, ps.cohorts[cohort])
}
