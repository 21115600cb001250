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
//   - confidence below the question's threshold: human_review;
//   - a deterministic sample of the rest (hash of salt and item_id below
//     the audit rate): human_review, rule audit_sample, audited = 1;
//   - otherwise auto_accept.
//
// Questions a project lists under questions_without_prelabel go to
// human_label when the item is ingested (no pre-label will come). On the
// labels side, once at least min_labels annotators answered an
// item/question and the share of agreeing pairs is below min_agreement,
// it goes to expert_review (rule low_agreement), once.
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
// questions escalated), and every rule reads only one of them. The KPIs
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
// Rules reload. Apply reads a RuleSet (an atomically swapped pointer) once
// per record and records the version in the decision's reason and row; it
// does no I/O. A Loader, outside the runtime, polls the file (mtime and
// size) and reloads on SIGHUP; an unreadable or invalid file, or a changed
// file that kept its version, is refused with an error and the rules in
// force stay. In services/processor the registry builds the router with
// MustFromEnv: ASSAY_ROUTER_RULES names the file (empty: DefaultRules).
//
// Limits. A pre-label whose item is never ingested waits in memory for
// ever. The labels side cannot see its own escalations (they are on the
// items topic), so a state rebuilt after the agreement rule changed may
// escalate an item/question a second time (with the same event id, so it
// collapses downstream), or not at all. A question whose
// model never answers is routed to humans only if the rules list it under
// questions_without_prelabel: there is no timeout, because a timer would
// make decisions depend on when the log is read rather than on the log.
package router
