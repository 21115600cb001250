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
)

// Collectors implements runtime.Instrumented: the rules in force and, when
// a rules file is watched, the outcome of its reloads. A refused reload is
// otherwise only a log line; this makes it alertable.
func (r *Router) Collectors() []prometheus.Collector {
	return []prometheus.Collector{rulesCollector{r}}
}

// rulesCollector reads the rule set and loader at scrape time, so nothing
// on the Apply path updates metrics.
type rulesCollector struct{ r *Router }

func (rulesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRulesInfo
	ch <- descReloadFailed
	ch <- descReloadFailures
	ch <- descLoaded
}

func (c rulesCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descRulesInfo, prometheus.GaugeValue, 1, c.r.rules.Current().Version)
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
