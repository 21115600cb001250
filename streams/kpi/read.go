package kpi

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/agreement"
)

// AgreementFigure is the agreement of one (project, question, level, scope),
// merged over every partition.
type AgreementFigure struct {
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	Level      string `json:"level"`
	Scope      string `json:"scope"`
	// Alpha is Krippendorff's alpha at the level's own distance (MASI for
	// multi-label), with pairable units and values; zero with Err set when
	// undefined.
	Alpha agreement.AlphaResult `json:"alpha"`
	// Percent is the mean pairwise percent agreement over pairable units.
	Percent agreement.AgreementResult `json:"percent_agreement"`
	// Fleiss is Fleiss' kappa (nominal), defined only when every pairable
	// unit has the same number of values; FleissErr says why not otherwise.
	Fleiss    agreement.KappaResult `json:"fleiss_kappa"`
	FleissErr error                 `json:"-"`
	// Err says why Alpha is undefined (it wraps agreement.ErrUndefined when
	// there is no evidence or no expected disagreement).
	Err error `json:"-"`
	// Coincidences are the merged cells, for other figures (Fleiss' kappa,
	// marginals).
	Coincidences *agreement.Coincidences `json:"-"`
}

// AgreementQuery reads the merged coincidence cells; ReadAgreement runs it.
// The view kpi_agreement_cells sums the partitions' latest totals (FINAL).
const AgreementQuery = `SELECT project_id, question_id, level, scope, unit_size, a, b, total
FROM kpi_agreement_cells
ORDER BY project_id, question_id, level, scope, unit_size, a, b`

// ReadAgreement reads every (project, question, level, scope) from
// ClickHouse and computes its figures with streams/agreement: alpha is not a
// plain SQL sum for ordinal, interval, ratio and set questions (the ordinal
// distance depends on the global marginals, ratio and MASI have no closed
// form), so the cells are merged in SQL and the metric applied here.
func ReadAgreement(ctx context.Context, conn driver.Conn) ([]AgreementFigure, error) {
	return readAgreement(ctx, conn, AgreementQuery)
}

// AgreementWindowQuery reads the merged cells of the units that started on
// the days [from, to) (parameters: two 'YYYY-MM-DD' dates).
const AgreementWindowQuery = `SELECT project_id, question_id, level, scope, unit_size, a, b, sum(count) AS total
FROM agreement_cells_daily FINAL
WHERE day >= toDate(?) AND day < toDate(?)
GROUP BY project_id, question_id, level, scope, unit_size, a, b
HAVING total > 0
ORDER BY project_id, question_id, level, scope, unit_size, a, b`

