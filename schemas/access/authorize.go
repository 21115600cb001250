package access

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/assay-data/assay/schemas"
)

// The rules, as Violation.Rule names them: stable identifiers for answers, DLQ reasons,
// metric labels and documentation.
const (
	// RuleUnknownPrincipal: no principal (nil), or a producer id the registry does not know.
	RuleUnknownPrincipal = "principal.unknown"
	// RuleInternal: RoutingDecided, the gate's verdicts (DatasetVersionCertified,
	// DatasetVersionRejected) and EventRejected are written by Assay's own components only,
	// never by a principal.
	RuleInternal = "assay.internal"
	// RuleReservedProducer: an event whose producer id is reserved (assay-...) but whose type
	// Assay's components never write.
	RuleReservedProducer = "assay.reserved_producer"
	// RuleEventType: the principal's role does not write this event type.
	RuleEventType = "role.event_type"
	// RuleProject: the event's project is not in the principal's projects.
	RuleProject = "scope.project"
	// RuleOwnVendor: a labeler's label names a vendor other than its own.
	RuleOwnVendor = "labeler.own_vendor"
	// RuleOwnCohort: a labeler's label names a cohort that is not one of its own.
	RuleOwnCohort = "labeler.own_cohort"
	// RuleOwnAnnotators: a labeler's label names an annotator outside its annotator prefix.
	RuleOwnAnnotators = "labeler.own_annotators"
	// RuleOwnLabels: a labeler retracts a label another producer submitted (needs the label's
	// producer: checked by the processors, Facts.LabelProducer).
	RuleOwnLabels = "labeler.own_labels"
	// RuleOwnModels: a model's pre-label names a model that is not one of its own.
	RuleOwnModels = "model.own_models"
	// RuleRead: the principal's role reads nothing (collector, labeler, model tokens).
	RuleRead = "role.read"
)

// Violation is a refused write or read: the rule and why, for people. The gateway answers it
// with 403; the processors put it in the DLQ record's reason.
type Violation struct {
	// Rule is one of the Rule* names.
	Rule string
	// Field is the event field the rule looked at (snake_case, as in the JSON: "vendor",
	// "project_id"), or "" when the rule is about the principal or a fact from state.
	Field string
	// Reason says what the principal did and what it may do.
	Reason string
}

func (v *Violation) Error() string { return v.Rule + ": " + v.Reason }

func violation(rule, format string, args ...any) *Violation {
	return &Violation{Rule: rule, Field: ruleField[rule], Reason: fmt.Sprintf(format, args...)}
}

// ruleField is the event field each rule looks at.
var ruleField = map[string]string{
	RuleInternal:         "event_type",
	RuleReservedProducer: "producer",
	RuleEventType:        "event_type",
	RuleOwnVendor:        "vendor",
	RuleOwnCohort:        "cohort",
	RuleOwnAnnotators:    "annotator_id",
	RuleOwnLabels:        "label_id",
	RuleOwnModels:        "model",
}

// writers is the one table of which role writes which event type. Types not in it (the
// internal ones, and any type added to the contract before a rule is added here) are written
// by no principal: access fails closed.
var writers = map[schemas.EventType]Role{
	schemas.TypeItemIngested:            RoleCollector,
	schemas.TypePreLabelProposed:        RoleModel,
	schemas.TypeLabelSubmitted:          RoleLabeler,
	schemas.TypeLabelRetracted:          RoleLabeler,
	schemas.TypeGoldLabelSet:            RoleQA,
	schemas.TypeReviewCompleted:         RoleQA,
	schemas.TypeCoverageTargetSet:       RoleOwner,
	schemas.TypeDatasetVersionCommitted: RoleOwner,
	schemas.TypeTrainingRunRegistered:   RoleOwner,
	schemas.TypeEvalFindingReported:     RoleOwner,
	schemas.TypeRemediationStarted:      RoleOwner,
	schemas.TypeRemediationShipped:      RoleOwner,
	schemas.TypeGuidelineReleased:       RoleOwner,
	schemas.TypeQualityTargetsSet:       RoleOwner,
	schemas.TypeQuestionDefined:         RoleOwner,
	schemas.TypeGateOverrideGranted:     RoleOwner,
}

