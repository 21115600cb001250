package router

import "github.com/assay-data/assay/streams/runtime"

// The tables the router writes (ops/clickhouse/migrations/0020_routing.sql).
const (
	// TableDecisions holds one row per RoutingDecided the router emitted,
	// with the rules version and the pre-label it decided on.
	TableDecisions = "routing_decisions"
	// TablePrelabels holds every pre-label with its canonical value, for
	// precision per model version.
	TablePrelabels = "routing_prelabels"
	// TableLabels holds every human label with its canonical value, the
	// other side of the override and precision KPIs.
	TableLabels = "routing_labels"
	// TableRetractions holds retracted label ids, which the KPIs leave out.
	TableRetractions = "routing_label_retractions"
)

// Tables lists the router's tables and the columns its rows fill, in order.
func Tables() []runtime.Table {
	place := []string{"kafka_topic", "kafka_partition", "kafka_offset"}
	return []runtime.Table{
		{Name: TableDecisions, Columns: append([]string{
			"item_id", "question_id", "stage", "route", "rule", "rules_version", "project_id",
			"model", "model_version", "prelabel_value", "confidence", "audited",
			"event_id", "cause_event_id", "decided_at", "decided_at_ms",
		}, place...)},
		{Name: TablePrelabels, Columns: append([]string{
			"item_id", "question_id", "model", "model_version", "value", "confidence",
			"event_id", "occurred_at", "occurred_at_ms",
		}, place...)},
		{Name: TableLabels, Columns: append([]string{
			"item_id", "question_id", "project_id", "label_id", "annotator_id", "value",
			"prelabel_model", "prelabel_model_version",
			"event_id", "occurred_at", "occurred_at_ms",
		}, place...)},
		{Name: TableRetractions, Columns: append([]string{
			"item_id", "label_id", "event_id", "occurred_at", "occurred_at_ms",
		}, place...)},
	}
}
