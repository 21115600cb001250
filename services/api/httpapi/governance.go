package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/anomaly"
	"github.com/assay-data/assay/streams/gate"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
)

// KindBelowTarget is the kind of an alert of the API's own: a project's KPI below the target
// in force for it (its agreement or accuracy per question), beside the anomalies of
// streams/anomaly (anomaly.KindAgreementDrop, anomaly.KindLabelDrift).
const KindBelowTarget = "below_target"

// Alert is one entry of GET /v1/alerts: an anomaly as streams/anomaly reports it, or a KPI
// below its target (Kind KindBelowTarget, Target naming the target, Scope "all", Current the
// figure, Threshold the target's, Evidence the figure's).
type Alert struct {
	anomaly.Anomaly
	Target string `json:"target,omitempty"`
}

// AlertsKPI is the body of GET /v1/alerts: the alerts of the latest detection a view sees.
type AlertsKPI struct {
	// AsOfMillis is when the detection ran (once per sample interval, for every viewer).
	AsOfMillis int64   `json:"as_of_ms"`
	Alerts     []Alert `json:"alerts"`
	Definition string  `json:"definition"`
}

const alertsDefinition = "detected once per sample interval over every project: agreement_drop (a cohort's, vendor's or annotator's agreement in the current window significantly below its own in the preceding window) and label_drift (a question's label distribution in the current window against its baseline, total-variation distance) from streams/anomaly; below_target: a question's alpha (its 95% lower bound when the target says so) or all-submitted accuracy below the min_alpha or min_accuracy in force, over at least the target's minimum evidence. A vendor sees the project-wide alerts and those of its own cohorts, vendor and annotators."

// governance is what the sampler computes once per sample interval over every project, for
// every viewer: the thresholds in force (assay_api_quality_target) and the alerts (GET
// /v1/alerts, assay_api_anomaly_*). Viewers read the latest snapshot, never detect.
type governance struct {
	mu     sync.Mutex
	at     time.Time
	alerts []Alert
	// err is the failure of the latest detection (nil once one succeeds again); ok says
	// whether one has succeeded yet.
	err error
	ok  bool
}

// errNotDetected answers GET /v1/alerts before the first detection: a 503, never an empty
// list that would read as "no alerts".
var errNotDetected = &httpError{code: 503, msg: "the alerts are detected once per sample interval and have not been yet; retry in a moment"}

func (g *governance) snapshot() (time.Time, []Alert, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.err != nil:
		return time.Time{}, nil, g.err
	case !g.ok:
		return time.Time{}, nil, errNotDetected
	}
	return g.at, g.alerts, nil
}

// set records a detection's alerts (err nil) or its failure; it returns whether the state
// changed between failing and not, for the log.
func (g *governance) set(at time.Time, alerts []Alert, err error) (changed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	changed = (g.err == nil) != (err == nil)
	if err != nil {
		g.err = err
		return changed
	}
	g.at, g.alerts, g.err, g.ok = at, alerts, nil, true
	return changed
}

