package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/lineage"
	"github.com/assay-data/assay/streams/lineage/auditor"
)

// chromium returns the browser binary: $ASSAY_CHROMIUM or Debian's chromium. Without it the
// test skips, or fails under ASSAY_INTEGRATION=1 (make test installs it with
// ops/browser/chromium.sh).
func chromium(t *testing.T) string {
	t.Helper()
	testenv.SkipShort(t)
	// An explicit ASSAY_CHROMIUM is the only candidate: pointing it at nothing is how the
	// skip and the failure below are checked.
	candidates := []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"}
	if p := os.Getenv("ASSAY_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("headless Chromium not found at %v (install it with ops/browser/chromium.sh, which make test runs, or set ASSAY_CHROMIUM)", candidates)
	if testenv.Required() {
		t.Fatal(msg + "; required because ASSAY_INTEGRATION=1")
	}
	t.Skip(msg + "; skipping the dashboard browser test")
	return ""
}

// artifactDir is where screenshots go: $ASSAY_ARTIFACTS or .data/artifacts in the repository.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ASSAY_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", ".data", "artifacts")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatalf("artifact dir: %v", err)
	}
	return abs
}

// TestDashboardAgreementTileMoves drives the dashboard in headless Chromium against the
// real pipeline: the demo program goes through the gateway, broker and processors into
// ClickHouse; the page shows its agreement; then newly ingested, disagreeing labels must
// move the agreement tile to the exact new alpha; versions broken in every way a lineage
// chain can break must bring the lineage tile to the share of versions assay audit passes.
// Screenshots of both states are kept.
func TestDashboardAgreementTileMoves(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	s := startStack(t)
	const project = "proj-dash"
	// The program without its owner's targets at first: they are sent once the page has
	// shown the project without any.
	p := demo.Build("dash", project, 11, 90)
	demo.Shift(p.Events, time.Now())
	var targets *schemas.QualityTargetsSet
	p.Events = slices.DeleteFunc(p.Events, func(ev schemas.Event) bool {
		tg, ok := ev.(*schemas.QualityTargetsSet)
		if ok {
			targets = tg
		}
		return ok
	})
	if targets == nil || targets.Agreement == nil {
		t.Fatal("the demo program states no agreement target")
	}
	s.send(t, p.Events)
	co := p.Workload.ExactCoincidences("")
	before, err := kpi.Figures(co, string(schemas.LevelNominal))
	if err != nil {
		t.Fatal(err)
	}
	var ag agreementAnswer
	waitFor(t, 2*time.Minute, "the program's agreement in the API", func() (bool, string) {
		get(t, s.api.URL, "/v1/agreement"+q("project", project), &ag)
		return ag.Agreement.PairableValues == co.PairableValues(), fmt.Sprintf("%d/%d pairable values", ag.Agreement.PairableValues, co.PairableValues())
	})

	ctx := startBrowser(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.api.URL+"/"+q("project", project))); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	signIn(t, ctx, testToken(t, testAnalyst))
	// tileWait waits until the text of the tile name satisfies ok, described by want.
	tileWait := func(name, want string, ok func(string) bool, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		var text string
		for {
			tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
			got, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#"+name+"-value")))
			tcancel()
			if err != nil {
				t.Fatalf("read the %s tile: %v", name, err)
			}
			if text = got; ok(text) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s tile reads %q after %s, want %s", name, text, timeout, want)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// tileReads waits until the tile name reads want.
	tileReads := func(name, want string, timeout time.Duration) {
		t.Helper()
		tileWait(name, strconv.Quote(want), func(s string) bool { return s == want }, timeout)
	}
	// tileText waits until the agreement tile reads want.
	tileText := func(want string, timeout time.Duration) {
		t.Helper()
		tileReads("agreement", want, timeout)
	}
	screenshot := func(name string) {
		t.Helper()
		tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
		defer tcancel()
		shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // 100 = PNG
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		writeShot(t, filepath.Join(artifactDir(t), name), shot)
	}
	wantBefore := fmt.Sprintf("%.3f", before.Alpha)
	tileText(wantBefore, time.Minute)
	// The automation tile shows the share of the program's pre-labels the router (default
	// rules) auto-accepted, as the dashboard formats it (JavaScript toFixed(1)).
	wantAuto := wantRouting(t, p).automation()
	tileReads("automation", strconv.FormatFloat(wantAuto*100, 'f', 1, 64)+"%", time.Minute)
	// proj-dash has no quality targets yet: nothing is judged, and the page says so; the gate
	// has judged none of its versions (no gate runs in this stack); nothing is alerted.
	waitPage(t, ctx, "the agreement tile without a target", `document.getElementById("tile-agreement").dataset.level + " | " + document.getElementById("agreement-detail").textContent`,
		func(v string) bool { return strings.HasPrefix(v, " | ") && strings.HasSuffix(v, "no target") })
	waitPage(t, ctx, "the targets note", `document.getElementById("targets-note").textContent`, func(v string) bool { return strings.HasPrefix(v, "no target") })
	waitPage(t, ctx, "the program's versions in the gate panel", `[...document.querySelectorAll("#gate tbody tr")].map(tr => tr.innerText.replace(/\s+/g, " ")).join("\n")`,
		func(v string) bool { return strings.Count(v, "unjudged not judged yet") == 3 })
	waitPage(t, ctx, "no alerts", `document.querySelector("#alerts tbody").innerText.trim()`, func(v string) bool { return v == "no alerts" })
	// proj-dash has no spans, boxes or preference question: no regions or preferences panel.
	waitPage(t, ctx, "no regions or preferences panels", `["panel-regions", "panel-preferences", "panel-bias"].map(id => document.getElementById(id).hidden).join(",")`,
		func(v string) bool { return v == "true,true,true" })
	// The owner's targets: the tile is judged against their min_alpha from then on, on the
	// point estimate, over at least the target's pairable values.
	s.send(t, []schemas.Event{targets})
	judged := func(alpha float64, values int64) string {
		switch a := targets.Agreement; {
		case values < a.MinPairableValues:
			return "warn"
		case alpha >= a.MinAlpha:
			return "good"
		}
		return "bad"
	}
	wantTarget := fmt.Sprintf("target ≥ %.3f", targets.Agreement.MinAlpha)
	tileJudged := func(level string) {
		t.Helper()
		waitPage(t, ctx, "the agreement tile judged "+level+" against "+wantTarget, `document.getElementById("tile-agreement").dataset.level + " | " + document.getElementById("agreement-detail").textContent`,
			func(v string) bool { return strings.HasPrefix(v, level+" | ") && strings.HasSuffix(v, wantTarget) })
	}
	tileJudged(judged(before.Alpha, co.PairableValues()))
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("#chart-agreement path.line")))
	tcancel()
	if err != nil {
		t.Fatalf("agreement chart: %v", err)
	}
	screenshot("dashboard-before.png")

	// New items, each labeled by three annotators who all disagree: alpha must drop to
	// exactly the alpha of the old units plus these.
	var evs []schemas.Event
	classes := []string{"cat", "dog", "bird"}
	for i := range 40 {
		item := fmt.Sprintf("dash-new-item-%d", i)
		evs = append(evs, &schemas.ItemIngested{ItemID: item, Source: "camera-dash", URI: "s3://new/" + item,
			SHA256: strings.Repeat("ab", 32), Modality: "image", DatasetID: p.Dataset, ProjectID: project})
		unit := make([]agreement.Value, 0, len(classes))
		for j, c := range classes {
			evs = append(evs, &schemas.LabelSubmitted{LabelID: fmt.Sprintf("dash-new-label-%d-%d", i, j), ItemID: item, ProjectID: project,
				TaskID: "dash-task", QuestionID: "species", AnnotatorID: fmt.Sprintf("dash-crowd-%d", j), Cohort: "crowd", Vendor: "acme",
				GuidelineVersion: "v1", Value: schemas.Nominal(c), TimeSpentMS: 4000})
			unit = append(unit, agreement.Category(c))
		}
		co.AddUnit(unit)
	}
	after, err := kpi.Figures(co, string(schemas.LevelNominal))
	if err != nil {
		t.Fatal(err)
	}
	wantAfter := fmt.Sprintf("%.3f", after.Alpha)
	if wantAfter == wantBefore {
		t.Fatalf("test data does not move alpha at 3 digits (%s)", wantBefore)
	}
	s.send(t, evs)
	tileText(wantAfter, time.Minute)
	tileJudged(judged(after.Alpha, co.PairableValues()))
	t.Logf("agreement judged against %s: %s before (alpha %.3f), %s after (alpha %.3f)", wantTarget,
		judged(before.Alpha, co.PairableValues()), before.Alpha, judged(after.Alpha, co.PairableValues()), after.Alpha)

	// Lineage: the tile is the share of the project's versions that assay audit passes on
	// the same data, also once versions broken in every way a chain can break join the
	// program's: the tile cannot show 100% while the audit exits 1.
	produceBreaks(t, s, "dashb", project)
	actx, acancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer acancel()
	var g *lineage.Graph
	var sum httpapi.Summary
	waitFor(t, 2*time.Minute, "the API's lineage completeness to equal the audit's replay", func() (bool, string) {
		var err error
		if g, _, err = auditor.Rebuild(actx, s.k, 0); err != nil {
			t.Fatal(err)
		}
		get(t, s.api.URL, "/v1/kpis"+q("project", project), &sum)
		return sum.Lineage != nil && sum.Lineage.Completeness == g.Completeness(project), fmt.Sprintf("API %+v, replay %+v", sum.Lineage, g.Completeness(project))
	})
	datasets := g.DatasetsOf(project)
	versions, passing := 0, 0
	for ref := range g.Versions {
		if !datasets[ref.DatasetID] {
			continue
		}
		versions++
		if _, rep := auditVersion(t, actx, s, g, ref); rep.Pass {
			passing++
		}
	}
	if passing == versions || passing != sum.Lineage.CompleteVersions || versions != sum.Lineage.Versions {
		t.Fatalf("the audit passes %d of %d versions, the API counts %d of %d complete; want the same, and not all", passing, versions, sum.Lineage.CompleteVersions, sum.Lineage.Versions)
	}
	share := 100 * float64(passing) / float64(versions)
	tileWait("lineage", fmt.Sprintf("%.1f%% (%d of %d versions pass the audit)", share, passing, versions), func(text string) bool {
		v, err := strconv.ParseFloat(strings.TrimSuffix(text, "%"), 64)
		return err == nil && math.Abs(v-share) <= 0.05+1e-9 // JavaScript's toFixed(1)
	}, time.Minute)
	tctx, tcancel = context.WithTimeout(ctx, 10*time.Second)
	status, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#status")))
	tcancel()
	if err != nil || !strings.HasPrefix(status, "live") {
		t.Errorf("status line %q (%v), want live", status, err)
	}
	screenshot("dashboard-e2e.png")

	// The filter bar: the crowd cohort's own agreement (all the new labels were the crowd's).
	crowd := p.Workload.ExactCoincidences("crowd")
	for range 40 {
		crowd.AddUnit([]agreement.Value{agreement.Category("cat"), agreement.Category("dog"), agreement.Category("bird")})
	}
	crowdAlpha, err := kpi.Figures(crowd, string(schemas.LevelNominal))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel = context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(tctx, chromedp.SendKeys(chromedp.CSS("#f-cohort"), "crowd"), chromedp.Click(chromedp.CSS("#filters button")))
	tcancel()
	if err != nil {
		t.Fatalf("apply the cohort filter: %v", err)
	}
	tileText(fmt.Sprintf("%.3f", crowdAlpha.Alpha), time.Minute)
	tctx, tcancel = context.WithTimeout(ctx, 10*time.Second)
	loc, err := chromedp.Run(tctx, chromedp.Evaluate[string]("location.search"))
	tcancel()
	if err != nil || !strings.Contains(loc, "cohort=crowd") {
		t.Errorf("the filter is not in the page's address: %q (%v)", loc, err)
	}
	screenshot("dashboard-cohort.png")
	t.Logf("agreement tile moved from %s to %s after 120 new labels", wantBefore, wantAfter)
}

