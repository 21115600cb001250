package access

import (
	"errors"
	"regexp"
	"slices"
	"strings"
)

// Role is what a principal does: the event types it may write, or the figures it may read.
type Role string

// The roles (issue 15). Writers: collector, labeler, model, qa, owner. Readers: analyst and
// vendor write nothing. Internal roles (everything but labeler and vendor) belong to the
// organisation running Assay; labeler may be a vendor's team or an in-house one.
const (
	// RoleCollector writes ItemIngested of its projects.
	RoleCollector Role = "collector"
	// RoleLabeler writes LabelSubmitted and LabelRetracted of its projects, under its own
	// vendor and cohorts.
	RoleLabeler Role = "labeler"
	// RoleModel writes PreLabelProposed of its projects under its model names.
	RoleModel Role = "model"
	// RoleQA writes GoldLabelSet and ReviewCompleted of its projects.
	RoleQA Role = "qa"
	// RoleOwner is the internal accountable owner: coverage targets, dataset versions,
	// training runs, findings and remediation of its projects.
	RoleOwner Role = "owner"
	// RoleAnalyst reads every figure of its projects and writes nothing.
	RoleAnalyst Role = "analyst"
	// RoleVendor reads its projects' project-level figures and its own annotators, cohorts
	// and labels, and writes nothing.
	RoleVendor Role = "vendor"
)

