package router

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/streams/runtime"
)

var _ runtime.Instrumented = (*Router)(nil)

var (
	descRulesInfo = prometheus.NewDesc("assay_router_rules_info",
		"The routing rules version in force (value 1, the version as a label).", []string{"version"}, nil)
	descReloadFailed = prometheus.NewDesc("assay_router_rules_reload_failed",
		"1 when the last reload of the rules file was refused (the older rules stay in force), else 0: alert on it.", nil, nil)
	descReloadFailures = prometheus.NewDesc("assay_router_rules_reload_failures_total",
		"Reloads of the rules file refused since the process started.", nil, nil)
	descLoaded = prometheus.NewDesc("assay_router_rules_loaded_timestamp_seconds",
		"When the rules in force were loaded (Unix seconds).", nil, nil)
	descPendingExpired = prometheus.NewDesc("assay_router_pending_prelabels_expired_total",
		"Pre-labels dropped undecided because their item was not ingested within the pending TTL (event time), rebuilds included.", nil, nil)
	descPendingEvicted = prometheus.NewDesc("assay_router_pending_prelabels_evicted_total",
		"Pre-labels dropped undecided, oldest first, because a partition already held the maximum of pre-labels waiting for their item, rebuilds included: alert on its rate.", nil, nil)
	descRegionsEvicted = prometheus.NewDesc("assay_router_region_questions_evicted_total",
		"Item/questions whose first spans or boxes labels were dropped unjudged by the region agreement rule, oldest first, because a labels partition held the maximum of regions, rebuilds included: alert on its rate.", nil, nil)
)

// Collectors implements runtime.Instrumented: the rules in force, the
// pending pre-labels dropped undecided, the region questions dropped
// unjudged and, when a rules file is watched,
// the outcome of its reloads. A refused reload is otherwise only a log
// line; this makes it alertable.
func (r *Router) Collectors() []prometheus.Collector {
	return []prometheus.Collector{rulesCollector{r}}
}

// rulesCollector reads the rule set, the loader and the router's counters
// at scrape time, so the Apply path only adds to two atomic counters.
type rulesCollector struct{ r *Router }

func (rulesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRulesInfo
	ch <- descReloadFailed
	ch <- descReloadFailures
	ch <- descLoaded
	ch <- descPendingExpired
	ch <- descPendingEvicted
	ch <- descRegionsEvicted
}

func (c rulesCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descRulesInfo, prometheus.GaugeValue, 1, c.r.rules.Current().Version)
	ch <- prometheus.MustNewConstMetric(descPendingExpired, prometheus.CounterValue, float64(c.r.m.expired.Load()))
	ch <- prometheus.MustNewConstMetric(descPendingEvicted, prometheus.CounterValue, float64(c.r.m.evicted.Load()))
	ch <- prometheus.MustNewConstMetric(descRegionsEvicted, prometheus.CounterValue, float64(c.r.m.regionsEvicted.Load()))
	l := c.r.loader
	if l == nil {
		return
	}
	failed, failures, loaded := l.status()
	v := 0.0
	if failed {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(descReloadFailed, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(descReloadFailures, prometheus.CounterValue, float64(failures))
	ch <- prometheus.MustNewConstMetric(descLoaded, prometheus.GaugeValue, float64(loaded.UnixNano())/float64(time.Second))
}