// governance reads the targets in force and detects the anomalies over every project, then
// publishes them (metrics, /v1/alerts); sum is the unfiltered summary of the same sample,
// whose agreement and accuracy the below-target alerts judge, or sumErr why it could not be
// read. A failure leaves the gauges as they were and makes /v1/alerts answer it until a
// detection succeeds.
func (s *Server) governance(ctx context.Context, sum *Summary, sumErr error) {
	now := s.reader.now()
	var alerts []Alert
	err := sumErr
	if err == nil {
		alerts, err = s.detect(ctx, sum, now)
	} else {
		// The summary's own error, so that /v1/alerts answers it as any failed read: 503
		// when ClickHouse timed out or could not be reached, 500 otherwise.
		err = fmt.Errorf("the unfiltered KPI summary, whose figures the below-target alerts judge: %w", err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return // stopping: not a failure of the detection
	}
	if changed := s.gov.set(now, alerts, err); changed && err != nil {
		s.cfg.Log.Warn("alert detection failed; /v1/alerts answers an error until it succeeds", "err", err)
	} else if changed {
		s.cfg.Log.Info("alert detection recovered")
	} else if err != nil {
		s.cfg.Log.Debug("alert detection still failing", "err", err)
	}
}

func (s *Server) detect(ctx context.Context, sum *Summary, now time.Time) ([]Alert, error) {
	targets, err := s.reader.Targets(ctx, unfiltered())
	if err != nil {
		return nil, err
	}
	cfg := s.cfg.Anomaly
	cfg.Now, cfg.Project = now, ""
	found, err := anomaly.Detect(ctx, s.reader.conn, cfg)
	if err != nil {
		return nil, fmt.Errorf("detect anomalies: %w", err)
	}
	var lineageTargets []string
	for _, p := range targets.Projects {
		for _, r := range p.Resolved {
			if r.Target == gate.TargetLineage {
				lineageTargets = append(lineageTargets, p.ProjectID)
			}
		}
	}
	latest, err := s.reader.latestCompleteness(ctx, lineageTargets)
	if err != nil {
		return nil, err
	}
	s.m.publishTargets(targets)
	s.m.publishAnomalies(found)
	s.m.publishLatestCompleteness(latest)
	alerts := make([]Alert, 0, len(found))
	for _, a := range found {
		alerts = append(alerts, Alert{Anomaly: a})
	}
	return append(alerts, belowTarget(targets, sum)...), nil
}

// belowTarget lists the questions whose figures in sum (every project's) are below the
// target in force: alpha (the lower bound of its interval when the target judges it) below
// min_alpha over at least its minimum pairable values, and all-submitted accuracy (the KPI's
// denominator; a final_after_review target is the gate's to judge, per version) below
// min_accuracy over at least its minimum gold labels. Not enough evidence is no alert.
func belowTarget(t *TargetsKPI, sum *Summary) []Alert {
	byKey := map[[3]string]ResolvedTarget{}
	for _, p := range t.Projects {
		for _, r := range p.Resolved {
			byKey[[3]string{r.ProjectID, r.QuestionID, r.Target}] = r
		}
	}
	var out []Alert
	add := func(r ResolvedTarget, figure float64, evidence int64, detail string) {
		out = append(out, Alert{Target: r.Target, Anomaly: anomaly.Anomaly{Kind: KindBelowTarget, ProjectID: r.ProjectID, QuestionID: r.QuestionID,
			Scope: kpi.ScopeAll, Current: figure, Threshold: r.Threshold, Evidence: evidence, Detail: detail}})
	}
	if a := sum.Agreement; a != nil {
		for _, f := range a.Questions {
			r, ok := byKey[[3]string{f.ProjectID, f.QuestionID, gate.TargetAlpha}]
			if !ok || r.Level != f.Level || f.PairableValues < r.MinEvidence || f.Err != nil {
				continue
			}
			value, what := f.Alpha.Alpha, r.Level+" alpha"
			if r.OnLowerBound {
				low, _, ok := alphaInterval(f)
				if !ok {
					continue
				}
				value, what = low, "the 95% lower bound of "+what
			}
			if num(value) != nil && value < r.Threshold {
				add(r, value, f.PairableValues, fmt.Sprintf("%s %.3f over %d pairable values is below min_alpha %.3f (%s)", what, value, f.PairableValues, r.Threshold, r.TargetsVersion))
			}
		}
	}
	if a := sum.Accuracy; a != nil {
		for _, f := range a.Questions {
			r, ok := byKey[[3]string{f.ProjectID, f.QuestionID, gate.TargetAccuracy}]
			if !ok || r.Denominator != string(schemas.DenominatorAllSubmitted) || f.ScoredLabels == 0 || f.ScoredLabels < r.MinEvidence || f.Accuracy == nil {
				continue
			}
			if v := *f.Accuracy; v < r.Threshold {
				add(r, v, f.ScoredLabels, fmt.Sprintf("accuracy %.3f (%d of %d submitted labels equal gold) is below min_accuracy %.3f (%s)", v, f.CorrectLabels, f.ScoredLabels, r.Threshold, r.TargetsVersion))
			}
		}
	}
	return out
}

// Alerts returns the latest detection's alerts that v sees: those of its project (every
// project's in a view of every project without one), and of the party alerts (an agreement
// drop of a cohort, vendor or annotator) only those whose party figure v sees.
func (s *Server) Alerts(v View) (*AlertsKPI, error) {
	at, all, err := s.gov.snapshot()
	if err != nil {
		return nil, err
	}
	out := &AlertsKPI{AsOfMillis: at.UnixMilli(), Alerts: []Alert{}, Definition: alertsDefinition}
	for _, a := range all {
		if (v.Project == "" || a.ProjectID == v.Project) && v.seesScope(a.Scope) {
			out.Alerts = append(out.Alerts, a)
		}
	}
	return out, nil
}

// seesScope reports whether v shows a figure of a KPI scope: "all" (project-wide), or a
// party's: cohort:<c>, vendor:<v>, annotator:<a>.
func (v View) seesScope(scope string) bool {
	if v.scope.Full() || scope == kpi.ScopeAll {
		return true
	}
	kind, id, _ := strings.Cut(scope, ":")
	switch kind {
	case "cohort":
		return v.seesCohort(id)
	case "annotator":
		return v.seesAnnotator(id)
	case "vendor":
		return v.seesVendor(id)
	}
	return false
}

// alphaInterval is a figure's confidence interval (kpi.ReadAgreement's, at 95%), false when
// it has none (undefined, or not computed: AlphaCIErr says why).
func alphaInterval(f kpi.AgreementFigure) (low, high float64, ok bool) {
	if f.AlphaCI == nil || num(f.AlphaCI.Low) == nil || num(f.AlphaCI.High) == nil {
		return 0, 0, false
	}
	return f.AlphaCI.Low, f.AlphaCI.High, true
}

// DatasetCompleteness is the strict lineage completeness (streams/lineage) of the latest
// version of a dataset: its members with a complete chain.
type DatasetCompleteness struct {
	ProjectID, DatasetID, Version string
	Members, CompleteMembers      int
}

// latestVersionsQuery reads the latest version of each dataset: the one committed last.
const latestVersionsQuery = `SELECT dataset_id, argMax(version, occurred_at_ms)
FROM dataset_versions FINAL
GROUP BY dataset_id`

// latestCompleteness reads the strict completeness of the latest version of each dataset of
// projects (lineage's rule for a project's datasets): what assay_api_kpi_lineage_completeness_ratio
// exports for the projects with a min_lineage_completeness target in force. The members are
// counted by the facts of their chains (lineage.ChainFactsQuery) and judged by
// lineage.Links, as lineage.ReadCompleteness counts them for the lineage KPI.
func (r *Reader) latestCompleteness(ctx context.Context, projects []string) ([]DatasetCompleteness, error) {
	if len(projects) == 0 {
		return nil, nil
	}
	latest := map[string]string{}
	if err := r.each(ctx, latestVersionsQuery, nil, func(v []string) { latest[v[0]] = v[1] }, 2); err != nil {
		return nil, fmt.Errorf("latest versions: %w", err)
	}
	statuses := map[lineage.VersionRef]lineage.VersionStatus{}
	rows, err := r.conn.Query(ctx, lineage.ChainFactsQuery)
	if err != nil {
		return nil, fmt.Errorf("query chain facts: %w", err)
	}
	for rows.Next() {
		var (
			ref lineage.VersionRef
			f   [9]uint8
			n   int64
		)
		if err := rows.Scan(&ref.DatasetID, &ref.Version, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan chain facts: %w", err)
		}
		if latest[ref.DatasetID] != ref.Version {
			continue
		}
		ln := lineage.Links{Ingested: f[0] == 1, Source: f[1] == 1, Hash: f[2] == 1, Labeled: f[3] == 1, Annotator: f[4] == 1,
			OfItem: f[5] == 1, Retracted: f[6] == 1, Reviewed: f[7] == 1, Rejected: f[8] == 1}
		st := statuses[ref]
		st.Members += int(n)
		if ln.Complete() {
			st.CompleteMembers += int(n)
		}
		statuses[ref] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chain facts: %w", err)
	}
	var out []DatasetCompleteness
	for _, p := range slices.Compact(slices.Sorted(slices.Values(projects))) {
		if err := r.each(ctx, lineage.ProjectDatasetsQuery, []any{p}, func(v []string) {
			ref := lineage.VersionRef{DatasetID: v[0], Version: latest[v[0]]}
			if st, ok := statuses[ref]; ok && st.Members > 0 {
				out = append(out, DatasetCompleteness{ProjectID: p, DatasetID: ref.DatasetID, Version: ref.Version, Members: st.Members, CompleteMembers: st.CompleteMembers})
			}
		}, 1); err != nil {
			return nil, fmt.Errorf("datasets of project %q: %w", p, err)
		}
	}
	return out, nil
}
