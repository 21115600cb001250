package kpi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/regions"
)

// RegionFilter says which figures ReadRegions reads. The zero value reads every (project,
// question, level, scope) over all time.
type RegionFilter struct {
	// Project and Question keep one project's, one question's figures; empty keeps all.
	Project, Question string
	// Scope keeps one scope (ScopeAll, CohortScope(c), VendorScope(v), AnnotatorScope(a));
	// empty keeps every scope.
	Scope string
	// Cohorts keeps every cohort's scope as well as Scope.
	Cohorts bool
	// From, when not zero, keeps the units that started (got their first label) on the UTC
	// days from From's day up to, not including, To's day, as AgreementFilter's window. To
	// zero means no end.
	From, To time.Time
	// Confidence is the confidence level of label alpha's interval, in (0, 1); zero means
	// agreement.DefaultConfidence.
	Confidence float64
}

// RegionFigure is region agreement and accuracy against gold regions of one (project,
// question, level, scope), merged over every partition (and the days of a window): the one
// type every reader of kpi_regions' tables uses (the API, the CLI, the tests). Its figures
// are streams/regions' reports of the merged tallies, so they are exactly what `assay
// agreement --level spans|boxes` computes from the same answers at the same threshold.
type RegionFigure struct {
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	Level      string `json:"level"`
	Scope      string `json:"scope"`
	// IoUThreshold is the threshold the figures were computed at (RegionsIoUThreshold).
	IoUThreshold float64 `json:"iou_threshold"`
	// DefinedIoUThreshold is the threshold the question's latest QuestionDefined states
	// (schemas.QuestionDefined.IoU: DefaultIoUThreshold when it states none), nil when the
	// question is not defined. Where it differs from IoUThreshold the figures are not at the
	// question's threshold (ThresholdDiffers).
	DefinedIoUThreshold *float64 `json:"defined_iou_threshold"`
	// Agreement is pairwise F1, mean IoU, F1 per label and label alpha with their evidence
	// (regions.Agreement.Report); its UnitPairs is 0 where the scope has answers scored
	// against gold but no pair of annotators.
	Agreement regions.Report `json:"agreement"`
	// LabelAlphaCI is label alpha's confidence interval at RegionFilter.Confidence: the
	// jackknife over the matched pairs (each a unit of label alpha) of
	// agreement.AlphaInterval; nil when undefined, with the reason in LabelAlphaCIUndefined.
	LabelAlphaCI          *agreement.Interval `json:"label_alpha_ci"`
	LabelAlphaCIUndefined string              `json:"label_alpha_ci_undefined,omitempty"`
	// Gold is precision, recall, F1, mean IoU and F1 per label against gold regions
	// (regions.Figures.AccuracyReport); nil when no answer of the scope was scored.
	Gold *regions.AccuracyReport `json:"gold"`
	// Tally and GoldTally are the merged tallies behind the reports, for other figures and
	// for merging; empty in a figure read from JSON.
	Tally     regions.Agreement `json:"-"`
	GoldTally regions.Figures   `json:"-"`
}

// ThresholdDiffers reports whether the figure was computed at another IoU threshold than its
// question's definition states.
func (f RegionFigure) ThresholdDiffers() bool {
	return f.DefinedIoUThreshold != nil && *f.DefinedIoUThreshold != f.IoUThreshold
}

// regionWhere filters kpi_regions' rows by a window of days [from, to) and RegionFilter's
// Project, Question, Scope and Cohorts, in this order of bound parameters: from, to,
// project, project, question, question, scope, scope, cohorts (1 or 0).
const regionWhere = `day >= toDate(?) AND day < toDate(?) AND (? = '' OR project_id = ?) AND (? = '' OR question_id = ?)
  AND (? = '' OR scope = ? OR (? = 1 AND scope LIKE 'cohort:%'))`

// RegionPairsQuery reads the merged totals of the same-label matching (region_pairs), with
// regionWhere's parameters: a row per (figure, label), label ” the micro totals.
const RegionPairsQuery = `SELECT project_id, question_id, level, scope, iou_threshold, label,
       sum(unit_pairs) AS t_units, sum(matched) AS t_matched, sum(regions_a) AS t_a, sum(regions_b) AS t_b, sum(iou_micro) AS t_iou
FROM region_pairs FINAL
WHERE ` + regionWhere + `
GROUP BY project_id, question_id, level, scope, iou_threshold, label
HAVING t_units != 0 OR t_matched != 0 OR t_a != 0 OR t_b != 0 OR t_iou != 0
ORDER BY project_id, question_id, level, scope, iou_threshold, label`

