package gate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/assay-data/assay/schemas"
)

// The target names of TargetCheck.Target, in the order Evaluate lists its checks.
const (
	TargetAlpha            = "min_alpha"
	TargetAccuracy         = "min_accuracy"
	TargetSliceCoverage    = "min_slice_coverage"
	TargetEdgeCaseCoverage = "min_edge_case_coverage"
	TargetLineage          = "min_lineage_completeness"
	TargetRework           = "max_rework_rate"
	TargetOpenFindings     = "max_open_findings"
	TargetNoGold           = "no_gold_in_training"
	// TargetInForce is the one check of a version that could not be judged against any
	// target: none was in force, or the sets in force state none the gate judges.
	TargetInForce = "targets_in_force"
)

// severityOrder is the order of max_open_findings checks: the gravest first.
var severityOrder = []schemas.Severity{schemas.SeverityCritical, schemas.SeverityHigh, schemas.SeverityMedium, schemas.SeverityLow}

// Evaluate judges figures f against the targets in force and returns the verdict's body:
// ProjectID (f's), TargetsVersions, one check per judged target in a stable order, and the
// reason. DatasetID, Version, Sequence and Supersedes are the caller's (State.Decide). The
// version is certified iff Certified reports so: at least one check, and every check passes.
// The rules of each check are in the package documentation.
func Evaluate(in Targets, f Figures) schemas.GateVerdict {
	v := schemas.GateVerdict{ProjectID: f.ProjectID, TargetsVersions: in.Versions()}
	if in.Empty() {
		v.Checks = []schemas.TargetCheck{{Target: TargetInForce, Threshold: 1, Status: schemas.CheckNotEnoughData,
			Detail: "no QualityTargetsSet of the project was in force for the dataset at the commit"}}
		v.Reason = "no quality targets in force at the commit"
		return v
	}
	known := map[string]bool{}
	questions := slices.Clone(f.Questions)
	for _, q := range f.Questions {
		known[q] = true
	}
	for _, s := range in.Questions {
		questions = append(questions, s.QuestionID)
	}
	slices.Sort(questions)
	questions = slices.Compact(questions)

	var checks []schemas.TargetCheck
	add := func(c schemas.TargetCheck, ok bool) {
		if ok {
			checks = append(checks, c)
		}
	}
	// For each question the narrowed set, if any, replaces the base's agreement and accuracy
	// targets, even with nil (then that target is not judged for the question).
	targetsOf := func(q string) (*schemas.AgreementTarget, *schemas.AccuracyTarget, bool) {
		if s := in.question(q); s != nil {
			return s.Agreement, s.Accuracy, true
		}
		if in.Base != nil {
			return in.Base.Agreement, in.Base.Accuracy, false
		}
		return nil, nil, false
	}
	for _, q := range questions {
		if t, _, narrowed := targetsOf(q); t != nil {
			add(alphaCheck(q, t, narrowed, known[q], f.Agreement))
		}
	}
	for _, q := range questions {
		if _, t, _ := targetsOf(q); t != nil {
			checks = append(checks, accuracyCheck(q, t, known[q], f.Accuracy))
		}
	}
	// A project-wide target with nothing at all to judge (no question of the project has an
	// alpha at the target's level, or the project has no question yet: the ledger may not
	// have read its labels) is not met: it is not enough data, never a silent pass. A level
	// the project answers elsewhere (a question narrowed away) leaves it nothing to add.
	if b := in.Base; b != nil {
		judged := slices.ContainsFunc(checks, func(c schemas.TargetCheck) bool { return c.Target == TargetAlpha })
		if t := b.Agreement; t != nil && !judged && !slices.ContainsFunc(f.Agreement, func(a AgreementFigure) bool { return a.Level == t.Level }) {
			checks = append(checks, schemas.TargetCheck{Target: TargetAlpha, Threshold: t.MinAlpha, Status: schemas.CheckNotEnoughData,
				Detail: fmt.Sprintf("no question of the project has a %s alpha to judge (the ledger may not have its labels yet)", t.Level)})
		}
		if t := b.Accuracy; t != nil && len(questions) == 0 {
			checks = append(checks, schemas.TargetCheck{Target: TargetAccuracy, Threshold: t.MinAccuracy, Status: schemas.CheckNotEnoughData,
				Detail: "no question of the project has labels to judge against gold (the ledger may not have its labels yet)"})
		}
	}
	if b := in.Base; b != nil {
		if c := b.Coverage; c != nil {
			if c.MinSliceCoverage != nil {
				checks = append(checks, coverageCheck(TargetSliceCoverage, "slice targets", *c.MinSliceCoverage, f.Coverage,
					func(c *CoverageFigure) (int64, int64) { return c.SlicesMet, c.SliceTargets }))
			}
			if c.MinEdgeCaseCoverage != nil {
				checks = append(checks, coverageCheck(TargetEdgeCaseCoverage, "edge-case minimums", *c.MinEdgeCaseCoverage, f.Coverage,
					func(c *CoverageFigure) (int64, int64) { return c.EdgeCasesMet, c.EdgeCaseTargets }))
			}
		}
		if t := b.MinLineageCompleteness; t != nil {
			checks = append(checks, lineageCheck(*t, f))
		}
		if t := b.MaxReworkRate; t != nil {
			checks = append(checks, reworkCheck(*t, f))
		}
		limits := slices.Clone(b.MaxOpenFindings)
		slices.SortStableFunc(limits, func(x, y schemas.FindingLimit) int {
			return rank(x.Severity) - rank(y.Severity)
		})
		for _, l := range limits {
			checks = append(checks, findingsCheck(l, f.OpenFindings[l.Severity]))
		}
	}
	if in.Base == nil || !in.Base.AllowGoldInTraining {
		checks = append(checks, goldCheck(f))
	}
	if len(checks) == 0 {
		checks = []schemas.TargetCheck{{Target: TargetInForce, Threshold: 1, Status: schemas.CheckNotEnoughData,
			Detail: "the targets in force state no target the gate judges"}}
	}
	v.Checks = checks
	v.Reason = reason(v)
	return v
}

