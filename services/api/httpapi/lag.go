package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// LagMetric is the processors' consumer-lag gauge (streams/runtime).
const LagMetric = "assay_processor_consumer_lag_records"

// PipelineKPI is how far the processors are behind the log: the sum over partitions of
// records between the last one consumed and the high-water mark, per processor.
type PipelineKPI struct {
	// ConsumerLagRecords is the total over every processor; null unless every source
	// answered (a sum over the processors that did would understate the lag).
	ConsumerLagRecords *int64 `json:"consumer_lag_records"`
	// Processors is the lag of each processor whose source answered.
	Processors map[string]int64 `json:"processors"`
	// Sources are the /metrics URLs read; Unanswered lists the ones that did not answer.
	Sources    []string `json:"sources"`
	Unanswered []string `json:"unanswered,omitempty"`
}

// LagReader reads consumer lag from the processors' /metrics. The processor already
// measures its lag against the high-water marks it fetches, so the API needs no Kafka
// client of its own.
type LagReader struct {
	urls   []string
	client *http.Client
}

// NewLagReader returns a reader of the given /metrics URLs.
func NewLagReader(urls []string) *LagReader {
	return &LagReader{urls: urls, client: &http.Client{Timeout: 2 * time.Second}}
}

// Read scrapes every URL. A source that does not answer is listed in Unanswered, leaves
// the total null and is in the error (with the detail, for the log); the figure is
// returned in every case, for /v1/kpis, which reports the ClickHouse figures beside it.
func (l *LagReader) Read(ctx context.Context) (*PipelineKPI, error) {
	out := &PipelineKPI{Processors: map[string]int64{}, Sources: l.urls}
	var errs []error
	var total int64
	for _, u := range l.urls {
		byProc, err := l.scrape(ctx, u)
		if err != nil {
			out.Unanswered = append(out.Unanswered, u)
			errs = append(errs, err)
			continue
		}
		for p, n := range byProc {
			out.Processors[p] += n
			total += n
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	out.ConsumerLagRecords = &total
	return out, nil
}

func (l *LagReader) scrape(ctx context.Context, url string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("processor metrics %s: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("processor metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("processor metrics %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse processor metrics %s: %w", url, err)
	}
	out := map[string]int64{}
	if fam, ok := fams[LagMetric]; ok {
		for _, m := range fam.GetMetric() {
			proc := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "processor" {
					proc = lp.GetValue()
				}
			}
			out[proc] += int64(m.GetGauge().GetValue())
		}
	}
	return out, nil
}
