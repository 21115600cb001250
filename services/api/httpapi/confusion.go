package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/kpi"
)

// MaxTopConfusions bounds the top confusions listed per question; Cells always has every one.
const MaxTopConfusions = 10

// ConfusionKPI is the body of GET /v1/confusion: per question, the labels accuracy scores
// counted by gold value and labeled value, and the off-diagonal cells (the errors) most
// frequent first.
type ConfusionKPI struct {
	// Scope is the KPI scope of the counts: all, cohort:<c>, vendor:<v> or annotator:<a>.
	Scope      string              `json:"scope"`
	Questions  []QuestionConfusion `json:"questions"`
	Definition string              `json:"definition"`
}

// QuestionConfusion is one question's confusion.
type QuestionConfusion struct {
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	// ScoredLabels and CorrectLabels sum the cells and the diagonal: accuracy's denominator
	// and numerator (all submitted labels), Accuracy their ratio.
	ScoredLabels  int64 `json:"scored_labels"`
	CorrectLabels int64 `json:"correct_labels"`
	Accuracy      Num   `json:"accuracy"`
	// Cells are every (gold value, labeled value) with labels, most first.
	Cells []kpi.ConfusionCell `json:"cells"`
	// TopConfusions are the off-diagonal cells, most first, at most MaxTopConfusions.
	TopConfusions []Confusion `json:"top_confusions"`
}

// Confusion is one kind of error: labels that answered LabelValue where gold says GoldValue.
type Confusion struct {
	GoldValue  string `json:"gold_value"`
	LabelValue string `json:"label_value"`
	Count      int64  `json:"count"`
	// ShareOfGold is Count over the scored labels whose gold value is GoldValue; ShareOfErrors
	// Count over the question's errors.
	ShareOfGold   Num `json:"share_of_gold"`
	ShareOfErrors Num `json:"share_of_errors"`
}

const confusionDefinition = "over all time: the labels accuracy against gold scores (not retracted, of items whose question has a gold answer, the latest GoldLabelSet) counted by gold value and labeled value in canonical form (kpi_accuracy_confusion); the diagonal is the correct labels, every off-diagonal cell one kind of error (label_value empty: a label at another level of measurement than the gold answer). top_confusions are the off-diagonal cells, most labels first."

// confusionParams are the parameters of GET /v1/confusion: scope is a KPI scope (all by
// default, cohort:<c>, vendor:<v>, annotator:<a>), not a filter of the other endpoints.
var confusionParams = []string{"project", "question", "scope"}

// confusion answers the confusion of the view's project: project-level figures in scope
// "all", party figures in the scope of a cohort, vendor or annotator, which a vendor reads
// only for its own (RuleParty otherwise).
func (s *Server) confusion(w http.ResponseWriter, r *http.Request, sc access.ReadScope) error {
	q := r.URL.Query()
	question := q.Get("question")
	if err := CheckID(question); err != nil {
		return &ParamError{Param: "question", Reason: err.Error()}
	}
	scope, err := scopeParam(q)
	if err != nil {
		return err
	}
	if scope == "" {
		scope = kpi.ScopeAll
	}
	// ParseFilter checks every parameter's name and repetition and reads the project;
	// question and scope are this endpoint's own, checked above.
	f, err := ParseFilter(q, confusionParams...)
	if err != nil {
		return err
	}
	v, err := s.reader.View(r.Context(), f, sc)
	if err != nil {
		return err
	}
	if !v.seesScope(scope) {
		return scopeViolation(sc, scope, v.Project)
	}
	c, err := s.reader.Confusion(r.Context(), v, question, scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": map[string]string{"project": v.Project, "question": question, "scope": scope}, "confusion": c})
	return nil
}

// Confusion reads the confusion of v's project (every project's in a view of every project
// without one) in scope, of one question or of every question ("").
func (r *Reader) Confusion(ctx context.Context, v View, question, scope string) (*ConfusionKPI, error) {
	cells, err := kpi.ReadConfusion(ctx, r.conn, kpi.ConfusionFilter{Project: v.Project, Question: question, Scope: scope})
	if err != nil {
		return nil, err
	}
	return &ConfusionKPI{Scope: scope, Questions: confusions(cells), Definition: confusionDefinition}, nil
}

// confusions groups cells (most first) by question and computes each one's totals and top
// confusions, questions sorted by project and id.
func confusions(cells []kpi.ConfusionCell) []QuestionConfusion {
	type key struct{ project, question string }
	by := map[key]*QuestionConfusion{}
	gold := map[key]map[string]int64{}
	var keys []key
	for _, c := range cells {
		k := key{c.ProjectID, c.QuestionID}
		q := by[k]
		if q == nil {
			q = &QuestionConfusion{ProjectID: c.ProjectID, QuestionID: c.QuestionID, Cells: []kpi.ConfusionCell{}, TopConfusions: []Confusion{}}
			by[k], gold[k] = q, map[string]int64{}
			keys = append(keys, k)
		}
		q.Cells = append(q.Cells, c)
		q.ScoredLabels += c.Count
		gold[k][c.GoldValue] += c.Count
		if !c.Error {
			q.CorrectLabels += c.Count
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.question, b.question))
	})
	out := make([]QuestionConfusion, 0, len(keys))
	for _, k := range keys {
		q := by[k]
		q.Accuracy = ratio(q.CorrectLabels, q.ScoredLabels)
		errs := q.ScoredLabels - q.CorrectLabels
		for _, c := range q.Cells {
			if c.Error && len(q.TopConfusions) < MaxTopConfusions {
				q.TopConfusions = append(q.TopConfusions, Confusion{GoldValue: c.GoldValue, LabelValue: c.LabelValue, Count: c.Count,
					ShareOfGold: ratio(c.Count, gold[k][c.GoldValue]), ShareOfErrors: ratio(c.Count, errs)})
			}
		}
		out = append(out, *q)
	}
	return out
}
