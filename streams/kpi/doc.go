// Package kpi holds the KPI stream processors of the design's "KPIs"
// section: agreement (Krippendorff's alpha and per-annotator agreement),
// accuracy against gold, flow (cycle time and rework), region agreement
// and accuracy against gold regions (kpi_regions: spans and boxes) and
// preference figures (kpi_preference), and the one read path of each
// figure that is not a plain SQL sum. Each processor is a pure
// state machine for streams/runtime: Apply folds one record into the state
// of its (topic, partition) and returns the rows it changes; the runner does
// all of the I/O.
//
// # Levels measured apart
//
// kpi_agreement and kpi_accuracy ignore labels and gold answers of levels
// spans, boxes and preference: no row, no DLQ record, no state. Their
// answers are not values that equality or a distance compares; kpi_regions
// (region agreement and accuracy against gold regions, streams/regions) and
// kpi_preference (streams/preference) measure them. A LabelRetracted names
// no level, so a retraction of such a label is what any retraction of a
// label the partition does not count is to these two: ignored, its event
// key remembered so that a copy stays ignored.
//
// # Regions and preferences
//
// kpi_regions and kpi_preference keep, per unit (an item's labels to one
// question of a project, at level spans or boxes for the first, preference
// for the second), every counted label with its value, and the item
// question's latest gold answer (answers.go). The definitions are the
// libraries': streams/regions (IoU, the one-to-one matching, the additive
// Figures and Agreement, ScoreSpans/ScoreBoxes against gold) and
// streams/preference (the nominal coding, BiasOf, AccuracyOf); the
// processors only decide which answers meet and add or subtract the
// libraries' integer contributions.
//
//   - An annotator's answer on a unit is their latest label, by occurred_at
//     and then label id. The regions definition compares pairs of
//     annotators and the preference coding takes one label per annotator,
//     so a second label of an annotator replaces their answer rather than
//     adding a rater (kpi_agreement, whose values are plain multisets,
//     counts both). The earlier label stays in the unit, so retracting the
//     latest makes it the answer again; ordering by occurred_at rather than
//     by arrival makes the answer independent of the order the log brings
//     an annotator's labels in, and lets ReadUnitizing pick the same label
//     from the ledger.
//   - A label, a retraction or a gold answer changes one annotator's answer
//     (or every answer's score): only the unit pairs of that annotator move,
//     so kpi_regions takes out the old pairs' contributions, recomputed
//     from the regions it kept (streams/regions' contributions are
//     deterministic functions of the two lists), and adds the new ones:
//     2(k−1) unit-pair matchings for a unit of k annotators, each bounded
//     by streams/regions' cost (about 30 ms at regions.MaxRegions in the
//     slowest shape), so the cap on the annotators compared in a unit
//     (WithMaxRegionAnnotators, -kpi-max-region-annotators, default
//     DefaultMaxRegionAnnotators = 10) bounds the work one record can cause:
//     18 matchings, about half a second for values built to be slow at the
//     region limit, tens of microseconds for real annotations
//     (BenchmarkAnswersState). A label of an eleventh annotator goes to the
//     DLQ; a compared annotator's new answer is always taken.
//     kpi_preference moves the unit's coincidence cells and profile from its
//     answers before to its answers after, as kpi_agreement does.
//   - Scopes: all; a cohort's or vendor's (pairs of two of its annotators;
//     for preference alpha, its annotators' answers); an annotator's (the
//     pairs involving them). Gold, position bias and accuracy count every
//     answer in all, its cohort, vendor and annotator scopes. Every total is
//     kept per UTC day of the unit's first counted label, as
//     agreement_cells_daily: a window is a sum over its days, all time a
//     sum over every day.
//   - The IoU threshold is RegionsIoUThreshold, schemas.DefaultIoUThreshold
//     (0.5), for every question. A label does not restate its question's
//     threshold, and QuestionDefined travels on the projects topic, which
//     the runtime gives states of their own (see "Cross-topic facts"
//     below): a labels partition cannot learn it. Computing several
//     thresholds live would multiply the work for an answer few questions
//     need. So every row names the threshold it was computed at
//     (iou_threshold), ReadRegions sets the question's own threshold beside
//     it (RegionFigure.DefinedIoUThreshold, ThresholdDiffers), and a
//     question defined with another threshold is visibly measured at 0.5
//     live; `assay agreement --iou` computes any threshold offline.
//   - Ordinal preference alpha needs the question's strength scale S to rank
//     choice and strength as preference.OrdinalValue does (S−s, S−1+s);
//     kpi_preference codes the signed strength instead (OrdinalCode: −s for
//     the first response, +s for the second), which orders the answers the
//     same way for every S. Krippendorff's ordinal distance depends only on
//     that order and the values' frequencies, so alpha is the same
//     (TestOrdinalCodeEqualsOrdinalValues), and no scale crosses topics.
//   - Every label and gold answer of an item must compare the same
//     responses in the same order (preference's canonical order); a record
//     that does not, an invalid preference, and a spans or boxes value of
//     more than regions.MaxRegions regions (which the contract refuses to
//     encode) are refused with the reason: the DLQ.
//   - Unitizing alpha does not fold per partition
//     (streams/agreement/unitizing's doc.go says why): ReadUnitizing
//     computes it on read from the ledger's labels, the same answers by the
//     same rules, refusing a read above UnitizingFilter.MaxSpans.
//
// BenchmarkAnswersState (an answers log of 3,000 items a question, on this
// project's shared 2-core machine): kpi_regions 45-90 µs an event, about 400
// bytes a counted label (4.7 state keys of 85 bytes, regions included);
// kpi_preference about 10 µs an event and 230-350 bytes a label (2.8 keys
// of 80-125 bytes).
//
// # Per-partition partials, merged at query time
//
// No processor sees all of the data: a partition's state covers the items
// keyed to it. So every KPI table holds, per (kafka_topic, kafka_partition),
// the partition's CURRENT total of each figure's additive parts
// (coincidence cells, correct/total counts, ...), in a
// ReplacingMergeTree(version) whose version is the Kafka offset of the record
// that last changed the total. Queries read the tables with FINAL, which
// keeps the latest total of each partition, and sum across partitions. This
// makes the figures independent of how many processor instances share the
// partitions, and makes a replayed batch (at-least-once delivery) collapse:
// the same offsets produce the same totals.
//
// Apply returns a row only for the totals the record changed, so the runner's
// batches stay proportional to the events, not to the size of the state.
//
// # Cross-topic facts without cross-topic state
//
// The runtime gives each (topic, partition) a state of its own and may assign
// partition p of the items, labels and reviews topics to different instances,
// so a processor cannot join topics in memory. The flow processor therefore
// writes one row per (item, stage) from whichever topic the stage comes from
// (ingested from items, first label from labels, accepted from reviews), and
// the kpi_item_cycle view pivots them in ClickHouse.
//
// Coverage, and cycle time up to a dataset version, join facts of topics
// keyed differently (items by item, datasets by dataset), so they are views
// over the ledger tables (migrations 0004 and 0006) rather than processors.
//
// # Duplicates
//
// A client retry of an acknowledged event, or a record whose
// acknowledgement was lost, is the same event (the same event_id, the
// idempotency key) in a second Kafka record, which the runner delivers like
// any other. Every figure is the same whether an event is delivered once or
// many times: each processor remembers the events that changed its state by
// the key of the ledger table that holds them (event type, the natural key,
// event id; e.g. item, label, review and event id for a review), which is
// exactly what the ledger's ReplacingMergeTree collapses, and applies an
// event once. Where a second copy cannot change anything the state is not
// spent on it: items and labels move the flow stages to their earliest or
// latest time, which a copy reaches again. The event id is the idempotency
// key: a second event reusing an id is that same event, whatever it carries.
//
// # State: what each partition keeps, and its bound
//
// No key expires: every one is needed for an exact figure as long as the log
// can still bring an event about it (a retraction, a review, a corrected
// gold, a copy, a late event: the gateway accepts occurred_at back to 2000),
// and forgetting one would make such an event count again. So the state is
// proportional to legitimate entities and capped instead. Identifiers no row
// needs as text (item, label, event ids) are kept as 128-bit digests, and the
// names that repeat (project, question, annotator, cohort, vendor, scope,
// values, producer) are interned; BenchmarkStateBytes measures 30-95 bytes
// per key.
//
//	map (processor)       key                                 bound                                why it is kept
//	labels (agreement)    label id                            one per counted label                a retraction finds its unit
//	units (agreement)     project, question, level, item      one per live unit, each holding at   the unit's cells are recomputed
//	                                                          most the unit cap of labels (value,  from its values; only the
//	                                                          annotator, cohort, vendor, producer) label's producer retracts it
//	cells, daily          project, question, level, scope,    cells of live units (daily: on the   rows are the partition's
//	(agreement)           unit size, values (daily: + day)    unit's first day); zeros forgotten   current totals
//	profiles (agreement)  project, question, level, scope,    profiles (multisets of values) of    rows are the partition's
//	                      day, profile                        live pairable units, per day they    current totals (alpha's
//	                                                          started; zeros forgotten             interval)
//	pairs, kappa          project, question, annotator        annotators, pairs of annotators ×    rows are totals
//	(agreement)           (kappa: pair, level, values)        values met; zeros forgotten
//	applied (agreement,   event type, item, label or          one per label (and gold) event       a copy changes nothing
//	accuracy)             question, event id
//	gold (accuracy)       item, question                      one per item question with gold      labels are scored on arrival
//	labels (accuracy)     item, question                      one per unit, at most the unit cap   a new gold re-scores them; the
//	                                                          (value, scopes, project, producer)   gold's project, who retracts
//	labelIQ (accuracy)    label id                            one per counted label                a retraction finds it
//	counts (accuracy)     project, question, scope            scopes (all, cohorts, vendors,       rows are totals
//	                                                          annotators); zeros forgotten
//	confusion (accuracy)  project, question, scope, gold      scopes × pairs of values met;        rows are totals (error
//	                      value, labeled value                zeros forgotten                      types)
//	items (regions,       item, question                      one per item question with labels    a label finds its unit; a gold
//	preference)                                               or gold, each holding its units      answer re-scores the answers;
//	                                                          (project, level, day, at most the    a retraction restores an
//	                                                          unit cap of labels with their        annotator's earlier answer
//	                                                          values) and its gold answer
//	labels, applied       label id; event type, item,         one per counted label; one per       a retraction finds it; a copy
//	(regions, preference) label or question, event id         label and gold event                 changes nothing
//	pairs, cells, gold    project, question, level, scope,    scopes × days × labels of the        rows are totals
//	(regions)             day, label (cells: label pair)      regions met; zeros forgotten
//	cells, profiles,      project, question, scope, day       as kpi_agreement's cells and         rows are totals
//	bias, accuracy        (cells: coding, size, values;       profiles, per coding; scopes ×
//	(preference)          profiles: coding, profile)          days; zeros forgotten
//	stages (flow)         item, stage                         ≤ 2 per item of the topic            earliest / latest time
//	reviewed (flow)       label id                            one per reviewed label               a label counts once
//	reviews (flow)        item, label, review, event id       one per review                       a copy changes nothing
//
// Every partition state implements StateKeys (the sum of its maps' sizes;
// kpi_regions adds the regions its labels and gold answers hold, since a
// value may hold up to regions.MaxRegions of them, so the cap bounds its
// memory too),
// which the runner exports as assay_processor_state_keys. The cap
// (WithMaxStateKeys or Config, flag -kpi-max-state-keys in the binaries,
// default DefaultMaxStateKeys, exported as assay_kpi_state_keys_limit)
// bounds it: at the cap a record that would add
// keys is refused with ErrStateLimit, so the runner sends it to the DLQ,
// logs it and counts it (assay_processor_dlq_records_total{cause="apply"});
// copies, and retractions of counted labels, which free more than they take,
// still apply. Figures are then short of the refused records, visibly,
// rather than silently wrong. The unit cap (WithMaxUnitLabels, flag
// -kpi-max-unit-labels, default DefaultMaxUnitLabels) refuses a label beyond it the same way: a unit's cells,
// and the rows one of its labels rewrites, grow with the square of its
// distinct values. The refusals are a function of the log and the caps, so a
// rebuilt state equals the live one; after raising a cap, replay the
// processors into fresh tables (assay replay) to count what was refused.
//
// # Snapshots
//
// The five processors implement runtime.Snapshotter (snapshot.go and
// snapshot_answers.go, state version 1 each), so the runner restores a partition from its latest
// snapshot and replays only the log after it. Each encodes every map of
// its state in a sorted order (digests as numbers, names as text), so
// equal states encode to equal bytes, with names and values through tables
// of interned strings and 128-bit digests as 16 bytes; the agreement's
// labels and the accuracy's labelIQ are rebuilt from the units and labels
// they index, and so are the labels index of kpi_regions and
// kpi_preference and kpi_regions' count of regions held (their snapshots:
// 21-33 bytes per state key, BenchmarkAnswersState). BenchmarkSnapshot (300,000 events): 17-19 bytes per state
// key; on this project's 2-core machine about 160-460 ns per key to encode
// (the runner's poll loop waits for it) and 250-500 ns to decode, so a
// partition of 4 million keys (the cap) is a snapshot of about 75 MB that
// takes one to two seconds each way. TestSnapshotsRestoreTheRebuiltState
// proves, for each processor and topic, that a state restored at any of
// nine cuts of a log with retractions, duplicates, corrected golds and
// refused records equals the state the log builds and writes the same rows
// from there on.
//
// # Write rules
//
// With an authorizer (streams/runtime WithAuthorizer; services/processor
// -principals-file) the runner refuses, before Apply, every event its
// producer may not write by the rules that need no state (schemas/access):
// a GoldLabelSet or ReviewCompleted from a producer that is not a qa
// principal, a label outside its labeler's projects, vendor, cohorts or
// annotators, an unknown producer. Apply completes the rules its state
// knows the facts of (runtime.Record.Authorized), and a refusal goes to the
// DLQ with cause "forbidden" and changes no figure:
//
//   - kpi_agreement, kpi_accuracy, kpi_regions and kpi_preference: a
//     LabelRetracted of a counted label
//     is refused unless its producer submitted the label
//     [labeler.own_labels], with or without an authorizer (the producer is
//     kept with every counted label), and, with one, unless the label's
//     project is in the principal's [scope.project];
//   - kpi_accuracy, kpi_regions and kpi_preference: a GoldLabelSet is
//     refused unless the project the
//     item's counted labels name is in the qa principal's projects
//     [scope.project]; for an item none of whose labels was counted yet the
//     project is unknown and not checked.
//
// A retraction of a label the partition never counted has no known
// producer and changes nothing anyway. kpi_flow has no rule of its own: a
// review names no project and the reviews partition does not know its
// item's, so the runner's stateless check is all it applies.
//
// Reading: the kpi_* views give every figure that is a plain sum (nominal
// alpha, accuracy, rework, cycle-time quantiles, coverage); ReadAgreement
// (all time or a window of days, narrowed by AgreementFilter) and
// ReadPairwiseKappa merge cells in SQL and apply the level's metric with
// streams/agreement, for the figures that are not. ReadAgreement also reads
// the unit profiles (agreement_profiles) of the same units and gives alpha's
// confidence interval (AgreementFigure.AlphaCI, the jackknife over units of
// agreement.AlphaInterval), after checking that the profiles add up to the
// cells (ErrProfilesBehind otherwise: a processor that ran before migration
// 0035 wrote no profiles; replay it). ReadAgreement and its
// AgreementFigure are the only agreement read: the API (services/api), the
// tests and any other reader call it, so every reader shows the same figure.
//
// ReadConfusion reads the confusion behind accuracy (accuracy_confusion,
// migration 0036): the scored labels by gold value and labeled value, whose
// sums are accuracy's denominator and whose diagonal is its numerator.
//
// ReadRegions (RegionFigure: streams/regions' Report and AccuracyReport of
// the merged tallies, label alpha's interval, the question's defined
// threshold), ReadPreferences (PreferenceFigure: alpha nominal and ordinal
// with their intervals, accuracy and position bias with their Wilson
// intervals) and ReadUnitizing (unitizing.Result) are the only reads of
// those figures, with the same filter (project, question, scope, cohorts,
// a window of days) as ReadAgreement.
//
// # Reads that do not grow with history (issue 17)
//
// A read that the dashboard repeats must not cost more as the ledger grows.
// ReadParties and ReadAnnotatorCohorts read who labels in a project, and each
// annotator's cohort, from label_parties (migration 0070: a materialized view
// of the labels table keeping one max per (project, annotator, cohort,
// vendor), which copies of an event cannot change), not from every label.
// ReadCoverage (CoverageQuery, CoverageSlicesQuery) computes the coverage
// views' figures of the latest version of each dataset only, reading the
// members of those versions by the key of dataset_members and the items and
// reviews they name, with the project's datasets from item_datasets
// (migration 0072); each is the view's row of that version (the tests hold
// them to the API's queries over the views). kpi_agreement writes each
// profile's all-time total beside its daily ones (agreement_profiles_total,
// migration 0073), which ReadAgreement's all-time interval reads instead of
// a row per profile and day (AgreementProfilesFromDaysQuery, the same
// answer); the state keeps those totals as the sums of the days', so
// snapshots are unchanged and recompute them.
//
// Definitions (denominators, the error of accuracy, which units count) are
// in README.md, section "KPIs", and in the comments of migrations 0003-0007,
// 0035, 0036, 0060, 0065, 0070, 0072 and 0073.
package kpi
