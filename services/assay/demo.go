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
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/services/ingest/client"
	"github.com/assay-data/assay/streams/infra/config"
)

func init() {
	register("demo", command{
		summary: "play a realistic annotation program through the ingest gateway (what make run shows on the dashboard)",
		run:     runDemo,
	})
}

// runDemo plays demo programs (services/demo: three cohorts of different quality, gold items,
// model pre-labels for the router, reviews, dataset versions, a training run, an eval finding
// remediated and one left open) through the gateway at -rate events per second, one program
// after another until -duration has passed (0: one program). Beside each, interleaved with it
// (demo.Merge), it plays the structured programs (demo.BuildStructured: named-entity spans,
// detection boxes with a detector's pre-labels, preference pairs), each in a project of its
// own, <project>-ner, -detection and -preference, with a sixth of -items each. Each event is
// sent by the principal that may write it (services/demo.Principals, scoped to those four
// projects: collector, model, a labeler per vendor, qa, owner), with that principal's token
// from -tokens. After each program it prints the project's KPIs as the API reports them
// (asked with the demo analyst's token), so a terminal shows what the dashboard shows.
//
// -setup DIR creates the demo's principals instead: their lines are added to DIR/principals
// (the gateway's -principals-file) and their fresh tokens written to DIR/demo-tokens (mode
// 0600, "<principal_id> <token>" lines, for -tokens); then it exits.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	ingestURL := fs.String("url", "http://127.0.0.1:18090", "gateway base URL")
	apiURL := fs.String("api-url", "http://127.0.0.1:18080", "API base URL for the KPI summary, empty = no summary")
	rate := fs.Int("rate", 400, "events per second")
	seed := fs.Uint64("seed", 1, "seed of the first program; program i uses seed+i, so a run is reproducible")
	duration := fs.Duration("duration", 0, "keep playing new programs until this much time has passed (0: play one program)")
	items := fs.Int("items", 600, "items per program (each gets three labels, gold for 30%, reviews for half); the structured programs beside it get a sixth of it each")
	project := fs.String("project", "demo", "project id of the programs; the structured programs play in <project>-ner, -detection and -preference (the principals are scoped to all four)")
	tokens := fs.String("tokens", "", "file of the demo principals' tokens ('<principal_id> <token>' lines), as -setup writes it")
	setup := fs.String("setup", "", "create the demo's principals for -project in this directory (principals, demo-tokens) and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay demo -setup DIR [-project P]      create the demo's principals and tokens\n       assay demo -tokens DIR/demo-tokens [flags]  play programs through the gateway")
		fs.PrintDefaults()
	}
	if err := parseNoArgs(fs, "demo", args, config.Aliases{"url": {"ASSAY_INGEST_URL"}}); err != nil {
		return err
	}
	if *setup != "" {
		return demoSetup(*setup, *project, stdout)
	}
	if *rate <= 0 || *items <= 0 {
		return fmt.Errorf("%w: -rate and -items must be positive", errUsage)
	}
	if *tokens == "" {
		return fmt.Errorf("%w: set -tokens to the demo principals' tokens file (create it, and the gateway's principals, with assay demo -setup DIR)", errUsage)
	}
	cast, err := loadCast(*tokens, *project, *ingestURL)
	if err != nil {
		return err
	}
	end := time.Now().Add(*duration)
	for i := 0; ; i++ {
		s := *seed + uint64(i)
		run := fmt.Sprintf("demo%d", s)
		p := demo.Build(run, *project, s, *items)
		// The programs end now: their modeled intervals (label delays, review and
		// remediation times) stay as generated, and open findings have a real age.
		now := time.Now()
		demo.Shift(p.Events, now)
		round := [][]schemas.Event{p.Events}
		var beside []string
		for _, sp := range demo.BuildStructured(run, *project, s, *items) {
			demo.Shift(sp.Events, now)
			round = append(round, sp.Events)
			beside = append(beside, fmt.Sprintf("%d into %q", len(sp.Events), sp.Project))
		}
		start := time.Now()
		fmt.Fprintf(stdout, "demo: program %d (seed %d): %d events at %d/s into project %q; beside it %s\n", i+1, s, len(p.Events), *rate, *project, strings.Join(beside, ", "))
		if err := play(ctx, cast, demo.Merge(round...), *rate, stderr); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		fmt.Fprintf(stdout, "demo: program %d sent in %s\n", i+1, time.Since(start).Round(100*time.Millisecond))
		if *apiURL != "" {
			summarize(ctx, stdout, *apiURL, *project, cast.readerToken)
		}
		if *duration <= 0 || time.Now().After(end) || ctx.Err() != nil {
			return nil
		}
	}
}

// The files -setup writes in its directory: the principals (hashes, for the gateway) and the
// demo's tokens (secrets, for -tokens).
const (
	setupPrincipals = "principals"
	setupTokens     = "demo-tokens"
)

// demoSetup creates the demo's principals: fresh tokens, their lines added to
// dir/principals (created if missing), the tokens to dir/demo-tokens (which must not exist:
// tokens are never overwritten, a lost one is revoked and made anew).
func demoSetup(dir, project string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo setup: %w", err)
	}
	tokPath := filepath.Join(dir, setupTokens)
	f, err := os.OpenFile(tokPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("demo setup: %w (already set up? delete it and the demo lines of %s to start over)", err, filepath.Join(dir, setupPrincipals))
	}
	var toks, lines strings.Builder
	toks.WriteString("# The demo principals' bearer tokens (assay demo -tokens); secrets: keep this file private.\n")
	for _, p := range demo.Principals(demo.Projects(project)...) {
		tok, err := access.NewToken()
		if err != nil {
			f.Close()
			return err
		}
		fmt.Fprintf(&toks, "%s %s\n", p.ID, tok)
		lines.WriteString(p.Line(access.HashToken(tok)) + "\n")
	}
	if _, err := f.WriteString(toks.String()); err != nil {
		f.Close()
		return fmt.Errorf("demo setup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo setup: %w", err)
	}
	principals := filepath.Join(dir, setupPrincipals)
	if err := addLines(principals, "# assay demo -setup, projects "+strings.Join(demo.Projects(project), " ")+"\n"+lines.String()); err != nil {
		os.Remove(tokPath)
		return err
	}
	fmt.Fprintf(stdout, "demo principals of projects %s added to %s (the gateway's -principals-file); their tokens are in %s (assay demo -tokens)\n",
		strings.Join(demo.Projects(project), ", "), principals, tokPath)
	return nil
}