// internalTypes are the event types only Assay's own components write: the router's
// decisions, the gate's verdicts and the DLQ's records.
var internalTypes = []schemas.EventType{schemas.TypeRoutingDecided, schemas.TypeDatasetVersionCertified,
	schemas.TypeDatasetVersionRejected, schemas.TypeEventRejected}

// WriterOf returns the role that writes event type t, or false when no principal may write it
// (an internal type, or one access has no rule for).
func WriterOf(t schemas.EventType) (Role, bool) {
	r, ok := writers[t]
	return r, ok
}

// WritesOf returns the event types role r writes, in the contract's order.
func WritesOf(r Role) []schemas.EventType {
	var out []schemas.EventType
	for _, t := range schemas.EventTypes() {
		if writers[t] == r {
			out = append(out, t)
		}
	}
	return out
}

// Internal reports whether t is written only by Assay's own components (RoutingDecided,
// DatasetVersionCertified, DatasetVersionRejected, EventRejected).
func Internal(t schemas.EventType) bool { return slices.Contains(internalTypes, t) }

// Facts are what a caller with state knows about an event beyond its own fields. The gateway
// knows none (it is stateless); the processors know an item's, a dataset's and a finding's
// project, and who submitted a label.
type Facts struct {
	// Project is the project of an event that names none (its item's, dataset's or
	// finding's); "" when unknown, and then the project rule is not checked.
	Project string
	// LabelProducer is, for a LabelRetracted, the producer of the LabelSubmitted it
	// retracts; "" when unknown, and then the own-labels rule is not checked.
	LabelProducer string
}

// ProjectOf returns the project an event names in its own fields (its project_id: ItemIngested,
// LabelSubmitted, EvalFindingReported, ...), or false for the types that name none: their
// project is their item's, dataset's or finding's, which only state knows.
func ProjectOf(ev schemas.Event) (string, bool) {
	i, ok := projectField[ev.Type()]
	if !ok {
		return "", false
	}
	return reflect.ValueOf(ev).Elem().Field(i).String(), true
}

// projectField is, for each event type whose struct has a project_id field, that field's index,
// found once from the contract's descriptors: project_id is the contract's name for a project,
// so a new event type that names one falls under the project rule without being listed here.
var projectField = func() map[schemas.EventType]int {
	out := map[schemas.EventType]int{}
	for _, d := range schemas.Descriptors() {
		for i := range d.GoType.NumField() {
			f := d.GoType.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "project_id" && f.Type.Kind() == reflect.String {
				out[d.Type] = i
			}
		}
	}
	return out
}()

// Deferred lists the rules that Authorize cannot check on ev by itself and that need Facts:
// RuleProject for an event that names no project (when p is not scoped to every project) and
// RuleOwnLabels for a retraction. The processors check them (AuthorizeWith).
func Deferred(p *Principal, ev schemas.Event) []string {
	var out []string
	if _, ok := ProjectOf(ev); !ok && !Internal(ev.Type()) && (p == nil || !p.AllProjects()) {
		out = append(out, RuleProject)
	}
	if ev.Type() == schemas.TypeLabelRetracted {
		out = append(out, RuleOwnLabels)
	}
	return out
}

// Authorize decides whether p may write ev, from the event alone: nil, or a *Violation naming
// the first rule broken. It is what the gateway checks. The rules that need state (Deferred)
// pass; AuthorizeWith checks them too.
func Authorize(p *Principal, ev schemas.Event) error { return AuthorizeWith(p, ev, Facts{}) }

