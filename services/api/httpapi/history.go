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
		p.Lineage = l.Completeness
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
}

func newHistory(maxSamples, maxViews int, idle time.Duration) *history {
	h := &history{max: maxSamples, idle: idle, maxViews: maxViews, views: map[string]*view{}}
	h.views[Filter{WindowText: "all"}.Key()] = &view{filter: Filter{WindowText: "all"}}
	return h
}

// want marks f as wanted and returns its samples after sinceMS. A new filter beyond
// maxViews evicts the view wanted least recently (never the unfiltered one).
func (h *history) want(f Filter, sinceMS int64, now time.Time) []Sample {
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
	out := []Sample{}
	for _, s := range v.samples {
		if s.AtMillis > sinceMS {
			out = append(out, s)
		}
	}
	return out
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

func (h *history) add(f Filter, s Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[f.Key()]
	if !ok {
		return
	}
	v.samples = append(v.samples, s)
	if len(v.samples) > h.max {
		v.samples = append(v.samples[:0], v.samples[len(v.samples)-h.max:]...)
	}
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

// SampleOnce takes one sample of every due view.
func (s *Server) SampleOnce(ctx context.Context) {
	for _, f := range s.hist.due(time.Now()) {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		sum := s.reader.Summary(qctx, f)
		cancel()
		if ctx.Err() != nil {
			return
		}
		for section, msg := range sum.Errors {
			s.cfg.Log.Debug("kpi section unavailable", "section", section, "err", msg)
		}
		if f.Key() == (Filter{WindowText: "all"}).Key() {
			s.m.publish(sum)
		}
		s.hist.add(f, SampleOf(sum))
	}
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
