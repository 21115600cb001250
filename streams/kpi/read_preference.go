package kpi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/preference"
)

// PreferenceFilter says which figures ReadPreferences reads; its fields mean what
// RegionFilter's do. The zero value reads every (project, question, scope) over all time.
type PreferenceFilter struct {
	Project, Question string
	Scope             string
	Cohorts           bool
	From, To          time.Time
	// Confidence is the confidence level of every interval (alpha's, accuracy's, position
	// bias'), in (0, 1); zero means agreement.DefaultConfidence.
	Confidence float64
}

// PreferenceAlpha is Krippendorff's alpha over one coding of the answers, with its evidence
// and confidence interval (the jackknife over units, agreement.AlphaInterval). A figure that
// is undefined is nil with the reason beside it.
type PreferenceAlpha struct {
	Alpha          *float64            `json:"alpha"`
	Undefined      string              `json:"undefined,omitempty"`
	PairableUnits  int64               `json:"pairable_units"`
	PairableValues int64               `json:"pairable_values"`
	CI             *agreement.Interval `json:"ci"`
	CIUndefined    string              `json:"ci_undefined,omitempty"`
	// Coincidences are the merged cells behind it; nil in a figure read from JSON.
	Coincidences *agreement.Coincidences `json:"-"`
}

// PreferenceFigure is every preference figure of one (project, question, scope), merged over
// every partition (and the days of a window): the one type every reader of kpi_preference's
// tables uses. Alpha is a figure of a group's answers: annotator scopes have position bias and
// accuracy only.
type PreferenceFigure struct {
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	Scope      string `json:"scope"`
	// Nominal is alpha on the chosen response (preference.NominalValue), Ordinal on choice
	// and strength together (preference.OrdinalValue's ranks, as OrdinalCode codes them).
	Nominal PreferenceAlpha `json:"nominal"`
	Ordinal PreferenceAlpha `json:"ordinal"`
	// Accuracy against gold preferences with its Wilson interval; nil when no answer of the
	// scope was scored, with the reason in AccuracyUndefined.
	Accuracy          *preference.Accuracy `json:"accuracy"`
	AccuracyUndefined string               `json:"accuracy_undefined,omitempty"`
	// Bias is position bias: the share of answers choosing the first-shown response, its
	// Wilson interval, the share expected without bias and whether the interval excludes it.
	Bias          *preference.Bias `json:"position_bias"`
	BiasUndefined string           `json:"position_bias_undefined,omitempty"`
	// AccuracyCounts and BiasCounts are the merged counts behind them.
	AccuracyCounts preference.AccuracyCounts `json:"-"`
	BiasCounts     preference.BiasCounts     `json:"-"`
}

// preferenceWhere filters kpi_preference's rows as regionWhere does kpi_regions'.
const preferenceWhere = regionWhere

// PreferenceCellsQuery reads the merged coincidence cells of both codings, with
// regionWhere's parameters.
const PreferenceCellsQuery = `SELECT project_id, question_id, scope, coding, unit_size, a, b, sum(count) AS total
FROM preference_cells FINAL
WHERE ` + preferenceWhere + `
GROUP BY project_id, question_id, scope, coding, unit_size, a, b
HAVING total > 0
ORDER BY project_id, question_id, scope, coding, unit_size, a, b`

// PreferenceProfilesQuery reads the merged unit profiles of both codings, with
// regionWhere's parameters.
const PreferenceProfilesQuery = `SELECT project_id, question_id, scope, coding, values, counts, sum(units) AS unit_count
FROM preference_profiles FINAL
WHERE ` + preferenceWhere + `
GROUP BY project_id, question_id, scope, coding, profile, values, counts
HAVING unit_count > 0
ORDER BY project_id, question_id, scope, coding, profile`

// PreferenceCountsQuery reads the merged position-bias and accuracy counts, with
// regionWhere's parameters twice: one row per (figure, kind), kind 'bias' (first_chosen,
// labels, expected_scaled) or 'accuracy' (correct, labels, 0).
const PreferenceCountsQuery = `SELECT project_id, question_id, scope, 'bias' AS kind,
       sum(first_chosen) AS t_x, sum(labels) AS t_n, sum(expected_scaled) AS t_e
FROM preference_bias FINAL
WHERE ` + preferenceWhere + `
GROUP BY project_id, question_id, scope
HAVING t_n != 0 OR t_x != 0 OR t_e != 0
UNION ALL
SELECT project_id, question_id, scope, 'accuracy' AS kind,
       sum(correct) AS t_x, sum(labels) AS t_n, toInt64(0) AS t_e
FROM preference_accuracy FINAL
WHERE ` + preferenceWhere + `
GROUP BY project_id, question_id, scope
HAVING t_n != 0 OR t_x != 0`

