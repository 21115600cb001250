package ledger

import "github.com/assay-data/assay/streams/runtime"

// The ledger's tables.
const (
	TableEvents              = "events"
	TableItems               = "items"
	TablePrelabels           = "prelabels"
	TableRouting             = "routing"
	TableLabels              = "labels"
	TableLabelRetractions    = "label_retractions"
	TableGoldLabels          = "gold_labels"
	TableReviews             = "reviews"
	TableCoverageTargets     = "coverage_targets"
	TableDatasetVersions     = "dataset_versions"
	TableDatasetMembers      = "dataset_members"
	TableTrainingRuns        = "training_runs"
	TableTrainingRunDatasets = "training_run_datasets"
	TableFindings            = "findings"
	TableFindingItems        = "finding_items"
	TableRemediations        = "remediations"
	TableDLQ                 = "dlq"
)

// envelopeColumns start every typed table, in this order.
var envelopeColumns = []string{
	"event_id", "event_type", "occurred_at", "occurred_at_ms", "recorded_at", "recorded_at_ms",
	"producer", "correlation_id", "causation_id", "kafka_topic", "kafka_partition", "kafka_offset",
}

func valueColumns(prefix string) []string {
	return []string{prefix + "_level", prefix + "_category", prefix + "_rank", prefix + "_number", prefix + "_categories"}
}

func typed(name string, cols ...[]string) runtime.Table {
	all := append([]string(nil), envelopeColumns...)
	for _, c := range cols {
		all = append(all, c...)
	}
	return runtime.Table{Name: name, Columns: all}
}

func c(names ...string) []string { return names }

// Tables lists the ledger's tables with the columns Apply fills, in order.
func Tables() []runtime.Table {
	return []runtime.Table{
		{Name: TableEvents, Columns: c("topic", "partition", "offset", "record_key", "event_id", "event_type",
			"occurred_at", "occurred_at_ms", "recorded_at", "recorded_at_ms", "producer", "correlation_id",
			"causation_id", "schema_fingerprint", "payload")},
		typed(TableItems, c("item_id", "source", "uri", "sha256", "modality", "slice_tags", "edge_case_tags", "dataset_id", "project_id")),
		typed(TablePrelabels, c("item_id", "question_id", "model", "model_version"), valueColumns("value"), c("confidence")),
		typed(TableRouting, c("item_id", "question_id", "route", "rule", "input_names", "input_values", "reason")),
		typed(TableLabels, c("label_id", "item_id", "project_id", "task_id", "question_id", "annotator_id", "cohort", "vendor", "guideline_version"),
			valueColumns("value"), c("time_spent_ms", "prelabel_model", "prelabel_model_version")),
		typed(TableLabelRetractions, c("label_id", "item_id", "reason")),
		typed(TableGoldLabels, c("item_id", "question_id"), valueColumns("value"), c("set_by")),
		typed(TableReviews, c("review_id", "label_id", "item_id", "reviewer_id", "verdict"), valueColumns("corrected"), c("reason")),
		typed(TableCoverageTargets, c("dataset_id", "slice_names", "slice_target_shares", "slice_min_counts", "edge_case_tags", "edge_case_min_counts")),
		typed(TableDatasetVersions, c("dataset_id", "version", "parent_version", "member_count", "manifest_digest")),
		typed(TableDatasetMembers, c("dataset_id", "version", "item_id", "label_id")),
		typed(TableTrainingRuns, c("run_id", "model", "dataset_id")),
		typed(TableTrainingRunDatasets, c("run_id", "dataset_id", "version")),
		typed(TableFindings, c("finding_id", "eval_run", "model", "training_run_id", "slice", "severity", "project_id")),
		typed(TableFindingItems, c("finding_id", "item_id")),
		typed(TableRemediations, c("finding_id", "stage", "owner", "plan", "dataset_id", "fixing_version")),
		typed(TableDLQ, c("source", "original", "reason", "field", "original_producer", "original_topic", "original_partition", "original_offset")),
	}
}
