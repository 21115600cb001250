package kpi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/assay-data/assay/streams/agreement/unitizing"
	"github.com/assay-data/assay/streams/regions"
)

// DefaultMaxUnitizingSpans is UnitizingFilter.MaxSpans's default: unitizing alpha over 200,000
// spans costs about a tenth of a second and some tens of megabytes (unitizing's
// BenchmarkAlpha: 40 ms for 78,000 spans of 5 raters), the most one read should take.
const DefaultMaxUnitizingSpans = 200_000

// ErrTooManySpans is wrapped by ReadUnitizing's error when the labels it would read hold more
// spans (or are more labels) than UnitizingFilter.MaxSpans: unitizing alpha is computed on
// read, so one read is bounded; narrow it (a window of days, a cohort) or raise the bound.
var ErrTooManySpans = errors.New("too many spans for one unitizing read")

// UnitizingFilter says which labels ReadUnitizing computes unitizing alpha over.
type UnitizingFilter struct {
	// Project and Question name the spans question; both are required.
	Project, Question string
	// Scope is ScopeAll (or empty), CohortScope(c) or VendorScope(v): the answers of the
	// cohort's or vendor's annotators. Unitizing alpha compares raters, so there is no
	// annotator scope.
	Scope string
	// From and To keep the items whose first label occurred on the UTC days [From, To), as
	// RegionFilter's window: the earliest in the log of the item's labels to the question
	// that are not retracted, which is the label kpi_regions starts the unit on unless that
	// one was retracted. To zero means no end.
	From, To time.Time
	// MaxSpans bounds the read: more spans, or more labels, than MaxSpans are refused
	// (ErrTooManySpans) before any is read. Zero means DefaultMaxUnitizingSpans.
	MaxSpans int
}

// unitizingWhere selects the spans labels of one question that kpi_regions counts, with
// parameters project, question, regions.MaxRegions: a label with more regions is refused
// there (and by the gateway), and a retraction counts only from the label's own producer
// (access rule labeler.own_labels, which the processors apply and the ledger, which does not
// know who submitted a label, leaves to them: label_retractions holds every retraction).
const unitizingWhere = `project_id = ? AND question_id = ? AND value_level = 'spans' AND length(value_spans_label) <= ?
  AND (label_id, producer) NOT IN (SELECT label_id, producer FROM label_retractions)`

// UnitizingCountQuery counts the labels and spans ReadUnitizing would read (unitizingWhere's
// parameters), to refuse a read above its bound before reading.
const UnitizingCountQuery = `SELECT count() AS n_labels, sum(length(value_spans_label)) AS n_spans
FROM labels FINAL
WHERE ` + unitizingWhere

// UnitizingQuery reads the spans labels of one question (the ledger's labels, FINAL, so a copy
// of an event is one row), with unitizingWhere's parameters.
const UnitizingQuery = `SELECT item_id, annotator_id, label_id, event_id, occurred_at_ms, kafka_offset, cohort, vendor,
       value_extent_length, value_spans_label, value_spans_start, value_spans_end
FROM labels FINAL
WHERE ` + unitizingWhere + `
ORDER BY item_id, kafka_offset`

// UnitizingItemsQuery reads the lengths the items of ReadUnitizing's labels state
// (ItemIngested.extent, in characters or milliseconds), with unitizingWhere's parameters.
const UnitizingItemsQuery = `SELECT item_id, max(assumeNotNull(extent_length)) AS length
FROM items FINAL
WHERE extent_length IS NOT NULL AND item_id IN (SELECT item_id FROM labels WHERE ` + unitizingWhere + `)
GROUP BY item_id`

