// Package gate owns the quality gate: the decision, for every committed dataset version,
// whether it is certified for training against the quality targets (QualityTargetsSet) its
// project had in force when the version was committed, and the gate's runner.
//
// The package owns the types a version is judged on (VersionRef, Figures; streams/gate/figures
// measures them from ClickHouse), the pure rules that turn targets and figures into a verdict
// (Resolve, Evaluate), the gate's state over the datasets and projects topics (State: which
// targets are in force, which versions are due, which verdict to emit and when it supersedes
// the latest, and the Clearance a training run needs), and the Runner that does the Kafka I/O
// around them. Everything but the Runner is pure: no I/O, no clock (times are arguments), no
// goroutines, table-tested.
//
// # Targets in force
//
// A version of dataset D whose members' items belong to project P, committed at T (its
// DatasetVersionCommitted's occurred_at), is judged against P's QualityTargetsSet events with
// EffectiveAt <= T that are the project's (no dataset) or D's. Per (dataset, question) the
// set with the latest EffectiveAt is in force, ties going to the later in the log. A set that
// takes effect after T never judges the version, however early it was written: a later
// target never rewrites an old verdict. (A set written later with an EffectiveAt in the past
// does judge the versions committed since then, old verdicts included, which it may
// supersede: backdating targets is rewriting them, and the log shows who did it.)
//
// Narrowing. The base set is D's (no question) if one is in force, else P's; it replaces
// P's as a whole, so a target D's set leaves out is not judged for D. A set narrowed to a
// question Q (D's over P's, whichever base is in force) replaces the base's agreement and
// accuracy targets for Q, again as a whole: a narrowed set stating only accuracy leaves Q's
// alpha unjudged; its other targets are ignored. The verdict names every set used
// (TargetsVersions: the base first, then the narrowed ones by question).
//
// # The checks
//
// Evaluate lists one TargetCheck per judged target, in this order: min_alpha per question,
// min_accuracy per question (questions sorted), min_slice_coverage, min_edge_case_coverage,
// min_lineage_completeness, max_rework_rate, max_open_findings per severity (gravest
// first), no_gold_in_training. The questions judged are those any label of the project
// answers (Figures.Questions) and those a narrowed set names.
//
//   - min_alpha (Scope: the question): the question's alpha at the target's level; with
//     OnLowerBound, the lower bound of its 95% interval instead. Figure is the value judged,
//     Low and High the interval, Evidence the pairable values. Not enough data below
//     MinPairableValues, when the value judged is undefined, or when the question has no
//     alpha at all. A project-wide target does not judge a question answered at another
//     level; a target narrowed to a question answered at another level fails (it can never
//     be met, and must not pass unnoticed). Passes when the value >= MinAlpha.
//   - min_accuracy (Scope: the question): Correct/Total of the target's denominator; Evidence
//     is Total. Not enough data below MinGoldLabels (a question without gold has none).
//     Passes when >= MinAccuracy.
//   - min_slice_coverage, min_edge_case_coverage: slices (edge-case minimums) met over those
//     stated by the dataset's CoverageTargetSet in force at the commit; Evidence is the count
//     stated. Not enough data when no CoverageTargetSet was in force, or it states none.
//   - min_lineage_completeness: members with a complete chain (streams/lineage's strict
//     rule) over members; Evidence is members.
//   - max_rework_rate: reworked over reviewed member labels; Evidence is reviewed. Not
//     enough data when no member label was reviewed. Passes when <= the maximum.
//   - max_open_findings (Scope: the severity): open findings implicating a member item;
//     passes when <= Max.
//   - no_gold_in_training: gold members (Figure), unless the base set allows gold
//     (AllowGoldInTraining); judged by default, also when only narrowed sets are in force.
//     Passes when none. Evidence is members.
//   - A narrowed set naming a question no label of the project answers fails its min_alpha
//     and min_accuracy checks with "unknown question".
//
// Certification: a version is certified iff it has at least one check and
// every check passes. Not enough data is not a pass. A project-wide alpha or accuracy target with nothing at all to
// judge (no question of the project at the target's level, or no question yet because the
// ledger has not read the project's labels) is one check of its own, not enough data: a
// target in force is never passed by being skipped. No targets in force (or targets in
// force that state nothing the gate judges) gives one check, targets_in_force, not enough
// data. The reason names the first check that did not pass (and how many others did not),
// or the count of checks met.
//
// # Verdicts and superseding
//
// State.Decide judges a committed version on figures measured now. The first verdict has
// sequence 1. A later one is emitted only when what the verdict says changed: the outcome,
// the project, the targets versions, or any check's target, scope, status or figure rounded
// to FigurePrecision decimals (so a gold correction, a retraction or a new review that moves
// a figure or flips a check supersedes; evidence and intervals alone do not); it has the
// next sequence and Supersedes names the latest verdict's event id. The event id is a hash
// of dataset, version and sequence (VerdictID), so a verdict decided again after an aborted
// transaction is the same event, and a consumer can deduplicate on it. Producer is
// assay-processor/gate; the state trusts only verdicts carrying it, and of those the highest
// sequence.
//
// Decide never records the verdict: the runner applies it to the state once its Kafka
// transaction commits, exactly as it will read it back. The state is therefore a function of
// the log alone (apart from the pacing of Due), and a gate restarted from the log compares
// new figures with the verdicts the log holds: it emits nothing twice.
//
// Versions not in the ledger. Figures with no member (Members == 0) mean the ledger has not
// ingested the version yet: no verdict, and the version stays due. Once the settle time
// (SettleTimeout) has passed since its commit was recorded (recorded_at) without a verdict, it
// is rejected with reason NotInLedger and no checks, naming the project of the dataset's
// earlier verdicts or overrides, or no project (an empty project_id, which the contract
// allows in a rejection) when none is known: no version stays pending for ever. A version that has a verdict is
// never rewritten by figures with no member (a ledger being rebuilt has lost no fact).
//
// Due returns the versions without a verdict at every call, and those with one once per
// recheck interval (RecheckInterval), so figures that change after a verdict reach it.
//
// Clearance is the gate's word for a training run: the latest verdict and the latest
// GateOverrideGranted naming the verdict's project; Cleared is certified or overridden. An
// override counts only once the gate has judged the version, and only when it names the
// project the verdict names: the gateway lets an owner write overrides for the projects in
// its scope, and without this rule an owner of project A could clear a version of project
// B's dataset by naming A in the event.
//
// # The runner
//
// The Runner (runner.go) is the gate's only I/O: it reads the datasets and projects topics
// from their start with read_committed isolation, all partitions, without a consumer group,
// rebuilds the State to the high watermarks before it reports ready, then applies what it
// polls and, every tick, measures each due version (Measurer) and produces the verdicts of
// the tick in one Kafka transaction, applying them to the state once committed.
//
// The gate is a singleton. Its state spans every partition of both topics, so it cannot be
// split among group members; instead every instance uses the same transactional id
// (WithTransactionalID, default <prefix>assay.gate), and a second instance fences the
// first: the first's next transaction fails with a fencing error, and its Run returns it.
// Until it tries one it keeps reading and measuring, harmlessly: the new instance's verdicts
// reach its state too, so it has nothing to produce while they stand.
// Verdicts depend on ClickHouse figures, not only on the consumed offsets, so the gate
// commits no offsets: it rebuilds from the log on every start, which the verdicts in the log
// make cheap and exact.
//
// Failures. A measurement that fails (ClickHouse down, WithMeasureTimeout) is logged and
// counted, and the version is measured again at the next tick; a transaction that fails is
// aborted and its versions are decided again at the next tick, with the same event ids.
// Nothing panics. On cancellation Run stops polling and measuring; a transaction in progress
// gets WithShutdownTimeout to end and is aborted otherwise (within 5s more).
//
// Metrics (WithRegisterer): assay_gate_verdicts_total{verdict="certified"|"rejected"} (verdicts
// committed, superseding ones included), assay_gate_versions_pending (committed versions
// without a verdict), assay_gate_measure_seconds, assay_gate_measure_failures_total and
// assay_gate_ready (1 once rebuilt and deciding). The library reads no environment, handles
// no signal and starts no goroutine: main builds the Runner (New with the Kafka config and a
// Measurer over streams/gate/figures.Read), runs Run in its own goroutine and serves Ready
// on /readyz.
package gate