// Certified reports whether v certifies its version: it has checks and every one passes.
func Certified(v schemas.GateVerdict) bool {
	if len(v.Checks) == 0 || len(v.TargetsVersions) == 0 {
		return false
	}
	for _, c := range v.Checks {
		if c.Status != schemas.CheckPass {
			return false
		}
	}
	return true
}

// reason says in one line why v certifies or not: the count of targets met, or the first
// check that did not pass (and how many others did not).
func reason(v schemas.GateVerdict) string {
	if Certified(v) {
		return fmt.Sprintf("meets all %d checks of %s", len(v.Checks), strings.Join(v.TargetsVersions, ", "))
	}
	var first *schemas.TargetCheck
	others := 0
	for i := range v.Checks {
		if v.Checks[i].Status == schemas.CheckPass {
			continue
		}
		if first == nil {
			first = &v.Checks[i]
		} else {
			others++
		}
	}
	if first == nil {
		return "no check was judged"
	}
	what := first.Target
	if first.Scope != "" {
		what += " on " + first.Scope
	}
	status := "failed"
	if first.Status == schemas.CheckNotEnoughData {
		status = "not enough data"
	}
	r := fmt.Sprintf("%s %s: %s", what, status, first.Detail)
	if others > 0 {
		r += fmt.Sprintf(" (and %d more checks not passed)", others)
	}
	return r
}