// RegionGoldQuery reads the merged totals against gold regions (region_gold), with
// regionWhere's parameters.
const RegionGoldQuery = `SELECT project_id, question_id, level, scope, iou_threshold, label,
       sum(values_scored) AS t_units, sum(true_positives) AS t_matched, sum(predicted) AS t_a, sum(gold) AS t_b, sum(iou_micro) AS t_iou
FROM region_gold FINAL
WHERE ` + regionWhere + `
GROUP BY project_id, question_id, level, scope, iou_threshold, label
HAVING t_units != 0 OR t_matched != 0 OR t_a != 0 OR t_b != 0 OR t_iou != 0
ORDER BY project_id, question_id, level, scope, iou_threshold, label`

// RegionCellsQuery reads the merged label-alpha cells (region_label_cells), with
// regionWhere's parameters.
const RegionCellsQuery = `SELECT project_id, question_id, level, scope, iou_threshold, unit_size, a, b, sum(count) AS total
FROM region_label_cells FINAL
WHERE ` + regionWhere + `
GROUP BY project_id, question_id, level, scope, iou_threshold, unit_size, a, b
HAVING total > 0
ORDER BY project_id, question_id, level, scope, iou_threshold, unit_size, a, b`

// QuestionThresholdsQuery reads the IoU thresholds of the questions' definitions (the
// ledger's questions table, migration 0055), with parameters project, project, question,
// question; the latest definition of a question is the one of the greatest offset (a
// project's definitions share its partition of the projects topic).
const QuestionThresholdsQuery = `SELECT project_id, question_id, kafka_offset, iou_threshold
FROM questions FINAL
WHERE (? = '' OR project_id = ?) AND (? = '' OR question_id = ?)
ORDER BY project_id, question_id, kafka_offset`

// regionFigureKey is a RegionFigure's identity.
type regionFigureKey struct {
	project, question, level, scope string
	iou                             float64
}

// days returns the window's bounds as the queries take them: the first day and the day
// after the last, 'YYYY-MM-DD'.
func days(from, to time.Time) (string, string) {
	f, t := "1970-01-01", noEnd
	if !from.IsZero() {
		f = from.UTC().Format(time.DateOnly)
	}
	if !to.IsZero() {
		t = to.UTC().Format(time.DateOnly)
	}
	return f, t
}

