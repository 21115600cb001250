package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/assay-data/assay/loadtest/demo"
	"github.com/assay-data/assay/ops/config"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/ingest/client"
)

func init() {
	register("demo", command{
		summary: "play a realistic annotation program through the ingest gateway (what make run shows on the dashboard)",
		run:     runDemo,
	})
}

// runDemo plays demo programs (loadtest/demo: three cohorts of different quality, gold items,
// model pre-labels for the router, reviews, dataset versions, a training run, an eval finding
// remediated and one left open)
// through the gateway at -rate events per second, one program after another until -duration
// has passed (0: one program). After each program it prints the project's KPIs as the API
// reports them, so a terminal shows what the dashboard shows.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	ingestURL := fs.String("url", "http://127.0.0.1:18090", "gateway base URL")
	apiURL := fs.String("api-url", "http://127.0.0.1:18080", "API base URL for the KPI summary, empty = no summary")
	rate := fs.Int("rate", 400, "events per second")
	seed := fs.Uint64("seed", 1, "seed of the first program; program i uses seed+i, so a run is reproducible")
	duration := fs.Duration("duration", 0, "keep playing new programs until this much time has passed (0: play one program)")
	items := fs.Int("items", 600, "items per program (each gets three labels, gold for 30%, reviews for half)")
	project := fs.String("project", "demo", "project id of the programs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay demo [flags]\n\nThe bearer token is read from ASSAY_INGEST_TOKEN (never a flag: flags show in ps).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "demo", args, config.Aliases{"url": {"ASSAY_INGEST_URL"}}); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *rate <= 0 || *items <= 0 {
		return fmt.Errorf("%w: -rate and -items must be positive", errUsage)
	}
	token := os.Getenv("ASSAY_INGEST_TOKEN")
	if token == "" {
		return fmt.Errorf("%w: set ASSAY_INGEST_TOKEN to the collector's bearer token", errUsage)
	}
	cl := client.New(*ingestURL, token, client.WithGzip(64<<10))
	end := time.Now().Add(*duration)
	for i := 0; ; i++ {
		s := *seed + uint64(i)
		p := demo.Build(fmt.Sprintf("demo%d", s), *project, s, *items)
		// The program ends now: its modeled intervals (label delays, review and
		// remediation times) stay as generated, and open findings have a real age.
		demo.Shift(p.Events, time.Now())
		start := time.Now()
		fmt.Fprintf(stdout, "demo: program %d (seed %d): %d events at %d/s into project %q\n", i+1, s, len(p.Events), *rate, *project)
		if err := play(ctx, cl, p.Events, *rate); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		fmt.Fprintf(stdout, "demo: program %d sent in %s\n", i+1, time.Since(start).Round(100*time.Millisecond))
		if *apiURL != "" {
			summarize(ctx, stdout, *apiURL, *project)
		}
		if *duration <= 0 || time.Now().After(end) || ctx.Err() != nil {
			return nil
		}
	}
}

// play sends evs in small batches, one every 200 ms, so the gateway sees a steady rate and the
// dashboard moves smoothly instead of in one jump.
func play(ctx context.Context, cl *client.Client, evs []schemas.Event, rate int) error {
	const tick = 200 * time.Millisecond
	per := max(1, rate*int(tick/time.Millisecond)/1000)
	t := time.NewTicker(tick)
	defer t.Stop()
	for len(evs) > 0 {
		n := min(per, len(evs))
		if _, err := cl.Send(ctx, evs[:n]...); err != nil {
			return fmt.Errorf("send demo events: %w", err)
		}
		evs = evs[n:]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// summarize prints the project's KPIs from the API, after giving the processors a moment to
// catch up with the last batch.
func summarize(ctx context.Context, w io.Writer, apiURL, project string) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(3 * time.Second):
	}
	s, err := fetchSummary(ctx, apiURL, project)
	if err != nil {
		fmt.Fprintf(w, "demo: no KPI summary: %v\n", err)
		return
	}
	fmt.Fprint(w, formatSummary(s))
}

func fetchSummary(ctx context.Context, apiURL, project string) (*httpapi.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimRight(apiURL, "/") + "/v1/kpis?" + url.Values{"project": {project}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kpi request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", u, resp.Status)
	}
	var s httpapi.Summary
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("decode kpis: %w", err)
	}
	return &s, nil
}

// formatSummary renders the KPIs a person checks first, one line each.
func formatSummary(s *httpapi.Summary) string {
	var b strings.Builder
	f := func(n httpapi.Num, format string) string {
		if n == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *n)
	}
	pct := func(n httpapi.Num) string {
		if n == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f%%", *n*100)
	}
	dur := func(n httpapi.Num) string {
		if n == nil {
			return "n/a"
		}
		return (time.Duration(*n) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(&b, "KPIs of project %q:\n", s.Filter.Project)
	if a := s.Agreement; a != nil {
		var cohorts []string
		for _, c := range a.Cohorts {
			cohorts = append(cohorts, c.Cohort+" "+f(c.Alpha, "%.3f"))
		}
		fmt.Fprintf(&b, "  agreement    alpha %s over %d pairable values (cohorts: %s)\n", f(a.Alpha, "%.3f"), a.PairableValues, strings.Join(cohorts, ", "))
	}
	if a := s.Accuracy; a != nil {
		fmt.Fprintf(&b, "  accuracy     %s (%d of %d labels on gold items)\n", pct(a.Accuracy), a.CorrectLabels, a.ScoredLabels)
	}
	if c := s.Coverage; c != nil {
		fmt.Fprintf(&b, "  coverage     %d/%d target slices met, %d/%d edge-case tags covered\n", c.SlicesMet, c.Slices, c.EdgeCasesMet, c.EdgeCases)
	}
	if c := s.Cycle; c != nil {
		fmt.Fprintf(&b, "  cycle time   ingest to accepted p50 %s, p90 %s over %d items\n", dur(c.ToAcceptedP50S), dur(c.ToAcceptedP90S), c.Items)
	}
	if r := s.Remediation; r != nil {
		fmt.Fprintf(&b, "  remediation  p50 %s; %d of %d findings shipped, %d open\n", dur(r.P50S), r.Shipped, r.Findings, r.Open)
	}
	if r := s.Routing; r != nil && r.Decisions > 0 {
		fmt.Fprintf(&b, "  routing      automation %s (%d of %d pre-labels auto-accepted), override %s of %d audits, pre-label precision %s\n",
			pct(r.AutomationRate), r.AutoAccepted, r.Decisions, pct(r.OverrideRate), r.AuditsLabeled, pct(r.PrelabelPrecision))
	}
	if p := s.Pipeline; p != nil && p.ConsumerLagRecords != nil {
		fmt.Fprintf(&b, "  pipeline     consumer lag %d records\n", *p.ConsumerLagRecords)
	}
	return b.String()
}
