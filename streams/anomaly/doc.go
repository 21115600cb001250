// Package anomaly surfaces changes in label quality before they reach a training run: a
// cohort's, vendor's or annotator's agreement falling against its own recent past, and a
// question's label distribution moving away from its baseline. It owns the rules (pure
// functions, table-tested and simulated without I/O: DropRule, DriftRule, InForce, Judge)
// and the ClickHouse reads that feed them (Read; Detect is Read then Judge). It keeps no
// state and starts nothing: the API (services/api) calls Detect, lists the anomalies at
// GET /v1/alerts and exports them as assay_api_anomaly_active and assay_api_anomaly_figure,
// which the Prometheus rules (ops/prometheus/rules/assay.yml) alert on.
//
// # Windows
//
// Every rule compares runs of whole UTC days (WindowsAt): the current window is the last
// Config.Window (default 7 days) ending with Now's day, the previous window the same length
// just before it, the baseline the Config.BaselineWindows (default 4) windows before the
// current one. Days, because the agreement figures are kept per UTC day of a unit's first
// label (kpi.ReadAgreement's windows, migration 0007): a unit (item × question) belongs to
// the window in which it started, for cohorts, vendors and annotators alike. A label belongs
// to a drift window by its own occurred_at.
//
// # Rules
//
// agreement_drop, per (project, question, scope) for every cohort:<c> and vendor:<v> (alpha
// of the scope's labels, kpi.ReadAgreement over each window) and annotator:<a> (the share of
// agreeing pairs between the annotator's labels and the other annotators' labels of the
// same units, AnnotatorAgreements, read from the ledger). It fires when
//
//   - both windows have at least the minimum evidence: the agreement.min_pairable_values
//     of the QualityTargetsSet in force now for the question (InForce; only a target at the
//     figure's level of measurement counts), else Config.MinPairableValues (default 50).
//     Evidence is pairable values for a cohort or vendor, and compared labels (labels in a
//     unit with another annotator's) for an annotator;
//   - both figures are defined and have a standard error: for alpha the jackknife over
//     units behind its 95% interval, on Fisher's z scale (agreement.AlphaInterval builds
//     z(α) ± 1.96·SE_z; alphaMeasure recovers SE_z from the interval's ends), for an
//     annotator the binomial sqrt(p(1-p)/n) over the effective number of compared labels
//     (an upper bound: see AnnotatorAgreement.Measure);
//   - the drop is significant, previous - current > z·sqrt(se_prev² + se_cur²) with z the
//     one-sided quantile of Config.FalseAlarm (default 1%: z = 2.326), taken for alpha on
//     Fisher's z scale with one K (values per unit, pooled over both windows: more
//     annotators per unit is not read as more agreement), where alpha's sampling
//     distribution, skewed near 1 on its own scale, is nearly normal;
//   - AND the drop is large, previous - current >= Config.MinDrop (default 0.1) on the
//     figure's own scale.
//
// Noise bound: two windows of an unchanged process differ by about a normal variable with
// that standard error, so one judgement fires on noise with probability at most 1%, less with
// the minimum drop. The simulations draw windows of one process 2,000 times and count the
// false alarms per judgement: cohorts of 6 annotators at alpha 0.85 (TestCohortDropNoise)
// 0.0% with 25 units a window, 0.3% with 60, 0.6% with 150; annotators at agreement 0.89
// (TestAnnotatorDropNoise) 0.2%. A real drop is caught in over 95% of draws: a cohort
// falling from alpha 0.85 to 0.6 inside a healthy project (150 units a window; with 25 the
// rule has the power to catch it in about one draw in eight), an annotator falling from
// agreement 0.89 to 0.53. Agreement with others is shared: when one annotator collapses,
// its partners' agreement falls by its share of their pairs, and they may fire too (measured:
// 3.3% of their judgements when a seventh of their pairs is with it).
// Cost: two kpi.ReadAgreement window reads (the daily cells of every scope of the project
// in the two windows) and one read of the labels of the units that started in the two
// windows (items with a label since the previous window's start), grouped by unit in
// ClickHouse; memory proportional to those units' labels.
//
// label_drift, per (project, question): the total-variation distance TV = ½ Σ |p - q|
// between the shares of canonical values of the counted labels (not retracted; a reused
// label id counted once, as the KPI processors do) in the current window, p, and in the
// baseline, q. It fires when
//
//   - the current window and the baseline each hold at least Config.MinDriftLabels labels
//     (default 100);
//   - TV > the max_label_drift of the QualityTargetsSet in force now for the question, else
//     Config.MaxLabelDrift (default 0.2), AND TV > the noise bound.
//
// Noise bound (DriftRule.Judge), which assumes nothing about the distribution: labels of one
// unit are not independent, so sizes are effective, n = labels² / Σ_units labels²; with
// v = 1/n_cur + 1/n_base and the pooled shares p, E[TV] <= ½ Σ sqrt(p(1-p)·v), and changing
// one unit's m labels moves TV by at most m/labels, so by McDiarmid's inequality TV exceeds
// E[TV] + sqrt(v·ln(1/FalseAlarm)/2) with probability at most FalseAlarm. The bound is
// conservative (TestLabelDriftNoise: no false alarm in 2,000 draws even with no maximum),
// so small windows need a larger shift: over 8 values, with 160 labels now and 640 in the
// baseline, one per unit, it is about 0.25, with 1,000 and 4,000 about 0.1; about 1.5 times
// that when units hold 1-3 labels each.
// Cost: two GROUP BY reads of the labels of the current window and the baseline (5 windows
// by default): one of counts per value, one of labels per unit; memory proportional to the
// distinct values.
//
// Targets (ReadTargets, ledger table quality_targets): only a project's QualityTargetsSets
// not narrowed to a dataset count (anomalies concern the project's labels, not a version); a
// question-narrowed set's target replaces the project's for that question, target by target
// (InForce).
package anomaly
