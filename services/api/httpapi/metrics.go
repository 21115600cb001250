package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/anomaly"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/kpi"
)

// metrics are the assay_api_* series.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	sectionErrors *prometheus.CounterVec
	// misdirected counts requests refused by the Host allowlist.
	misdirected prometheus.Counter
	// refused counts /v1 requests answered 401 or 403, by reason (no_token, unknown_token)
	// or rule.
	refused *prometheus.CounterVec

	// KPI gauges of the unfiltered view, set by the sampler, so Prometheus can alert on
	// figures that live in ClickHouse (agreement below target, findings open too long).
	agreement    *prometheus.GaugeVec
	accuracy     *prometheus.GaugeVec
	coverage     prometheus.Gauge
	openFindings prometheus.Gauge
	oldestOpen   prometheus.Gauge
	remediation  prometheus.Gauge
	// Routing (streams/router): automation, overrides of audited auto-accepts, pre-label
	// precision per model version.
	automation    *prometheus.GaugeVec
	override      *prometheus.GaugeVec
	auditsLabeled *prometheus.GaugeVec
	precision     *prometheus.GaugeVec
	// The gate (streams/gate): dataset versions by standing verdict, and the training runs
	// on uncertified data.
	versions    *prometheus.GaugeVec
	uncertified prometheus.Gauge

	// Governance, set once per sample interval for every viewer (Server.governance): the
	// thresholds in force, which the alert rules compare the KPI series with, and the
	// anomalies of streams/anomaly with their figures. Each family is replaced as a whole.
	qualityTarget *gaugeSet
	anomalyActive *gaugeSet
	anomalyFigure *gaugeSet
	// The figures the quality alerts compare with the targets, per project and question
	// (unfiltered summary), and the strict lineage completeness of each dataset's latest
	// version (projects with a lineage target).
	questionAlpha, questionAlphaLow, questionAlphaHigh, questionPairable *gaugeSet
	questionAccuracy, questionScored                                     *gaugeSet
	latestLineage                                                        *gaugeSet
	// The headline region and preference figures per project and question (scope all), from
	// the same unfiltered sample: no target judges them yet; they are charted.
	regionF1, regionIoU, regionLabelAlpha, regionGoldF1                         *gaugeSet
	preferenceAlpha, preferenceAccuracy, preferenceBias, preferenceBiasExpected *gaugeSet
}

// gaugeSet is a family of gauges replaced as a whole: a scrape gets the last complete set,
// never one half-updated (as Reset then Set on a GaugeVec could give, dropping a threshold
// an alert rule compares with for one evaluation).
type gaugeSet struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	vals []gaugeValue
}

// gaugeValue is one gauge of a gaugeSet: its label values, in the family's order, and value.
type gaugeValue struct {
	labels []string
	v      float64
}

func newGaugeSet(name, help string, labels ...string) *gaugeSet {
	return &gaugeSet{desc: prometheus.NewDesc(name, help, labels, nil)}
}

// Describe implements prometheus.Collector.
func (g *gaugeSet) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *gaugeSet) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	vals := g.vals
	g.mu.Unlock()
	for _, v := range vals {
		if m, err := prometheus.NewConstMetric(g.desc, prometheus.GaugeValue, v.v, v.labels...); err == nil {
			ch <- m
		}
	}
}

