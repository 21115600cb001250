package httpapi

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// Sample is one point of the KPI history: the headline figures of a Summary.
type Sample struct {
	AtMillis         int64  `json:"at_ms"`
	Agreement        Num    `json:"agreement"`
	PercentAgreement Num    `json:"percent_agreement"`
	Accuracy         Num    `json:"accuracy"`
	SliceCoverage    Num    `json:"slice_coverage"`
	EdgeCaseCoverage Num    `json:"edge_case_coverage"`
	CycleP50S        Num    `json:"cycle_to_accepted_p50_s"`
	CycleP90S        Num    `json:"cycle_to_accepted_p90_s"`
	RemediationP50S  Num    `json:"remediation_p50_s"`
	OpenFindings     *int64 `json:"open_findings"`
	Lineage          Num    `json:"lineage_completeness"`
	Automation       Num    `json:"automation_rate"`
	OverrideRate     Num    `json:"override_rate"`
	ConsumerLag      *int64 `json:"consumer_lag_records"`
	Labels           *int64 `json:"labels"`
}

// SampleOf extracts the charted figures of s.
func SampleOf(s *Summary) Sample {
	p := Sample{AtMillis: s.AsOfMillis}
	if a := s.Agreement; a != nil {
		p.Agreement, p.PercentAgreement = a.Alpha, a.PercentAgreement
	}
	if a := s.Accuracy; a != nil {
		p.Accuracy = a.Accuracy
	}
	if c := s.Coverage; c != nil {
		p.SliceCoverage, p.EdgeCaseCoverage = c.SliceCoverage, c.EdgeCaseCoverage
	}
	if c := s.Cycle; c != nil {
		p.CycleP50S, p.CycleP90S = c.ToAcceptedP50S, c.ToAcceptedP90S
	}
	if r := s.Remediation; r != nil {
		p.RemediationP50S = r.P50S
		open := r.Open
		p.OpenFindings = &open
	}
	if l := s.Lineage; l != nil {
		p.Lineage = l.VersionShare
	}
	if rt := s.Routing; rt != nil {
		p.Automation, p.OverrideRate = rt.AutomationRate, rt.OverrideRate
	}
	if pl := s.Pipeline; pl != nil {
		p.ConsumerLag = pl.ConsumerLagRecords
	}
	if v := s.Volume; v != nil {
		n := v.Labels
		p.Labels = &n
	}
	return p
}

// history keeps the samples of every filter a client asked for recently (and always the
// unfiltered view), each in a bounded ring.
type history struct {
	mu       sync.Mutex
	max      int
	idle     time.Duration
	maxViews int
	views    map[string]*view
}

type view struct {
	filter   Filter
	samples  []Sample
	lastWant time.Time
	// err is the failure of the latest sample, nil once one succeeds again: while it is
	// set the view's history stops at the outage, and /v1/history says so with a 5xx.
	err error
}

func newHistory(maxSamples, maxViews int, idle time.Duration) *history {
	h := &history{max: maxSamples, idle: idle, maxViews: maxViews, views: map[string]*view{}}
	h.views[Filter{WindowText: "all"}.Key()] = &view{filter: Filter{WindowText: "all"}}
	return h
}

// want marks f as wanted and returns its samples after sinceMS, or the failure of its latest
// sample. A new filter beyond maxViews evicts the view wanted least recently (never the
// unfiltered one).
func (h *history) want(f Filter, sinceMS int64, now time.Time) ([]Sample, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := f.Key()
	v, ok := h.views[k]
	if !ok {
		if len(h.views) >= h.maxViews {
			var oldest string
			for key, cand := range h.views {
				if key == (Filter{WindowText: "all"}).Key() {
					continue
				}
				if oldest == "" || cand.lastWant.Before(h.views[oldest].lastWant) {
					oldest = key
				}
			}
			delete(h.views, oldest)
		}
		v = &view{filter: f}
		h.views[k] = v
	}
	v.lastWant = now
	if v.err != nil {
		return nil, v.err
	}
	out := []Sample{}
	for _, s := range v.samples {
		if s.AtMillis > sinceMS {
			out = append(out, s)
		}
	}
	return out, nil
}

// due lists the filters to sample now: the unfiltered view and those wanted within idle.
func (h *history) due(now time.Time) []Filter {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Filter
	for k, v := range h.views {
		if k == (Filter{WindowText: "all"}).Key() || now.Sub(v.lastWant) < h.idle {
			out = append(out, v.filter)
		}
	}
	return out
}

// add appends a sample to f's view; it returns whether the view was failing until now.
func (h *history) add(f Filter, s Sample) (recovered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[f.Key()]
	if !ok {
		return false
	}
	recovered, v.err = v.err != nil, nil
	v.samples = append(v.samples, s)
	if len(v.samples) > h.max {
		v.samples = append(v.samples[:0], v.samples[len(v.samples)-h.max:]...)
	}
	return recovered
}

// fail records that f's latest sample could not be taken; it returns whether the view
// was healthy until now. No sample is added: a gap in the charts, never a made-up point.
func (h *history) fail(f Filter, err error) (started bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[f.Key()]
	if !ok {
		return false
	}
	started, v.err = v.err == nil, err
	return started
}

// RunSampler samples the history every SampleInterval until ctx ends.
func (s *Server) RunSampler(ctx context.Context) {
	t := time.NewTicker(s.cfg.SampleInterval)
	defer t.Stop()
	for {
		s.SampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SampleOnce takes one sample of every due view. A view whose summary cannot be read gets
// no sample (and the KPI gauges keep their values: a failed read is not a change in
// quality); the failure is logged when it starts and when it ends, counted in
// assay_api_kpi_section_errors_total every time.
func (s *Server) SampleOnce(ctx context.Context) {
	for _, f := range s.hist.due(time.Now()) {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		sum, err := s.reader.Summary(qctx, f)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.m.sectionFailed(err)
			if s.hist.fail(f, err) {
				s.cfg.Log.Warn("kpi history sampling failed; /v1/history answers 5xx for this view until a sample succeeds", "view", f.Key(), "err", err)
			} else {
				s.cfg.Log.Debug("kpi history sampling still failing", "view", f.Key(), "err", err)
			}
			continue
		}
		if f.Key() == (Filter{WindowText: "all"}).Key() {
			s.m.publish(sum)
		}
		if s.hist.add(f, SampleOf(sum)) {
			s.cfg.Log.Info("kpi history sampling recovered", "view", f.Key())
		}
	}
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
