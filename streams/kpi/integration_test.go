package kpi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/demo/annotation"
	"github.com/assay-data/assay/streams/agreement"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// Tolerance is how far a measured KPI may be from the noise model's
// analytic value: sampling error only. With the default workload (1500
// items, 3 raters, 30% gold) the standard error of alpha is about 0.015
// and of a cohort's accuracy about 0.012-0.018, so 0.05 is over 3 standard
// errors. The figures must equal the generator's exact figures (from the
// labels it actually drew) to the last digit.
const Tolerance = 0.05

// PairTolerance bounds the mean pairwise Cohen's kappa inside a cohort
// against the model (see checkFigures).
const PairTolerance = 0.1

// run starts one runner per processor and returns a function that stops
// them all and reports their errors.
func run(t *testing.T, ctx context.Context, k config.Kafka, conn driver.Conn, ps ...runtime.Processor) (stop func(), runners []*runtime.Runner) {
	t.Helper()
	return runWith(t, ctx, k, conn, nil, ps...)
}

// runWith is run with more runner options.
func runWith(t *testing.T, ctx context.Context, k config.Kafka, conn driver.Conn, opts []runtime.Option, ps ...runtime.Processor) (stop func(), runners []*runtime.Runner) {
	t.Helper()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(ps))
	for _, p := range ps {
		r, err := runtime.New(p, k, runtime.ClickHouseSink(conn), append([]runtime.Option{
			runtime.WithBatchSize(1000), runtime.WithFlushInterval(200 * time.Millisecond),
			runtime.WithKafkaOptions(kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond)),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(rctx); err != nil {
				errs <- err
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("runner: %v", err)
		}
	}, runners
}

func waitReady(t *testing.T, ctx context.Context, rs []*runtime.Runner) {
	t.Helper()
	for _, r := range rs {
		for r.Ready(ctx) != nil {
			if ctx.Err() != nil {
				t.Fatal("runners never joined their groups")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// accuracyRow reads one kpi_accuracy row.
func accuracyRow(t *testing.T, ctx context.Context, conn driver.Conn, project, scope string) (correct, total int64, acc float64) {
	t.Helper()
	err := conn.QueryRow(ctx, "SELECT correct_labels, scored_labels, accuracy FROM kpi_accuracy WHERE project_id = ? AND scope = ?", project, scope).Scan(&correct, &total, &acc)
	if err != nil {
		return 0, 0, math.NaN()
	}
	return correct, total, acc
}

// waitFigures waits until the merged cells of scope all equal the exact
// coincidences and accuracy of scope all has the exact denominator: every
// record processed.
func waitFigures(t *testing.T, ctx context.Context, conn driver.Conn, w *annotation.Workload) {
	t.Helper()
	want := w.ExactCoincidences("")
	_, wantTotal := w.ExactAccuracy("")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		figs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{})
		if err != nil {
			t.Fatal(err)
		}
		f, ok := kpi.FindFigure(figs, w.Config.Project, w.Config.Question, kpi.ScopeAll)
		_, total, _ := accuracyRow(t, ctx, conn, w.Config.Project, kpi.ScopeAll)
		// The profiles are another table of the same batches: wait for them too.
		if ok && f.Coincidences.Equal(want) && !errors.Is(f.AlphaCIErr, kpi.ErrProfilesBehind) && total == wantTotal {
			return
		}
		if time.Now().After(deadline) {
			got := int64(0)
			if ok {
				got = f.Coincidences.PairableValues()
			}
			t.Fatalf("figures never converged: pairable values %d want %d; scored labels %d want %d",
				got, want.PairableValues(), total, wantTotal)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkFigures compares every KPI with the generator's exact figures and
// its model, and returns the measured values for the log.
func checkFigures(t *testing.T, ctx context.Context, conn driver.Conn, w *annotation.Workload) map[string]float64 {
	t.Helper()
	cfg := w.Config
	measured := map[string]float64{}
	figs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ scope, cohort string }{{kpi.ScopeAll, ""}, {kpi.CohortScope("experts"), "experts"}, {kpi.CohortScope("crowd"), "crowd"}} {
		f, ok := kpi.FindFigure(figs, cfg.Project, cfg.Question, c.scope)
		if !ok {
			t.Fatalf("no agreement figure for scope %s", c.scope)
		}
		exact := w.ExactCoincidences(c.cohort)
		if !f.Coincidences.Equal(exact) {
			t.Errorf("scope %s: merged cells differ from the generated labels' coincidences", c.scope)
		}
		wantAlpha, _ := exact.Alpha(agreement.Nominal)
		if f.Err != nil || f.Alpha.Alpha != wantAlpha.Alpha {
			t.Errorf("scope %s: alpha %v (%v), exact %v", c.scope, f.Alpha.Alpha, f.Err, wantAlpha.Alpha)
		}
		model := cfg.ExpectedAlpha()
		if c.cohort != "" {
			model = cfg.ExpectedCohortAlpha(c.cohort)
		}
		if d := math.Abs(f.Alpha.Alpha - model); d > Tolerance {
			t.Errorf("scope %s: alpha %.4f, model %.4f (|d| %.4f > %v)", c.scope, f.Alpha.Alpha, model, d, Tolerance)
		}
		measured["alpha "+c.scope] = f.Alpha.Alpha
		measured["alpha model "+c.scope] = model

		// Alpha's interval from the live profiles is the one streams/agreement computes
		// from the units of the log, to the last bit.
		wantCI, err := agreement.AlphaInterval(rawProfiles(t, w.Events, c.cohort, nil), agreement.Nominal, agreement.DefaultConfidence)
		if err != nil {
			t.Fatalf("scope %s: interval from the log: %v", c.scope, err)
		}
		if f.AlphaCI == nil || *f.AlphaCI != wantCI {
			t.Errorf("scope %s: live interval %+v (%v), from the log's units %+v", c.scope, f.AlphaCI, f.AlphaCIErr, wantCI)
		}
		if !(f.AlphaCI != nil && f.AlphaCI.Low < f.Alpha.Alpha && f.Alpha.Alpha < f.AlphaCI.High) {
			t.Errorf("scope %s: interval %+v does not hold alpha %v", c.scope, f.AlphaCI, f.Alpha.Alpha)
		}
		if f.AlphaCI != nil {
			measured["alpha ci low "+c.scope], measured["alpha ci high "+c.scope] = f.AlphaCI.Low, f.AlphaCI.High
		}

		// The SQL view's nominal alpha and evidence agree with Go's.
		var units, values, sqlAlpha float64
		if err := conn.QueryRow(ctx, "SELECT pairable_units, pairable_values, alpha_nominal FROM kpi_agreement WHERE project_id = ? AND question_id = ? AND scope = ?",
			cfg.Project, cfg.Question, c.scope).Scan(&units, &values, &sqlAlpha); err != nil {
			t.Fatalf("kpi_agreement %s: %v", c.scope, err)
		}
		if int64(units) != f.Alpha.PairableUnits || int64(values) != f.Alpha.PairableValues || math.Abs(sqlAlpha-f.Alpha.Alpha) > 1e-9 {
			t.Errorf("kpi_agreement %s: units %v values %v alpha %v; Go: %d %d %v", c.scope, units, values, sqlAlpha, f.Alpha.PairableUnits, f.Alpha.PairableValues, f.Alpha.Alpha)
		}

		correct, total, acc := accuracyRow(t, ctx, conn, cfg.Project, c.scope)
		wc, wt := w.ExactAccuracy(c.cohort)
		if correct != wc || total != wt {
			t.Errorf("accuracy %s: %d/%d, exact %d/%d", c.scope, correct, total, wc, wt)
		}
		if d := math.Abs(acc - cfg.ExpectedAccuracy(c.cohort)); d > Tolerance {
			t.Errorf("accuracy %s: %.4f, model %.4f", c.scope, acc, cfg.ExpectedAccuracy(c.cohort))
		}
		measured["accuracy "+c.scope] = acc
		measured["accuracy model "+c.scope] = cfg.ExpectedAccuracy(c.cohort)

		// Error types: the confusion sums to accuracy's denominator, its diagonal is the
		// numerator, and every cell is the count of the final labels of gold items with that
		// (gold answer, value).
		cells, err := kpi.ReadConfusion(ctx, conn, kpi.ConfusionFilter{Project: cfg.Project, Question: cfg.Question, Scope: c.scope})
		if err != nil {
			t.Fatal(err)
		}
		wantCells := map[[2]string]int64{}
		for _, l := range w.Labels {
			if l.Gold && (c.cohort == "" || l.Cohort == c.cohort) {
				wantCells[[2]string{l.Truth, l.Answer}]++
			}
		}
		gotCells := map[[2]string]int64{}
		var diagonal, sum int64
		offDiagonal := 0
		for i, cell := range cells {
			gotCells[[2]string{cell.GoldValue, cell.LabelValue}] = cell.Count
			sum += cell.Count
			if !cell.Error {
				diagonal += cell.Count
			} else {
				offDiagonal++
			}
			if cell.Error != (cell.GoldValue != cell.LabelValue) || (i > 0 && cells[i-1].Count < cell.Count) {
				t.Errorf("confusion %s: cell %d %+v out of order or mislabeled", c.scope, i, cell)
			}
		}
		if diagonal != correct || sum != total || !maps.Equal(gotCells, wantCells) {
			t.Errorf("confusion %s: diagonal %d of %d (accuracy %d/%d); cells %v, from the labels %v", c.scope, diagonal, sum, correct, total, gotCells, wantCells)
		}
		errs, err := kpi.ReadConfusion(ctx, conn, kpi.ConfusionFilter{Project: cfg.Project, Question: cfg.Question, Scope: c.scope, ErrorsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) == 0 || len(errs) != offDiagonal || slices.ContainsFunc(errs, func(x kpi.ConfusionCell) bool { return !x.Error }) {
			t.Errorf("top confusions %s: %+v", c.scope, errs)
		} else {
			top := errs[0]
			measured[fmt.Sprintf("top confusion %s: %s as %s", c.scope, top.GoldValue, top.LabelValue)] = float64(top.Count)
		}
	}
	// Per-annotator agreement: every annotator has pairs, and experts agree
	// more with the others than the crowd does.
	var experts, crowd float64
	if err := conn.QueryRow(ctx, "SELECT avgIf(agreement, annotator_id LIKE '%-experts-%'), avgIf(agreement, annotator_id LIKE '%-crowd-%') FROM kpi_annotator_agreement WHERE project_id = ?",
		cfg.Project).Scan(&experts, &crowd); err != nil {
		t.Fatal(err)
	}
	if !(experts > crowd) {
		t.Errorf("per-annotator agreement: experts %v, crowd %v", experts, crowd)
	}
	measured["annotator agreement experts"], measured["annotator agreement crowd"] = experts, crowd

	// Pairwise Cohen's kappa: the mean over pairs inside a cohort is near
	// the model's kappa of two annotators of that cohort. A pair shares only
	// ~70 units, so single pairs are noisy; the mean over the cohort's 15
	// pairs has a standard error of about 0.02, hence PairTolerance.
	pairs, err := kpi.ReadPairwiseKappa(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	sum, n := map[string]float64{}, map[string]int{}
	for _, p := range pairs {
		if p.ProjectID != cfg.Project || p.Err != nil {
			continue
		}
		for _, c := range cfg.Cohorts {
			if strings.Contains(p.AnnotatorA, "-"+c.Name+"-") && strings.Contains(p.AnnotatorB, "-"+c.Name+"-") {
				sum[c.Name] += p.Kappa.Kappa
				n[c.Name]++
			}
		}
	}
	for _, c := range cfg.Cohorts {
		if n[c.Name] == 0 {
			t.Errorf("no pairwise kappa inside cohort %s", c.Name)
			continue
		}
		mean := sum[c.Name] / float64(n[c.Name])
		model := cfg.ExpectedPairKappa(c.Name)
		if d := math.Abs(mean - model); d > PairTolerance {
			t.Errorf("mean Cohen's kappa inside %s: %.4f, model %.4f", c.Name, mean, model)
		}
		measured["pair kappa mean "+c.Name] = mean
		measured["pair kappa model "+c.Name] = model
	}
	return measured
}

// rawProfiles folds the label events of the log as the agreement processor
// defines units (an item's answers to the question; a unit starts on the UTC
// day of its first label and starts afresh once every label left) and
// returns the profiles of the pairable units of a cohort (or all, cohort ""),
// of those that started on *day when day is not nil. It shares no code with
// the processor.
func rawProfiles(t *testing.T, evs []schemas.Event, cohort string, day *time.Time) []agreement.UnitProfile {
	t.Helper()
	type live struct {
		cohort string
		v      agreement.Value
	}
	type unit struct {
		start  time.Time
		labels map[string]live
	}
	units := map[string]*unit{}
	var order []string
	for _, ev := range evs {
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			u := units[e.ItemID]
			if u == nil {
				order = append(order, e.ItemID)
			}
			if u == nil || len(u.labels) == 0 {
				u = &unit{start: time.UnixMilli(e.OccurredAt).UTC().Truncate(24 * time.Hour), labels: map[string]live{}}
				units[e.ItemID] = u
			}
			u.labels[e.LabelID] = live{e.Cohort, canon(t, e.Value)}
		case *schemas.LabelRetracted:
			if u := units[e.ItemID]; u != nil {
				delete(u.labels, e.LabelID)
			}
		}
	}
	var pairable [][]agreement.Value
	for _, item := range order {
		u := units[item]
		if day != nil && !u.start.Equal(*day) {
			continue
		}
		var vals []agreement.Value
		for _, l := range u.labels {
			if cohort == "" || l.cohort == cohort {
				vals = append(vals, l.v)
			}
		}
		if len(vals) >= 2 {
			pairable = append(pairable, vals)
		}
	}
	return agreement.Profiles(pairable)
}

// figsNow reads every all-time figure.
func figsNow(t *testing.T, ctx context.Context, conn driver.Conn) []kpi.AgreementFigure {
	t.Helper()
	figs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return figs
}

// expectedRework counts reviewed labels and rejected ones in the events.
func expectedRework(evs []schemas.Event) (reviewed, reworked int64) {
	for _, ev := range evs {
		if r, ok := ev.(*schemas.ReviewCompleted); ok {
			reviewed++
			if r.Verdict != schemas.VerdictAccept {
				reworked++
			}
		}
	}
	return reviewed, reworked
}

// TestKPIEndToEnd: a workload with known annotator noise through the real
// broker into the real ClickHouse; agreement and accuracy equal the figures
// of the generated labels exactly and the noise model within Tolerance;
// rework and cycle time come out of the flow processor's views.
func TestKPIEndToEnd(t *testing.T) {
	env := testenv.Stack(t, 4, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	w := annotation.Generate(annotation.DefaultConfig("kpi-e2e", 42))
	if err := workload.Produce(ctx, cl, k, w.Events); err != nil {
		t.Fatal(err)
	}
	stop, _ := run(t, ctx, k, conn, kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewFlow())
	waitFigures(t, ctx, conn, w)
	m := checkFigures(t, ctx, conn, w)
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		t.Logf("%-40s %.4f", k, m[k])
	}

	// Windows: the days partition the units, so two adjacent windows merge
	// into the all-time cells, and a window over every day equals them.
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exact := w.ExactCoincidences("")
	whole, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{From: day0, To: day0.AddDate(0, 0, 7)})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := kpi.FindFigure(whole, w.Config.Project, w.Config.Question, kpi.ScopeAll)
	if !ok || !f.Coincidences.Equal(exact) {
		t.Fatalf("window over every day differs from the all-time cells")
	}
	if all, _ := kpi.FindFigure(figsNow(t, ctx, conn), w.Config.Project, w.Config.Question, kpi.ScopeAll); f.AlphaCI == nil || all.AlphaCI == nil || *f.AlphaCI != *all.AlphaCI {
		t.Errorf("window over every day: interval %+v, all time %+v", f.AlphaCI, all.AlphaCI)
	}
	// A window without an end, narrowed to the project and its scope all: the same cells,
	// and no other project's or scope's figure.
	open, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{Project: w.Config.Project, Scope: kpi.ScopeAll, From: day0})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Scope != kpi.ScopeAll || open[0].ProjectID != w.Config.Project || !open[0].Coincidences.Equal(exact) {
		t.Errorf("open window of the project's scope all: %d figures, want its one all-time figure", len(open))
	}
	merged := agreement.NewCoincidences()
	for d := range 7 {
		figs, err := kpi.ReadAgreement(ctx, conn, kpi.AgreementFilter{From: day0.AddDate(0, 0, d), To: day0.AddDate(0, 0, d+1), Confidence: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		day := day0.AddDate(0, 0, d)
		want, wantErr := agreement.AlphaInterval(rawProfiles(t, w.Events, "", &day), agreement.Nominal, 0.9)
		if f, ok := kpi.FindFigure(figs, w.Config.Project, w.Config.Question, kpi.ScopeAll); ok {
			merged.Merge(f.Coincidences)
			t.Logf("window %s: alpha %.4f over %d pairable units", day.Format(time.DateOnly), f.Alpha.Alpha, f.Alpha.PairableUnits)
			// The window's interval, here at 90% (AgreementFilter.Confidence), is that of
			// the units of the log that started on the day.
			switch {
			case wantErr != nil:
				if f.AlphaCI != nil || !errors.Is(f.AlphaCIErr, agreement.ErrUndefined) {
					t.Errorf("window %s: interval %+v (%v), but the log's units give none: %v", day.Format(time.DateOnly), f.AlphaCI, f.AlphaCIErr, wantErr)
				}
			case f.AlphaCI == nil || *f.AlphaCI != want:
				t.Errorf("window %s: interval %+v (%v), from the log's units %+v", day.Format(time.DateOnly), f.AlphaCI, f.AlphaCIErr, want)
			}
		} else if wantErr == nil {
			t.Errorf("window %s: no figure, but the log's units give the interval %+v", day.Format(time.DateOnly), want)
		}
	}
	if !merged.Equal(exact) {
		t.Errorf("daily windows merged differ from the all-time cells")
	}

	// Rework: every review in the workload is of a distinct label.
	wantReviewed, wantReworked := expectedRework(w.Events)
	deadline := time.Now().Add(time.Minute)
	for {
		var reviewed, reworked int64
		var rate float64
		if err := conn.QueryRow(ctx, "SELECT labels_reviewed, labels_reworked, rework_rate FROM kpi_rework").Scan(&reviewed, &reworked, &rate); err != nil {
			t.Fatal(err)
		}
		if reviewed == wantReviewed && reworked == wantReworked {
			// Reviews reject exactly the wrong labels, so the model's rework
			// rate is the error rate of the pool.
			model := 1 - w.Config.ExpectedAccuracy("")
			if d := math.Abs(rate - model); d > Tolerance {
				t.Errorf("rework rate %.4f, model %.4f", rate, model)
			}
			t.Logf("rework rate %.4f (%d/%d), model %.4f", rate, reworked, reviewed, model)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kpi_rework %d/%d, want %d/%d", reworked, reviewed, wantReworked, wantReviewed)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Cycle time covers the items with an accepted review (all of them were
	// ingested and labeled first); wait until the items topic caught up too.
	accepted := map[string]int64{} // item -> first accept ms
	ingestedAt := map[string]int64{}
	for _, ev := range w.Events {
		switch e := ev.(type) {
		case *schemas.ItemIngested:
			ingestedAt[e.ItemID] = e.OccurredAt
		case *schemas.ReviewCompleted:
			if _, seen := accepted[e.ItemID]; !seen && e.Verdict == schemas.VerdictAccept {
				accepted[e.ItemID] = e.OccurredAt
			}
		}
	}
	waits := secondsBetween(ingestedAt, accepted)
	var items uint64
	var p50, p90 float64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
		if err := conn.QueryRow(ctx, "SELECT items, to_accepted_p50_s, to_accepted_p90_s FROM kpi_cycle_time WHERE project_id = ?", w.Config.Project).Scan(&items, &p50, &p90); err != nil {
			t.Fatal(err)
		}
		if items == uint64(len(accepted)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kpi_cycle_time counts %d items, want %d", items, len(accepted))
		}
	}
	if want50, want90 := p50p90(waits); p50 != want50 || p90 != want90 {
		t.Errorf("kpi_cycle_time: p50 %v p90 %v, want %v %v", p50, p90, want50, want90)
	}
	t.Logf("cycle time ingest->accepted over %d items: p50 %.0fs p90 %.0fs", items, p50, p90)
	stop()

	// A full replay into the same tables writes the same totals at the same
	// offsets: they collapse and no figure moves.
	for _, p := range []runtime.Processor{kpi.NewAgreement(), kpi.NewAccuracy()} {
		if _, err := runtime.Replay(ctx, p, k, runtime.ClickHouseSink(conn), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	checkFigures(t, ctx, conn, w)
}

// TestKPITwoInstances: two instances of each processor in one group split
// the partitions; the merged figures are identical to the exact ones, as
// with one instance.
func TestKPITwoInstances(t *testing.T) {
	env := testenv.Stack(t, 4, testenv.MigratedDatabase)
	k, conn, cl := env.Kafka, env.Conn, env.Client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	w := annotation.Generate(annotation.DefaultConfig("kpi-two", 7))
	stop, rs := run(t, ctx, k, conn, kpi.NewAgreement(), kpi.NewAgreement(), kpi.NewAccuracy(), kpi.NewAccuracy())
	waitReady(t, ctx, rs)
	// Produce in two halves so records arrive while the group settles.
	half := len(w.Events) / 2
	if err := workload.Produce(ctx, cl, k, w.Events[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := workload.Produce(ctx, cl, k, w.Events[half:]); err != nil {
		t.Fatal(err)
	}
	waitFigures(t, ctx, conn, w)
	// Both members of each group own partitions: the figures really were
	// merged from two processes' partials.
	for _, r := range []*runtime.Runner{rs[0], rs[2]} {
		groups, err := kadm.NewClient(cl).DescribeGroups(ctx, r.Group())
		if err != nil {
			t.Fatal(err)
		}
		g := groups[r.Group()]
		owners := 0
		for _, mem := range g.Members {
			if c, ok := mem.Assigned.AsConsumer(); ok && len(c.Topics) > 0 && len(c.Topics[0].Partitions) > 0 {
				owners++
			}
		}
		if owners != 2 {
			t.Errorf("group %s: %d members own partitions, want 2", r.Group(), owners)
		}
	}
	m := checkFigures(t, ctx, conn, w)
	t.Logf("two instances: alpha %.4f (model %.4f), accuracy %.4f (model %.4f)",
		m["alpha all"], m["alpha model all"], m["accuracy all"], m["accuracy model all"])
	stop()
}