// set replaces the family's gauges with vals; of two with the same labels the last stays (a
// registry refuses a family that repeats a series).
func (g *gaugeSet) set(vals []gaugeValue) {
	seen := map[string]int{}
	out := make([]gaugeValue, 0, len(vals))
	for _, v := range vals {
		k := strings.Join(v.labels, "\x00")
		if i, ok := seen[k]; ok {
			out[i] = v
			continue
		}
		seen[k] = len(out)
		out = append(out, v)
	}
	g.mu.Lock()
	g.vals = out
	g.mu.Unlock()
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_api_requests_total",
			Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_api_request_duration_seconds",
			Help:    "Time to answer an API request, ClickHouse queries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"route"}),
		sectionErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_api_kpi_section_errors_total",
			Help: "KPI summaries (of /v1/kpis or the history sampler) that failed, by the first section that could not be read (ClickHouse unreachable, missing table).",
		}, []string{"section"}),
		misdirected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_api_misdirected_requests_total",
			Help: "Requests refused with 421 because their Host header is not on the allowlist (-allowed-hosts): DNS rebinding attempts, or a name to add.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_api_refused_requests_total",
			Help: "API requests refused: 401 without a token (reason no_token) or with one the principals file does not hold (unknown_token: revoked, mistyped, guessed), 403 by the read rule that refused it (role.read, scope.project, scope.all_projects, scope.party).",
		}, []string{"reason"}),
		agreement: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_agreement_alpha",
			Help: "Krippendorff's alpha of each project (questions weighted by pairable values); absent while undefined.",
		}, []string{"project"}),
		accuracy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_accuracy_ratio",
			Help: "Accuracy against gold of each project: correct / scored labels.",
		}, []string{"project"}),
		coverage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_api_kpi_slice_coverage_ratio",
			Help: "Target slices meeting their target / target slices, over the latest version of every dataset.",
		}),
		openFindings: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_api_kpi_open_findings",
			Help: "Evaluation findings reported and not yet remediated (no RemediationShipped).",
		}),
		oldestOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_api_kpi_oldest_open_finding_age_seconds",
			Help: "Age of the oldest open evaluation finding; 0 when none is open.",
		}),
		remediation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_api_kpi_remediation_p50_seconds",
			Help: "Median evaluation-to-remediation time over shipped findings.",
		}),
		automation: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_automation_ratio",
			Help: "Automation rate of each project: pre-label decisions auto-accepted by the router (audited ones included) / pre-label decisions; absent before the first decision.",
		}, []string{"project"}),
		override: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_override_ratio",
			Help: "Human-override rate of each project: audited auto-accepts whose accepted human label differs from the pre-label / audited auto-accepts with an accepted human label; absent until an audit is labeled.",
		}, []string{"project"}),
		auditsLabeled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_audits_labeled",
			Help: "Audited auto-accepts of each project that have an accepted human label: the sample size of assay_api_kpi_override_ratio.",
		}, []string{"project"}),
		precision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_prelabel_precision_ratio",
			Help: "Precision of each model version's pre-labels in each project: pre-labels equal to the accepted human label / pre-labels whose item has one.",
		}, []string{"project", "model", "model_version"}),
		versions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_api_kpi_versions",
			Help: "Committed dataset versions by the gate's standing verdict: certified, rejected, unjudged (not judged yet).",
		}, []string{"verdict"}),
		uncertified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_api_kpi_training_runs_uncertified",
			Help: "Training runs that used a dataset version not certified when the run was registered (overridden, rejected or not judged yet): kpi_training_runs_uncertified.",
		}),
		qualityTarget: newGaugeSet("assay_api_quality_target",
			"Threshold of every quality target in force now, per project and question (question \"\" for the targets on a dataset version as a whole): min_alpha (with min_pairable_values and alpha_on_lower_bound 0/1), min_accuracy (with min_gold_labels and accuracy_final_after_review 0/1), max_label_drift per question; min_slice_coverage, min_edge_case_coverage, min_lineage_completeness, max_rework_rate per version. Absent while no target is in force.",
			"project", "question", "target"),
		anomalyActive: newGaugeSet("assay_api_anomaly_active",
			"1 while streams/anomaly reports an anomaly: kind agreement_drop (scope cohort:<c>, vendor:<v> or annotator:<a>) or label_drift (scope all).",
			"kind", "project", "question", "scope"),
		anomalyFigure: newGaugeSet("assay_api_anomaly_figure",
			"The figures behind each active anomaly: window current (the current window's agreement, or a question's label drift from its baseline as a total-variation distance) and previous (the preceding window's agreement, for an agreement drop).",
			"kind", "project", "question", "scope", "window"),
		questionAlpha: newGaugeSet("assay_api_kpi_question_agreement_alpha",
			"Krippendorff's alpha of each question of each project (all time, every label); absent while undefined.", "project", "question"),
		questionAlphaLow: newGaugeSet("assay_api_kpi_question_agreement_alpha_low",
			"Lower end of the 95% confidence interval of assay_api_kpi_question_agreement_alpha; absent while it has none.", "project", "question"),
		questionAlphaHigh: newGaugeSet("assay_api_kpi_question_agreement_alpha_high",
			"Upper end of the 95% confidence interval of assay_api_kpi_question_agreement_alpha; absent while it has none.", "project", "question"),
		questionPairable: newGaugeSet("assay_api_kpi_question_agreement_pairable_values",
			"Pairable values behind assay_api_kpi_question_agreement_alpha: the evidence a min_alpha target asks a minimum of.", "project", "question"),
		questionAccuracy: newGaugeSet("assay_api_kpi_question_accuracy_ratio",
			"Accuracy against gold of each question of each project: correct / scored submitted labels (denominator all_submitted); absent before a label is scored.", "project", "question"),
		questionScored: newGaugeSet("assay_api_kpi_question_accuracy_labels",
			"Scored labels behind assay_api_kpi_question_accuracy_ratio: the evidence a min_accuracy target asks a minimum of.", "project", "question"),
		latestLineage: newGaugeSet("assay_api_kpi_lineage_completeness_ratio",
			"Strict lineage completeness of the latest version of each dataset (members with a complete chain / members), for the projects with a min_lineage_completeness target in force.", "project", "dataset"),
		regionF1: newGaugeSet("assay_api_kpi_region_pairwise_f1_ratio",
			"Micro pairwise F1 of each spans or boxes question (all annotators, all time; GET /v1/regions): 2 x regions matched one to one / regions of both annotators of each pair; absent while undefined.", "project", "question"),
		regionIoU: newGaugeSet("assay_api_kpi_region_mean_iou_ratio",
			"Mean IoU of the regions matched by assay_api_kpi_region_pairwise_f1_ratio's matching; absent while none is matched.", "project", "question"),
		regionLabelAlpha: newGaugeSet("assay_api_kpi_region_label_alpha",
			"Label alpha of each spans or boxes question: Krippendorff's alpha (nominal) over the labels of the regions matched whatever their labels; absent while undefined.", "project", "question"),
		regionGoldF1: newGaugeSet("assay_api_kpi_region_gold_f1_ratio",
			"F1 of the annotators' regions against gold regions of each spans or boxes question; absent before a label is scored.", "project", "question"),
		preferenceAlpha: newGaugeSet("assay_api_kpi_preference_alpha",
			"Krippendorff's alpha of each preference question (all annotators, all time; GET /v1/preferences), coding nominal (the choice) or ordinal (choice and strength); absent while undefined.", "project", "question", "coding"),
		preferenceAccuracy: newGaugeSet("assay_api_kpi_preference_accuracy_ratio",
			"Share of the answers to each preference question that choose the gold preference; absent before a label is scored.", "project", "question"),
		preferenceBias: newGaugeSet("assay_api_kpi_preference_position_bias_ratio",
			"Position bias of each preference question: the share of answers choosing the response shown first (compare assay_api_kpi_preference_position_bias_expected_ratio); absent without labels.", "project", "question"),
		preferenceBiasExpected: newGaugeSet("assay_api_kpi_preference_position_bias_expected_ratio",
			"The share of answers choosing the response shown first expected without position bias (the mean of 1/responses).", "project", "question"),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.sectionErrors, m.misdirected, m.refused,
		m.agreement, m.accuracy, m.coverage, m.openFindings, m.oldestOpen, m.remediation,
		m.automation, m.override, m.auditsLabeled, m.precision, m.versions, m.uncertified,
		m.qualityTarget, m.anomalyActive, m.anomalyFigure, m.questionAlpha, m.questionAlphaLow, m.questionAlphaHigh, m.questionPairable,
		m.questionAccuracy, m.questionScored, m.latestLineage,
		m.regionF1, m.regionIoU, m.regionLabelAlpha, m.regionGoldF1, m.preferenceAlpha, m.preferenceAccuracy, m.preferenceBias, m.preferenceBiasExpected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
	}
	return m, nil
}

