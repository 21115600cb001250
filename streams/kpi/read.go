package kpi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/agreement"
)

// AgreementFigure is the agreement of one (project, question, level, scope), merged over
// every partition: the one type every reader of the agreement tables uses (the API, the
// CLI, the tests). Its JSON (MarshalJSON) is the API's: undefined figures are null, and a
// figure read back from it (UnmarshalJSON) has the figures and their evidence, without the
// disagreements and the cells behind them.
type AgreementFigure struct {
	ProjectID  string
	QuestionID string
	Level      string
	Scope      string
	// PairableUnits counts the units (item x question) with two or more values, and
	// PairableValues the values in them (n.. of alpha): the evidence behind every figure,
	// defined or not.
	PairableUnits, PairableValues int64
	// Alpha is Krippendorff's alpha at the level's own distance (MASI for multi-label), with
	// pairable units and values; zero with Err set when undefined.
	Alpha agreement.AlphaResult
	// Err says why Alpha is undefined (it wraps agreement.ErrUndefined when there is no
	// evidence or no expected disagreement).
	Err error
	// Percent is the mean pairwise percent agreement over pairable units; PercentErr says
	// why it is undefined (no pairable unit).
	Percent    agreement.AgreementResult
	PercentErr error
	// Fleiss is Fleiss' kappa (nominal), defined only when every pairable unit has the same
	// number of values; FleissErr says why not otherwise.
	Fleiss    agreement.KappaResult
	FleissErr error
	// AlphaCI is alpha's confidence interval at AgreementFilter.Confidence:
	// agreement.AlphaInterval, the jackknife over units, from the units' profiles
	// (agreement_profiles, migration 0035). It is nil when it is undefined or cannot be
	// computed, and AlphaCIErr says why: it wraps agreement.ErrUndefined when the evidence
	// does not support an interval, and is ErrProfilesBehind when the profiles do not add up
	// to the cells.
	AlphaCI    *agreement.Interval
	AlphaCIErr error
	// Coincidences are the merged cells, for other figures (marginals, merging windows); nil
	// in a figure read from JSON.
	Coincidences *agreement.Coincidences
	// Profiles are the merged unit profiles behind AlphaCI, for an interval at another
	// confidence; nil in a figure read from JSON.
	Profiles []agreement.UnitProfile
}

// ErrProfilesBehind is AgreementFigure.AlphaCIErr when the unit profiles read do not give the
// coincidence cells read: agreement_profiles is behind agreement_cells, because the processor
// ran before migration 0035 existed (replay kpi_agreement into fresh tables to fill it), or
// because the two reads saw different batches of a running processor (read again). An
// interval from profiles that miss units would be wrong, so none is given.
var ErrProfilesBehind = errors.New("unit profiles (agreement_profiles) do not add up to the coincidence cells")

// figureJSON is the wire form of an AgreementFigure.
type figureJSON struct {
	ProjectID        string   `json:"project_id"`
	QuestionID       string   `json:"question_id"`
	Level            string   `json:"level"`
	Scope            string   `json:"scope"`
	Alpha            *float64 `json:"alpha"`
	PercentAgreement *float64 `json:"percent_agreement"`
	FleissKappa      *float64 `json:"fleiss_kappa"`
	PairableUnits    int64    `json:"pairable_units"`
	PairableValues   int64    `json:"pairable_values"`
	// Undefined says why alpha is null.
	Undefined string `json:"undefined,omitempty"`
	// AlphaCI is alpha's confidence interval, null when undefined; AlphaCIUndefined says why.
	AlphaCI          *agreement.Interval `json:"alpha_ci"`
	AlphaCIUndefined string              `json:"alpha_ci_undefined,omitempty"`
}

