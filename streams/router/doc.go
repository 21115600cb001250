// Package router is the processor that puts a human boundary around
// automation: it decides, for every item/question, whether the model's
// pre-label is accepted as is or which humans see it, and emits the
// decision as a RoutingDecided event with the rule, the numbers it looked
// at and the rules version.
//
// Rules (rules.go, file format in README.md "Routing"), first match wins
// for a pre-label of an ingested item:
//
//   - an edge-case tag named by a tag rule (safety-critical, rare) sends it
//     to the rule's humans whatever the confidence;
//   - a boxes pre-label with a box scored below the question's box score
//     threshold (box_score_threshold, else its confidence threshold):
//     human_review, rule low_box_confidence;
//   - confidence below the question's threshold: human_review;
//   - a deterministic sample of the rest (hash of salt and item_id below
//     the audit rate): human_review, rule audit_sample, audited = 1;
//   - otherwise auto_accept.
//
// Questions a project lists under questions_without_prelabel go to
// human_label when the item is ingested (no pre-label will come). On the
// labels side, once at least min_labels annotators answered an
// item/question and the share of agreeing pairs is below min_agreement,
// it goes to expert_review (rule low_agreement), once. A spans or boxes
// question is judged by its regions instead (rule low_region_agreement,
// below).
//
// Box scores. A boxes pre-label (schemas.Box.Score per box, beside the
// pre-label's overall Confidence) is auto-accepted only if its lowest box
// score and its confidence both reach their thresholds; a box without a
// score counts at the pre-label's confidence, and an empty list of boxes
// (the model found nothing) is routed by its confidence alone, as any
// other pre-label. The number compared is the lowest score, not the mean
// nor the overall confidence alone, because that is how the tools that
// produce such pre-labels apply a score threshold: per region. Label
// Studio's ML backends (SCORE_THRESHOLD in its YOLO and MMDetection
// examples) and CVAT's auto-annotation (conf_threshold, handed to the
// detection function) test every detection against the threshold and drop
// those below it; in Label Studio's MMDetection example the prediction's
// overall score is the mean of the kept boxes' scores, which orders tasks
// for review but gates nothing. The router routes a value as a whole and
// never edits it (the accepted value must be the one in the log), so a box
// below the threshold sends the whole value to humans instead of being
// dropped: auto-accepting a value accepts every one of its boxes, and it
// is only as trustworthy as its weakest. A mean would let nine boxes at
// 0.99 carry one at 0.3 (mean 0.93) into the dataset unseen. The overall
// confidence is still required: it is where a model can say that it may
// have missed objects, which no box score shows. The decision records
// boxes, lowest_box_score and box_threshold beside confidence and
// threshold, whichever rule decided.
//
// Region agreement. Once min_labels annotators have labeled a spans or
// boxes item/question, the router judges their labels once: the pairwise
// F1 between them, exactly as streams/regions defines it
// (CompareUnitSpans, CompareUnitBoxes: same-label one-to-one matching at
// IoU >= t maximizing total IoU, F1 = 2 × matched pairs / regions of the
// two sides, summed over every pair of the annotators), at the question's
// iou_threshold from the rules (schemas.DefaultIoUThreshold when unset;
// the router does not read the projects topic, so QuestionDefined's
// threshold must be restated there). Below min_region_f1 the
// item/question goes to expert_review (rule low_region_agreement, stage
// agreement, once), recording annotators, regions (drawn by them), f1,
// matched, pair_regions (F1's denominator), iou_threshold and
// min_region_f1. If no annotator marked a region, F1 is undefined and
// there is nothing to disagree about: no escalation. The judgement is on
// the first labels, as for a consensus overlap: each of the first
// min_labels annotators' latest label (a relabel before the judgement
// replaces, a retraction removes and the next annotator takes the place),
// and it stands: labels after it change nothing. min_region_f1 = 0 turns
// the rule off; min_labels is then shared with the share-of-pairs rule,
// and at most MaxRegionLabels while the region rule is on. A question's
// rule is chosen by its first label's level (the gateway keeps one level
// a question; a label of another level on a region question is ignored by
// the rule).
//
// State, and why it is split. The runtime keeps one state per (topic,
// partition), rebuilds each from its own partition up to its own committed
// offset, and its cooperative-sticky balancer may give items partition p
// and labels partition p to different instances. Although both topics are
// keyed by item_id with equal partition counts (so partition p of both
// holds the same items), a state shared across the two topics would be
// wrong whenever they are split, and its rebuild would interleave the two
// logs in an arbitrary order. So NewState returns an items state for an
// items partition (edge-case tags, pending pre-labels, questions decided)
// and a labels state for a labels partition (latest answer per annotator,
// the regions of region questions' first labels, questions escalated or
// judged), and every rule reads only one of them. The KPIs
// that need both sides (override rate of audits, precision of pre-labels)
// are joins in ClickHouse over the rows both sides write
// (ops/clickhouse/migrations/0020_routing.sql), not processor state.
//
// Exactly once. The router is a runtime.Emitter, so it consumes and
// produces in Kafka transactions: a decision is visible to read_committed
// consumers exactly when the offsets of the record that caused it are
// committed; after a crash the uncommitted records are re-read and decided
// again, with the same result, and the aborted copy is never visible.
// A decision's event id is derived from what it decides (stage, item,
// question), never the clock, so even a consumer reading uncommitted data
// can deduplicate, and a decision made twice (see Limits) collapses.
//
// No loop, and rows from the log. RoutingDecided events land on the items
// topic, which the router consumes. It never decides anything on a
// RoutingDecided. Its own decisions, read back once committed, become the
// routing_decisions rows (with the pre-label kept in the items state), so
// ClickHouse holds exactly the decisions the log holds: an aborted copy is
// never read, and a replay (assay replay) reproduces the historical
// decisions instead of re-deciding under today's rules. Reading back its
// items-stage decisions also marks the question decided, so a state
// rebuilt under newer rules never decides a question twice.
//
// Trust. The router trusts only its own decisions: a RoutingDecided whose
// producer is not Producer (another principal's, or an id that merely
// looks like the router's, written straight to Kafka) is refused with
// rule RuleOwnDecisions, with or without a principals registry, so it
// neither writes a routing_decisions row nor marks a question decided; the
// runner sends it to the DLQ (cause "forbidden"). A record claiming
// Producer itself cannot be told from the router's own: Kafka's ACLs must
// keep other writers off the items topic. It completes two write rules of
// schemas/access with its state (runtime.Record.Authorized): a
// LabelRetracted is refused unless its producer submitted the label
// [labeler.own_labels] (with or without a registry), so a party cannot
// move the accepted labels behind the override and precision KPIs by
// retracting someone else's; and, with a registry, a PreLabelProposed of an
// ingested item is refused unless the item's project is in its model
// principal's projects [scope.project] (a pre-label waiting for its item
// is not checked for its project). A refused record changes no state, not
// even the partition's event time.
//
// Bounded state. Per key the router keeps only what a later decision or
// row needs, never a record's bytes: an ingested item's project, edge-case
// tags and decided questions (with the pre-label each was decided on, for
// its routing_decisions row); a pending pre-label's question, model,
// version, canonical value, confidence, number of boxes and lowest box
// score (not the boxes) and causing event ids and time (about 0.4 KB;
// TestPendingFlood logs the figure); per labeled item/question each
// annotator's latest answer: the annotator and the value interned, the
// label id as a 128-bit digest (SHA-256, so no one can aim for a
// collision, and the same in every process, so a snapshot restores
// anywhere), dropped once the question is escalated or judged, since
// nothing reads them again; and per label of a labeled item, until it is
// retracted, its producer (interned, under the label's digest), which a
// retraction is checked against.
//
// The regions of a spans or boxes question are held only until its first
// labels are judged, and bounded three ways. A value holds at most
// schemas.MaxRegions regions (a label with more, which the gateway
// refuses, is refused here too: the runner sends it to the DLQ). A
// question holds the answers of at most MaxRegionLabels annotators (those
// after them are not held), so judging it matches at most 10 pairs of
// values, each bounded as streams/regions states: about 30 ms a pair in
// its slowest measured shape at MaxRegions (every region overlapping every
// other, every matching tied), so at most about 0.3 s for one record with
// min_labels 5 and 30 ms with the usual 2; a few milliseconds for real
// annotations. It happens once per item/question. And a labels partition holds at
// most Config.MaxHeldRegions regions (labels, not the bytes: a box about
// 80 bytes of heap, TestHeldRegionsMemory): when a label takes it over,
// the question that has held regions longest loses them and is never
// judged (its first labels are gone), in log order, so a rebuild evicts
// the same; counted in assay_router_region_questions_evicted_total.
// Without it, every first label of an item no second annotator ever
// labels (most items, in a project that overlaps a sample) would be held
// for as long as the partition is assigned.
//
// Snapshots. Both states are snapshotted by the runner (runtime.Snapshotter,
// snapshot.go, state version 2: pending box scores, held regions and their
// queue), so an assignment replays only the log
// after the latest snapshot. A restored state is the one the router held
// when the snapshot was taken: its escalations were decided under the
// rules in force then, as the live router's were, while a rebuild from the
// start of the log decides them again under today's rules (the decisions
// it would emit again carry the same event ids and collapse).
//
// A pre-label whose item has not been ingested waits in a pending set
// bounded two ways, both in event time: it expires once the partition's
// event time is Config.PendingTTL past its arrival, and a partition holds
// at most Config.MaxPending of them (item/question pairs), the oldest
// evicted first when a new one arrives. The partition's event time is the
// latest record time applied (the Kafka timestamp the producer stamped,
// else recorded_at; never the client's occurred_at, which a backfill sets
// years back) and never goes back; a pre-label's arrival is that time when
// it was applied, so arrival order is event-time order and the oldest is
// always at the front (ties in log order). Expiry and eviction are
// therefore functions of the log alone. That is the point: the runtime
// rebuilds a partition's state from the log on every assignment, and
// assay replay from its start, hours or months after the live router saw
// the records. With a wall-clock TTL the rebuild would expire a different
// set of pre-labels (all of them, for a replay a day later) than the live
// router did, decide differently from then on, and write routing_decisions
// rows without the pre-label the live decision was made on; with event
// time a rebuilt state equals the live one, record for record
// (TestRebuildEqualsLive). The cost is that an idle partition expires
// nothing until its next record: the cap bounds it meanwhile. Dropped
// pre-labels are counted (assay_router_pending_prelabels_expired_total,
// _evicted_total) and every partition state reports its size through
// StateKeys (assay_processor_state_keys).
//
// A late item, one ingested after its pre-label expired or was evicted,
// gets no decision from that pre-label, exactly as if the model had never
// answered: questions its project lists under questions_without_prelabel
// are routed to humans at ingest as always, and a pre-label that arrives
// after the ingest (the model run again) is decided as usual. It does not
// get a decision without its pre-label: that would need to remember every
// dropped item/question (the unbounded state this removes), and there is
// nothing to decide on. The dropped pre-label is still in the log and in
// routing_prelabels, so a query for pre-labels without a routing decision
// finds these items. assay replay must be given the live router's
// -router-pending-ttl and -router-max-pending to reproduce its rows.
//
// Rules reload. Apply reads a RuleSet (an atomically swapped pointer) once
// per record and records the version in the decision's reason and row; it
// does no I/O. New(Config) with a RulesFile reads and validates the file
// (an invalid file is an error: there are no older rules to keep) and
// builds a Loader, which reloads it on Poll (when its mtime or size
// changed), Run (Poll every RulesPoll until the caller's context ends) and
// Reload; an unreadable or invalid file, or a changed file that kept its
// version, is refused with an error and the rules in force stay. The
// library starts no goroutine and handles no signal: services/processor
// runs Loader.Run and calls Reload on SIGHUP, and its flags
// (-router-rules, also ASSAY_ROUTER_RULES; -router-rules-poll,
// -router-pending-ttl, -router-max-pending) fill the Config.
//
// Limits. Items and label state are kept for as long as the partition is
// assigned: one compact entry per ingested item and per labeled item,
// because a pre-label or label may come at any time after them; they grow
// with the log, not with what is waiting, and StateKeys shows how much.
// Labels of items never ingested are kept like any other (the labels side
// cannot see the items topic). The region rule judges the first labels
// only: a disagreement that starts with the third annotator of a question
// with min_labels 2 is not seen (the KPIs measure it), and an evicted
// question is never judged. The labels side cannot see its own
// escalations (they are on the items topic), so a state rebuilt after the
// agreement rule changed may escalate an item/question a second time
// (with the same event id, so it collapses downstream), or not at all. A
// question whose model never answers is routed to humans only if the
// rules list it under questions_without_prelabel: there is no timeout to
// decide it, because a timer would make decisions depend on when the log
// is read rather than on the log.
package router