// sectionFailed counts a failed summary under the section that failed.
func (m *metrics) sectionFailed(err error) {
	section := "unknown"
	var se *SectionError
	if errors.As(err, &se) {
		section = se.Section
	}
	m.sectionErrors.WithLabelValues(section).Inc()
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// publish sets the KPI gauges from a summary of the unfiltered view. Sections that could not
// be read leave their gauges as they were: a failed read is not a change in quality.
func (m *metrics) publish(s *Summary) {
	if a := s.Agreement; a != nil {
		m.agreement.Reset()
		by := map[string]*weighted{}
		for _, q := range a.Questions {
			if by[q.ProjectID] == nil {
				by[q.ProjectID] = &weighted{}
			}
			by[q.ProjectID].add(q)
		}
		for p, w := range by {
			if v := w.alpha(); v != nil {
				m.agreement.WithLabelValues(p).Set(*v)
			}
		}
	}
	if a := s.Agreement; a != nil {
		var alpha, low, high, pairable []gaugeValue
		for _, q := range a.Questions {
			labels := []string{q.ProjectID, q.QuestionID}
			pairable = append(pairable, gaugeValue{labels: labels, v: float64(q.PairableValues)})
			if q.Err == nil && num(q.Alpha.Alpha) != nil {
				alpha = append(alpha, gaugeValue{labels: labels, v: q.Alpha.Alpha})
			}
			if l, h, ok := alphaInterval(q); ok {
				low = append(low, gaugeValue{labels: labels, v: l})
				high = append(high, gaugeValue{labels: labels, v: h})
			}
		}
		m.questionAlpha.set(alpha)
		m.questionAlphaLow.set(low)
		m.questionAlphaHigh.set(high)
		m.questionPairable.set(pairable)
	}
	if a := s.Accuracy; a != nil {
		var ratio, scored []gaugeValue
		for _, q := range a.Questions {
			labels := []string{q.ProjectID, q.QuestionID}
			scored = append(scored, gaugeValue{labels: labels, v: float64(q.ScoredLabels)})
			if q.Accuracy != nil {
				ratio = append(ratio, gaugeValue{labels: labels, v: *q.Accuracy})
			}
		}
		m.questionAccuracy.set(ratio)
		m.questionScored.set(scored)
	}
	if a := s.Accuracy; a != nil {
		m.accuracy.Reset()
		by := map[string]*[2]int64{}
		for _, q := range a.Questions {
			if by[q.ProjectID] == nil {
				by[q.ProjectID] = &[2]int64{}
			}
			by[q.ProjectID][0] += q.CorrectLabels
			by[q.ProjectID][1] += q.ScoredLabels
		}
		for p, t := range by {
			if v := ratio(t[0], t[1]); v != nil {
				m.accuracy.WithLabelValues(p).Set(*v)
			}
		}
	}
	if c := s.Coverage; c != nil && c.SliceCoverage != nil {
		m.coverage.Set(*c.SliceCoverage)
	}
	m.publishStructured(s.Regions, s.Preferences)
	if r := s.Remediation; r != nil {
		m.openFindings.Set(float64(r.Open))
		age := 0.0
		if r.OldestOpenAgeS != nil {
			age = *r.OldestOpenAgeS
		}
		m.oldestOpen.Set(age)
		if r.P50S != nil {
			m.remediation.Set(*r.P50S)
		}
	}
	if g := s.Gate; g != nil {
		m.versions.WithLabelValues(VerdictCertified).Set(float64(g.Versions.Certified))
		m.versions.WithLabelValues(VerdictRejected).Set(float64(g.Versions.Rejected))
		m.versions.WithLabelValues(VerdictUnjudged).Set(float64(g.Versions.Unjudged))
		m.uncertified.Set(float64(g.TrainingRunsUncertified))
	}
	if rt := s.Routing; rt != nil {
		m.automation.Reset()
		m.override.Reset()
		m.auditsLabeled.Reset()
		for _, p := range rt.Projects {
			if p.AutomationRate != nil {
				m.automation.WithLabelValues(p.ProjectID).Set(*p.AutomationRate)
			}
			if p.OverrideRate != nil {
				m.override.WithLabelValues(p.ProjectID).Set(*p.OverrideRate)
			}
			m.auditsLabeled.WithLabelValues(p.ProjectID).Set(float64(p.AuditsLabeled))
		}
		m.precision.Reset()
		for _, p := range rt.Models {
			if p.PrelabelPrecision != nil {
				m.precision.WithLabelValues(p.ProjectID, p.Model, p.ModelVersion).Set(*p.PrelabelPrecision)
			}
		}
	}
}

// The qualifiers of min_alpha and min_accuracy in assay_api_quality_target, which the alert
// rules read beside the thresholds: the evidence each asks, and (0 or 1) whether alpha is
// judged on the lower end of its interval and whether accuracy counts the final label after
// review (the gate's figure, per version, not the KPI's).
const (
	TargetAlphaOnLowerBound        = "alpha_on_lower_bound"
	TargetMinPairableValues        = "min_pairable_values"
	TargetMinGoldLabels            = "min_gold_labels"
	TargetAccuracyFinalAfterReview = "accuracy_final_after_review"
)

// publishTargets sets assay_api_quality_target to the thresholds in force of t (every
// project's), with the qualifiers of min_alpha and min_accuracy.
func (m *metrics) publishTargets(t *TargetsKPI) {
	var vals []gaugeValue
	add := func(r ResolvedTarget, target string, v float64) {
		vals = append(vals, gaugeValue{labels: []string{r.ProjectID, r.QuestionID, target}, v: v})
	}
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, p := range t.Projects {
		for _, r := range p.Resolved {
			add(r, r.Target, r.Threshold)
			switch r.Target {
			case gate.TargetAlpha:
				add(r, TargetAlphaOnLowerBound, flag(r.OnLowerBound))
				add(r, TargetMinPairableValues, float64(r.MinEvidence))
			case gate.TargetAccuracy:
				add(r, TargetMinGoldLabels, float64(r.MinEvidence))
				add(r, TargetAccuracyFinalAfterReview, flag(r.Denominator == string(schemas.DenominatorFinalAfterReview)))
			}
		}
	}
	m.qualityTarget.set(vals)
}

// publishLatestCompleteness sets assay_api_kpi_lineage_completeness_ratio.
func (m *metrics) publishLatestCompleteness(ds []DatasetCompleteness) {
	var vals []gaugeValue
	for _, d := range ds {
		if v := ratio(int64(d.CompleteMembers), int64(d.Members)); v != nil {
			vals = append(vals, gaugeValue{labels: []string{d.ProjectID, d.DatasetID}, v: *v})
		}
	}
	m.latestLineage.set(vals)
}

// publishAnomalies sets assay_api_anomaly_active and assay_api_anomaly_figure to the
// anomalies found (every project's): 1 and the figures behind each, window current and, for
// an agreement drop, previous (a label drift's baseline is a distribution, not a figure:
// its distance from it is current).
func (m *metrics) publishAnomalies(found []anomaly.Anomaly) {
	var active, figures []gaugeValue
	for _, a := range found {
		labels := []string{a.Kind, a.ProjectID, a.QuestionID, a.Scope}
		active = append(active, gaugeValue{labels: labels, v: 1})
		figure := func(window string, v float64) {
			figures = append(figures, gaugeValue{labels: append(slices.Clone(labels), window), v: v})
		}
		figure("current", a.Current)
		if a.Previous != nil {
			figure("previous", *a.Previous)
		}
	}
	m.anomalyActive.set(active)
	m.anomalyFigure.set(figures)
}

// publishStructured sets the region and preference gauges from the unfiltered summary's
// sections (scope all); a section not read leaves its gauges as they were.
func (m *metrics) publishStructured(r *RegionQuestions, p *PreferenceQuestions) {
	if r != nil {
		var f1, iou, alpha, gold []gaugeValue
		add := func(vals *[]gaugeValue, labels []string, v *float64) {
			if num := num0(v); num != nil {
				*vals = append(*vals, gaugeValue{labels: labels, v: *num})
			}
		}
		for _, q := range r.Questions {
			labels := []string{q.ProjectID, q.QuestionID}
			add(&f1, labels, q.Agreement.PairwiseF1)
			add(&iou, labels, q.Agreement.MeanIoU)
			add(&alpha, labels, q.Agreement.LabelAlpha)
			if q.Gold != nil {
				add(&gold, labels, q.Gold.F1)
			}
		}
		m.regionF1.set(f1)
		m.regionIoU.set(iou)
		m.regionLabelAlpha.set(alpha)
		m.regionGoldF1.set(gold)
	}
	if p != nil {
		var alpha, acc, bias, expected []gaugeValue
		for _, q := range p.Questions {
			labels := []string{q.ProjectID, q.QuestionID}
			for coding, a := range map[string]kpi.PreferenceAlpha{kpi.CodingNominal: q.Nominal, kpi.CodingOrdinal: q.Ordinal} {
				if v := num0(a.Alpha); v != nil {
					alpha = append(alpha, gaugeValue{labels: append(slices.Clone(labels), coding), v: *v})
				}
			}
			if q.Accuracy != nil {
				acc = append(acc, gaugeValue{labels: labels, v: q.Accuracy.Accuracy})
			}
			if q.Bias != nil {
				bias = append(bias, gaugeValue{labels: labels, v: q.Bias.Share})
				expected = append(expected, gaugeValue{labels: labels, v: q.Bias.Expected})
			}
		}
		m.preferenceAlpha.set(alpha)
		m.preferenceAccuracy.set(acc)
		m.preferenceBias.set(bias)
		m.preferenceBiasExpected.set(expected)
	}
}

// num0 is num of a figure that may be absent.
func num0(v *float64) Num {
	if v == nil {
		return nil
	}
	return num(*v)
}