// ReadAgreementWindow is ReadAgreement over the units that started (got
// their first label) on the UTC days from from up to, not including, to:
// the sliding-window figure of the KPI contract (e.g. the last 7 days:
// from = today-7, to = today+1).
func ReadAgreementWindow(ctx context.Context, conn driver.Conn, from, to time.Time) ([]AgreementFigure, error) {
	return readAgreement(ctx, conn, AgreementWindowQuery, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
}

func readAgreement(ctx context.Context, conn driver.Conn, query string, args ...any) ([]AgreementFigure, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query agreement cells: %w", err)
	}
	defer rows.Close()
	type key struct{ project, question, level, scope string }
	cells := map[key][]agreement.Cell{}
	var order []key
	for rows.Next() {
		var (
			k    key
			size uint32
			a, b string
			n    int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.level, &k.scope, &size, &a, &b, &n); err != nil {
			return nil, fmt.Errorf("scan agreement cell: %w", err)
		}
		if _, ok := cells[k]; !ok {
			order = append(order, k)
		}
		cells[k] = append(cells[k], agreement.Cell{UnitSize: int(size), A: agreement.Value(a), B: agreement.Value(b), Count: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read agreement cells: %w", err)
	}
	out := make([]AgreementFigure, 0, len(order))
	for _, k := range order {
		f := AgreementFigure{ProjectID: k.project, QuestionID: k.question, Level: k.level, Scope: k.scope}
		co, err := agreement.CoincidencesFromCells(cells[k])
		if err != nil {
			return nil, fmt.Errorf("cells of %s/%s scope %s: %w", k.project, k.question, k.scope, err)
		}
		f.Coincidences = co
		f.Alpha, f.Err = Figures(co, k.level)
		f.Percent, _ = co.PercentAgreement()
		f.Fleiss, f.FleissErr = co.FleissKappa()
		out = append(out, f)
	}
	return out, nil
}

// Figures computes alpha of merged cells at a schemas level name.
func Figures(co *agreement.Coincidences, level string) (agreement.AlphaResult, error) {
	l, err := alphaLevel(level)
	if err != nil {
		return agreement.AlphaResult{}, err
	}
	return co.Alpha(l)
}

// FindFigure returns the figure of one (project, question, scope), or false.
func FindFigure(fs []AgreementFigure, project, question, scope string) (AgreementFigure, bool) {
	i := slices.IndexFunc(fs, func(f AgreementFigure) bool {
		return f.ProjectID == project && f.QuestionID == question && f.Scope == scope
	})
	if i < 0 {
		return AgreementFigure{}, false
	}
	return fs[i], true
}

// PairKappa is Cohen's kappa between two annotators over the units both
// labeled, merged over every partition.
type PairKappa struct {
	ProjectID, QuestionID, Level string
	AnnotatorA, AnnotatorB       string
	// Kappa is unweighted for nominal and multi-label questions, linearly
	// weighted for ordinal and quadratically for interval and ratio (the
	// weighting matching each level's distance, as scikit-learn does).
	Kappa agreement.KappaResult
	// Err says why Kappa is undefined (wraps agreement.ErrUndefined).
	Err error
}

// PairwiseQuery reads the merged annotator-pair contingency tables.
const PairwiseQuery = `SELECT project_id, question_id, level, annotator_a, annotator_b, value_a, value_b, units_in_cell
FROM kpi_annotator_pair_cells
ORDER BY project_id, question_id, level, annotator_a, annotator_b, value_a, value_b`

// ReadPairwiseKappa reads every annotator pair's contingency table and
// computes Cohen's kappa with streams/agreement.
func ReadPairwiseKappa(ctx context.Context, conn driver.Conn) ([]PairKappa, error) {
	rows, err := conn.Query(ctx, PairwiseQuery)
	if err != nil {
		return nil, fmt.Errorf("query annotator pair cells: %w", err)
	}
	defer rows.Close()
	type key struct{ project, question, level, a, b string }
	vals := map[key][2][]agreement.Value{}
	var order []key
	for rows.Next() {
		var (
			k      key
			va, vb string
			n      int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.level, &k.a, &k.b, &va, &vb, &n); err != nil {
			return nil, fmt.Errorf("scan annotator pair cell: %w", err)
		}
		ab, ok := vals[k]
		if !ok {
			order = append(order, k)
		}
		// Cohen's kappa takes the two raters' values unit by unit; a cell
		// stands for n units with this pair of values.
		for range n {
			ab[0] = append(ab[0], agreement.Value(va))
			ab[1] = append(ab[1], agreement.Value(vb))
		}
		vals[k] = ab
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read annotator pair cells: %w", err)
	}
	out := make([]PairKappa, 0, len(order))
	for _, k := range order {
		w := agreement.Unweighted
		switch k.level {
		case "ordinal":
			w = agreement.Linear
		case "interval", "ratio":
			w = agreement.Quadratic
		}
		p := PairKappa{ProjectID: k.project, QuestionID: k.question, Level: k.level, AnnotatorA: k.a, AnnotatorB: k.b}
		p.Kappa, p.Err = agreement.CohenKappa(vals[k][0], vals[k][1], w)
		out = append(out, p)
	}
	return out, nil
}
