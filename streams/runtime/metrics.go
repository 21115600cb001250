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

	snapWrites        *prometheus.CounterVec
	snapWriteFailures *prometheus.CounterVec
	snapWrittenBytes  *prometheus.CounterVec
	snapBytes         *prometheus.GaugeVec
	snapAge           *prometheus.GaugeVec
	snapBehind        *prometheus.GaugeVec
	snapEncodeSeconds *prometheus.HistogramVec
	snapWriteSeconds  *prometheus.HistogramVec
	snapRestores      *prometheus.CounterVec
	snapMisses        *prometheus.CounterVec
	snapRejected      *prometheus.CounterVec
	snapLoadSeconds   *prometheus.HistogramVec
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
			Help:    "Time to set up the state of newly assigned partitions: restore their snapshots (WithSnapshots), then replay the log up to the committed offsets.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"processor"}),
		rebuildRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_rebuild_records_total",
			Help: "Records replayed to rebuild partition state (after the snapshot, when one was restored).",
		}, []string{"processor"}),
		snapWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_writes_total",
			Help: "Snapshots of partition states written to the snapshot store.",
		}, []string{"processor"}),
		snapWriteFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_write_failures_total",
			Help: "Snapshots that could not be encoded or written (retried at a later point; the log stays the source of truth).",
		}, []string{"processor"}),
		snapWrittenBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_written_bytes_total",
			Help: "Bytes of the snapshots written.",
		}, []string{"processor"}),
		snapBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_processor_snapshot_bytes",
			Help: "Size of the latest snapshot of a partition state, written or restored.",
		}, []string{"processor", "topic", "partition"}),
		snapAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_processor_snapshot_age_seconds",
			Help: "Time since the latest snapshot of a partition state was written (since the state was set up when none is known).",
		}, []string{"processor", "topic", "partition"}),
		snapBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_processor_snapshot_behind_records",
			Help: "Records applied to a partition state since its latest snapshot: what a restore would replay from the log beyond the snapshot.",
		}, []string{"processor", "topic", "partition"}),
		snapEncodeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_snapshot_encode_duration_seconds",
			Help:    "Time to encode one partition state (the poll loop waits for it).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"processor"}),
		snapWriteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_snapshot_write_duration_seconds",
			Help:    "Time to write one snapshot to the store (in the background).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"processor"}),
		snapRestores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_restores_total",
			Help: "Partition states restored from a snapshot on assignment (then brought up to the committed offset from the log).",
		}, []string{"processor"}),
		snapMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_misses_total",
			Help: "Partition states assigned with no snapshot stored: rebuilt from the start of the log.",
		}, []string{"processor"}),
		snapRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_processor_snapshot_rejected_total",
			Help: "Snapshots ignored on assignment, by reason (unavailable, corrupt, format, processor, partition, version, ahead, decode): the state is rebuilt from the start of the log.",
		}, []string{"processor", "reason"}),
		snapLoadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_processor_snapshot_restore_duration_seconds",
			Help:    "Time to load, check and decode one partition's snapshot (the log's tail after it is in assay_processor_rebuild_duration_seconds).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
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
		m.snapWrites = register(reg, m.snapWrites)
		m.snapWriteFailures = register(reg, m.snapWriteFailures)
		m.snapWrittenBytes = register(reg, m.snapWrittenBytes)
		m.snapBytes = register(reg, m.snapBytes)
		m.snapAge = register(reg, m.snapAge)
		m.snapBehind = register(reg, m.snapBehind)
		m.snapEncodeSeconds = register(reg, m.snapEncodeSeconds)
		m.snapWriteSeconds = register(reg, m.snapWriteSeconds)
		m.snapRestores = register(reg, m.snapRestores)
		m.snapMisses = register(reg, m.snapMisses)
		m.snapRejected = register(reg, m.snapRejected)
		m.snapLoadSeconds = register(reg, m.snapLoadSeconds)
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