// Roles lists every role in a fixed order.
func Roles() []Role {
	return []Role{RoleCollector, RoleLabeler, RoleModel, RoleQA, RoleOwner, RoleAnalyst, RoleVendor}
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Writes reports whether the role writes events at all (analyst and vendor do not).
func (r Role) Writes() bool { return r != RoleAnalyst && r != RoleVendor && r.Valid() }

// All is the projects value that scopes a principal to every project (projects=*).
const All = "*"

// ReservedPrefix starts the producer ids of Assay's own components (assay-ingest,
// assay-processor/router, ...). No principal may have such an id: the producer of an event is
// its principal's id, so a principal so named could pass for a component the processors
// trust. The check ignores case.
const ReservedPrefix = "assay-"

// Reserved reports whether id is one of Assay's own producer ids (it starts with
// ReservedPrefix, in any case).
func Reserved(id string) bool {
	return len(id) >= len(ReservedPrefix) && strings.EqualFold(id[:len(ReservedPrefix)], ReservedPrefix)
}

// idRe is the shape of principal ids (the producer field of every event the principal
// writes): the gateway's producer ids since the first release.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$`)

// valueRe is the shape of one scope value (a project, vendor, cohort, model name or annotator
// prefix): no space, comma, '=' or control character, so a line splits unambiguously.
var valueRe = regexp.MustCompile(`^[^\s,=#\x00-\x1f\x7f]{1,256}$`)

// Principal is a party that writes or reads through Assay: its id, role and scope. Its id is
// the producer stamped on every event it writes. A Principal from a Registry is shared and
// must not be modified.
type Principal struct {
	// ID identifies the principal; it is the producer of its events. Never reserved.
	ID string
	// Role decides which event types it may write, or which figures it may read.
	Role Role
	// Projects are the projects it may write or read, sorted; ["*"] (All) is every project.
	// Never empty.
	Projects []string
	// Vendor is the labeling vendor it acts for: required for role vendor; for a labeler,
	// the vendor its labels must name ("" for an in-house team, whose labels name none).
	// Empty for the other roles.
	Vendor string
	// Cohorts are, for a labeler, the cohorts its labels may name (empty: only labels
	// without a cohort); for a vendor reader, the cohorts it sees (empty: all of its
	// vendor's). Sorted.
	Cohorts []string
	// Models are, for role model, the model names its pre-labels may name; ["*"] is any.
	Models []string
	// AnnotatorPrefix is, for a labeler, what every annotator_id of its labels must start
	// with (empty: not checked at the door; see the package documentation).
	AnnotatorPrefix string
}

// AllProjects reports whether the principal's scope is every project.
func (p *Principal) AllProjects() bool { return len(p.Projects) == 1 && p.Projects[0] == All }

// InProject reports whether project is in the principal's scope.
func (p *Principal) InProject(project string) bool {
	return p.AllProjects() || slices.Contains(p.Projects, project)
}

// Internal reports whether the principal belongs to the organisation running Assay: every
// role but vendor, and labelers without a vendor (in-house teams).
func (p *Principal) Internal() bool {
	switch p.Role {
	case RoleVendor:
		return false
	case RoleLabeler:
		return p.Vendor == ""
	}
	return true
}

// Attributes renders the principal's role and scope as they appear in a principals-file
// line, in the canonical order (role, projects, vendor, cohorts, models, annotators).
func (p *Principal) Attributes() string {
	var b strings.Builder
	b.WriteString("role=" + string(p.Role))
	b.WriteString(" projects=" + joinSorted(p.Projects))
	if p.Vendor != "" {
		b.WriteString(" vendor=" + p.Vendor)
	}
	if len(p.Cohorts) > 0 {
		b.WriteString(" cohorts=" + joinSorted(p.Cohorts))
	}
	if len(p.Models) > 0 {
		b.WriteString(" models=" + joinSorted(p.Models))
	}
	if p.AnnotatorPrefix != "" {
		b.WriteString(" annotators=" + p.AnnotatorPrefix)
	}
	return b.String()
}

// Line renders the principals-file line that configures one token of the principal:
// "<id> <sha256hex> <attributes>". tokenHash is HashToken's output, or "-" for a principal
// kept without any token.
func (p *Principal) Line(tokenHash string) string {
	return p.ID + " " + tokenHash + " " + p.Attributes()
}

// Validate checks the principal as the parser does: a valid, unreserved id, a role, and the
// scope attributes that role takes (and no others). Callers building a principal (assay token
// create) use it before printing its line.
func (p *Principal) Validate() error {
	if !idRe.MatchString(p.ID) {
		return errors.New("principal id " + quote(p.ID) + " must match " + idRe.String())
	}
	if Reserved(p.ID) {
		return errors.New("principal id " + quote(p.ID) + " is reserved: ids starting " + ReservedPrefix + " are Assay's own components")
	}
	if !p.Role.Valid() {
		return errors.New("role " + quote(string(p.Role)) + " is not one of " + joinRoles())
	}
	if len(p.Projects) == 0 {
		return errors.New("projects= is required (a comma-separated list, or * for every project)")
	}
	if err := values("projects", p.Projects, true); err != nil {
		return err
	}
	if p.AllProjects() && !p.Internal() {
		return errors.New("projects=* is for internal roles only: a vendor's scope names its projects")
	}
	need := func(key string, set bool) error {
		if set {
			return errors.New(key + "= does not apply to role " + string(p.Role))
		}
		return nil
	}
	switch p.Role {
	case RoleLabeler:
		if err := values("cohorts", p.Cohorts, false); err != nil {
			return err
		}
	case RoleVendor:
		if p.Vendor == "" {
			return errors.New("vendor= is required for role vendor")
		}
		if err := values("cohorts", p.Cohorts, false); err != nil {
			return err
		}
	default:
		if err := need("vendor", p.Vendor != ""); err != nil {
			return err
		}
		if err := need("cohorts", len(p.Cohorts) > 0); err != nil {
			return err
		}
	}
	if p.Vendor != "" && !valueRe.MatchString(p.Vendor) {
		return errors.New("vendor " + quote(p.Vendor) + " has a space, comma, '=', '#' or control character")
	}
	if p.Role == RoleModel {
		if len(p.Models) == 0 {
			return errors.New("models= is required for role model (its model names, or *)")
		}
		if err := values("models", p.Models, true); err != nil {
			return err
		}
	} else if err := need("models", len(p.Models) > 0); err != nil {
		return err
	}
	if p.Role != RoleLabeler {
		if err := need("annotators", p.AnnotatorPrefix != ""); err != nil {
			return err
		}
	} else if p.AnnotatorPrefix != "" && !valueRe.MatchString(p.AnnotatorPrefix) {
		return errors.New("annotators prefix " + quote(p.AnnotatorPrefix) + " has a space, comma, '=', '#' or control character")
	}
	return nil
}

// values checks a list attribute: each value well-formed, none twice, and "*" only alone
// where allowed.
func values(key string, vs []string, star bool) error {
	seen := map[string]bool{}
	for _, v := range vs {
		if v == All {
			if !star {
				return errors.New(key + "=* is not allowed: name them")
			}
			if len(vs) > 1 {
				return errors.New(key + "=* stands alone")
			}
			continue
		}
		if !valueRe.MatchString(v) {
			return errors.New(key + " value " + quote(v) + " is empty or has a space, comma, '=', '#' or control character")
		}
		if seen[v] {
			return errors.New(key + " names " + quote(v) + " twice")
		}
		seen[v] = true
	}
	return nil
}

func joinRoles() string {
	var s []string
	for _, r := range Roles() {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// joinSorted renders a list attribute's value in sorted order, so two lines of one principal
// compare equal however their lists were written.
func joinSorted(vs []string) string {
	return strings.Join(slices.Sorted(slices.Values(vs)), ",")
}
