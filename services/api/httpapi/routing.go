package httpapi

import (
	"context"
	"fmt"
)

// RoutingKPI is automation with a human boundary (streams/router): how much the router
// auto-accepts, how often a human overrides an audited auto-accept, and how precise each
// model version's pre-labels are against the accepted human labels.
type RoutingKPI struct {
	// Automation sums every project's decisions.
	Automation
	// PrelabelsJudged are the pre-labels whose item/question has an accepted human label;
	// PrelabelsCorrect those equal to it; PrelabelPrecision their share over every model.
	PrelabelsJudged   int64 `json:"prelabels_judged"`
	PrelabelsCorrect  int64 `json:"prelabels_correct"`
	PrelabelPrecision Num   `json:"prelabel_precision"`
	// Projects are the automation figures per project; Models the precision per project,
	// model and model version.
	Projects   []AutomationFigure `json:"projects"`
	Models     []PrecisionFigure  `json:"models"`
	Definition string             `json:"definition"`
}

// Automation counts the router's decisions, with the rates computed from the counts.
type Automation struct {
	// Decisions counts the pre-label decisions (one per item and question).
	Decisions int64 `json:"decisions"`
	// AutoAccepted counts auto_accept decisions plus the audited ones (the rules would have
	// accepted them; the audit only measures).
	AutoAccepted   int64 `json:"auto_accepted"`
	AutomationRate Num   `json:"automation_rate"`
	Audits         int64 `json:"audits"`
	AuditRate      Num   `json:"audit_rate"`
	// AuditsLabeled are the audits with an accepted human label; AuditsOverridden those whose
	// label differs from the pre-label; OverrideRate is their share (null until an audit is
	// labeled).
	AuditsLabeled    int64 `json:"audits_labeled"`
	AuditsOverridden int64 `json:"audits_overridden"`
	OverrideRate     Num   `json:"override_rate"`
	// Routes of the decisions not auto-accepted, and the escalations for low agreement.
	HumanLabel   int64 `json:"human_label"`
	HumanReview  int64 `json:"human_review"`
	ExpertReview int64 `json:"expert_review"`
	Escalations  int64 `json:"escalations"`
}

// add adds b's counts to a's; the rates are left for setRates.
func (a *Automation) add(b Automation) {
	a.Decisions += b.Decisions
	a.AutoAccepted += b.AutoAccepted
	a.Audits += b.Audits
	a.AuditsLabeled += b.AuditsLabeled
	a.AuditsOverridden += b.AuditsOverridden
	a.HumanLabel += b.HumanLabel
	a.HumanReview += b.HumanReview
	a.ExpertReview += b.ExpertReview
	a.Escalations += b.Escalations
}

// setRates computes the rates from the counts (null where the denominator is 0).
func (a *Automation) setRates() {
	a.AutomationRate, a.AuditRate, a.OverrideRate = ratio(a.AutoAccepted, a.Decisions), ratio(a.Audits, a.Decisions), ratio(a.AuditsOverridden, a.AuditsLabeled)
}

// AutomationFigure is the automation of one project.
type AutomationFigure struct {
	ProjectID string `json:"project_id"`
	Automation
}

// PrecisionFigure is the precision of one model version's pre-labels in one project.
type PrecisionFigure struct {
	ProjectID         string `json:"project_id"`
	Model             string `json:"model"`
	ModelVersion      string `json:"model_version"`
	PrelabelsJudged   int64  `json:"prelabels_judged"`
	PrelabelsCorrect  int64  `json:"prelabels_correct"`
	PrelabelPrecision Num    `json:"prelabel_precision"`
}

const routingDefinition = "over all time and every cohort (window and cohort do not apply), from the router's decisions (kpi_automation): automation_rate = auto_accepted / decisions, one decision per item and question, where auto_accepted counts auto_accept and the audited decisions (the rules would have accepted them); override_rate = audits_overridden / audits_labeled: of the audited decisions whose item has an accepted human label (the most frequent of the annotators' latest, non-retracted answers), the share whose label differs from the pre-label; prelabel_precision = prelabels_correct / prelabels_judged: of the pre-labels whose item and question have an accepted human label, the share equal to it (kpi_prelabel_precision, per project of the labels)."

