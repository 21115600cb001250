package anomaly

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// Detect reads what the rules need from ClickHouse (Read) and judges it (Judge): the
// anomalies in force at cfg.Now, sorted by kind, project, question and scope.
func Detect(ctx context.Context, conn driver.Conn, cfg Config) ([]Anomaly, error) {
	full, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	in, err := Read(ctx, conn, full)
	if err != nil {
		return nil, err
	}
	return Judge(in, full)
}

// Read reads the inputs of a judgement at cfg.Now: the project's targets (ledger table
// quality_targets), the cohorts' and vendors' alpha in the current and the preceding window
// (kpi.ReadAgreement, the one agreement read), the annotators' agreement in the same windows
// and the questions' label distributions in the current window and the baseline (ledger
// tables labels and label_retractions).
func Read(ctx context.Context, conn driver.Conn, cfg Config) (Inputs, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Inputs{}, err
	}
	in := Inputs{Windows: WindowsAt(cfg.Now, cfg.Window, cfg.BaselineWindows)}
	if in.Targets, err = ReadTargets(ctx, conn, cfg.Project); err != nil {
		return Inputs{}, err
	}
	if in.Agreement, err = readScopes(ctx, conn, cfg, in.Windows); err != nil {
		return Inputs{}, err
	}
	annotators, err := readAnnotators(ctx, conn, cfg.Project, in.Windows)
	if err != nil {
		return Inputs{}, err
	}
	in.Agreement = append(in.Agreement, annotators...)
	if in.Distributions, err = readDistributions(ctx, conn, cfg.Project, in.Windows); err != nil {
		return Inputs{}, err
	}
	return in, nil
}

// readScopes pairs every cohort's and vendor's figure of the current window with its figure
// of the preceding one (a scope missing from a window has no evidence there).
func readScopes(ctx context.Context, conn driver.Conn, cfg Config, w Windows) ([]ScopeMeasures, error) {
	read := func(s Span) ([]kpi.AgreementFigure, error) {
		fs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Project: cfg.Project, From: s.From, To: s.To})
		if err != nil {
			return nil, fmt.Errorf("agreement from %s: %w", s.From.Format("2006-01-02"), err)
		}
		return fs, nil
	}
	prev, err := read(w.Previous)
	if err != nil {
		return nil, err
	}
	cur, err := read(w.Current)
	if err != nil {
		return nil, err
	}
	type key struct{ project, question, level, scope string }
	by := map[key]*ScopeMeasures{}
	put := func(fs []kpi.AgreementFigure, current bool) {
		for _, f := range fs {
			if !strings.HasPrefix(f.Scope, "cohort:") && !strings.HasPrefix(f.Scope, "vendor:") {
				continue
			}
			k := key{f.ProjectID, f.QuestionID, f.Level, f.Scope}
			s := by[k]
			if s == nil {
				s = &ScopeMeasures{ProjectID: k.project, QuestionID: k.question, Level: k.level, Scope: k.scope}
				by[k] = s
			}
			if current {
				s.Current = alphaMeasure(f, cfg.AlphaInterval)
			} else {
				s.Previous = alphaMeasure(f, cfg.AlphaInterval)
			}
		}
	}
	put(prev, false)
	put(cur, true)
	keys := slices.SortedFunc(maps.Keys(by), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.question, b.question),
			cmp.Compare(a.level, b.level), cmp.Compare(a.scope, b.scope))
	})
	out := make([]ScopeMeasures, len(keys))
	for i, k := range keys {
		out[i] = *by[k]
	}
	return out, nil
}

// labelsOnce is the counted labels of the ledger, one row per label id: its earliest
// submission (a reused label id counts once, as in the KPI processors), unless retracted.
// Only the value levels count (valueLevels): spans, boxes and preferences are measured by
// kpi_regions and kpi_preference, whose figures this package does not watch yet.
// cond narrows the labels read (it takes the columns of the labels table); the columns are
// prefixed l_ so that they do not shadow the table's inside the aggregates.
func labelsOnce(cond string) string {
	first := func(col, as string) string {
		return "argMin(" + col + ", (occurred_at_ms, event_id)) AS " + as
	}
	return `SELECT label_id,
       ` + strings.Join([]string{
		first("project_id", "l_project"), first("question_id", "l_question"), first("value_level", "l_level"),
		first("item_id", "l_item"), first("annotator_id", "l_annotator"), first("value_category", "l_category"),
		first("ifNull(value_rank, 0)", "l_rank"), first("ifNull(value_number, 0)", "l_number"),
		first("value_categories", "l_categories")}, ",\n       ") + `,
       min(occurred_at_ms) AS l_at
FROM labels
WHERE (? = '' OR project_id = ?) AND ` + cond + `
  AND value_level IN ` + valueLevels + `
  AND label_id NOT IN (SELECT label_id FROM label_retractions)
GROUP BY label_id`
}

// valueLevels are the levels whose labels the anomaly detectors read: those with one value a
// label (streams/kpi's canonical values).
const valueLevels = `('nominal', 'ordinal', 'interval', 'ratio', 'multi_label')`