// ReadRegions reads the region figures f selects: the merged tallies of kpi_regions' tables,
// read with streams/regions (Report, AccuracyReport) and streams/agreement (label alpha's
// interval), beside each question's defined IoU threshold. Figures come in (project,
// question, level, scope, threshold) order.
func ReadRegions(ctx context.Context, conn driver.Conn, f RegionFilter) ([]RegionFigure, error) {
	confidence := f.Confidence
	if confidence == 0 {
		confidence = agreement.DefaultConfidence
	}
	if !(confidence > 0 && confidence < 1) {
		return nil, fmt.Errorf("read regions: confidence %v is not between 0 and 1", f.Confidence)
	}
	cohorts := uint8(0)
	if f.Cohorts {
		cohorts = 1
	}
	from, to := days(f.From, f.To)
	args := []any{from, to, f.Project, f.Project, f.Question, f.Question, f.Scope, f.Scope, cohorts}
	pairs, err := readRegionRows(ctx, conn, RegionPairsQuery, args, "region_pairs")
	if err != nil {
		return nil, err
	}
	gold, err := readRegionRows(ctx, conn, RegionGoldQuery, args, "region_gold")
	if err != nil {
		return nil, err
	}
	cells := map[regionFigureKey][]agreement.Cell{}
	rows, err := conn.Query(ctx, RegionCellsQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query region_label_cells: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k    regionFigureKey
			size uint32
			a, b string
			n    int64
		)
		if err := rows.Scan(&k.project, &k.question, &k.level, &k.scope, &k.iou, &size, &a, &b, &n); err != nil {
			return nil, fmt.Errorf("scan region_label_cells: %w", err)
		}
		cells[k] = append(cells[k], agreement.Cell{UnitSize: int(size), A: agreement.Value(a), B: agreement.Value(b), Count: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read region_label_cells: %w", err)
	}
	rows.Close()
	defined, err := readDefinedThresholds(ctx, conn, f.Project, f.Question)
	if err != nil {
		return nil, err
	}

	seen := map[regionFigureKey]bool{}
	for _, m := range []map[regionFigureKey][]regionRow{pairs, gold} {
		for k := range m {
			seen[k] = true
		}
	}
	keys := slices.SortedFunc(maps.Keys(seen), cmpRegionFigureKey)
	out := make([]RegionFigure, 0, len(keys))
	for _, k := range keys {
		fig := RegionFigure{ProjectID: k.project, QuestionID: k.question, Level: k.level, Scope: k.scope, IoUThreshold: k.iou,
			DefinedIoUThreshold: defined[[2]string{k.project, k.question}]}
		fig.Tally, err = regionAgreementOf(pairs[k], cells[k])
		if err != nil {
			return nil, fmt.Errorf("region figure of %s/%s %s scope %s: %w", k.project, k.question, k.level, k.scope, err)
		}
		fig.Agreement = fig.Tally.Report()
		fig.LabelAlphaCI, fig.LabelAlphaCIUndefined = labelAlphaInterval(fig.Tally, confidence)
		if rs, ok := gold[k]; ok {
			fig.GoldTally = regionFiguresOf(rs)
			r := fig.GoldTally.AccuracyReport()
			fig.Gold = &r
		}
		out = append(out, fig)
	}
	return out, nil
}

func cmpRegionFigureKey(x, y regionFigureKey) int {
	for _, c := range [][2]string{{x.project, y.project}, {x.question, y.question}, {x.level, y.level}, {x.scope, y.scope}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case x.iou < y.iou:
		return -1
	case x.iou > y.iou:
		return 1
	}
	return 0
}

// readRegionRows runs RegionPairsQuery or RegionGoldQuery and groups the rows by figure.
func readRegionRows(ctx context.Context, conn driver.Conn, query string, args []any, table string) (map[regionFigureKey][]regionRow, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	defer rows.Close()
	out := map[regionFigureKey][]regionRow{}
	for rows.Next() {
		var (
			k regionFigureKey
			r regionRow
		)
		if err := rows.Scan(&k.project, &k.question, &k.level, &k.scope, &k.iou, &r.label, &r.t.units, &r.t.matched, &r.t.a, &r.t.b, &r.t.iou); err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		out[k] = append(out[k], r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return out, nil
}

// readDefinedThresholds returns the IoU threshold of every defined question of the project
// (all projects when empty), by (project, question): the latest definition's
// (QuestionDefined.IoU).
func readDefinedThresholds(ctx context.Context, conn driver.Conn, project, question string) (map[[2]string]*float64, error) {
	rows, err := conn.Query(ctx, QuestionThresholdsQuery, project, project, question, question)
	if err != nil {
		return nil, fmt.Errorf("query questions: %w", err)
	}
	defer rows.Close()
	out := map[[2]string]*float64{}
	for rows.Next() {
		var (
			p, q   string
			offset uint64
			t      *float64
		)
		if err := rows.Scan(&p, &q, &offset, &t); err != nil {
			return nil, fmt.Errorf("scan questions: %w", err)
		}
		d := schemas.QuestionDefined{IoUThreshold: t}
		iou := d.IoU()
		out[[2]string{p, q}] = &iou // rows in offset order: the latest wins
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read questions: %w", err)
	}
	return out, nil
}

// labelAlphaInterval is label alpha's confidence interval: every unit of label alpha is a
// matched pair (two values), so its profiles are read off the cells (a cell (a, b), a != b,
// counts its units once; (a, a) twice).
func labelAlphaInterval(a regions.Agreement, confidence float64) (*agreement.Interval, string) {
	if a.LabelAlpha == nil {
		return nil, fmt.Errorf("%w: no matched pairs", agreement.ErrUndefined).Error()
	}
	var profiles []agreement.UnitProfile
	for _, c := range a.LabelAlpha.Cells() {
		n := c.Count
		if c.UnitSize != 2 {
			return nil, fmt.Sprintf("error: label alpha cell of unit size %d", c.UnitSize)
		}
		if c.A == c.B {
			n /= 2
		}
		profiles = append(profiles, agreement.UnitProfile{Values: []agreement.Value{c.A, c.B}, Units: n})
	}
	iv, err := agreement.AlphaInterval(profiles, agreement.Nominal, confidence)
	if err != nil {
		if errors.Is(err, agreement.ErrUndefined) {
			return nil, err.Error()
		}
		return nil, "error: " + err.Error()
	}
	return &iv, ""
}
