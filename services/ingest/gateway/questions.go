package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
)

// Outcomes of assay_ingest_label_values_checked_total.
const (
	valueAdmitted     = "admitted"      // a definition of the question admits the value
	valueNotAdmitted  = "not_admitted"  // refused: every definition of the question refuses it (422)
	valueUndefined    = "undefined"     // refused: a spans, boxes or preference value of a question not defined (422)
	valueNoDefinition = "no_definition" // accepted: a question not defined, at a level that needs no definition
	valueUnchecked    = "unchecked"     // accepted: no definition found, but the view is incomplete (its cap)
)

// questionsError carries the view's error (the definitions are not known yet) out of the
// event loop, to answer 503.
type questionsError struct{ err error }

func (e *questionsError) Error() string {
	return "the questions' definitions are not known yet: " + e.err.Error()
}
func (e *questionsError) Unwrap() error { return e.err }

// answered is the question an event answers and its value: a LabelSubmitted's, in its
// project; a GoldLabelSet's or a PreLabelProposed's, which name no project. ok is false for
// every other type (a ReviewCompleted's corrected value answers the question of the label
// it reviews, which the gateway does not know: checking it is left to the processors).
func answered(ev schemas.Event) (question, project string, v *schemas.LabelValue, ok bool) {
	switch e := ev.(type) {
	case *schemas.LabelSubmitted:
		return e.QuestionID, e.ProjectID, &e.Value, true
	case *schemas.GoldLabelSet:
		return e.QuestionID, "", &e.Value, true
	case *schemas.PreLabelProposed:
		return e.QuestionID, "", &e.Value, true
	}
	return "", "", nil, false
}

// needsDefinition reports whether answers at level l are refused for a question that is not
// defined: regions need the question's closed set of labels (and IoU threshold) to mean
// anything, a preference its strength scale.
func needsDefinition(l schemas.MeasurementLevel) bool {
	return l.Regional() || l == schemas.LevelPreference
}

// admitted checks the value of a label, gold label or pre-label against the definitions of
// its question (Config.Questions): nil when a definition admits it, or when there is none and
// its level needs none; else the event's error, invalid like any value the contract refuses,
// naming the field (value.spans[2].label, value.level, value.preference.strength; or
// question_id for a question not defined) and how to proceed. err (a *questionsError)
// means the definitions could not be asked.
//
// Which definitions: a LabelSubmitted's question in its own project. A GoldLabelSet and a
// PreLabelProposed name no project (their item's is the processors' to know), so their
// question is looked up by its id among the projects the principal may write; when that
// finds several definitions (one question id defined in several of those projects), the
// value is refused only when every one of them refuses it, and the error is the first's
// (by project), naming the others: the gateway refuses what no project it could belong to
// admits, and leaves the item's own project's definition to the processors.
func (g *Gateway) admitted(d Decoded, prod *access.Principal) (*wire.EventError, error) {
	if g.cfg.Questions == nil {
		return nil, nil
	}
	question, project, v, ok := answered(d.Event)
	if !ok {
		return nil, nil
	}
	var (
		defs     []*schemas.QuestionDefined
		complete bool
		err      error
	)
	if project != "" {
		var def *schemas.QuestionDefined
		def, complete, err = g.cfg.Questions.Definition(project, question)
		if def != nil {
			defs = []*schemas.QuestionDefined{def}
		}
	} else {
		defs, complete, err = g.cfg.Questions.Definitions(question, prod.InProject)
	}
	if err != nil {
		return nil, &questionsError{err}
	}
	m := d.Event.Meta()
	fail := func(field, reason string) *wire.EventError {
		return &wire.EventError{Index: d.Index, Line: d.Line, EventID: m.EventID, EventType: string(d.Event.Type()),
			Field: field, Code: wire.CodeInvalid, Reason: reason}
	}
	if len(defs) == 0 {
		switch {
		case !needsDefinition(v.Level):
			g.m.valuesChecked.WithLabelValues(valueNoDefinition).Inc()
		case !complete:
			g.m.valuesChecked.WithLabelValues(valueUnchecked).Inc()
		default:
			g.m.valuesChecked.WithLabelValues(valueUndefined).Inc()
			return fail("question_id", undefined(question, project, prod, v.Level)), nil
		}
		return nil, nil
	}
	var refusal error
	var firstProject string
	for _, def := range defs {
		err := def.Admits(*v)
		if err == nil {
			g.m.valuesChecked.WithLabelValues(valueAdmitted).Inc()
			return nil, nil
		}
		if refusal == nil {
			refusal, firstProject = err, def.ProjectID
		}
	}
	g.m.valuesChecked.WithLabelValues(valueNotAdmitted).Inc()
	var first *schemas.FieldError
	if !errors.As(refusal, &first) {
		first = &schemas.FieldError{Reason: refusal.Error()}
	}
	field := "value"
	if first.Field != "" {
		field += "." + first.Field
	}
	reason := first.Reason
	if project == "" {
		reason += fmt.Sprintf(" (the definition of project %s", firstProject)
		if len(defs) > 1 {
			others := make([]string, 0, len(defs)-1)
			for _, def := range defs[1:] {
				others = append(others, def.ProjectID)
			}
			reason += fmt.Sprintf("; question %s is also defined in %s, whose definitions refuse this value too", question, strings.Join(others, ", "))
		}
		reason += ")"
	}
	return fail(field, reason), nil
}

// undefined says that a value's question is not defined, and how to proceed.
func undefined(question, project string, prod *access.Principal, level schemas.MeasurementLevel) string {
	where := fmt.Sprintf("in project %s", project)
	if project == "" {
		if prod.AllProjects() {
			where = "in any project"
		} else {
			where = fmt.Sprintf("in any project %s may write (%s; this event names no project, so its question is looked up among those)",
				prod.ID, strings.Join(prod.Projects, ", "))
		}
		project = "<the item's project>"
	}
	what, fields := "its closed set of region labels", "labels"
	if level == schemas.LevelPreference {
		what, fields = "its strength scale, if answers state one", "strength_scale"
	}
	return fmt.Sprintf("question %s is not defined %s, and a %s answer needs its question's definition (%s); "+
		"an owner of the project sends a QuestionDefined (project_id %q, question_id %q, level %q, %s), then sends this again",
		question, where, level, what, project, question, level, fields)
}

// questionsUnavailable answers 503 to a request with a value to check while the questions'
// definitions are not known yet: a retry soon finds them.
func (g *Gateway) questionsUnavailable(w http.ResponseWriter, err error) int {
	g.log.Debug("label answered 503: the view of questions is not ready", "err", err)
	return g.unavailable(w, wire.CodeQuestionsUnavailable, "label values are checked against the questions' definitions, and "+err.Error()+"; retry later")
}