func alphaCheck(q string, t *schemas.AgreementTarget, narrowed, known bool, figs []AgreementFigure) (schemas.TargetCheck, bool) {
	c := schemas.TargetCheck{Target: TargetAlpha, Scope: q, Threshold: t.MinAlpha}
	if !known {
		c.Status, c.Detail = schemas.CheckFail, unknownQuestion(q)
		return c, true
	}
	var fig *AgreementFigure
	var levels []string
	for i := range figs {
		if figs[i].QuestionID != q {
			continue
		}
		if figs[i].Level == t.Level {
			fig = &figs[i]
			break
		}
		levels = append(levels, string(figs[i].Level))
	}
	if fig == nil {
		switch {
		case len(levels) > 0 && !narrowed:
			// The project-wide target judges the questions answered at its level only.
			return c, false
		case len(levels) > 0:
			c.Status = schemas.CheckFail
			c.Detail = fmt.Sprintf("the target narrowed to %s judges %s alpha, but %s is answered at level %s", q, t.Level, q, strings.Join(levels, ", "))
		default:
			c.Status = schemas.CheckNotEnoughData
			c.Detail = fmt.Sprintf("no %s alpha measured for %s (0 pairable values, minimum %d)", t.Level, q, t.MinPairableValues)
		}
		return c, true
	}
	// A value that is not finite is no value (a verdict's numbers are finite, for its JSON
	// form): it is judged as undefined.
	alpha, low, high := finite(fig.Alpha), finite(fig.Low), finite(fig.High)
	c.Low, c.High, c.Evidence = low, high, fig.PairableValues
	value, what := alpha, string(t.Level)+" alpha"
	if t.OnLowerBound {
		value, what = low, "lower bound of "+string(t.Level)+" alpha's 95% interval"
		if fig.Method != "" {
			what += " (" + fig.Method + ")"
		}
	}
	c.Figure = value
	switch {
	case fig.PairableValues < t.MinPairableValues:
		c.Status = schemas.CheckNotEnoughData
		c.Detail = fmt.Sprintf("%d pairable values, below the minimum of %d", fig.PairableValues, t.MinPairableValues)
	case value == nil:
		c.Status = schemas.CheckNotEnoughData
		why := fig.Undefined
		if why == "" {
			why = "undefined"
		}
		c.Detail = fmt.Sprintf("%s is undefined over %d pairable values: %s", what, fig.PairableValues, why)
	default:
		c.Status = passIf(*value >= t.MinAlpha)
		c.Detail = fmt.Sprintf("%s %s over %d pairable values, %s %s", what, num(*value), fig.PairableValues, atLeast(c.Status), num(t.MinAlpha))
	}
	return c, true
}

func accuracyCheck(q string, t *schemas.AccuracyTarget, known bool, figs []AccuracyFigure) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: TargetAccuracy, Scope: q, Threshold: t.MinAccuracy}
	if !known {
		c.Status, c.Detail = schemas.CheckFail, unknownQuestion(q)
		return c
	}
	var correct, total int64
	for _, f := range figs {
		if f.QuestionID == q && f.Denominator == t.Denominator {
			correct, total = f.Correct, f.Total
			break
		}
	}
	c.Evidence = total
	if total > 0 {
		c.Figure = ptr(float64(correct) / float64(total))
	}
	if total == 0 || total < t.MinGoldLabels {
		c.Status = schemas.CheckNotEnoughData
		c.Detail = fmt.Sprintf("%d %s labels counted against gold, below the minimum of %d", total, t.Denominator, t.MinGoldLabels)
		return c
	}
	c.Status = passIf(*c.Figure >= t.MinAccuracy)
	c.Detail = fmt.Sprintf("%s accuracy %s (%d of %d labels equal gold), %s %s", t.Denominator, num(*c.Figure), correct, total, atLeast(c.Status), num(t.MinAccuracy))
	return c
}