// ReadPreferences reads the preference figures f selects: the merged tallies of
// kpi_preference's tables, read with streams/agreement (alpha and its interval) and
// streams/preference (accuracy, position bias, their Wilson intervals). Figures come in
// (project, question, scope) order.
func ReadPreferences(ctx context.Context, conn driver.Conn, f PreferenceFilter) ([]PreferenceFigure, error) {
	confidence := f.Confidence
	if confidence == 0 {
		confidence = agreement.DefaultConfidence
	}
	if !(confidence > 0 && confidence < 1) {
		return nil, fmt.Errorf("read preferences: confidence %v is not between 0 and 1", f.Confidence)
	}
	cohorts := uint8(0)
	if f.Cohorts {
		cohorts = 1
	}
	from, to := days(f.From, f.To)
	args := []any{from, to, f.Project, f.Project, f.Question, f.Question, f.Scope, f.Scope, cohorts}
	type key struct{ project, question, scope string }
	type coded struct {
		key
		coding string
	}
	figs := map[key]*PreferenceFigure{}
	fig := func(k key) *PreferenceFigure {
		if figs[k] == nil {
			figs[k] = &PreferenceFigure{ProjectID: k.project, QuestionID: k.question, Scope: k.scope}
		}
		return figs[k]
	}

	cells := map[coded][]agreement.Cell{}
	rows, err := conn.Query(ctx, PreferenceCellsQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query preference_cells: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k    coded
			size uint32
			a, b string
			n    int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.scope, &k.coding, &size, &a, &b, &n); err != nil {
			return nil, fmt.Errorf("scan preference_cells: %w", err)
		}
		cells[k] = append(cells[k], agreement.Cell{UnitSize: int(size), A: agreement.Value(a), B: agreement.Value(b), Count: n})
		fig(k.key)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read preference_cells: %w", err)
	}
	rows.Close()

	profiles := map[coded][]agreement.UnitProfile{}
	rows, err = conn.Query(ctx, PreferenceProfilesQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query preference_profiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k      coded
			values []string
			counts []uint32
			units  int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.scope, &k.coding, &values, &counts, &units); err != nil {
			return nil, fmt.Errorf("scan preference_profiles: %w", err)
		}
		if len(values) != len(counts) {
			return nil, fmt.Errorf("preference profile of %s/%s scope %s: %d values and %d counts", k.project, k.question, k.scope, len(values), len(counts))
		}
		p := agreement.UnitProfile{Units: units}
		for i, v := range values {
			for range counts[i] {
				p.Values = append(p.Values, agreement.Value(v))
			}
		}
		profiles[k] = append(profiles[k], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read preference_profiles: %w", err)
	}
	rows.Close()

	rows, err = conn.Query(ctx, PreferenceCountsQuery, append(slices.Clone(args), args...)...)
	if err != nil {
		return nil, fmt.Errorf("query preference counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k       key
			kind    string
			x, n, e int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.scope, &kind, &x, &n, &e); err != nil {
			return nil, fmt.Errorf("scan preference counts: %w", err)
		}
		if kind == "bias" {
			fig(k).BiasCounts = preference.BiasCounts{FirstChosen: x, Labels: n, ExpectedScaled: e}
		} else {
			fig(k).AccuracyCounts = preference.AccuracyCounts{Correct: x, Labels: n}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read preference counts: %w", err)
	}

	keys := make([]key, 0, len(figs))
	for k := range figs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y key) int {
		return strings.Compare(x.project+"\x00"+x.question+"\x00"+x.scope, y.project+"\x00"+y.question+"\x00"+y.scope)
	})
	out := make([]PreferenceFigure, 0, len(keys))
	for _, k := range keys {
		p := figs[k]
		for _, c := range []struct {
			coding string
			alpha  *PreferenceAlpha
		}{{CodingNominal, &p.Nominal}, {CodingOrdinal, &p.Ordinal}} {
			ck := coded{k, c.coding}
			var err error
			*c.alpha, err = preferenceAlpha(k.scope, c.coding, cells[ck], profiles[ck], confidence)
			if err != nil {
				return nil, fmt.Errorf("preference figure of %s/%s scope %s: %w", k.project, k.question, k.scope, err)
			}
		}
		if a, err := p.AccuracyCounts.Accuracy(confidence); err != nil {
			p.AccuracyUndefined = reason(err)
		} else {
			p.Accuracy = &a
		}
		if b, err := p.BiasCounts.Bias(confidence); err != nil {
			p.BiasUndefined = reason(err)
		} else {
			p.Bias = &b
		}
		out = append(out, *p)
	}
	return out, nil
}

// preferenceAlpha is alpha over one coding's merged cells, with its interval from the
// profiles of the same units.
func preferenceAlpha(scope, coding string, cells []agreement.Cell, profiles []agreement.UnitProfile, confidence float64) (PreferenceAlpha, error) {
	if strings.HasPrefix(scope, "annotator:") {
		why := "alpha is a figure of a group's answers: no annotator scope"
		return PreferenceAlpha{Undefined: why, CIUndefined: why}, nil
	}
	co, err := agreement.CoincidencesFromCells(cells)
	if err != nil {
		return PreferenceAlpha{}, fmt.Errorf("%s cells: %w", coding, err)
	}
	a := PreferenceAlpha{Coincidences: co, PairableUnits: co.PairableUnits(), PairableValues: co.PairableValues()}
	res, err := Figures(co, coding) // "nominal" and "ordinal" are schemas level names too
	if err != nil {
		a.Undefined = reason(err)
	} else {
		a.Alpha = finite(res.Alpha)
	}
	ci, err := Interval(co, profiles, coding, confidence)
	if err != nil {
		a.CIUndefined = reason(err)
	} else {
		a.CI = ci
	}
	return a, nil
}

// reason is the text beside an undefined figure: the error, marked when it is not
// agreement.ErrUndefined (inconsistent counts).
func reason(err error) string {
	if errors.Is(err, agreement.ErrUndefined) {
		return err.Error()
	}
	return "error: " + err.Error()
}
