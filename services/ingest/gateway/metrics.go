package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series (assay_ingest_*). Label values come from fixed
// sets (status codes, event types of the contract, Code* constants), never from client text.
type metrics struct {
	requests        *prometheus.CounterVec
	accepted        *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	duplicates      *prometheus.CounterVec
	dlq             *prometheus.CounterVec
	produceDuration *prometheus.HistogramVec
	inFlightBytes   prometheus.Gauge
	inFlightRefused *prometheus.CounterVec
	requestBytes    prometheus.Histogram

	rejectedRequests *prometheus.CounterVec
	unauthDLQSkipped *prometheus.CounterVec
	clients          prometheus.Gauge
	clientEvictions  prometheus.Counter
	dedupIDs         prometheus.Gauge
	forbidden        *prometheus.CounterVec
	trainingRuns     *prometheus.CounterVec
	valuesChecked    *prometheus.CounterVec
}

// Reasons of assay_ingest_rejected_requests_total: requests answered before their body was
// examined.
const (
	reasonNoCredentials     = "no_credentials"      // 401: no bearer token
	reasonUnknownToken      = "unknown_token"       // 401: a token that is not configured
	reasonRateLimitedClient = "rate_limited_client" // 429: an address over -client-rate
	reasonRateLimitedToken  = "rate_limited_token"  // 429: a producer over -token-rate
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_requests_total",
			Help: "POST /v1/events requests answered, by HTTP status code.",
		}, []string{"code"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_events_accepted_total",
			Help: "Events acknowledged by Kafka, by event type.",
		}, []string{"event_type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_events_rejected_total",
			Help: "Events (or whole bodies, for request-level reasons) rejected and dead-lettered, by event type and reason code.",
		}, []string{"event_type", "reason"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_events_duplicate_total",
			Help: "Events answered from the recent-ids window instead of being written again, by event type.",
		}, []string{"event_type"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_dlq_records_total",
			Help: "EventRejected records written to the DLQ topic, by outcome (ok, error).",
		}, []string{"outcome"}),
		produceDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_ingest_produce_duration_seconds",
			Help:    "Time from handing a request's records to the producer to the last acknowledgement, by outcome (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1 ms .. 16 s
		}, []string{"outcome"}),
		inFlightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_inflight_bytes",
			Help: "Bytes charged to the in-flight budget by the requests being processed: their bodies as read (decoded) and what is made of them.",
		}),
		inFlightRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_inflight_refused_total",
			Help: "Requests answered 503 because no in-flight room was found within -inflight-wait, by what was full: share (the producer's share, -max-inflight-share) or budget (-max-inflight-bytes).",
		}, []string{"limit"}),
		requestBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "assay_ingest_request_body_bytes",
			Help:    "Size of accepted-for-processing request bodies.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10), // 256 B .. 64 MiB
		}),
		rejectedRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_rejected_requests_total",
			Help: "Requests rejected before their body was examined, by reason (no_credentials, unknown_token, rate_limited_client, rate_limited_token).",
		}, []string{"reason"}),
		unauthDLQSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_unauthenticated_dlq_skipped_total",
			Help: "Requests without a valid token that left no DLQ record because a cap of the interval was reached, by cap (client, total).",
		}, []string{"cap"}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_clients",
			Help: "Remote addresses remembered for the limits of requests without a valid token.",
		}),
		clientEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_ingest_client_evictions_total",
			Help: "Remote addresses forgotten before their limits had refilled, because the table was full (-max-clients).",
		}),
		dedupIDs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_ingest_dedup_ids",
			Help: "Event ids remembered in the producers' duplicate windows, all producers together.",
		}),
		forbidden: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_events_forbidden_total",
			Help: "Events refused because their principal may not write them (403), by the access rule broken (role.event_type, scope.project, labeler.own_vendor, ...).",
		}, []string{"rule"}),
		trainingRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_training_runs_gated_total",
			Help: "TrainingRunRegistered events checked against the gate, by decision: certified (every version), overridden (every version certified or overridden by an owner, at least one overridden), not_certified (refused with 409).",
		}, []string{"decision"}),
		valuesChecked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_ingest_label_values_checked_total",
			Help: "Values of labels, gold labels and pre-labels checked against their question's definitions, by outcome: admitted, not_admitted (refused, 422), undefined (a spans, boxes or preference value of a question not defined: refused, 422), no_definition (not defined, at a level that needs none), unchecked (not found while the view of questions is past its cap).",
		}, []string{"outcome"}),
	}
	m.inFlightRefused.WithLabelValues("share")
	m.inFlightRefused.WithLabelValues("budget")
	for _, d := range []string{gateCertified, gateOverridden, gateNotCertified} {
		m.trainingRuns.WithLabelValues(d)
	}
	for _, o := range []string{valueAdmitted, valueNotAdmitted, valueUndefined, valueNoDefinition, valueUnchecked} {
		m.valuesChecked.WithLabelValues(o)
	}
	for _, r := range []string{reasonNoCredentials, reasonUnknownToken, reasonRateLimitedClient, reasonRateLimitedToken} {
		m.rejectedRequests.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.accepted, m.rejected, m.duplicates, m.dlq, m.produceDuration, m.inFlightBytes, m.inFlightRefused, m.requestBytes,
		m.rejectedRequests, m.unauthDLQSkipped, m.clients, m.clientEvictions, m.dedupIDs, m.forbidden, m.trainingRuns, m.valuesChecked)
	return m
}