func coverageCheck(target, what string, min float64, f *CoverageFigure, count func(*CoverageFigure) (met, of int64)) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: target, Threshold: min}
	if f == nil {
		c.Status, c.Detail = schemas.CheckNotEnoughData, "the dataset had no CoverageTargetSet in force at the commit"
		return c
	}
	met, of := count(f)
	c.Evidence = of
	if of == 0 {
		c.Status, c.Detail = schemas.CheckNotEnoughData, fmt.Sprintf("the CoverageTargetSet in force (%s) states no %s", f.TargetsEventID, what)
		return c
	}
	c.Figure = ptr(float64(met) / float64(of))
	c.Status = passIf(*c.Figure >= min)
	c.Detail = fmt.Sprintf("meets %d of %d %s of CoverageTargetSet %s, %s %s", met, of, what, f.TargetsEventID, atLeast(c.Status), num(min))
	return c
}

func lineageCheck(min float64, f Figures) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: TargetLineage, Threshold: min, Evidence: f.Members}
	if f.Members == 0 {
		c.Status, c.Detail = schemas.CheckNotEnoughData, "no member of the version is in the ledger"
		return c
	}
	c.Figure = ptr(float64(f.LineageComplete) / float64(f.Members))
	c.Status = passIf(*c.Figure >= min)
	c.Detail = fmt.Sprintf("%d of %d members have a complete chain, %s %s", f.LineageComplete, f.Members, atLeast(c.Status), num(min))
	return c
}

func reworkCheck(max float64, f Figures) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: TargetRework, Threshold: max, Evidence: f.ReviewedLabels}
	if f.ReviewedLabels == 0 {
		c.Status, c.Detail = schemas.CheckNotEnoughData, "no member label was reviewed, so there is no rework rate"
		return c
	}
	c.Figure = ptr(float64(f.ReworkedLabels) / float64(f.ReviewedLabels))
	c.Status = passIf(*c.Figure <= max)
	c.Detail = fmt.Sprintf("%d of %d reviewed member labels rejected or corrected, %s %s", f.ReworkedLabels, f.ReviewedLabels, atMost(c.Status), num(max))
	return c
}

func findingsCheck(l schemas.FindingLimit, open int64) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: TargetOpenFindings, Scope: string(l.Severity), Threshold: float64(l.Max),
		Figure: ptr(float64(open)), Evidence: open}
	c.Status = passIf(open <= l.Max)
	c.Detail = fmt.Sprintf("%d open %s findings implicate member items, %s %d", open, l.Severity, atMost(c.Status), l.Max)
	return c
}

func goldCheck(f Figures) schemas.TargetCheck {
	c := schemas.TargetCheck{Target: TargetNoGold, Threshold: 0, Figure: ptr(float64(f.GoldMembers)), Evidence: f.Members}
	c.Status = passIf(f.GoldMembers == 0)
	if c.Status == schemas.CheckPass {
		c.Detail = fmt.Sprintf("none of %d members is a gold item", f.Members)
	} else {
		c.Detail = fmt.Sprintf("%d of %d members are gold items (gold must stay out of training data unless the targets allow it)", f.GoldMembers, f.Members)
	}
	return c
}

func unknownQuestion(q string) string {
	return fmt.Sprintf("unknown question: no label of the project answers %s", q)
}

func passIf(ok bool) schemas.CheckStatus {
	if ok {
		return schemas.CheckPass
	}
	return schemas.CheckFail
}

func atLeast(s schemas.CheckStatus) string {
	if s == schemas.CheckPass {
		return "at least"
	}
	return "below"
}

func atMost(s schemas.CheckStatus) string {
	if s == schemas.CheckPass {
		return "at most"
	}
	return "above"
}

func rank(s schemas.Severity) int {
	if i := slices.Index(severityOrder, s); i >= 0 {
		return i
	}
	return len(severityOrder)
}

// num renders a figure or threshold for people: at most three decimals, no trailing zeros.
func num(x float64) string {
	s := strconv.FormatFloat(x, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

func ptr(x float64) *float64 { return &x }

// finite returns a copy of *p, or nil when p is nil, NaN or infinite.
func finite(p *float64) *float64 {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return nil
	}
	return ptr(*p)
}