// cast is the demo's principals with their clients: the writers pick which one sends each
// event, and the analyst's token reads the KPI summary.
type cast struct {
	writers     *access.Writers
	clients     map[string]*client.Client
	readerToken string
}

// loadCast reads the tokens file and pairs its tokens with the demo's principals of project.
func loadCast(path, project, ingestURL string) (*cast, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("demo tokens: %w", err)
	}
	tokens := map[string]string{}
	for n, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("demo tokens %s line %d: want '<principal_id> <token>'", path, n+1)
		}
		tokens[f[0]] = f[1]
	}
	c := &cast{clients: map[string]*client.Client{}}
	var lines strings.Builder
	for _, p := range demo.Principals(demo.Projects(project)...) {
		tok, ok := tokens[p.ID]
		if !ok {
			return nil, fmt.Errorf("demo tokens %s: no token of %s (made by assay demo -setup)", path, p.ID)
		}
		lines.WriteString(p.Line(access.HashToken(tok)) + "\n")
		switch {
		case p.Role.Writes():
			c.clients[p.ID] = client.New(ingestURL, tok, client.WithGzip(64<<10))
		case p.Role == access.RoleAnalyst:
			c.readerToken = tok
		}
	}
	reg, err := access.Parse(path, lines.String())
	if err != nil {
		return nil, err
	}
	c.writers = access.NewWriters(reg)
	return c, nil
}

// play sends evs in small batches, one every 200 ms, so the gateway sees a steady rate and the
// dashboard moves smoothly instead of in one jump. Each batch is split by the principal that
// sends each event, in the order the principals first appear in it (an item's ingest before
// its labels), each principal's events in their order.
//
// A training run is held back from its batch and sent on its own (heldRuns) until the gate
// clears its dataset version: the gateway answers 409 to a run on a version the gate has not
// certified, and the demo's pilot run on v1 is cleared only by the owner's override, which
// counts once the gate has judged v1 (seconds after the commit).
func play(ctx context.Context, c *cast, evs []schemas.Event, rate int, stderr io.Writer) error {
	runs := heldRuns{stderr: stderr}
	defer runs.wait()
	const tick = 200 * time.Millisecond
	per := max(1, rate*int(tick/time.Millisecond)/1000)
	t := time.NewTicker(tick)
	defer t.Stop()
	for len(evs) > 0 {
		n := min(per, len(evs))
		var order []string
		groups := map[string][]schemas.Event{}
		for _, ev := range evs[:n] {
			p, err := c.writers.Pick(ev)
			if err != nil {
				return fmt.Errorf("demo event %s %s: %w", ev.Type(), ev.Meta().EventID, err)
			}
			if ev.Type() == schemas.TypeTrainingRunRegistered {
				runs.send(ctx, c.clients[p.ID], ev)
				continue
			}
			if _, ok := groups[p.ID]; !ok {
				order = append(order, p.ID)
			}
			groups[p.ID] = append(groups[p.ID], ev)
		}
		for _, id := range order {
			if _, err := c.clients[id].Send(ctx, groups[id]...); err != nil {
				return fmt.Errorf("send demo events as %s: %w", id, err)
			}
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

// heldRuns sends training runs in goroutines of their own, retrying while the gateway answers
// 409 (the gate has not cleared the version yet) or 503 (its view of the gate is catching up),
// for at most runClearWait; wait waits for them all.
type heldRuns struct {
	stderr io.Writer
	wg     sync.WaitGroup
}

// runClearWait bounds how long a held training run is retried: the gate judges a version
// within its tick (10 s) once the ledger has the version.
const runClearWait = 3 * time.Minute

func (h *heldRuns) send(ctx context.Context, cl *client.Client, ev schemas.Event) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		deadline := time.Now().Add(runClearWait)
		wait := 2 * time.Second
		for {
			_, err := cl.Send(ctx, ev)
			var ce *client.Error
			if err == nil || !errors.As(err, &ce) || (ce.Status != http.StatusConflict && ce.Status != http.StatusServiceUnavailable) || time.Now().After(deadline) {
				if err != nil && ctx.Err() == nil {
					fmt.Fprintf(h.stderr, "demo: training run %s not registered: %v\n", ev.Key(), err)
				}
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 20*time.Second)
		}
	}()
}

func (h *heldRuns) wait() { h.wg.Wait() }

// summarize prints the project's KPIs from the API, after giving the processors a moment to
// catch up with the last batch.
func summarize(ctx context.Context, w io.Writer, apiURL, project, token string) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(3 * time.Second):
	}
	s, err := fetchSummary(ctx, apiURL, project, token)
	if err != nil {
		fmt.Fprintf(w, "demo: no KPI summary: %v\n", err)
		return
	}
	fmt.Fprint(w, formatSummary(s))
}

func fetchSummary(ctx context.Context, apiURL, project, token string) (*httpapi.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimRight(apiURL, "/") + "/v1/kpis?" + url.Values{"project": {project}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kpi request: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
