package httpapi

import (
	"context"
	"fmt"
	"sort"
)

// AnnotatorFigure is one annotator's quality: agreement with the other annotators of the same
// units (equal pairs / pairs) and accuracy against gold.
type AnnotatorFigure struct {
	AnnotatorID string `json:"annotator_id"`
	// Cohort is the cohort of the annotator's latest label.
	Cohort        string `json:"cohort"`
	Agreement     Num    `json:"agreement"`
	PairsCompared int64  `json:"pairs_compared"`
	PairsAgreeing int64  `json:"pairs_agreeing"`
	Accuracy      Num    `json:"accuracy"`
	CorrectLabels int64  `json:"correct_labels"`
	ScoredLabels  int64  `json:"scored_labels"`
}

const (
	annotatorAgreementQuery = `SELECT annotator_id, toInt64(sum(pairs_compared)), toInt64(sum(pairs_agreeing))
FROM kpi_annotator_agreement
WHERE (? = '' OR project_id = ?)
GROUP BY annotator_id`
	// 'annotator:' is ten bytes: the id starts at byte 11.
	annotatorAccuracyQuery = `SELECT substring(scope, 11) AS annotator_id, toInt64(sum(correct_labels)), toInt64(sum(scored_labels))
FROM kpi_accuracy
WHERE (? = '' OR project_id = ?) AND scope LIKE 'annotator:%'
GROUP BY annotator_id`
	annotatorCohortQuery = `SELECT annotator_id, argMax(cohort, occurred_at_ms)
FROM labels FINAL
WHERE (? = '' OR project_id = ?)
GROUP BY annotator_id`
)

// Annotators reads the figures of every annotator v sees (a vendor's view: those whose every
// label in the project is its party's) for v's project (the cohort filter keeps the
// annotators whose latest label was in that cohort), lowest agreement first: the list a lead
// reads to find who needs calibration.
func (r *Reader) Annotators(ctx context.Context, v View) ([]AnnotatorFigure, error) {
	f := v.Filter
	by := map[string]*AnnotatorFigure{}
	get := func(id string) *AnnotatorFigure {
		if by[id] == nil {
			by[id] = &AnnotatorFigure{AnnotatorID: id}
		}
		return by[id]
	}
	scan := func(query, what string, put func(id string, a, b int64)) error {
		rows, err := r.conn.Query(ctx, query, f.Project, f.Project)
		if err != nil {
			return fmt.Errorf("query annotator %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var a, b int64
			if err := rows.Scan(&id, &a, &b); err != nil {
				return fmt.Errorf("scan annotator %s: %w", what, err)
			}
			put(id, a, b)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read annotator %s: %w", what, err)
		}
		return nil
	}
	if err := scan(annotatorAgreementQuery, "agreement", func(id string, pairs, agreeing int64) {
		a := get(id)
		a.PairsCompared, a.PairsAgreeing, a.Agreement = pairs, agreeing, ratio(agreeing, pairs)
	}); err != nil {
		return nil, err
	}
	if err := scan(annotatorAccuracyQuery, "accuracy", func(id string, correct, scored int64) {
		a := get(id)
		a.CorrectLabels, a.ScoredLabels, a.Accuracy = correct, scored, ratio(correct, scored)
	}); err != nil {
		return nil, err
	}
	if err := r.each(ctx, annotatorCohortQuery, []any{f.Project, f.Project}, func(v []string) {
		if a, ok := by[v[0]]; ok {
			a.Cohort = v[1]
		}
	}, 2); err != nil {
		return nil, fmt.Errorf("annotator cohorts: %w", err)
	}
	out := make([]AnnotatorFigure, 0, len(by))
	for _, a := range by {
		if (f.Cohort == "" || a.Cohort == f.Cohort) && v.seesAnnotator(a.AnnotatorID) {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ai, aj := out[i].Agreement, out[j].Agreement
		switch {
		case ai == nil || aj == nil:
			if (ai == nil) != (aj == nil) {
				return aj == nil // defined figures first
			}
		case *ai != *aj:
			return *ai < *aj
		}
		return out[i].AnnotatorID < out[j].AnnotatorID
	})
	return out, nil
}

// each runs a query of string columns and calls put with each row.
func (r *Reader) each(ctx context.Context, query string, args []any, put func([]string), cols int) error {
	rows, err := r.conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	vals := make([]string, cols)
	ptrs := make([]any, cols)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		put(append([]string(nil), vals...))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}
