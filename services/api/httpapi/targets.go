package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/gate"
)

// TargetMaxLabelDrift names the label-drift threshold in assay_api_quality_target: a
// monitoring target (streams/anomaly), which the gate does not judge; the other names are the
// gate's (gate.TargetAlpha, ...).
const TargetMaxLabelDrift = "max_label_drift"

// The status of a targets version at the time of an answer.
const (
	TargetsInForce    = "in_force"
	TargetsSuperseded = "superseded"
	TargetsScheduled  = "scheduled"
)

// TargetsSet is one version of quality targets (a QualityTargetsSet as the ledger holds it)
// and its place in the history of its project, dataset and question: in force now,
// superseded (by a later version from SupersededAt on) or scheduled (EffectiveAt is still to
// come).
type TargetsSet struct {
	schemas.QualityTargetsSet
	Status string `json:"status"`
	// SupersededAt is the effective time (epoch ms) of the version that replaced this one,
	// and SupersededBy its targets_version; empty while it is in force or scheduled.
	SupersededAt *int64 `json:"superseded_at,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
	// order is the set's place in the log (its partition is the project's), which breaks
	// ties of equal EffectiveAt: the later in the log wins.
	order uint64
}

// ResolvedTarget is one threshold in force now for a project's question (QuestionID ""
// for a target on a dataset version as a whole): what assay_api_quality_target exports and
// what the dashboard draws. It is resolved as the gate resolves the targets of a version of
// no particular dataset committed now (gate.Resolve): per question, the project's set
// narrowed to it replaces the agreement and accuracy targets (a target it leaves out is not
// judged for the question), and the project's min_alpha applies only to the questions
// answered at its level of measurement. max_label_drift, which the gate does not judge,
// comes from the narrowed set when it states one, else from the project's.
type ResolvedTarget struct {
	ProjectID  string  `json:"project_id"`
	QuestionID string  `json:"question_id"`
	Target     string  `json:"target"`
	Threshold  float64 `json:"threshold"`
	// TargetsVersion is the version of the targets the threshold comes from.
	TargetsVersion string `json:"targets_version"`
	// Level, OnLowerBound and MinEvidence (pairable values) qualify min_alpha; Denominator
	// and MinEvidence (counted gold labels) min_accuracy.
	Level        string `json:"level,omitempty"`
	OnLowerBound bool   `json:"on_lower_bound,omitempty"`
	Denominator  string `json:"denominator,omitempty"`
	MinEvidence  int64  `json:"min_evidence,omitempty"`
}

// Question is a question a project's labels answer, at its level of measurement.
type Question struct {
	ProjectID  string
	QuestionID string
	Level      string
}

// ProjectTargets are one project's targets: the versions in force now (one per dataset and
// question they are narrowed to), the thresholds they resolve to per question, and every
// version ever set with its status.
type ProjectTargets struct {
	ProjectID string           `json:"project_id"`
	InForce   []TargetsSet     `json:"in_force"`
	Resolved  []ResolvedTarget `json:"resolved"`
	History   []TargetsSet     `json:"history"`
}

// TargetsKPI is the answer of GET /v1/targets.
type TargetsKPI struct {
	AsOfMillis int64            `json:"as_of_ms"`
	Projects   []ProjectTargets `json:"projects"`
	Definition string           `json:"definition"`
}

const targetsDefinition = "QualityTargetsSet events from the ledger. Per project, dataset (empty: every dataset) and question (empty: every question), the version in force is the latest whose effective_at has passed (ties: the later in the log); a version narrowed to a dataset replaces the project's for that dataset, one narrowed to a question replaces the agreement, accuracy and label-drift targets it states for that question. resolved are the project-level thresholds in force now per question the project's labels answer (question_id empty for the targets on a dataset version as a whole); a min_alpha applies only to questions at its level of measurement. The gate judges each dataset version by the versions in force at its commit time instead."

// timeline orders sets by key (dataset, question), then by effective time and place in the
// log, and gives each its status at now (epoch ms).
func timeline(sets []TargetsSet, now int64) []TargetsSet {
	out := slices.Clone(sets)
	slices.SortStableFunc(out, func(a, b TargetsSet) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.DatasetID, b.DatasetID), cmp.Compare(a.QuestionID, b.QuestionID),
			cmp.Compare(a.EffectiveAt, b.EffectiveAt), cmp.Compare(a.order, b.order))
	})
	for i := range out {
		s := &out[i]
		s.SupersededAt, s.SupersededBy = nil, ""
		switch {
		case s.EffectiveAt > now:
			s.Status = TargetsScheduled
		case i+1 < len(out) && sameKey(*s, out[i+1]) && out[i+1].EffectiveAt <= now:
			next := out[i+1]
			at := next.EffectiveAt
			s.Status, s.SupersededAt, s.SupersededBy = TargetsSuperseded, &at, next.TargetsVersion
		default:
			s.Status = TargetsInForce
		}
	}
	return out
}

func sameKey(a, b TargetsSet) bool {
	return a.ProjectID == b.ProjectID && a.DatasetID == b.DatasetID && a.QuestionID == b.QuestionID
}

// projectTargets groups the timeline of sets by project and resolves each project's
// thresholds for its questions. Projects are those with targets, sorted.
func projectTargets(sets []TargetsSet, questions []Question, now int64) []ProjectTargets {
	var out []ProjectTargets
	byProject := map[string][]TargetsSet{}
	for _, s := range sets {
		byProject[s.ProjectID] = append(byProject[s.ProjectID], s)
	}
	for _, s := range timeline(sets, now) {
		if len(out) == 0 || out[len(out)-1].ProjectID != s.ProjectID {
			out = append(out, ProjectTargets{ProjectID: s.ProjectID, InForce: []TargetsSet{}, History: []TargetsSet{}})
		}
		p := &out[len(out)-1]
		p.History = append(p.History, s)
		if s.Status == TargetsInForce {
			p.InForce = append(p.InForce, s)
		}
	}
	for i := range out {
		p := &out[i]
		var qs []Question
		for _, q := range questions {
			if q.ProjectID == p.ProjectID {
				qs = append(qs, q)
			}
		}
		logged := byProject[p.ProjectID]
		slices.SortStableFunc(logged, func(a, b TargetsSet) int { return cmp.Compare(a.order, b.order) })
		p.Resolved = resolve(p.ProjectID, logged, qs, now)
	}
	return out
}

// resolve gives the project-level thresholds in force now (sets: one project's, in log
// order) for its questions, in a stable order: the version-level targets first (question
// ""), then each question's.
func resolve(project string, sets []TargetsSet, questions []Question, now int64) []ResolvedTarget {
	ptrs := make([]*schemas.QualityTargetsSet, len(sets))
	for i := range sets {
		ptrs[i] = &sets[i].QualityTargetsSet
	}
	in := gate.Resolve(ptrs, "", now)
	out := []ResolvedTarget{}
	add := func(s *schemas.QualityTargetsSet, question, target string, threshold float64) *ResolvedTarget {
		out = append(out, ResolvedTarget{ProjectID: project, QuestionID: question, Target: target, Threshold: threshold, TargetsVersion: s.TargetsVersion})
		return &out[len(out)-1]
	}
	base := in.Base
	if base != nil {
		if c := base.Coverage; c != nil && c.MinSliceCoverage != nil {
			add(base, "", gate.TargetSliceCoverage, *c.MinSliceCoverage)
		}
		if c := base.Coverage; c != nil && c.MinEdgeCaseCoverage != nil {
			add(base, "", gate.TargetEdgeCaseCoverage, *c.MinEdgeCaseCoverage)
		}
		if v := base.MinLineageCompleteness; v != nil {
			add(base, "", gate.TargetLineage, *v)
		}
		if v := base.MaxReworkRate; v != nil {
			add(base, "", gate.TargetRework, *v)
		}
	}
	questions = slices.Clone(questions)
	slices.SortFunc(questions, func(a, b Question) int { return cmp.Compare(a.QuestionID, b.QuestionID) })
	for _, q := range questions {
		var narrowed *schemas.QualityTargetsSet
		for _, s := range in.Questions {
			if s.QuestionID == q.QuestionID {
				narrowed = s
			}
		}
		// from is the set whose agreement and accuracy targets judge q.
		from := narrowed
		if from == nil {
			from = base
		}
		if from != nil && from.Agreement != nil && (narrowed != nil || string(from.Agreement.Level) == q.Level) {
			a := from.Agreement
			r := add(from, q.QuestionID, gate.TargetAlpha, a.MinAlpha)
			r.Level, r.OnLowerBound, r.MinEvidence = string(a.Level), a.OnLowerBound, a.MinPairableValues
		}
		if from != nil && from.Accuracy != nil {
			a := from.Accuracy
			r := add(from, q.QuestionID, gate.TargetAccuracy, a.MinAccuracy)
			r.Denominator, r.MinEvidence = string(a.Denominator), a.MinGoldLabels
		}
		switch {
		case narrowed != nil && narrowed.MaxLabelDrift != nil:
			add(narrowed, q.QuestionID, TargetMaxLabelDrift, *narrowed.MaxLabelDrift)
		case base != nil && base.MaxLabelDrift != nil:
			add(base, q.QuestionID, TargetMaxLabelDrift, *base.MaxLabelDrift)
		}
	}
	return out
}

// Targets reads the quality targets of v's project (every project's in a view of every
// project without one) and resolves them at now.
func (r *Reader) Targets(ctx context.Context, v View) (*TargetsKPI, error) {
	now := r.now()
	sets, err := r.readTargetSets(ctx, v.Project)
	if err != nil {
		return nil, err
	}
	questions, err := r.readQuestions(ctx, v.Project)
	if err != nil {
		return nil, err
	}
	out := &TargetsKPI{AsOfMillis: now.UnixMilli(), Projects: projectTargets(sets, questions, now.UnixMilli()), Definition: targetsDefinition}
	if out.Projects == nil {
		out.Projects = []ProjectTargets{}
	}
	return out, nil
}

// questionsQuery lists the questions each project's labels answer, with their level of
// measurement (a question has one). Without FINAL: a duplicate row adds no question.
const questionsQuery = `SELECT project_id, question_id, any(value_level)
FROM labels
WHERE (? = '' OR project_id = ?)
GROUP BY project_id, question_id
ORDER BY project_id, question_id`

func (r *Reader) readQuestions(ctx context.Context, project string) ([]Question, error) {
	var out []Question
	if err := r.each(ctx, questionsQuery, []any{project, project}, func(v []string) {
		out = append(out, Question{ProjectID: v[0], QuestionID: v[1], Level: v[2]})
	}, 3); err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	return out, nil
}

// targetsQuery reads every QualityTargetsSet of a project (of every project with ”),
// flattened as the ledger keeps it (streams/ledger, table quality_targets): a target left
// out is NULL or empty. FINAL: a redelivered event is one version.
const targetsQuery = `SELECT event_id, producer, occurred_at_ms, kafka_offset, project_id, targets_version, dataset_id, question_id,
       effective_at_ms, agreement_level, agreement_min_alpha, agreement_min_pairable_values, agreement_on_lower_bound,
       accuracy_min_accuracy, accuracy_denominator, accuracy_min_gold_labels, min_slice_coverage, min_edge_case_coverage,
       min_lineage_completeness, max_rework_rate, max_open_findings_severities, max_open_findings_max,
       allow_gold_in_training, max_label_drift
FROM quality_targets FINAL
WHERE (? = '' OR project_id = ?)
ORDER BY project_id, kafka_offset`

func (r *Reader) readTargetSets(ctx context.Context, project string) ([]TargetsSet, error) {
	rows, err := r.conn.Query(ctx, targetsQuery, project, project)
	if err != nil {
		return nil, fmt.Errorf("query quality targets: %w", err)
	}
	defer rows.Close()
	var out []TargetsSet
	for rows.Next() {
		var (
			s                       TargetsSet
			agLevel, accDenominator string
			minAlpha, minAccuracy   *float64
			minPairable, minGold    *int64
			onLower, allowGold      uint8
			minSlice, minEdge       *float64
			severities              []string
			maxFindings             []int64
		)
		e := &s.QualityTargetsSet
		if err := rows.Scan(&e.EventID, &e.Producer, &e.OccurredAt, &s.order, &e.ProjectID, &e.TargetsVersion, &e.DatasetID, &e.QuestionID,
			&e.EffectiveAt, &agLevel, &minAlpha, &minPairable, &onLower, &minAccuracy, &accDenominator, &minGold, &minSlice, &minEdge,
			&e.MinLineageCompleteness, &e.MaxReworkRate, &severities, &maxFindings, &allowGold, &e.MaxLabelDrift); err != nil {
			return nil, fmt.Errorf("scan quality targets: %w", err)
		}
		e.EventType = schemas.TypeQualityTargetsSet
		if minAlpha != nil {
			e.Agreement = &schemas.AgreementTarget{Level: schemas.MeasurementLevel(agLevel), MinAlpha: *minAlpha, OnLowerBound: onLower == 1}
			if minPairable != nil {
				e.Agreement.MinPairableValues = *minPairable
			}
		}
		if minAccuracy != nil {
			e.Accuracy = &schemas.AccuracyTarget{MinAccuracy: *minAccuracy, Denominator: schemas.AccuracyDenominator(accDenominator)}
			if minGold != nil {
				e.Accuracy.MinGoldLabels = *minGold
			}
		}
		if minSlice != nil || minEdge != nil {
			e.Coverage = &schemas.CoverageTarget{MinSliceCoverage: minSlice, MinEdgeCaseCoverage: minEdge}
		}
		for i := range min(len(severities), len(maxFindings)) {
			e.MaxOpenFindings = append(e.MaxOpenFindings, schemas.FindingLimit{Severity: schemas.Severity(severities[i]), Max: maxFindings[i]})
		}
		e.AllowGoldInTraining = allowGold == 1
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quality targets: %w", err)
	}
	return out, nil
}
