package anomaly

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
)

// The kinds of anomaly.
const (
	// KindAgreementDrop: a cohort's, vendor's or annotator's agreement in the current window
	// fell significantly below its own in the preceding window.
	KindAgreementDrop = "agreement_drop"
	// KindLabelDrift: a question's label distribution in the current window moved away from
	// its baseline (the preceding windows) by more than the project allows.
	KindLabelDrift = "label_drift"
)

// ScopeAll is the scope of a label_drift anomaly: the whole question.
const ScopeAll = kpi.ScopeAll

// Anomaly is one rule that fires now, with the figures behind it: what GET /v1/alerts lists
// and the API exports as assay_api_anomaly_active and assay_api_anomaly_figure.
type Anomaly struct {
	// Kind is KindAgreementDrop or KindLabelDrift.
	Kind string `json:"kind"`
	// ProjectID and QuestionID say where.
	ProjectID  string `json:"project_id"`
	QuestionID string `json:"question_id"`
	// Scope is cohort:<c>, vendor:<v> or annotator:<a> for an agreement drop, "all" for a
	// label drift.
	Scope string `json:"scope"`
	// Current is the figure of the current window: the scope's agreement (Krippendorff's
	// alpha for a cohort or vendor, the share of agreeing pairs for an annotator), or the
	// total-variation distance between the current window's label distribution and the
	// baseline's.
	Current float64 `json:"current"`
	// Previous is the scope's agreement in the preceding window (agreement_drop only).
	Previous *float64 `json:"previous,omitempty"`
	// NoiseBound is, for a label drift, the total-variation distance sampling noise alone
	// stays under with these counts but for the false-alarm rate; nil for an agreement drop.
	// (A label drift has no baseline figure: its baseline is a distribution, whose largest
	// moves are in Shifts.)
	NoiseBound *float64 `json:"noise_bound,omitempty"`
	// Threshold is the value Current crossed: for an agreement drop the agreement below
	// which the current window fires (Previous minus the larger of the minimum drop and the
	// significance margin, the latter taken on Fisher's z scale for alpha), for a label
	// drift the larger of the project's max_label_drift and the noise bound.
	Threshold float64 `json:"threshold"`
	// Evidence is the current window's evidence (pairable values of a cohort or vendor,
	// compared labels of an annotator, labels of a question) and ReferenceEvidence the
	// preceding window's or the baseline's.
	Evidence          int64 `json:"evidence"`
	ReferenceEvidence int64 `json:"reference_evidence"`
	// Since is the first UTC day (YYYY-MM-DD) of the current window.
	Since string `json:"since"`
	// Detail says in words what moved and by how much.
	Detail string `json:"detail"`
	// Shifts are, for a label drift, the values whose share moved the most (largest first,
	// at most five).
	Shifts []Shift `json:"shifts,omitempty"`
}

// Shift is one value's share of a question's labels in the current window and the baseline.
type Shift struct {
	Value    string  `json:"value"`
	Current  float64 `json:"current"`
	Baseline float64 `json:"baseline"`
}

// The defaults of Config, each documented in doc.go ("Rules").
const (
	// DefaultWindow is the length of the current window: the last 7 UTC days, today
	// included.
	DefaultWindow = 7 * 24 * time.Hour
	// DefaultBaselineWindows is how many windows before the current one make a label
	// distribution's baseline.
	DefaultBaselineWindows = 4
	// DefaultFalseAlarm is the probability that a rule fires on one scope when nothing
	// changed (one-sided; z = 2.326 for the agreement drop).
	DefaultFalseAlarm = 0.01
	// DefaultMinDrop is the smallest drop of agreement reported, however significant.
	DefaultMinDrop = 0.1
	// DefaultMinPairableValues is the evidence each window needs when no agreement target in
	// force states agreement.min_pairable_values for the question's level.
	DefaultMinPairableValues = 50
	// DefaultMaxLabelDrift is the largest total-variation distance tolerated when no
	// QualityTargetsSet in force states max_label_drift.
	DefaultMaxLabelDrift = 0.2
	// DefaultMinDriftLabels is how many labels the current window, and the baseline, need
	// before a question's distribution is judged.
	DefaultMinDriftLabels = 100
)

