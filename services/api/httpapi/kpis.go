package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// Num is a figure that may be undefined (no evidence yet, zero expected disagreement): JSON
// null then, never NaN, which JSON cannot carry.
type Num = *float64

func num(f float64) Num {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func ratio(a, b int64) Num {
	if b == 0 {
		return nil
	}
	return num(float64(a) / float64(b))
}

// Summary is every KPI of one filter: the body of /v1/kpis and one sample of /v1/history.
// Every section is read, or there is no Summary (Reader.Summary fails): a figure that
// could not be read is never reported as missing beside the others.
type Summary struct {
	AsOfMillis int64         `json:"as_of_ms"`
	Filter     Filter        `json:"filter"`
	Agreement  *AgreementKPI `json:"agreement"`
	Accuracy   *AccuracyKPI  `json:"accuracy"`
	Coverage   *CoverageKPI  `json:"coverage"`
	Cycle      *CycleKPI     `json:"cycle_time"`
	// Rework is over every project: null in a view whose scope is not every project.
	Rework      *ReworkKPI      `json:"rework"`
	Remediation *RemediationKPI `json:"remediation"`
	Lineage     *LineageKPI     `json:"lineage"`
	Routing     *RoutingKPI     `json:"routing"`
	// Gate is the gate's standing on the view's dataset versions and the KPI "training runs
	// on uncertified data".
	Gate *GateKPI `json:"gate"`
	// Annotators are every annotator's agreement and accuracy (a vendor's own only, in a
	// vendor's view), lowest agreement first.
	Annotators []AnnotatorFigure `json:"annotators"`
	// Regions and Preferences are the figures of the spans, boxes and preference questions
	// in the view's scope (GET /v1/regions and /v1/preferences have every scope, and
	// unitizing alpha). The history's samples chart none of them.
	Regions     *RegionQuestions     `json:"regions"`
	Preferences *PreferenceQuestions `json:"preferences"`
	Volume      *VolumeKPI           `json:"volume"`
	// Pipeline is the processors' consumer lag read from the broker (nil without a
	// LagReader, and in a view whose scope is not every project); its total is null while a
	// processor's lag cannot be read, which fails nothing else.
	Pipeline *PipelineKPI `json:"pipeline"`
}

// SectionError is the failure of one section of a Summary.
type SectionError struct {
	// Section is the section's JSON name ("agreement", "cycle_time", ...).
	Section string
	Err     error
}

// Error implements error.
func (e *SectionError) Error() string { return "kpi section " + e.Section + ": " + e.Err.Error() }

// Unwrap returns the read's error.
func (e *SectionError) Unwrap() error { return e.Err }

// Reader runs the KPI queries. Every query text is a constant; filter values are bound.
type Reader struct {
	conn driver.Conn
	now  func() time.Time
	lag  *LagReader
	// parties keeps each project's parties for a vendor's views (Reader.View) a moment.
	parties partyCache
	// The region and preference figures and unitizing alpha, read once per key and interval
	// for every viewer (figureCache); maxSpans bounds one unitizing read.
	regionCache     figureCache[[]kpi.RegionFigure]
	preferenceCache figureCache[[]kpi.PreferenceFigure]
	unitizingCache  figureCache[unitizingFigure]
	maxSpans        int
}

// NewReader returns a Reader over conn; lag may be nil (no pipeline lag figure). It computes
// unitizing alpha over at most kpi.DefaultMaxUnitizingSpans spans and keeps no figure between
// reads (Server's reader, made by New, keeps them for a sample interval).
func NewReader(conn driver.Conn, lag *LagReader) *Reader {
	r := &Reader{conn: conn, now: time.Now, lag: lag, maxSpans: kpi.DefaultMaxUnitizingSpans}
	r.regionCache.now, r.preferenceCache.now, r.unitizingCache.now = r.clock, r.clock, r.clock
	return r
}

// clock is r.now, for the caches (a test may set now after NewReader).
func (r *Reader) clock() time.Time { return r.now() }

// Summary reads every section of v, or fails with the first section that cannot be read
// (a *SectionError): a summary with a hole in it would show the other figures as if the
// KPI store were whole, and the first failure usually means the next would fail too
// (ClickHouse unreachable: one timeout, not ten). The figures over every project at once
// (rework, rejected events, consumer lag) are null unless v's scope is every project.
func (r *Reader) Summary(ctx context.Context, v View) (*Summary, error) {
	return r.summary(ctx, v, true)
}

// summary reads a Summary; without structured it leaves Regions and Preferences null: the
// history sampler reads them for the unfiltered view only (its gauges), since no sample
// charts them and they must not add reads per view and interval.
func (r *Reader) summary(ctx context.Context, v View, structured bool) (*Summary, error) {
	now := r.now()
	f := v.Filter
	s := &Summary{AsOfMillis: now.UnixMilli(), Filter: f}
	for _, sec := range []struct {
		name string
		read func() error
	}{
		{"agreement", func() (err error) { s.Agreement, err = r.Agreement(ctx, v); return }},
		{"accuracy", func() (err error) { s.Accuracy, err = r.Accuracy(ctx, v); return }},
		{"coverage", func() (err error) { s.Coverage, err = r.Coverage(ctx, v); return }},
		{"cycle_time", func() (err error) { s.Cycle, err = r.Cycle(ctx, v); return }},
		{"rework", func() (err error) { s.Rework, err = r.Rework(ctx, v); return }},
		{"remediation", func() (err error) { s.Remediation, err = r.Remediation(ctx, v); return }},
		{"annotators", func() (err error) { s.Annotators, err = r.Annotators(ctx, v); return }},
		{"lineage", func() (err error) { s.Lineage, err = r.LineageCompleteness(ctx, v); return }},
		{"routing", func() (err error) { s.Routing, err = r.Routing(ctx, v); return }},
		{"gate", func() (err error) { s.Gate, err = r.Gate(ctx, v); return }},
		{"volume", func() (err error) { s.Volume, err = r.Volume(ctx, v); return }},
		{"regions", func() (err error) {
			if structured {
				s.Regions, err = r.RegionHeadline(ctx, v)
			}
			return
		}},
		{"preferences", func() (err error) {
			if structured {
				s.Preferences, err = r.PreferenceHeadline(ctx, v)
			}
			return
		}},
	} {
		if err := sec.read(); err != nil {
			return nil, &SectionError{Section: sec.name, Err: err}
		}
	}
	if r.lag != nil && v.allProjects() {
		// The lag comes from the broker, not ClickHouse: a processor whose lag cannot be
		// read leaves the total null and is listed in Unanswered (the error only repeats
		// that, with the detail /v1/pipeline logs); the ClickHouse figures stand.
		s.Pipeline, _ = r.lag.Read(ctx)
	}
	return s, nil
}

// scope is the KPI tables' scope of the filter's cohort.
func scope(f Filter) string {
	if f.Cohort == "" {
		return kpi.ScopeAll
	}
	return kpi.CohortScope(f.Cohort)
}

// AgreementKPI is inter-annotator agreement: Krippendorff's alpha of every question at its
// own level of measurement (MASI for sets), and the headline over the questions.
type AgreementKPI struct {
	// Alpha is the mean of the questions' alphas weighted by their pairable values (a
	// question with more evidence counts more); null when no question has a defined alpha.
	Alpha Num `json:"alpha"`
	// AlphaCI is Alpha's 95% confidence interval when Alpha is one question's (the jackknife
	// over units of kpi.ReadAgreement); null for a mean over several questions, which has
	// none of its own (each question's is in Questions), and while undefined.
	AlphaCI *agreement.Interval `json:"alpha_ci"`
	// PercentAgreement is the same weighted mean of the questions' pairwise percent agreement.
	PercentAgreement Num    `json:"percent_agreement"`
	PairableUnits    int64  `json:"pairable_units"`
	PairableValues   int64  `json:"pairable_values"`
	Scope            string `json:"scope"`
	// Questions are the figures per (project, question) in Scope, as kpi.ReadAgreement reads
	// them.
	Questions []kpi.AgreementFigure `json:"questions"`
	// Cohorts are the within-cohort figures (only that cohort's labels of each unit),
	// weighted over questions like the headline.
	Cohorts []CohortAgreement `json:"cohorts"`
	// WindowFromDay is the first UTC day of the window: with a window, the figures cover the
	// units (item x question) whose first label came on that day or later.
	WindowFromDay string `json:"window_from_day,omitempty"`
	Definition    string `json:"definition"`
}

// CohortAgreement is one cohort's agreement over its questions, weighted like the headline.
type CohortAgreement struct {
	Cohort string `json:"cohort"`
	Alpha  Num    `json:"alpha"`
	// AlphaCI is as AgreementKPI's: the interval of the cohort's alpha over one question.
	AlphaCI          *agreement.Interval `json:"alpha_ci"`
	PercentAgreement Num                 `json:"percent_agreement"`
	PairableUnits    int64               `json:"pairable_units"`
	PairableValues   int64               `json:"pairable_values"`
}

const agreementDefinition = "Krippendorff's alpha per question at its level of measurement (nominal, ordinal, interval, ratio; MASI for multi-label), over units (item x question) with two or more values; the headline and cohort figures are means over questions weighted by pairable values. Cohort figures use only that cohort's labels of each unit. A window selects units by the UTC day of their first label."

// Agreement reads the figures of v's project in v's scope, and every cohort's the view sees,
// with kpi.ReadAgreement; with a window, over the units that started from the window's first
// UTC day on.
func (r *Reader) Agreement(ctx context.Context, v View) (*AgreementKPI, error) {
	f := v.Filter
	q := kpi.AgreementFilter{Project: f.Project, Scope: scope(f), Cohorts: true}
	fromDay := ""
	if f.Window > 0 {
		q.From = r.now().Add(-f.Window)
		fromDay = q.From.UTC().Format(time.DateOnly)
	}
	figs, err := kpi.ReadAgreement(ctx, r.conn, q)
	if err != nil {
		return nil, err
	}
	out := &AgreementKPI{Scope: q.Scope, Questions: []kpi.AgreementFigure{}, Cohorts: []CohortAgreement{}, WindowFromDay: fromDay, Definition: agreementDefinition}
	headline := &weighted{}
	cohorts := map[string]*weighted{}
	for _, fig := range figs {
		if fig.Scope == out.Scope {
			out.Questions = append(out.Questions, fig)
			headline.add(fig)
		}
		if c, ok := strings.CutPrefix(fig.Scope, "cohort:"); ok && (f.Cohort == "" || c == f.Cohort) && v.seesCohort(c) {
			if cohorts[c] == nil {
				cohorts[c] = &weighted{}
			}
			cohorts[c].add(fig)
		}
	}
	out.Alpha, out.PercentAgreement, out.AlphaCI = headline.alpha(), headline.percent(), headline.interval()
	out.PairableUnits, out.PairableValues = headline.units, headline.values
	for _, c := range sortedKeys(cohorts) {
		w := cohorts[c]
		out.Cohorts = append(out.Cohorts, CohortAgreement{Cohort: c, Alpha: w.alpha(), AlphaCI: w.interval(), PercentAgreement: w.percent(), PairableUnits: w.units, PairableValues: w.values})
	}
	return out, nil
}

// weighted accumulates questions' figures weighted by pairable values.
type weighted struct {
	units, values        int64
	alphaSum, alphaW     float64
	percentSum, percentW float64
	// alphas counts the questions with a defined alpha, and ci is the interval of the last
	// one: the mean's interval when there is one question.
	alphas int
	ci     *agreement.Interval
}

func (w *weighted) add(f kpi.AgreementFigure) {
	v := f.PairableValues
	w.units += f.PairableUnits
	w.values += v
	if f.Err == nil && num(f.Alpha.Alpha) != nil {
		w.alphaSum += f.Alpha.Alpha * float64(v)
		w.alphaW += float64(v)
		w.alphas++
		w.ci = nil
		if low, high, ok := alphaInterval(f); ok {
			w.ci = &agreement.Interval{Low: low, High: high, Level: f.AlphaCI.Level, Method: f.AlphaCI.Method}
		}
	}
	if f.PercentErr == nil && num(f.Percent.PercentAgreement) != nil {
		w.percentSum += f.Percent.PercentAgreement * float64(v)
		w.percentW += float64(v)
	}
}

func (w *weighted) alpha() Num {
	if w.alphaW == 0 {
		return nil
	}
	return num(w.alphaSum / w.alphaW)
}

// interval is the mean's interval: the question's when the mean is one question's alpha,
// nil otherwise.
func (w *weighted) interval() *agreement.Interval {
	if w.alphas != 1 {
		return nil
	}
	return w.ci
}

func (w *weighted) percent() Num {
	if w.percentW == 0 {
		return nil
	}
	return num(w.percentSum / w.percentW)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AccuracyKPI is accuracy against gold: correct / scored labels.
type AccuracyKPI struct {
	Accuracy      Num              `json:"accuracy"`
	CorrectLabels int64            `json:"correct_labels"`
	ScoredLabels  int64            `json:"scored_labels"`
	Scope         string           `json:"scope"`
	Questions     []AccuracyFigure `json:"questions"`
	Cohorts       []AccuracyFigure `json:"cohorts"`
	Definition    string           `json:"definition"`
}

// AccuracyFigure is the accuracy of one question or one cohort.
type AccuracyFigure struct {
	ProjectID     string `json:"project_id,omitempty"`
	QuestionID    string `json:"question_id,omitempty"`
	Cohort        string `json:"cohort,omitempty"`
	Accuracy      Num    `json:"accuracy"`
	CorrectLabels int64  `json:"correct_labels"`
	ScoredLabels  int64  `json:"scored_labels"`
}

const accuracyDefinition = "over all time (the window does not apply): correct / scored labels: a label is scored when its item and question have a gold answer (the latest GoldLabelSet) and it is not retracted; it is correct when its value equals the gold value exactly (same category, rank, number or set). Totals sum over questions."

const accuracyQuery = `SELECT project_id, question_id, scope, toInt64(correct_labels), toInt64(scored_labels)
FROM kpi_accuracy
WHERE (? = '' OR project_id = ?) AND (scope = ? OR scope LIKE 'cohort:%')
ORDER BY project_id, question_id, scope`

// Accuracy reads kpi_accuracy for v: its project's questions, and the cohorts it sees.
func (r *Reader) Accuracy(ctx context.Context, v View) (*AccuracyKPI, error) {
	f := v.Filter
	rows, err := r.conn.Query(ctx, accuracyQuery, f.Project, f.Project, scope(f))
	if err != nil {
		return nil, fmt.Errorf("query accuracy: %w", err)
	}
	defer rows.Close()
	out := &AccuracyKPI{Scope: scope(f), Questions: []AccuracyFigure{}, Cohorts: []AccuracyFigure{}, Definition: accuracyDefinition}
	cohorts := map[string]*[2]int64{}
	for rows.Next() {
		var project, question, sc string
		var correct, scored int64
		if err := rows.Scan(&project, &question, &sc, &correct, &scored); err != nil {
			return nil, fmt.Errorf("scan accuracy: %w", err)
		}
		if sc == out.Scope {
			out.Questions = append(out.Questions, AccuracyFigure{ProjectID: project, QuestionID: question, Accuracy: ratio(correct, scored), CorrectLabels: correct, ScoredLabels: scored})
			out.CorrectLabels += correct
			out.ScoredLabels += scored
		}
		if c, ok := strings.CutPrefix(sc, "cohort:"); ok && (f.Cohort == "" || c == f.Cohort) && v.seesCohort(c) {
			if cohorts[c] == nil {
				cohorts[c] = &[2]int64{}
			}
			cohorts[c][0] += correct
			cohorts[c][1] += scored
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read accuracy: %w", err)
	}
	out.Accuracy = ratio(out.CorrectLabels, out.ScoredLabels)
	for _, c := range sortedKeys(cohorts) {
		t := cohorts[c]
		out.Cohorts = append(out.Cohorts, AccuracyFigure{Cohort: c, Accuracy: ratio(t[0], t[1]), CorrectLabels: t[0], ScoredLabels: t[1]})
	}
	return out, nil
}

// CycleKPI is cycle time over items ingested (within the window), labeled and accepted.
type CycleKPI struct {
	Items            int64  `json:"items"`
	ToFirstLabelP50S Num    `json:"to_first_label_p50_s"`
	ToFirstLabelP90S Num    `json:"to_first_label_p90_s"`
	ToAcceptedP50S   Num    `json:"to_accepted_p50_s"`
	ToAcceptedP90S   Num    `json:"to_accepted_p90_s"`
	ItemsRelabeled   int64  `json:"items_relabeled"`
	Definition       string `json:"definition"`
}

const cycleDefinition = "seconds from ItemIngested to the first LabelSubmitted and to the first accepting ReviewCompleted (occurred_at), exact p50/p90 over items that reached both; the window selects items by ingestion time."

const cycleQuery = `SELECT toInt64(count()),
       toFloat64(quantileExact(0.5)((first_label_at_ms - ingested_at_ms) / 1000)),
       toFloat64(quantileExact(0.9)((first_label_at_ms - ingested_at_ms) / 1000)),
       toFloat64(quantileExact(0.5)((accepted_at_ms - ingested_at_ms) / 1000)),
       toFloat64(quantileExact(0.9)((accepted_at_ms - ingested_at_ms) / 1000)),
       toInt64(countIf(relabeled))
FROM kpi_item_cycle
WHERE ingested_at_ms > 0 AND first_label_at_ms > 0 AND accepted_at_ms > 0
  AND (? = '' OR project_id = ?) AND ingested_at_ms >= ?`

// Cycle reads the cycle times of v from kpi_item_cycle.
func (r *Reader) Cycle(ctx context.Context, v View) (*CycleKPI, error) {
	f := v.Filter
	var (
		out                  CycleKPI
		fl50, fl90, a50, a90 float64
	)
	err := r.conn.QueryRow(ctx, cycleQuery, f.Project, f.Project, f.SinceMillis(r.now())).
		Scan(&out.Items, &fl50, &fl90, &a50, &a90, &out.ItemsRelabeled)
	if err != nil {
		return nil, fmt.Errorf("query cycle time: %w", err)
	}
	if out.Items > 0 {
		out.ToFirstLabelP50S, out.ToFirstLabelP90S, out.ToAcceptedP50S, out.ToAcceptedP90S = num(fl50), num(fl90), num(a50), num(a90)
	}
	out.Definition = cycleDefinition
	return &out, nil
}

// ReworkKPI is the rework rate over every project (the review partials carry no project).
type ReworkKPI struct {
	LabelsReviewed   int64  `json:"labels_reviewed"`
	LabelsReworked   int64  `json:"labels_reworked"`
	ReworkRate       Num    `json:"rework_rate"`
	Reviews          int64  `json:"reviews"`
	ReworkReviews    int64  `json:"rework_reviews"`
	ReviewReworkRate Num    `json:"review_rework_rate"`
	Scope            string `json:"scope"`
}

const reworkQuery = `SELECT toInt64(labels_reviewed), toInt64(labels_reworked), toInt64(reviews), toInt64(rework_reviews) FROM kpi_rework`

// Rework reads kpi_rework, for a view whose scope is every project; nil for any other (the
// rework partials carry no project, so the rate is every project's).
func (r *Reader) Rework(ctx context.Context, v View) (*ReworkKPI, error) {
	if !v.allProjects() {
		return nil, nil
	}
	var out ReworkKPI
	if err := r.conn.QueryRow(ctx, reworkQuery).Scan(&out.LabelsReviewed, &out.LabelsReworked, &out.Reviews, &out.ReworkReviews); err != nil {
		return nil, fmt.Errorf("query rework: %w", err)
	}
	out.ReworkRate = ratio(out.LabelsReworked, out.LabelsReviewed)
	out.ReviewReworkRate = ratio(out.ReworkReviews, out.Reviews)
	out.Scope = "all projects"
	return &out, nil
}

// RemediationKPI is evaluation-to-remediation time: EvalFindingReported to the first
// RemediationShipped, by severity, and the age of findings still open.
type RemediationKPI struct {
	Findings       int64               `json:"findings"`
	Shipped        int64               `json:"shipped"`
	Open           int64               `json:"open"`
	P50S           Num                 `json:"p50_s"`
	P90S           Num                 `json:"p90_s"`
	OldestOpenAgeS Num                 `json:"oldest_open_age_s"`
	BySeverity     []RemediationFigure `json:"by_severity"`
	Definition     string              `json:"definition"`
}

// RemediationFigure is the remediation time of one severity.
type RemediationFigure struct {
	Severity       string `json:"severity"`
	Findings       int64  `json:"findings"`
	Shipped        int64  `json:"shipped"`
	Open           int64  `json:"open"`
	P50S           Num    `json:"p50_s"`
	P90S           Num    `json:"p90_s"`
	OldestOpenAgeS Num    `json:"oldest_open_age_s"`
}

const remediationDefinition = "seconds from EvalFindingReported to its first RemediationShipped (occurred_at), exact p50/p90 over shipped findings; open findings are reported and not shipped, their age measured to now; the window selects findings by report time."

// The ledger has no remediation KPI table yet, so this reads findings and remediations
// directly (README, "Evaluation-to-remediation time by severity"). 18.16 needs ALL before
// the JOIN, current releases an alias on each joined subquery; a finding without a shipped
// remediation gets shipped_ms = 0 from the LEFT JOIN.
const remediationQuery = `SELECT severity, toInt64(count()), toInt64(countIf(shipped_ms > 0)),
       toFloat64(quantileExactIf(0.5)((shipped_ms - reported_ms) / 1000, shipped_ms > 0)),
       toFloat64(quantileExactIf(0.9)((shipped_ms - reported_ms) / 1000, shipped_ms > 0)),
       toFloat64(maxIf((? - reported_ms) / 1000, shipped_ms = 0))
FROM (SELECT finding_id, any(severity) AS severity, min(occurred_at_ms) AS reported_ms
      FROM findings FINAL
      WHERE (? = '' OR project_id = ?)
      GROUP BY finding_id
      HAVING reported_ms >= ?) AS f
ALL LEFT JOIN (SELECT finding_id, min(occurred_at_ms) AS shipped_ms
               FROM remediations FINAL WHERE stage = 'shipped' GROUP BY finding_id) AS s
USING finding_id
GROUP BY severity
ORDER BY severity`

// Remediation reads evaluation-to-remediation time for v; the overall p50/p90 are computed
// over every shipped finding, not averaged over severities.
func (r *Reader) Remediation(ctx context.Context, v View) (*RemediationKPI, error) {
	f := v.Filter
	now := r.now()
	rows, err := r.conn.Query(ctx, remediationQuery, now.UnixMilli(), f.Project, f.Project, f.SinceMillis(now))
	if err != nil {
		return nil, fmt.Errorf("query remediation: %w", err)
	}
	defer rows.Close()
	out := &RemediationKPI{BySeverity: []RemediationFigure{}, Definition: remediationDefinition}
	var oldest float64 = -1
	for rows.Next() {
		var (
			g             RemediationFigure
			p50, p90, age float64
		)
		if err := rows.Scan(&g.Severity, &g.Findings, &g.Shipped, &p50, &p90, &age); err != nil {
			return nil, fmt.Errorf("scan remediation: %w", err)
		}
		g.Open = g.Findings - g.Shipped
		if g.Shipped > 0 {
			g.P50S, g.P90S = num(p50), num(p90)
		}
		if g.Open > 0 {
			g.OldestOpenAgeS = num(age)
			oldest = max(oldest, age)
		}
		out.Findings += g.Findings
		out.Shipped += g.Shipped
		out.Open += g.Open
		out.BySeverity = append(out.BySeverity, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read remediation: %w", err)
	}
	if oldest >= 0 {
		out.OldestOpenAgeS = num(oldest)
	}
	if out.Shipped > 0 {
		var p50, p90 float64
		if err := r.conn.QueryRow(ctx, remediationOverallQuery, f.Project, f.Project, f.SinceMillis(now)).Scan(&p50, &p90); err != nil {
			return nil, fmt.Errorf("query remediation quantiles: %w", err)
		}
		out.P50S, out.P90S = num(p50), num(p90)
	}
	return out, nil
}

const remediationOverallQuery = `SELECT toFloat64(quantileExact(0.5)((shipped_ms - reported_ms) / 1000)),
       toFloat64(quantileExact(0.9)((shipped_ms - reported_ms) / 1000))
FROM (SELECT finding_id, min(occurred_at_ms) AS reported_ms
      FROM findings FINAL
      WHERE (? = '' OR project_id = ?)
      GROUP BY finding_id
      HAVING reported_ms >= ?) AS f
ALL INNER JOIN (SELECT finding_id, min(occurred_at_ms) AS shipped_ms
                FROM remediations FINAL WHERE stage = 'shipped' GROUP BY finding_id) AS s
USING finding_id`

// VolumeKPI counts what reached the ledger tables: the pulse of the pipeline.
type VolumeKPI struct {
	Items  int64 `json:"items"`
	Labels int64 `json:"labels"`
	// Rejected counts DLQ records (every project: a rejected event has no trusted project),
	// so it is null in a view whose scope is not every project.
	Rejected *int64 `json:"rejected"`
}

const volumeQuery = `SELECT
  (SELECT toInt64(count()) FROM items FINAL WHERE (? = '' OR project_id = ?)),
  (SELECT toInt64(count()) FROM labels FINAL WHERE (? = '' OR project_id = ?)),
  (SELECT toInt64(count()) FROM dlq FINAL)`

// Volume counts items, labels and (for a view of every project) rejected events.
func (r *Reader) Volume(ctx context.Context, v View) (*VolumeKPI, error) {
	var out VolumeKPI
	var rejected int64
	if err := r.conn.QueryRow(ctx, volumeQuery, v.Project, v.Project, v.Project, v.Project).Scan(&out.Items, &out.Labels, &rejected); err != nil {
		return nil, fmt.Errorf("query volume: %w", err)
	}
	if v.allProjects() {
		out.Rejected = &rejected
	}
	return &out, nil
}

// errNotFound marks an answer 404.
var errNotFound = errors.New("not found")
