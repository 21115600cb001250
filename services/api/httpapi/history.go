package httpapi

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/assay-data/assay/schemas/access"
)

// Sample is one point of the KPI history: the headline figures of a Summary.
type Sample struct {
	AtMillis  int64 `json:"at_ms"`
	Agreement Num   `json:"agreement"`
	// AgreementLow and AgreementHigh bound Agreement's 95% interval when it has one (one
	// question's alpha).
	AgreementLow     Num    `json:"agreement_low"`
	AgreementHigh    Num    `json:"agreement_high"`
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
		if ci := a.AlphaCI; ci != nil {
			p.AgreementLow, p.AgreementHigh = num(ci.Low), num(ci.High)
		}
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

// history keeps the samples of every view a client asked for recently (and always the
// unfiltered view of every figure), each in a bounded ring. A view is a filter narrowed by a
// read scope (View.key): readers of one scope share it, whoever they are, so the sampling
// costs one summary per distinct (filter, scope) asked for within idle, at most maxViews,
// however many readers poll it; and a reader is only ever served the samples of its own
// scope's view, taken with its scope's filter.
type history struct {
	mu       sync.Mutex
	max      int
	idle     time.Duration
	maxViews int
	views    map[string]*view
}

type view struct {
	filter   Filter
	scope    access.ReadScope
	samples  []Sample
	lastWant time.Time
	// err is the failure of the latest sample, nil once one succeeds again: while it is
	// set the view's history stops at the outage, and /v1/history says so with a 5xx.
	err error
}

// unfiltered is the view always sampled: every figure of every project, unfiltered. Its
// samples set the KPI gauges.
func unfiltered() View { return EveryFigure(Filter{WindowText: "all"}) }

// unfilteredKey is the history key of unfiltered().
var unfilteredKey = unfiltered().key()

func newHistory(maxSamples, maxViews int, idle time.Duration) *history {
	h := &history{max: maxSamples, idle: idle, maxViews: maxViews, views: map[string]*view{}}
	u := unfiltered()
	h.views[unfilteredKey] = &view{filter: u.Filter, scope: u.scope}
	return h
}

// want marks the view wanted and returns its samples after sinceMS, or the failure of its latest
// sample. A new view beyond maxViews evicts the view wanted least recently (never the
// unfiltered one).
func (h *history) want(wanted View, sinceMS int64, now time.Time) ([]Sample, error) {
	k := wanted.key()
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[k]
	if !ok {
		if len(h.views) >= h.maxViews {
			var oldest string
			for key, cand := range h.views {
				if key == unfilteredKey {
					continue
				}
				if oldest == "" || cand.lastWant.Before(h.views[oldest].lastWant) {
					oldest = key
				}
			}
			delete(h.views, oldest)
		}
		v = &view{filter: wanted.Filter, scope: wanted.scope}
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

// dueView is a view to sample: its key, filter and scope.
type dueView struct {
	key    string
	filter Filter
	scope  access.ReadScope
}

// due lists the views to sample now: the unfiltered view and those wanted within idle.
func (h *history) due(now time.Time) []dueView {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []dueView
	for k, v := range h.views {
		if k == unfilteredKey || now.Sub(v.lastWant) < h.idle {
			out = append(out, dueView{key: k, filter: v.filter, scope: v.scope})
		}
	}
	return out
}

// add appends a sample to the view key; it returns whether the view was failing until now.
func (h *history) add(key string, s Sample) (recovered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[key]
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

// fail records that the latest sample of the view key could not be taken; it returns whether
// the view was healthy until now. No sample is added: a gap in the charts, never a made-up
// point.
func (h *history) fail(key string, err error) (started bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[key]
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

// SampleOnce takes one sample of every due view, each narrowed by its own scope again (a
// vendor's view reads its project's parties anew, as a request does), and with the
// unfiltered view's the thresholds in force and the alerts of every project (governance). A view whose summary
// cannot be read gets no sample (and the KPI gauges keep their values: a failed read is not a
// change in quality); the failure is logged when it starts and when it ends, counted in
// assay_api_kpi_section_errors_total every time.
func (s *Server) SampleOnce(ctx context.Context) {
	for _, d := range s.hist.due(time.Now()) {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		v, err := s.reader.View(qctx, d.filter, d.scope)
		var sum *Summary
		if err == nil {
			// The region and preference sections are read for the unfiltered view only, which
			// sets their gauges: once per interval for every viewer; no sample charts them.
			sum, err = s.reader.summary(qctx, v, d.key == unfilteredKey)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if d.key == unfilteredKey {
			// The thresholds and alerts of every project, once per interval for every
			// viewer, from the same sample (nil when it failed: the detection fails too).
			gctx, gcancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
			s.governance(gctx, sum, err)
			gcancel()
			if ctx.Err() != nil {
				return
			}
		}
		if err != nil {
			if _, refused := refusal(err); !refused {
				s.m.sectionFailed(err)
			}
			if s.hist.fail(d.key, err) {
				s.cfg.Log.Warn("kpi history sampling failed; /v1/history answers an error for this view until a sample succeeds", "view", d.key, "err", err)
			} else {
				s.cfg.Log.Debug("kpi history sampling still failing", "view", d.key, "err", err)
			}
			continue
		}
		if d.key == unfilteredKey {
			s.m.publish(sum)
		}
		if s.hist.add(d.key, SampleOf(sum)) {
			s.cfg.Log.Info("kpi history sampling recovered", "view", d.key)
		}
	}
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
