package kpi

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ConfusionCell is one cell of the confusion behind accuracy against gold, merged over every
// partition: how many scored labels of a (project, question, scope) gave LabelValue where the
// gold answer is GoldValue (both in canonical text form; LabelValue is NoComparableValue for a
// label at another level of measurement than the gold's). The cells of a (project, question,
// scope) sum to accuracy's denominator (scored_labels of kpi_accuracy), and those with Error
// false to its numerator (correct_labels).
type ConfusionCell struct {
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	Scope      string `json:"scope"`
	GoldValue  string `json:"gold_value"`
	LabelValue string `json:"label_value"`
	// Count is the number of scored labels in the cell.
	Count int64 `json:"count"`
	// Error is true off the diagonal (LabelValue != GoldValue): these labels are errors.
	Error bool `json:"error"`
}

// ConfusionFilter says which cells ReadConfusion reads; an empty field keeps every value.
type ConfusionFilter struct {
	Project  string
	Question string
	// Scope is ScopeAll, CohortScope(c), VendorScope(v) or AnnotatorScope(a).
	Scope string
	// ErrorsOnly keeps the off-diagonal cells: the top confusions.
	ErrorsOnly bool
}

// ConfusionQuery reads the merged confusion (the view kpi_accuracy_confusion) with the
// parameters project, project, question, question, scope, scope, errors only (1 or 0), most
// labels first.
const ConfusionQuery = `SELECT project_id, question_id, scope, gold_value, label_value, labels, error
FROM kpi_accuracy_confusion
WHERE (? = '' OR project_id = ?) AND (? = '' OR question_id = ?) AND (? = '' OR scope = ?) AND (? = 0 OR error = 1)
ORDER BY labels DESC, project_id, question_id, scope, gold_value, label_value`

// ReadConfusion reads the confusion cells f selects, sorted by count, most first (ties by
// project, question, scope, gold value, labeled value): with ErrorsOnly, the top confusions.
func ReadConfusion(ctx context.Context, conn driver.Conn, f ConfusionFilter) ([]ConfusionCell, error) {
	errorsOnly := uint8(0)
	if f.ErrorsOnly {
		errorsOnly = 1
	}
	rows, err := conn.Query(ctx, ConfusionQuery, f.Project, f.Project, f.Question, f.Question, f.Scope, f.Scope, errorsOnly)
	if err != nil {
		return nil, fmt.Errorf("query accuracy confusion: %w", err)
	}
	defer rows.Close()
	out := []ConfusionCell{}
	for rows.Next() {
		var (
			c     ConfusionCell
			isErr uint8
		)
		if err := rows.Scan(&c.ProjectID, &c.QuestionID, &c.Scope, &c.GoldValue, &c.LabelValue, &c.Count, &isErr); err != nil {
			return nil, fmt.Errorf("scan accuracy confusion cell: %w", err)
		}
		c.Error = isErr == 1
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read accuracy confusion: %w", err)
	}
	return out, nil
}