// startBrowser starts headless Chromium for the test and returns its context.
func startBrowser(t *testing.T, browser string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	// The first Run starts the browser and must not carry a timeout (chromedp's rule: the
	// timeout would stop the browser); each later step gets its own.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	return ctx
}

// signIn types token into the dashboard's sign-in form, submits it, and waits for the page
// to show who is signed in.
func signIn(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("#login-token")), chromedp.SendKeys(chromedp.CSS("#login-token"), token),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#app")), chromedp.WaitVisible(chromedp.CSS("#who"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

func writeShot(t *testing.T, path string, png []byte) {
	t.Helper()
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// evalString evaluates a JavaScript expression of the page that yields a string.
func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitPage polls the page's JavaScript expr (a string) until ok holds.
func waitPage(t *testing.T, ctx context.Context, what, expr string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v := evalString(t, ctx, expr)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: the page has %q", what, v)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// vendorDashboard drives the dashboard in headless Chromium over TestReadAccessOverPipeline's
// data: a wrong token and a token of a role that reads nothing leave the sign-in form up with
// the refusal; vendor acme signed in sees its own annotators and the project's shared figures
// (the agreement the analyst reads), and no other party's annotator, label, cohort or vendor
// anywhere in the page's text or DOM; its token is in sessionStorage only; signing out leaves
// nothing of its figures on the page, and neither does its token's revocation while it is
// signed in.
func vendorDashboard(t *testing.T, s *stack, d *accessData, projectAlpha httpapi.Num) {
	browser := chromium(t)
	ctx := startBrowser(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.api.URL+"/")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	refused := func(token, want string) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("#login-token")), chromedp.SendKeys(chromedp.CSS("#login-token"), token),
			chromedp.Click(chromedp.CSS("#login-submit"))); err != nil {
			t.Fatalf("submit a token: %v", err)
		}
		msg := waitPage(t, ctx, "the refusal on the sign-in form", `document.getElementById("login-error").textContent`, func(s string) bool { return strings.Contains(s, want) })
		state := evalString(t, ctx, `JSON.stringify([document.getElementById("login").hidden, document.getElementById("app").hidden, sessionStorage.length, localStorage.length, document.cookie])`)
		if !strings.Contains(msg, want) || state != `[false,true,0,0,""]` {
			t.Errorf("token %q: sign-in form says %q, page state (login hidden, app hidden, stored tokens, cookie) %s; want the form with %q and nothing stored", token, msg, state, want)
		}
	}
	refused("assay_not-a-token-of-this-api", "unknown bearer token")
	refused(testToken(t, "test-collector"), access.RuleRead)

	signIn(t, ctx, testToken(t, "test-vendor-acme"))
	if who := evalString(t, ctx, `document.getElementById("who").textContent`); !strings.Contains(who, "test-vendor-acme") || !strings.Contains(who, "vendor") {
		t.Errorf("signed in as %q, want test-vendor-acme, vendor", who)
	}
	var mine []string
	for id, party := range d.annotatorParty {
		if party[0] == "acme" {
			mine = append(mine, id)
		}
	}
	slices.Sort(mine)
	want := strings.Join(mine, ",")
	waitPage(t, ctx, "acme's annotators in the table", `[...document.querySelectorAll("#annotators tbody tr td:first-child")].map(td => td.textContent).sort().join(",")`,
		func(s string) bool { return s == want })
	wantAlpha := fmt.Sprintf("%.3f", *projectAlpha)
	waitPage(t, ctx, "the project's agreement", `document.getElementById("agreement-value").textContent`, func(s string) bool { return s == wantAlpha })
	waitPage(t, ctx, "a charted sample", `String(document.querySelectorAll("#chart-agreement path.line").length)`, func(s string) bool { return s == "1" })
	if st := evalString(t, ctx, `JSON.stringify([sessionStorage.length, localStorage.length, document.cookie, location.search])`); st != `[1,0,"","?project=`+rbacProject+`"]` {
		t.Errorf("storage (session, local, cookie, address) %s: want the token in sessionStorage only, and the project of the scope chosen", st)
	}

	// Nothing of another party anywhere: the rendered text and the whole DOM.
	var foreign []string
	for id, party := range d.annotatorParty {
		if party[0] != "acme" {
			foreign = append(foreign, id)
		}
	}
	for id, party := range d.labelParty {
		if party[0] != "acme" {
			foreign = append(foreign, id)
		}
	}
	foreign = append(foreign, d.otherAnnotators...)
	foreign = append(foreign, "experts", "inhouse", "globex-crowd", "globex")
	text := evalString(t, ctx, `document.body.innerText`)
	dom := evalString(t, ctx, `document.documentElement.outerHTML`)
	for _, f := range foreign {
		re := regexp.MustCompile(`(^|[^A-Za-z0-9_.-])` + regexp.QuoteMeta(f) + `($|[^A-Za-z0-9_.-])`)
		if re.MatchString(text) || re.MatchString(dom) {
			t.Errorf("the vendor's page shows %q", f)
		}
	}
	for _, id := range mine {
		if !strings.Contains(text, id) {
			t.Errorf("the vendor's page does not show its annotator %s", id)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeShot(t, filepath.Join(artifactDir(t), "dashboard-vendor.png"), shot)
	t.Logf("vendor acme's dashboard: annotators %s beside the project's agreement %s; %d strings of other parties absent from %d bytes of DOM", want, wantAlpha, len(foreign), len(dom))

	// Signing out forgets the token and clears the figures.
	tctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-token")))
	cancel()
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	dom = evalString(t, ctx, `document.documentElement.outerHTML`)
	if st := evalString(t, ctx, `JSON.stringify([sessionStorage.length, document.getElementById("app").hidden])`); st != "[0,true]" {
		t.Errorf("after logging out: (stored tokens, app hidden) %s", st)
	}
	for _, id := range mine {
		if strings.Contains(dom, id) {
			t.Errorf("after logging out the page still holds %s", id)
		}
	}

	// Signed in again, then revoked: the page's next poll is refused, and it returns to the
	// form with the reason and without the token or the figures.
	signIn(t, ctx, testToken(t, "test-vendor-acme"))
	waitPage(t, ctx, "acme's annotators again", `[...document.querySelectorAll("#annotators tbody tr td:first-child")].map(td => td.textContent).sort().join(",")`,
		func(s string) bool { return s == want })
	s.principals.Swap(registryWithout(t, "test-vendor-acme"))
	t.Cleanup(func() { s.principals.Swap(registryWithout(t)) })
	revoked := time.Now()
	msg := waitPage(t, ctx, "the revoked session back on the sign-in form", `document.getElementById("login").hidden ? "" : document.getElementById("login-error").textContent`,
		func(s string) bool { return s != "" })
	if st := evalString(t, ctx, `JSON.stringify([sessionStorage.length, document.getElementById("app").hidden])`); !strings.Contains(msg, "refused") || st != "[0,true]" {
		t.Errorf("after the revocation: form says %q, (stored tokens, app hidden) %s", msg, st)
	}
	dom = evalString(t, ctx, `document.documentElement.outerHTML`)
	for _, id := range mine {
		if strings.Contains(dom, id) {
			t.Errorf("after the revocation the page still holds %s", id)
		}
	}
	t.Logf("the revoked vendor's page was back on the sign-in form %v after the revocation (it polls every 2s): %q", time.Since(revoked).Round(100*time.Millisecond), msg)
}

// structuredDashboard drives the dashboard in headless Chromium over TestStructuredOverPipeline's
// data: signed in as an analyst, the regions panel of the named-entity project shows, per
// scope, the pairwise F1, mean IoU, label alpha, unitizing alpha, gold precision, recall and F1
// and F1 per label of GET /v1/regions; the preferences panel of the preference project shows
// alpha nominal and ordinal, accuracy and position bias per scope, and the position bias panel
// flags exactly the annotators whose interval excludes the share expected without bias, the
// program's biased rater among them. Signed in as vendor acme, the bias panel lists its own
// annotators only.
func structuredDashboard(t *testing.T, s *stack, d *strcData, regions regionsAnswer, prefs preferencesAnswer) {
	browser := chromium(t)
	ctx := startBrowser(t, browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.api.URL+"/"+q("project", strcNER))); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	signIn(t, ctx, testToken(t, testAnalyst))
	// rows reads a table's rows as scope (or annotator) | flag | cell texts, one per line.
	rows := func(table, key string) string {
		return `[...document.querySelectorAll("#` + table + ` tbody tr")].map(tr => (tr.dataset.` + key + ` || "") + "|" + (tr.dataset.flag || "") + "|" + [...tr.cells].map(td => td.textContent).join("|")).join("\n")`
	}
	// near says whether the page's text (a number, or a percentage) shows v as the page
	// rounds it: to digits decimals.
	near := func(text string, v *float64, digits int, pct bool) bool {
		if v == nil {
			return text == "–"
		}
		want := *v
		if pct {
			want *= 100
			text = strings.TrimSuffix(text, "%")
		}
		got, err := strconv.ParseFloat(text, 64)
		return err == nil && math.Abs(got-want) <= 0.5*math.Pow10(-digits)+1e-9
	}
	// first is the leading figure of a cell ("0.712 [0.650, 0.771]" -> "0.712").
	first := func(cell string) string { f, _, _ := strings.Cut(cell, " "); return f }
	cellsOf := func(page, key string) map[string][]string {
		out := map[string][]string{}
		for _, line := range strings.Split(page, "\n") {
			parts := strings.Split(line, "|")
			if len(parts) > 2 {
				out[parts[0]] = parts[2:]
			}
		}
		return out
	}

	// Regions: every scope of raters, with the API's figures.
	var want []string
	for _, f := range regions.Regions.Figures {
		if !strings.HasPrefix(f.Scope, "annotator:") {
			want = append(want, f.Scope)
		}
	}
	page := waitPage(t, ctx, "the named-entity question's figures in the regions panel", rows("regions", "scope"), func(v string) bool {
		c := cellsOf(v, "scope")
		for _, s := range want {
			if c[s] == nil {
				return false
			}
		}
		return len(c) == len(want)
	})
	got := cellsOf(page, "scope")
	for _, f := range regions.Regions.Figures {
		c := got[f.Scope]
		if c == nil {
			continue
		}
		a := f.Agreement
		gold := []string{"–", "", "–", "", "–"}
		if f.Gold != nil {
			gold = strings.Fields(c[5])
		}
		ok := len(c) == 7 && near(c[1], a.PairwiseF1, 3, false) && near(c[2], a.MeanIoU, 3, false) && near(first(c[3]), a.LabelAlpha, 3, false) &&
			f.Unitizing != nil && near(c[4], f.Unitizing.Alpha, 3, false) && len(gold) == 5
		if ok && f.Gold != nil {
			ok = near(gold[0], f.Gold.Precision, 3, false) && near(gold[2], f.Gold.Recall, 3, false) && near(gold[4], f.Gold.F1, 3, false)
		}
		for l := range a.PerLabelF1 {
			ok = ok && strings.Contains(c[6], l+" ")
		}
		if !ok {
			t.Errorf("regions panel, scope %s: %q; want the API's %s", f.Scope, c, jsonOf(t, f))
		}
	}
	if all := got[kpi.ScopeAll]; all == nil || !strings.HasPrefix(all[0], "entities (spans) · all") {
		t.Errorf("regions panel: the all row %q", all)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeShot(t, filepath.Join(artifactDir(t), "dashboard-regions.png"), shot)

	// Preferences: the filter bar moves the page to the preference project.
	tctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS("#f-project"), strcPreference), chromedp.Click(chromedp.CSS("#filters button")))
	cancel()
	if err != nil {
		t.Fatalf("choose the preference project: %v", err)
	}
	var groups, flagged []string
	annotators := 0
	for _, f := range prefs.Preferences.Figures {
		if strings.HasPrefix(f.Scope, "annotator:") {
			annotators++
			if f.Bias != nil && f.Bias.ExcludesExpected {
				flagged = append(flagged, strings.TrimPrefix(f.Scope, "annotator:"))
			}
		} else {
			groups = append(groups, f.Scope)
		}
	}
	page = waitPage(t, ctx, "the preference question's figures", rows("preferences", "scope"), func(v string) bool {
		return len(cellsOf(v, "scope")) == len(groups) && cellsOf(v, "scope")[groups[0]] != nil
	})
	got = cellsOf(page, "scope")
	for _, f := range prefs.Preferences.Figures {
		c := got[f.Scope]
		if strings.HasPrefix(f.Scope, "annotator:") {
			continue
		}
		ok := c != nil && len(c) == 6 && near(first(c[1]), f.Nominal.Alpha, 3, false) && near(first(c[2]), f.Ordinal.Alpha, 3, false) &&
			f.Bias != nil && near(first(c[4]), &f.Bias.Share, 1, true) && c[5] == strconv.FormatInt(f.Bias.Labels, 10)
		if f.Accuracy != nil {
			ok = ok && near(first(c[3]), &f.Accuracy.Accuracy, 1, true)
		}
		if !ok {
			t.Errorf("preferences panel, scope %s: %q; want the API's %s", f.Scope, c, jsonOf(t, f))
		}
	}
	page = waitPage(t, ctx, "every annotator's position bias", rows("bias", "annotator"), func(v string) bool { return len(cellsOf(v, "annotator")) == annotators })
	var marked []string
	for _, line := range strings.Split(page, "\n") {
		parts := strings.Split(line, "|")
		if parts[1] == "1" {
			marked = append(marked, parts[0])
			if !strings.HasPrefix(parts[2], "⚑ ") {
				t.Errorf("flagged annotator %s is not marked: %q", parts[0], line)
			}
		}
	}
	slices.Sort(marked)
	slices.Sort(flagged)
	if !slices.Equal(marked, flagged) || !slices.Contains(marked, d.pref.Biased) {
		t.Errorf("the bias panel flags %v; want the annotators whose interval excludes the expectation %v, the biased rater %s among them", marked, flagged, d.pref.Biased)
	}
	tctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeShot(t, filepath.Join(artifactDir(t), "dashboard-preferences.png"), shot)
	t.Logf("dashboard: %d region scopes of %s, %d preference scopes and %d annotators of %s, flagged %v", len(want), strcNER, len(groups), annotators, strcPreference, marked)

	// Vendor acme: its own annotators only.
	tctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-token")))
	cancel()
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	signIn(t, ctx, testToken(t, "test-vendor-acme-strc"))
	var mine []string
	for a, p := range d.party[strcPreference] {
		if p[0] == "acme" {
			mine = append(mine, a)
		}
	}
	slices.Sort(mine)
	waitPage(t, ctx, "acme's annotators in the bias panel", `[...document.querySelectorAll("#bias tbody tr")].map(tr => tr.dataset.annotator).sort().join(",")`,
		func(v string) bool { return v == strings.Join(mine, ",") })
	text := evalString(t, ctx, `document.documentElement.outerHTML`)
	for a, p := range d.party[strcPreference] {
		if p[0] != "acme" && strings.Contains(text, a) {
			t.Errorf("acme's page shows %s", a)
		}
	}
}
