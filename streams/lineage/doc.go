// Package lineage is the lineage projection of the log as a pure model: Graph folds events
// (items, labels, reviews, dataset versions, training runs, findings, remediations) into the
// chain source → item → labels → reviews → dataset version → training run → eval finding →
// remediation → fixing dataset version, and answers the audit questions over it: is every member
// of a dataset version fully traced, which links are missing, which cohorts and annotators are
// involved, what is the members' Merkle digest, which versions and cohorts does a finding
// implicate, and how long did its fix take.
//
// The model does no I/O. Fold order does not matter (every fact is keyed by its own id and
// "latest" is decided by occurred_at, then event id), because a replay reads partitions of
// several topics interleaved in no global order. The Processor in this package writes the same
// graph as node and edge rows for SQL; the audit (Audit, CompareLedger) is the CLI's library code.
//
// Write rules. So that no party can make the graph say another party's label was retracted, or
// another project's finding remediated, the Processor completes two rules of schemas/access with
// the little state it keeps (State): a LabelRetracted is refused unless its producer submitted
// the label [labeler.own_labels], with or without a principals registry; with one, a
// RemediationStarted or RemediationShipped is refused unless the finding's project (from its
// EvalFindingReported) is in the principal's projects [scope.project]. The runner refuses the
// rest of the rules before Apply when it has a registry, and sends every refusal to the DLQ.
package lineage