// MarshalJSON writes the figure with null for what is undefined (JSON has no NaN) and the
// reason alpha is undefined in "undefined".
func (f AgreementFigure) MarshalJSON() ([]byte, error) {
	out := figureJSON{ProjectID: f.ProjectID, QuestionID: f.QuestionID, Level: f.Level, Scope: f.Scope,
		PairableUnits: f.PairableUnits, PairableValues: f.PairableValues}
	if f.Err != nil {
		out.Undefined = f.Err.Error()
	} else {
		out.Alpha = finite(f.Alpha.Alpha)
	}
	if f.PercentErr == nil {
		out.PercentAgreement = finite(f.Percent.PercentAgreement)
	}
	if f.FleissErr == nil {
		out.FleissKappa = finite(f.Fleiss.Kappa)
	}
	switch {
	case f.AlphaCI != nil && finite(f.AlphaCI.Low) != nil && finite(f.AlphaCI.High) != nil:
		out.AlphaCI = f.AlphaCI
	case f.AlphaCIErr != nil:
		out.AlphaCIUndefined = f.AlphaCIErr.Error()
	default:
		out.AlphaCIUndefined = "no interval computed"
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes; a null figure comes back with its error set.
func (f *AgreementFigure) UnmarshalJSON(b []byte) error {
	var in figureJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*f = AgreementFigure{ProjectID: in.ProjectID, QuestionID: in.QuestionID, Level: in.Level, Scope: in.Scope,
		PairableUnits: in.PairableUnits, PairableValues: in.PairableValues}
	if in.Alpha != nil {
		f.Alpha = agreement.AlphaResult{Alpha: *in.Alpha, PairableUnits: in.PairableUnits, PairableValues: in.PairableValues}
	} else {
		f.Err = fmt.Errorf("%w: %s", agreement.ErrUndefined, in.Undefined)
	}
	if in.PercentAgreement != nil {
		f.Percent = agreement.AgreementResult{PercentAgreement: *in.PercentAgreement, PairableUnits: in.PairableUnits, PairableValues: in.PairableValues}
	} else {
		f.PercentErr = fmt.Errorf("%w: percent agreement", agreement.ErrUndefined)
	}
	if in.FleissKappa != nil {
		f.Fleiss = agreement.KappaResult{Kappa: *in.FleissKappa, PairableUnits: in.PairableUnits, PairableValues: in.PairableValues}
	} else {
		f.FleissErr = fmt.Errorf("%w: Fleiss' kappa", agreement.ErrUndefined)
	}
	if in.AlphaCI != nil {
		f.AlphaCI = in.AlphaCI
	} else {
		f.AlphaCIErr = fmt.Errorf("%w: alpha's interval: %s", agreement.ErrUndefined, in.AlphaCIUndefined)
	}
	return nil
}

// finite returns &v, or nil for NaN and infinities.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// AgreementFilter says which figures ReadAgreement reads. The zero value reads every
// (project, question, level, scope) over all time.
type AgreementFilter struct {
	// Project keeps one project's figures; empty keeps every project.
	Project string
	// Scope keeps one scope (ScopeAll, CohortScope(c), VendorScope(v)); empty keeps every
	// scope.
	Scope string
	// Cohorts keeps every cohort's scope as well as Scope: the figures per cohort that the
	// API shows beside a headline.
	Cohorts bool
	// From, when not zero, makes the figures a sliding window: only the units that started
	// (got their first label) on the UTC days from From's day up to, not including, To's day
	// count (e.g. the last 7 days: From = today-6, To = today+1). To zero means no end.
	From, To time.Time
	// Confidence is the confidence level of AlphaCI, in (0, 1); zero means
	// agreement.DefaultConfidence (0.95).
	Confidence float64
}

// noEnd is the day a window without an end stops before: the last one both ClickHouse 18.16
// and current releases can hold in a Date.
const noEnd = "2105-12-31"

// agreementWhere filters the cells by AgreementFilter's Project, Scope and Cohorts, in this
// order of bound parameters: project, project, scope, scope, cohorts (1 or 0).
const agreementWhere = `(? = '' OR project_id = ?) AND (? = '' OR scope = ? OR (? = 1 AND scope LIKE 'cohort:%'))`

// AgreementQuery reads the merged coincidence cells over all time: the view
// kpi_agreement_cells sums the partitions' latest totals (FINAL).
const AgreementQuery = `SELECT project_id, question_id, level, scope, unit_size, a, b, total
FROM kpi_agreement_cells
WHERE ` + agreementWhere + `
ORDER BY project_id, question_id, level, scope, unit_size, a, b`

// AgreementWindowQuery reads the merged cells of the units that started on the days
// [from, to) (two 'YYYY-MM-DD' dates, then agreementWhere's parameters): the daily cells
// (migration 0007) split the coincidences by the UTC day of a unit's first label.
const AgreementWindowQuery = `SELECT project_id, question_id, level, scope, unit_size, a, b, sum(count) AS total
FROM agreement_cells_daily FINAL
WHERE day >= toDate(?) AND day < toDate(?) AND ` + agreementWhere + `
GROUP BY project_id, question_id, level, scope, unit_size, a, b
HAVING total > 0
ORDER BY project_id, question_id, level, scope, unit_size, a, b`

// AgreementProfilesQuery reads the merged unit profiles over all time, with
// agreementWhere's parameters: the partitions' latest all-time totals
// (agreement_profiles_total, migration 0073), summed. It answers what
// AgreementProfilesFromDaysQuery answers from the daily totals, reading a row
// a profile and partition rather than one a profile, partition and day.
const AgreementProfilesQuery = `SELECT project_id, question_id, level, scope, values, counts, sum(units) AS unit_count
FROM agreement_profiles_total FINAL
WHERE ` + agreementWhere + `
GROUP BY project_id, question_id, level, scope, profile, values, counts
HAVING unit_count > 0
ORDER BY project_id, question_id, level, scope, profile`

// AgreementProfilesFromDaysQuery reads the merged unit profiles over all time
// from the daily totals (the view kpi_agreement_profiles sums the partitions'
// latest totals and the days), with agreementWhere's parameters: the
// reference AgreementProfilesQuery is held to.
const AgreementProfilesFromDaysQuery = `SELECT project_id, question_id, level, scope, values, counts, unit_count
FROM kpi_agreement_profiles
WHERE ` + agreementWhere + `
ORDER BY project_id, question_id, level, scope, profile`

// AgreementProfilesWindowQuery reads the merged unit profiles of the units that started on
// the days [from, to), with the parameters of AgreementWindowQuery.
const AgreementProfilesWindowQuery = `SELECT project_id, question_id, level, scope, values, counts, sum(units) AS unit_count
FROM agreement_profiles FINAL
WHERE day >= toDate(?) AND day < toDate(?) AND ` + agreementWhere + `
GROUP BY project_id, question_id, level, scope, profile, values, counts
HAVING unit_count > 0
ORDER BY project_id, question_id, level, scope, profile`

// ReadAgreement reads the figures f selects from ClickHouse and computes them with
// streams/agreement: alpha is not a plain SQL sum for ordinal, interval, ratio and set
// questions (the ordinal distance depends on the global marginals, ratio and MASI have no
// closed form), so the cells are merged in SQL and the metric applied here. Alpha's
// confidence interval comes from the unit profiles of the same units (AlphaCI). Figures come
// in (project, question, level, scope) order.
func ReadAgreement(ctx context.Context, conn driver.Conn, f AgreementFilter) ([]AgreementFigure, error) {
	confidence := f.Confidence
	if confidence == 0 {
		confidence = agreement.DefaultConfidence
	}
	if !(confidence > 0 && confidence < 1) {
		return nil, fmt.Errorf("read agreement: confidence %v is not between 0 and 1", f.Confidence)
	}
	cohorts := uint8(0)
	if f.Cohorts {
		cohorts = 1
	}
	query, profilesQuery, args := AgreementQuery, AgreementProfilesQuery, []any{f.Project, f.Project, f.Scope, f.Scope, cohorts}
	if !f.From.IsZero() {
		to := noEnd
		if !f.To.IsZero() {
			to = f.To.UTC().Format(time.DateOnly)
		}
		query, profilesQuery = AgreementWindowQuery, AgreementProfilesWindowQuery
		args = append([]any{f.From.UTC().Format(time.DateOnly), to}, args...)
	}
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
	rows.Close()
	profiles, err := readProfiles(ctx, conn, profilesQuery, args)
	if err != nil {
		return nil, err
	}
	out := make([]AgreementFigure, 0, len(order))
	for _, k := range order {
		fig := AgreementFigure{ProjectID: k.project, QuestionID: k.question, Level: k.level, Scope: k.scope}
		co, err := agreement.CoincidencesFromCells(cells[k])
		if err != nil {
			return nil, fmt.Errorf("cells of %s/%s scope %s: %w", k.project, k.question, k.scope, err)
		}
		fig.Coincidences = co
		fig.PairableUnits, fig.PairableValues = co.PairableUnits(), co.PairableValues()
		fig.Alpha, fig.Err = Figures(co, k.level)
		fig.Percent, fig.PercentErr = co.PercentAgreement()
		fig.Fleiss, fig.FleissErr = co.FleissKappa()
		fig.Profiles = profiles[profileGroup{k.project, k.question, k.level, k.scope}]
		fig.AlphaCI, fig.AlphaCIErr = Interval(co, fig.Profiles, k.level, confidence)
		out = append(out, fig)
	}
	return out, nil
}

// profileGroup is the figure a profile belongs to.
type profileGroup struct{ project, question, level, scope string }

// readProfiles runs one of the profile queries and groups its rows by figure.
func readProfiles(ctx context.Context, conn driver.Conn, query string, args []any) (map[profileGroup][]agreement.UnitProfile, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query agreement profiles: %w", err)
	}
	defer rows.Close()
	out := map[profileGroup][]agreement.UnitProfile{}
	for rows.Next() {
		var (
			g      profileGroup
			values []string
			counts []uint32
			units  int64
		)
		if err := rows.Scan(&g.project, &g.question, &g.level, &g.scope, &values, &counts, &units); err != nil {
			return nil, fmt.Errorf("scan agreement profile: %w", err)
		}
		if len(values) != len(counts) {
			return nil, fmt.Errorf("agreement profile of %s/%s scope %s: %d values and %d counts", g.project, g.question, g.scope, len(values), len(counts))
		}
		p := agreement.UnitProfile{Units: units}
		for i, v := range values {
			for range counts[i] {
				p.Values = append(p.Values, agreement.Value(v))
			}
		}
		out[g] = append(out[g], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read agreement profiles: %w", err)
	}
	return out, nil
}

// Interval computes alpha's confidence interval at a schemas level name from the unit
// profiles of the units whose merged cells are co, after checking that the profiles are
// those units (ErrProfilesBehind otherwise).
func Interval(co *agreement.Coincidences, profiles []agreement.UnitProfile, level string, confidence float64) (*agreement.Interval, error) {
	l, err := alphaLevel(level)
	if err != nil {
		return nil, err
	}
	check := agreement.NewCoincidences()
	for _, p := range profiles {
		check.AddProfile(p)
	}
	if !check.Equal(co) {
		return nil, ErrProfilesBehind
	}
	ci, err := agreement.AlphaInterval(profiles, l, confidence)
	if err != nil {
		return nil, err
	}
	return &ci, nil
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