// ReadUnitizing computes unitizing alpha (streams/agreement/unitizing, Krippendorff's u-alpha
// as DKPro Statistics computes it) over a spans question's labels in the ledger: computed on
// read, since it does not fold per partition (unitizing's doc.go says why). The labels are
// those kpi_regions counts: retracted ones left out (by their own producer), values above
// regions.MaxRegions left out, each annotator's latest label on an item
// (by occurred_at, then label id) as their answer, in scope by that answer's cohort or
// vendor; unitizing.NewStudy keeps the items every annotator in scope labeled, laid end to
// end in id order, each as long as the item states (ItemIngested.extent), or as the largest
// extent its answers state where that is longer or the item states none, so that every span
// lies inside it (an answer is checked against the extent it restates, not the item's). A study that is well formed but whose alpha is not
// defined (fewer than two raters, overlapping spans of one label by one rater) is a Result
// saying why; the error is for a failed read, a refused bound (ErrTooManySpans) or a
// malformed study.
func ReadUnitizing(ctx context.Context, conn driver.Conn, f UnitizingFilter) (unitizing.Result, error) {
	if f.Project == "" || f.Question == "" {
		return unitizing.Result{}, fmt.Errorf("read unitizing: a project and a question are required")
	}
	if strings.HasPrefix(f.Scope, "annotator:") {
		return unitizing.Result{}, fmt.Errorf("read unitizing: scope %s: unitizing alpha compares raters, it has no annotator scope", f.Scope)
	}
	maxSpans := f.MaxSpans
	if maxSpans == 0 {
		maxSpans = DefaultMaxUnitizingSpans
	}
	var nLabels, nSpans uint64
	if err := conn.QueryRow(ctx, UnitizingCountQuery, f.Project, f.Question, regions.MaxRegions).Scan(&nLabels, &nSpans); err != nil {
		return unitizing.Result{}, fmt.Errorf("count unitizing labels: %w", err)
	}
	if maxSpans > 0 && (nSpans > uint64(maxSpans) || nLabels > uint64(maxSpans)) {
		return unitizing.Result{}, fmt.Errorf("%w: %s/%s has %d labels holding %d spans, above the bound of %d (narrow the read, or raise MaxSpans)",
			ErrTooManySpans, f.Project, f.Question, nLabels, nSpans, maxSpans)
	}
	rows, err := conn.Query(ctx, UnitizingQuery, f.Project, f.Question, regions.MaxRegions)
	if err != nil {
		return unitizing.Result{}, fmt.Errorf("query unitizing labels: %w", err)
	}
	defer rows.Close()
	type answer struct {
		labelID, eventID string
		at               int64
		cohort, vendor   string
		length           int64
		spans            []unitizing.Span
	}
	type item struct {
		first   uint64 // lowest offset of its labels
		firstAt int64
		answers map[string]answer
	}
	items := map[string]*item{}
	var order []string
	for rows.Next() {
		var (
			id, annotator string
			a             answer
			offset        uint64
			length        *int64
			labels        []string
			starts, ends  []int64
		)
		if err := rows.Scan(&id, &annotator, &a.labelID, &a.eventID, &a.at, &offset, &a.cohort, &a.vendor, &length, &labels, &starts, &ends); err != nil {
			return unitizing.Result{}, fmt.Errorf("scan unitizing label: %w", err)
		}
		if len(labels) != len(starts) || len(labels) != len(ends) {
			return unitizing.Result{}, fmt.Errorf("label %s: %d span labels, %d starts and %d ends", a.labelID, len(labels), len(starts), len(ends))
		}
		for i := range labels {
			a.spans = append(a.spans, unitizing.Span{Label: labels[i], Start: starts[i], End: ends[i]})
			a.length = max(a.length, ends[i])
		}
		if length != nil {
			a.length = max(a.length, *length)
		}
		it := items[id]
		if it == nil {
			it = &item{first: offset, firstAt: a.at, answers: map[string]answer{}}
			items[id] = it
			order = append(order, id)
		}
		if offset < it.first {
			it.first, it.firstAt = offset, a.at
		}
		if b, ok := it.answers[annotator]; !ok || a.at > b.at || (a.at == b.at && (a.labelID > b.labelID || (a.labelID == b.labelID && a.eventID > b.eventID))) {
			it.answers[annotator] = a
		}
	}
	if err := rows.Err(); err != nil {
		return unitizing.Result{}, fmt.Errorf("read unitizing labels: %w", err)
	}
	stated := map[string]int64{}
	irows, err := conn.Query(ctx, UnitizingItemsQuery, f.Project, f.Question, regions.MaxRegions)
	if err != nil {
		return unitizing.Result{}, fmt.Errorf("query unitizing items: %w", err)
	}
	defer irows.Close()
	for irows.Next() {
		var id string
		var length int64
		if err := irows.Scan(&id, &length); err != nil {
			return unitizing.Result{}, fmt.Errorf("scan unitizing item: %w", err)
		}
		stated[id] = length
	}
	if err := irows.Err(); err != nil {
		return unitizing.Result{}, fmt.Errorf("read unitizing items: %w", err)
	}
	from, to := int64(-1<<62), int64(1<<62)
	if !f.From.IsZero() {
		from = floorDiv(f.From.UnixMilli(), msPerDay)
	}
	if !f.To.IsZero() {
		to = floorDiv(f.To.UnixMilli(), msPerDay)
	}
	var labels []unitizing.Label
	for _, id := range order {
		it := items[id]
		if d := floorDiv(it.firstAt, msPerDay); d < from || d >= to {
			continue
		}
		length := stated[id]
		for _, a := range it.answers {
			length = max(length, a.length)
		}
		for annotator, a := range it.answers {
			if f.Scope != "" && f.Scope != ScopeAll && !(a.cohort != "" && f.Scope == CohortScope(a.cohort)) &&
				!(a.vendor != "" && f.Scope == VendorScope(a.vendor)) {
				continue
			}
			labels = append(labels, unitizing.Label{Item: id, Rater: annotator, Length: length, Spans: a.spans})
		}
	}
	study, err := unitizing.NewStudy(labels, nil)
	if err != nil {
		return unitizing.Result{}, fmt.Errorf("unitizing study of %s/%s: %w", f.Project, f.Question, err)
	}
	res, err := unitizing.Alpha(study)
	if err != nil {
		return unitizing.Result{}, fmt.Errorf("unitizing alpha of %s/%s: %w", f.Project, f.Question, err)
	}
	return res, nil
}
