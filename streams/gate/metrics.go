package gate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runner's assay_gate_* series.
type metrics struct {
	verdicts        *prometheus.CounterVec
	pending         prometheus.Gauge
	measureSeconds  prometheus.Histogram
	measureFailures prometheus.Counter
	ready           prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_gate_verdicts_total",
			Help: "Gate verdicts committed to the log by this process, by verdict (certified, rejected); superseding verdicts included.",
		}, []string{"verdict"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_gate_versions_pending",
			Help: "Committed dataset versions without a verdict yet (measured at every tick).",
		}),
		measureSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "assay_gate_measure_seconds",
			Help:    "Time to measure the figures of one dataset version, failures included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}),
		measureFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_gate_measure_failures_total",
			Help: "Measurements of a dataset version that failed (retried at the next tick).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_gate_ready",
			Help: "1 once the gate has rebuilt its state to the end of the log and is deciding, else 0.",
		}),
	}
	// Both verdicts exist from the start, so a rate over them is defined before the first.
	m.verdicts.WithLabelValues("certified")
	m.verdicts.WithLabelValues("rejected")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.verdicts, m.pending, m.measureSeconds, m.measureFailures, m.ready} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register the gate's metrics: %w", err)
			}
		}
	}
	return m, nil
}