// Config says what Detect judges and how. The zero value of every field but Now takes its
// default.
type Config struct {
	// Now is the instant of the judgement; its UTC day is the last day of the current window.
	Now time.Time
	// Window is the length of the current window, a whole number of days (default
	// DefaultWindow). The agreement figures are kept per UTC day (kpi.ReadAgreement), so
	// every window is a run of whole UTC days.
	Window time.Duration
	// BaselineWindows is the number of windows before the current one that make the label
	// baseline (default DefaultBaselineWindows).
	BaselineWindows int
	// FalseAlarm is the false-alarm rate each rule allows per scope and judgement (default
	// DefaultFalseAlarm), in (0, 0.5).
	FalseAlarm float64
	// MinDrop is the smallest agreement drop reported (default DefaultMinDrop).
	MinDrop float64
	// MinPairableValues is the evidence a window needs when no target in force says
	// (default DefaultMinPairableValues).
	MinPairableValues int64
	// MaxLabelDrift is the drift tolerated when no target in force says (default
	// DefaultMaxLabelDrift).
	MaxLabelDrift float64
	// MinDriftLabels is the labels the current window and the baseline each need (default
	// DefaultMinDriftLabels).
	MinDriftLabels int64
	// Project narrows the judgement to one project; empty judges every project.
	Project string
	// AlphaInterval is the confidence interval of a window's alpha (false when it has
	// none); nil uses FigureInterval, the interval kpi.ReadAgreement reads with the figure.
	AlphaInterval func(kpi.AgreementFigure) (agreement.Interval, bool)
}

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Now.IsZero() {
		return c, errors.New("anomaly: Config.Now is required")
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.BaselineWindows == 0 {
		c.BaselineWindows = DefaultBaselineWindows
	}
	if c.FalseAlarm == 0 {
		c.FalseAlarm = DefaultFalseAlarm
	}
	if c.MinDrop == 0 {
		c.MinDrop = DefaultMinDrop
	}
	if c.MinPairableValues == 0 {
		c.MinPairableValues = DefaultMinPairableValues
	}
	if c.MaxLabelDrift == 0 {
		c.MaxLabelDrift = DefaultMaxLabelDrift
	}
	if c.MinDriftLabels == 0 {
		c.MinDriftLabels = DefaultMinDriftLabels
	}
	if c.AlphaInterval == nil {
		c.AlphaInterval = FigureInterval
	}
	var errs []error
	if c.Window < 0 || c.Window%(24*time.Hour) != 0 {
		errs = append(errs, fmt.Errorf("window %v is not a whole number of days", c.Window))
	}
	if c.BaselineWindows < 1 {
		errs = append(errs, fmt.Errorf("baseline windows %d < 1", c.BaselineWindows))
	}
	if !(c.FalseAlarm > 0 && c.FalseAlarm < 0.5) {
		errs = append(errs, fmt.Errorf("false-alarm rate %v is not in (0, 0.5)", c.FalseAlarm))
	}
	if !(c.MinDrop > 0 && c.MinDrop <= 2) {
		errs = append(errs, fmt.Errorf("minimum drop %v is not in (0, 2]", c.MinDrop))
	}
	if c.MinPairableValues < 2 {
		errs = append(errs, fmt.Errorf("minimum pairable values %d < 2", c.MinPairableValues))
	}
	if !(c.MaxLabelDrift > 0 && c.MaxLabelDrift <= 1) {
		errs = append(errs, fmt.Errorf("maximum label drift %v is not in (0, 1]", c.MaxLabelDrift))
	}
	if c.MinDriftLabels < 1 {
		errs = append(errs, fmt.Errorf("minimum drift labels %d < 1", c.MinDriftLabels))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("anomaly: %w", err)
	}
	return c, nil
}

// Windows are the runs of UTC days the rules compare, each [From, To).
type Windows struct {
	// Current is the last Window of days, Now's day included.
	Current Span
	// Previous is the window of the same length just before Current.
	Previous Span
	// Baseline is the BaselineWindows windows before Current, together.
	Baseline Span
}

// Span is a run of UTC days [From, To): From and To are midnights UTC.
type Span struct{ From, To time.Time }

// Millis returns the span's bounds in epoch milliseconds.
func (s Span) Millis() (from, to int64) { return s.From.UnixMilli(), s.To.UnixMilli() }

// WindowsAt returns the windows of a judgement at now: the current window ends at the end of
// now's UTC day.
func WindowsAt(now time.Time, window time.Duration, baseline int) Windows {
	day := now.UTC().Truncate(24 * time.Hour)
	end := day.Add(24 * time.Hour)
	cur := Span{From: end.Add(-window), To: end}
	return Windows{
		Current:  cur,
		Previous: Span{From: cur.From.Add(-window), To: cur.From},
		Baseline: Span{From: cur.From.Add(-time.Duration(baseline) * window), To: cur.From},
	}
}

// zOneSided is the standard normal quantile of 1-alpha: the z of a one-sided test at
// false-alarm rate alpha.
func zOneSided(alpha float64) float64 { return math.Sqrt2 * math.Erfinv(1-2*alpha) }

// sortAnomalies orders anomalies by kind, project, question and scope, so that Detect's
// answer is deterministic.
func sortAnomalies(as []Anomaly) {
	slices.SortFunc(as, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ProjectID, b.ProjectID),
			cmp.Compare(a.QuestionID, b.QuestionID), cmp.Compare(a.Scope, b.Scope))
	})
}