// Automation per project from kpi_automation (migration 0020), counts only: the rates are
// computed here, so an undefined one is null rather than NaN.
const automationQuery = `SELECT project_id, toInt64(decisions), toInt64(auto_accepted), toInt64(audits),
       toInt64(audits_labeled), toInt64(audits_overridden),
       toInt64(human_label), toInt64(human_review), toInt64(expert_review), toInt64(escalations)
FROM kpi_automation
WHERE (? = '' OR project_id = ?)
ORDER BY project_id`

// Precision per project and model version: kpi_prelabel_precision has no project (a
// pre-label carries none), so this joins the same pre-labels and accepted labels and takes
// the project from the labels behind the accepted answer (aliased labels_project: an alias
// named like the column would shadow it in WHERE). 18.16 needs ALL before each JOIN,
// current releases an alias on each joined subquery.
const precisionQuery = `SELECT labels_project, model, model_version, toInt64(count()), toInt64(sum(value = accepted_value))
FROM (
    SELECT item_id, question_id, model, model_version, value, accepted_value
    FROM (SELECT item_id, question_id, model, model_version, value FROM routing_prelabels FINAL) AS prelabels
    ALL INNER JOIN (SELECT item_id, question_id, accepted_value FROM routing_accepted_labels) AS accepted
    USING (item_id, question_id)
) AS judged
ALL INNER JOIN (
    SELECT item_id, question_id, any(project_id) AS labels_project
    FROM routing_labels FINAL
    WHERE (? = '' OR project_id = ?)
    GROUP BY item_id, question_id
) AS projects
USING (item_id, question_id)
GROUP BY labels_project, model, model_version
ORDER BY labels_project, model, model_version`

// Routing reads the automation and pre-label precision of v (project only: project-level
// figures, which no party owns).
func (r *Reader) Routing(ctx context.Context, v View) (*RoutingKPI, error) {
	f := v.Filter
	out := &RoutingKPI{Projects: []AutomationFigure{}, Models: []PrecisionFigure{}, Definition: routingDefinition}
	rows, err := r.conn.Query(ctx, automationQuery, f.Project, f.Project)
	if err != nil {
		return nil, fmt.Errorf("query automation: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a AutomationFigure
		if err := rows.Scan(&a.ProjectID, &a.Decisions, &a.AutoAccepted, &a.Audits, &a.AuditsLabeled, &a.AuditsOverridden,
			&a.HumanLabel, &a.HumanReview, &a.ExpertReview, &a.Escalations); err != nil {
			return nil, fmt.Errorf("scan automation: %w", err)
		}
		a.setRates()
		out.add(a.Automation)
		out.Projects = append(out.Projects, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read automation: %w", err)
	}
	rows.Close()
	out.setRates()

	prows, err := r.conn.Query(ctx, precisionQuery, f.Project, f.Project)
	if err != nil {
		return nil, fmt.Errorf("query pre-label precision: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var p PrecisionFigure
		if err := prows.Scan(&p.ProjectID, &p.Model, &p.ModelVersion, &p.PrelabelsJudged, &p.PrelabelsCorrect); err != nil {
			return nil, fmt.Errorf("scan pre-label precision: %w", err)
		}
		p.PrelabelPrecision = ratio(p.PrelabelsCorrect, p.PrelabelsJudged)
		out.PrelabelsJudged += p.PrelabelsJudged
		out.PrelabelsCorrect += p.PrelabelsCorrect
		out.Models = append(out.Models, p)
	}
	if err := prows.Err(); err != nil {
		return nil, fmt.Errorf("read pre-label precision: %w", err)
	}
	out.PrelabelPrecision = ratio(out.PrelabelsCorrect, out.PrelabelsJudged)
	return out, nil
}
