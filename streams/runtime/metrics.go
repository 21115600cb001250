package runtime

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the assay_processor_* series; every one carries the processor
// label so several runners can share one registry.
type metrics struct {
	recordsIn      *prometheus.CounterVec
	rowsOut        *prometheus.CounterVec
	eventsOut      *prometheus.CounterVec
	dlq            *prometheus.CounterVec
	lag            *prometheus.GaugeVec
	batchSize      *prometheus.HistogramVec
	writeSeconds   *prometheus.HistogramVec
	writeRetries   *prometheus.CounterVec
	writeSplits    *prometheus.CounterVec
	isolated       *prometheus.CounterVec
	stateKeys      *prometheus.GaugeVec
	commitFailures *prometheus.CounterVec
	rebuildSeconds *prometheus.HistogramVec
	rebuildRecords *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_records_in_total",
			Help: "Kafka records consumed live (rebuild excluded), poison included.",
		}, []string{"processor", "topic"}),
		rowsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_rows_written_total",
			Help: "ClickHouse rows written durably (replayed batches count again).",
		}, []string{"processor", "table"}),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_events_emitted_total",
			Help: "Events produced to Kafka by processors, DLQ records excluded.",
		}, []string{"processor", "topic"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_dlq_records_total",
			Help: "Poison records sent to the DLQ topic, by cause (decode, forbidden, apply, output, write).",
		}, []string{"processor", "cause"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_processor_consumer_lag_records",
			Help: "Records between the last one consumed and the partition's high-water mark.",
		}, []string{"processor", "topic", "partition"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_batch_size_records",
			Help:    "Records per flushed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"processor"}),
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_write_duration_seconds",
			Help:    "Time to make one batch durable in ClickHouse, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"processor"}),
		writeRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_write_retries_total",
			Help: "Failed ClickHouse insert attempts that were retried.",
		}, []string{"processor", "table"}),
		writeSplits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_write_splits_total",
			Help: "Inserts split in two to find the records ClickHouse refuses (or to get under a server limit).",
		}, []string{"processor", "table"}),
		isolated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_write_isolated_records_total",
			Help: "Records whose rows ClickHouse refused, isolated by splitting their batch and sent to the DLQ (counted in replays too, which produce no DLQ record).",
		}, []string{"processor", "table"}),
		stateKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_processor_state_keys",
			Help: "Keys held by the state of one partition, for processors whose state reports it (runtime.StateSizer).",
		}, []string{"processor", "topic", "partition"}),
		commitFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_commit_failures_total",
			Help: "Offset commits that failed after a durable write (the batch will be replayed and collapse).",
		}, []string{"processor"}),
		rebuildSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_rebuild_duration_seconds",
			Help:    "Time to rebuild the state of newly assigned partitions from the log.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"processor"}),
		rebuildRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_rebuild_records_total",
			Help: "Records replayed to rebuild partition state.",
		}, []string{"processor"}),
	}
	if reg != nil {
		m.recordsIn = register(reg, m.recordsIn)
		m.rowsOut = register(reg, m.rowsOut)
		m.eventsOut = register(reg, m.eventsOut)
		m.dlq = register(reg, m.dlq)
		m.lag = register(reg, m.lag)
		m.batchSize = register(reg, m.batchSize)
		m.writeSeconds = register(reg, m.writeSeconds)
		m.writeRetries = register(reg, m.writeRetries)
		m.writeSplits = register(reg, m.writeSplits)
		m.isolated = register(reg, m.isolated)
		m.stateKeys = register(reg, m.stateKeys)
		m.commitFailures = register(reg, m.commitFailures)
		m.rebuildSeconds = register(reg, m.rebuildSeconds)
		m.rebuildRecords = register(reg, m.rebuildRecords)
	}
	return m
}

// register registers c, or returns the collector already registered under
// the same name, so runners of several processors share one set of series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("assay runtime metrics: " + err.Error())
	}
	return c
}

func partLabel(p int32) string { return strconv.Itoa(int(p)) }