// AnnotatorUnitsQuery reads the units (item, question, level) that started (first counted
// label) in [from, to), with two or more labels: per unit, its labels' annotators and values
// in parallel arrays, and its start. Parameters: project, project, from, to (the items with a
// label in the span: a unit that started there has one), from, to (epoch milliseconds).
var AnnotatorUnitsQuery = `SELECT l_project, l_question, l_level, l_item, min(l_at) AS started,
       groupArray(l_annotator), groupArray(l_category), groupArray(l_rank), groupArray(l_number), groupArray(l_categories)
FROM (` + labelsOnce(`item_id IN (SELECT item_id FROM labels WHERE occurred_at_ms >= ? AND occurred_at_ms < ?)`) + `)
GROUP BY l_project, l_question, l_level, l_item
HAVING started >= ? AND started < ? AND count() >= 2`

// readAnnotators measures every annotator's agreement in the current and the preceding
// window, over the units that started in each (the windows of kpi.ReadAgreement).
func readAnnotators(ctx context.Context, conn driver.Conn, project string, w Windows) ([]ScopeMeasures, error) {
	from, _ := w.Previous.Millis()
	curFrom, to := w.Current.Millis()
	rows, err := conn.Query(ctx, AnnotatorUnitsQuery, project, project, from, to, from, to)
	if err != nil {
		return nil, fmt.Errorf("query annotator units: %w", err)
	}
	defer rows.Close()
	var prev, cur []UnitLabels
	for rows.Next() {
		var (
			u          UnitLabels
			started    int64
			categories []string
			ranks      []int32
			numbers    []float64
			sets       [][]string
		)
		if err := rows.Scan(&u.ProjectID, &u.QuestionID, &u.Level, &u.ItemID, &started,
			&u.Annotators, &categories, &ranks, &numbers, &sets); err != nil {
			return nil, fmt.Errorf("scan annotator unit: %w", err)
		}
		u.Values = make([]agreement.Value, len(u.Annotators))
		for i := range u.Annotators {
			if u.Values[i], err = canonical(u.Level, categories[i], ranks[i], numbers[i], sets[i]); err != nil {
				return nil, fmt.Errorf("unit %s/%s: %w", u.ItemID, u.QuestionID, err)
			}
		}
		if started >= curFrom {
			cur = append(cur, u)
		} else {
			prev = append(prev, u)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read annotator units: %w", err)
	}
	type key struct{ project, question, level, annotator string }
	by := map[key]*ScopeMeasures{}
	put := func(as []AnnotatorAgreement, current bool) {
		for _, a := range as {
			k := key{a.ProjectID, a.QuestionID, a.Level, a.AnnotatorID}
			s := by[k]
			if s == nil {
				s = &ScopeMeasures{ProjectID: k.project, QuestionID: k.question, Level: k.level, Scope: annotatorPrefix + k.annotator}
				by[k] = s
			}
			if current {
				s.Current = a.Measure()
			} else {
				s.Previous = a.Measure()
			}
		}
	}
	put(AnnotatorAgreements(prev), false)
	put(AnnotatorAgreements(cur), true)
	keys := slices.SortedFunc(maps.Keys(by), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.question, b.question),
			cmp.Compare(a.level, b.level), cmp.Compare(a.annotator, b.annotator))
	})
	out := make([]ScopeMeasures, len(keys))
	for i, k := range keys {
		out[i] = *by[k]
	}
	return out, nil
}

// labelsIn narrows labelsOnce to the label ids with a submission in a span (parameters
// from, to), and the outer query to the labels whose first submission is in it.
const labelsIn = `label_id IN (SELECT label_id FROM labels WHERE occurred_at_ms >= ? AND occurred_at_ms < ?)`

// DriftCountsQuery counts the counted labels per (project, question, level, value) in the
// current window (current = 1) and in the baseline before it. Parameters: current's from,
// project, project, baseline's from, current's to, baseline's from, current's to.
var DriftCountsQuery = `SELECT l_project, l_question, l_level, l_category, l_rank, l_number, l_categories,
       toUInt8(l_at >= ?) AS current, toInt64(count()) AS n
FROM (` + labelsOnce(labelsIn) + `)
WHERE l_at >= ? AND l_at < ?
GROUP BY l_project, l_question, l_level, l_category, l_rank, l_number, l_categories, current`

// DriftUnitsQuery sums, per (project, question) and span (current = 1 or the baseline), the
// square of each unit's labels in the span: what the noise bound needs of the
// clustering of labels in units. Parameters as DriftCountsQuery's.
var DriftUnitsQuery = `SELECT l_project, l_question, current, toInt64(sum(m * m))
FROM (
    SELECT l_project, l_question, l_level, l_item, toUInt8(l_at >= ?) AS current, count() AS m
    FROM (` + labelsOnce(labelsIn) + `)
    WHERE l_at >= ? AND l_at < ?
    GROUP BY l_project, l_question, l_level, l_item, current)
GROUP BY l_project, l_question, current`

