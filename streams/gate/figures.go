package gate

import "github.com/assay-data/assay/schemas"

// VersionRef names one dataset version: the unit the gate judges.
type VersionRef struct {
	DatasetID string
	Version   string
}

// String renders the reference as dataset@version, for logs.
func (r VersionRef) String() string { return r.DatasetID + "@" + r.Version }

// Figures is what a dataset version is judged on. streams/gate/figures measures it from
// ClickHouse (the ledger and the KPI tables) as of the version's commit; Evaluate judges it
// against the targets in force. A Figures value is plain data: comparing two of them is how
// the gate decides whether a verdict has to be superseded.
type Figures struct {
	// ProjectID is the project of the version's members' items; "" when no member is in the
	// ledger yet.
	ProjectID string
	// Members counts the members of the version found in the ledger; 0 means the ledger has
	// not ingested the version yet (the gate measures it again later).
	Members int64
	// Questions are the questions answered by any label of the project, sorted.
	Questions []string
	// Agreement is Krippendorff's alpha per question and level of measurement of the
	// project, all time, scope "all".
	Agreement []AgreementFigure
	// Accuracy is accuracy against gold per question and denominator.
	Accuracy []AccuracyFigure
	// Coverage is the version's slice and edge-case coverage against the dataset's
	// CoverageTargetSet in force at the commit; nil when there was none.
	Coverage *CoverageFigure
	// LineageComplete counts the members with a complete chain (streams/lineage's strict
	// rule).
	LineageComplete int64
	// ReworkedLabels counts the member labels with at least one reject or correct review;
	// ReviewedLabels those with any review.
	ReworkedLabels, ReviewedLabels int64
	// OpenFindings counts, per severity, the open findings (no RemediationShipped) that
	// implicate a member item.
	OpenFindings map[schemas.Severity]int64
	// GoldMembers counts the member items with a GoldLabelSet.
	GoldMembers int64
}

// AgreementFigure is alpha for one question at one level of measurement.
type AgreementFigure struct {
	QuestionID string
	Level      schemas.MeasurementLevel
	// Alpha is nil when undefined (Undefined says why).
	Alpha *float64
	// Low and High bound alpha's 95% interval (Method says how it was computed); nil when
	// undefined.
	Low, High *float64
	Method    string
	// PairableValues is the evidence alpha stands on.
	PairableValues int64
	// Undefined says why alpha is undefined, if it is.
	Undefined string
}

// AccuracyFigure is accuracy against gold for one question and denominator: Correct of Total
// counted labels equal the gold value.
type AccuracyFigure struct {
	QuestionID  string
	Denominator schemas.AccuracyDenominator
	Correct     int64
	Total       int64
}

// CoverageFigure is how many of the in-force CoverageTargetSet's slice targets and edge-case
// minimums the version meets.
type CoverageFigure struct {
	// TargetsEventID is the event id of the CoverageTargetSet in force.
	TargetsEventID  string
	SliceTargets    int64
	SlicesMet       int64
	EdgeCaseTargets int64
	EdgeCasesMet    int64
}