// AuthorizeWith is Authorize plus the rules that need the Facts a stateful caller knows: the
// project of an event that names none, and the producer of a retracted label. A fact left
// empty is not checked.
func AuthorizeWith(p *Principal, ev schemas.Event, f Facts) error {
	t := ev.Type()
	if p == nil {
		return violation(RuleUnknownPrincipal, "no principal")
	}
	if Internal(t) {
		return violation(RuleInternal, "%s may not write %s: Assay's own components write those, never a principal", p.ID, t)
	}
	want, ok := writers[t]
	if !ok || want != p.Role {
		return violation(RuleEventType, "%s (role %s) may not write %s; role %s writes %s",
			p.ID, p.Role, t, p.Role, typeList(WritesOf(p.Role)))
	}
	project, named := ProjectOf(ev)
	if !named {
		project = f.Project
	}
	if (named || project != "") && !p.InProject(project) {
		v := violation(RuleProject, "%s may write to projects %s, not %q", p.ID, strings.Join(p.Projects, ","), project)
		if named {
			v.Field = "project_id"
		} else {
			v.Reason = fmt.Sprintf("%s may write to projects %s; this %s belongs to project %q", p.ID, strings.Join(p.Projects, ","), t, project)
		}
		return v
	}
	switch e := ev.(type) {
	case *schemas.LabelSubmitted:
		if e.Vendor != p.Vendor {
			if p.Vendor == "" {
				return violation(RuleOwnVendor, "%s labels in house: its labels name no vendor, not %q", p.ID, e.Vendor)
			}
			return violation(RuleOwnVendor, "%s labels for vendor %q, not %q", p.ID, p.Vendor, e.Vendor)
		}
		if e.Cohort == "" && len(p.Cohorts) > 0 || e.Cohort != "" && !slices.Contains(p.Cohorts, e.Cohort) {
			if len(p.Cohorts) == 0 {
				return violation(RuleOwnCohort, "%s has no cohort: its labels name none, not %q", p.ID, e.Cohort)
			}
			return violation(RuleOwnCohort, "%s labels for cohorts %s, not %q", p.ID, strings.Join(p.Cohorts, ","), e.Cohort)
		}
		if p.AnnotatorPrefix != "" && !strings.HasPrefix(e.AnnotatorID, p.AnnotatorPrefix) {
			return violation(RuleOwnAnnotators, "%s's annotator ids start with %q; %q does not", p.ID, p.AnnotatorPrefix, e.AnnotatorID)
		}
	case *schemas.LabelRetracted:
		if f.LabelProducer != "" && f.LabelProducer != p.ID {
			return violation(RuleOwnLabels, "%s may retract only its own labels; label %s was submitted by another producer", p.ID, e.LabelID)
		}
	case *schemas.PreLabelProposed:
		if !(len(p.Models) == 1 && p.Models[0] == All) && !slices.Contains(p.Models, e.Model) {
			return violation(RuleOwnModels, "%s proposes for models %s, not %q", p.ID, strings.Join(p.Models, ","), e.Model)
		}
	}
	return nil
}

// Check authorizes an event as read from the log, by its producer: what the processors do
// with events that may have reached Kafka without the gateway. A reserved producer (Assay's
// own components) may write the internal types and nothing else; any other producer must be
// a principal of r, and AuthorizeWith decides. Whoever can write to Kafka directly can also
// claim a reserved producer id: Kafka's own ACLs must keep such writers out.
func (r *Registry) Check(ev schemas.Event, f Facts) error {
	prod := ev.Meta().Producer
	if Reserved(prod) {
		if Internal(ev.Type()) {
			return nil
		}
		return violation(RuleReservedProducer, "producer %q is reserved for Assay's own components, which do not write %s", prod, ev.Type())
	}
	p, ok := r.Principal(prod)
	if !ok {
		return violation(RuleUnknownPrincipal, "producer %q is not a principal", prod)
	}
	return AuthorizeWith(p, ev, f)
}

func typeList(ts []schemas.EventType) string {
	if len(ts) == 0 {
		return "nothing"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}