// readDistributions reads every question's label distribution in the current window and the
// baseline.
func readDistributions(ctx context.Context, conn driver.Conn, project string, w Windows) ([]QuestionDistributions, error) {
	baseFrom, _ := w.Baseline.Millis()
	curFrom, to := w.Current.Millis()
	args := []any{curFrom, project, project, baseFrom, to, baseFrom, to}
	type key struct{ project, question string }
	by := map[key]*QuestionDistributions{}
	get := func(k key) *QuestionDistributions {
		d := by[k]
		if d == nil {
			d = &QuestionDistributions{ProjectID: k.project, QuestionID: k.question,
				Current:  Distribution{Counts: map[agreement.Value]int64{}},
				Baseline: Distribution{Counts: map[agreement.Value]int64{}}}
			by[k] = d
		}
		return d
	}
	side := func(d *QuestionDistributions, current uint8) *Distribution {
		if current == 1 {
			return &d.Current
		}
		return &d.Baseline
	}
	rows, err := conn.Query(ctx, DriftCountsQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query label counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k               key
			level, category string
			rank            int32
			number          float64
			categories      []string
			current         uint8
			n               int64
		)
		if err := rows.Scan(&k.project, &k.question, &level, &category, &rank, &number, &categories, &current, &n); err != nil {
			return nil, fmt.Errorf("scan label count: %w", err)
		}
		v, err := canonical(level, category, rank, number, categories)
		if err != nil {
			return nil, fmt.Errorf("labels of %s/%s: %w", k.project, k.question, err)
		}
		side(get(k), current).Counts[v] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read label counts: %w", err)
	}
	urows, err := conn.Query(ctx, DriftUnitsQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query label units: %w", err)
	}
	defer urows.Close()
	for urows.Next() {
		var (
			k       key
			current uint8
			ss      int64
		)
		if err := urows.Scan(&k.project, &k.question, &current, &ss); err != nil {
			return nil, fmt.Errorf("scan label units: %w", err)
		}
		side(get(k), current).SumSquares = ss
	}
	if err := urows.Err(); err != nil {
		return nil, fmt.Errorf("read label units: %w", err)
	}
	keys := slices.SortedFunc(maps.Keys(by), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.question, b.question))
	})
	out := make([]QuestionDistributions, len(keys))
	for i, k := range keys {
		out[i] = *by[k]
	}
	return out, nil
}

// canonical is the canonical text of a label value as the ledger stores it, the one the
// KPI processors count (streams/kpi: the category for nominal, the rank for ordinal, the
// shortest round-tripping number for interval and ratio, the sorted set for multi-label), so
// that equal answers compare equal here as they do in the agreement figures.
func canonical(level, category string, rank int32, number float64, categories []string) (agreement.Value, error) {
	switch schemas.MeasurementLevel(level) {
	case schemas.LevelNominal:
		return agreement.Category(category), nil
	case schemas.LevelOrdinal:
		return agreement.Rank(int(rank)), nil
	case schemas.LevelInterval, schemas.LevelRatio:
		return agreement.Number(number), nil
	case schemas.LevelMultiLabel:
		return agreement.Set(categories...), nil
	}
	return "", fmt.Errorf("unknown level of measurement %q", level)
}

// TargetsQuery reads a project's QualityTargetsSets not narrowed to a dataset (parameters:
// project, project; an empty project reads every project's), in log order.
const TargetsQuery = `SELECT project_id, dataset_id, question_id, effective_at_ms, toInt64(kafka_offset),
       agreement_level, agreement_min_alpha, agreement_min_pairable_values, agreement_on_lower_bound, max_label_drift
FROM quality_targets FINAL
WHERE (? = '' OR project_id = ?) AND dataset_id = ''
ORDER BY project_id, effective_at_ms, kafka_offset`

// ReadTargets reads the QualityTargetsSets of a project (every project when empty) that are
// not narrowed to a dataset, from the ledger table quality_targets (migration 0040).
func ReadTargets(ctx context.Context, conn driver.Conn, project string) ([]TargetSet, error) {
	rows, err := conn.Query(ctx, TargetsQuery, project, project)
	if err != nil {
		return nil, fmt.Errorf("query quality targets: %w", err)
	}
	defer rows.Close()
	var out []TargetSet
	for rows.Next() {
		var (
			s            TargetSet
			level        string
			minAlpha     *float64
			minPairable  *int64
			onLowerBound uint8
		)
		if err := rows.Scan(&s.ProjectID, &s.DatasetID, &s.QuestionID, &s.EffectiveAt, &s.Order,
			&level, &minAlpha, &minPairable, &onLowerBound, &s.MaxLabelDrift); err != nil {
			return nil, fmt.Errorf("scan quality targets: %w", err)
		}
		if level != "" && minAlpha != nil && minPairable != nil {
			s.Agreement = &schemas.AgreementTarget{Level: schemas.MeasurementLevel(level), MinAlpha: *minAlpha,
				MinPairableValues: *minPairable, OnLowerBound: onLowerBound == 1}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quality targets: %w", err)
	}
	return out, nil
}
