package router

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/runtime"
)

func TestExampleRulesFile(t *testing.T) {
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRules(b)
	if err != nil {
		t.Fatalf("the example rules file in testdata (shown in README.md) is invalid: %v", err)
	}
	if r.Version == "" || r.threshold("q-pedestrian") != 0.97 || r.threshold("q-unknown") != 0.9 || len(r.TagRules) != 2 {
		t.Fatalf("parsed %+v", r)
	}
	if err := DefaultRules().Validate(); err != nil {
		t.Fatalf("DefaultRules: %v", err)
	}
}

func TestMalformedRulesAreRefused(t *testing.T) {
	ok := `{"version":"v1","default_confidence_threshold":0.9,"agreement":{"min_labels":2,"min_agreement":0.5},"audit":{"rate":0.1}}`
	if _, err := ParseRules([]byte(ok)); err != nil {
		t.Fatalf("valid rules refused: %v", err)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"version":"v1",`, "parse rules JSON"},
		{`{"version":"v1","default_confidence_treshold":0.9}`, `unknown field "default_confidence_treshold"`},
		{ok + `{}`, "trailing data"},
		{`{"default_confidence_threshold":0.9}`, "version is required"},
		{`{"version":"v 1: x"}`, "must not contain a colon or white space"},
		{`{"version":"v1","default_confidence_threshold":1.5}`, "default_confidence_threshold must be in [0, 1]"},
		{`{"version":"v1","questions":{"q":{"confidence_threshold":-0.1}}}`, `questions["q"].confidence_threshold`},
		{`{"version":"v1","tag_rules":[{"id":"x","tags":["a"],"route":"auto_accept"}]}`, "route must be human_label, human_review or expert_review"},
		{`{"version":"v1","tag_rules":[{"id":"x","tags":["a"],"route":"elsewhere"}]}`, `got "elsewhere"`},
		{`{"version":"v1","tag_rules":[{"id":"x","tags":[],"route":"human_review"}]}`, "needs at least one tag"},
		{`{"version":"v1","tag_rules":[{"id":"x","tags":["a"],"route":"human_review"},{"id":"x","tags":["b"],"route":"human_review"}]}`, "used twice"},
		{`{"version":"v1","tag_rules":[{"id":"confident","tags":["a"],"route":"human_review"}]}`, "built-in rule name"},
		{`{"version":"v1","agreement":{"min_labels":1}}`, "agreement.min_labels"},
		{`{"version":"v1","audit":{"rate":2}}`, "audit.rate"},
		{`{"version":"v1","questions_without_prelabel":{"p":["q","q"]}}`, "listed twice"},
		{`{"version":"v1","questions":{"q":{"box_score_threshold":1.01}}}`, `questions["q"].box_score_threshold must be in [0, 1], got 1.01`},
		{`{"version":"v1","questions":{"q":{"box_score_threshold":"high"}}}`, "box_score_threshold"},
		{`{"version":"v1","questions":{"q":{"iou_threshold":0}}}`, `questions["q"].iou_threshold must be in (0, 1], got 0`},
		{`{"version":"v1","questions":{"q":{"iou_threshold":1.5}}}`, `questions["q"].iou_threshold must be in (0, 1], got 1.5`},
		{`{"version":"v1","questions":{"q":{"iou_treshold":0.5}}}`, `unknown field "iou_treshold"`},
		{`{"version":"v1","agreement":{"min_labels":2,"min_region_f1":-0.1}}`, "agreement.min_region_f1 must be in [0, 1], got -0.1"},
		{`{"version":"v1","agreement":{"min_labels":6,"min_region_f1":0.5}}`, "agreement.min_labels must be at most 5 when agreement.min_region_f1 is set"},
	} {
		_, err := ParseRules([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%s) = %v, want an error containing %q", c.doc, err, c.want)
		}
	}
	// All problems at once, so an operator fixes the file in one round.
	_, err := ParseRules([]byte(`{"version":"v1","default_confidence_threshold":7,"audit":{"rate":-1}}`))
	if err == nil || !strings.Contains(err.Error(), "default_confidence_threshold") || !strings.Contains(err.Error(), "audit.rate") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

// TestQuestionSettingsAreEachOptional: a question entry sets what it names
// and leaves the rest at its default, so an entry made for a region
// question's IoU threshold does not set its confidence threshold to zero.
func TestQuestionSettingsAreEachOptional(t *testing.T) {
	r, err := ParseRules([]byte(`{"version":"v1","default_confidence_threshold":0.9,
		"questions":{"q-ner":{"iou_threshold":0.3},"q-det":{"confidence_threshold":0.8,"box_score_threshold":0.5},"q-cls":{"confidence_threshold":0}},
		"agreement":{"min_labels":5,"min_region_f1":0.6}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q              string
		conf, box, iou float64
	}{
		{"q-ner", 0.9, 0.9, 0.3},
		{"q-det", 0.8, 0.5, schemas.DefaultIoUThreshold},
		{"q-cls", 0, 0, schemas.DefaultIoUThreshold}, // an explicit zero stays zero
		{"q-other", 0.9, 0.9, schemas.DefaultIoUThreshold},
	} {
		if conf, box, iou := r.threshold(c.q), r.boxThreshold(c.q), r.iou(c.q); conf != c.conf || box != c.box || iou != c.iou {
			t.Errorf("%s: confidence %v, box %v, IoU %v; want %v, %v, %v", c.q, conf, box, iou, c.conf, c.box, c.iou)
		}
	}
	// min_labels above MaxRegionLabels is fine while the region rule is off.
	if _, err := ParseRules([]byte(`{"version":"v1","agreement":{"min_labels":9,"min_agreement":0.5}}`)); err != nil {
		t.Fatal(err)
	}
}

// writeRules writes a minimal rules file; thresholds with two decimals keep
// the documents of one test the same length.
func writeRules(t *testing.T, path, version string, threshold float64) {
	t.Helper()
	doc := `{"version":"` + version + `","default_confidence_threshold":` + strconv.FormatFloat(threshold, 'f', 2, 64) + `}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderKeepsOldRulesOnABadReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(path, []byte(`{"version":"v1",`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(path, 0, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a malformed file at start must be refused with its path, got %v", err)
	}
	if _, err := NewLoader(filepath.Join(t.TempDir(), "missing.json"), 0, nil); err == nil {
		t.Fatal("a missing file at start must be refused")
	}

	writeRules(t, path, "v1", 0.8)
	l, err := NewLoader(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := l.RuleSet()
	if v := set.Current().Version; v != "v1" {
		t.Fatalf("version %s", v)
	}

	// Malformed: refused, clear error, v1 stays.
	if err := os.WriteFile(path, []byte(`{"version":"v2","default_confidence_threshold":"high"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := l.Reload()
	if changed || err == nil || !strings.Contains(err.Error(), "default_confidence_threshold") || !strings.Contains(err.Error(), path) {
		t.Fatalf("malformed reload: changed %v, err %v", changed, err)
	}
	if set.Current().Version != "v1" || l.Err() == nil {
		t.Fatalf("after a refused reload: version %s, Err %v", set.Current().Version, l.Err())
	}

	// Invalid values: refused the same way.
	writeRules(t, path, "v2", 1.5)
	if changed, err := l.Reload(); changed || err == nil || set.Current().Version != "v1" {
		t.Fatalf("invalid reload: changed %v, err %v, version %s", changed, err, set.Current().Version)
	}

	// Changed content under the same version: refused, the audit trail
	// would name one version for two rule sets.
	writeRules(t, path, "v1", 0.7)
	if _, err := l.Reload(); err == nil || !strings.Contains(err.Error(), "version") || set.Current().DefaultConfidenceThreshold != 0.8 {
		t.Fatalf("same-version change: err %v, threshold %v", err, set.Current().DefaultConfidenceThreshold)
	}

	// A valid new version goes in force and clears the error.
	writeRules(t, path, "v2", 0.95)
	if changed, err := l.Reload(); !changed || err != nil || set.Current().Version != "v2" || l.Err() != nil {
		t.Fatalf("valid reload: changed %v, err %v, version %s", changed, err, set.Current().Version)
	}
	// Unchanged content: nothing happens.
	if changed, err := l.Reload(); changed || err != nil {
		t.Fatalf("unchanged reload: changed %v, err %v", changed, err)
	}
}

// TestLoaderPollAndRun: Poll reloads a file whose modification time or
// size changed and nothing else; Run polls until its context ends; Reload
// (what main calls on SIGHUP) picks a change up without waiting for a poll.
// No signal is involved: the Loader handles none (services/processor owns
// SIGHUP and is tested there).
func TestLoaderPollAndRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	writeRules(t, path, "v1", 0.8)
	if _, err := NewLoader(path, -time.Second, nil); err == nil {
		t.Fatal("a negative poll interval must be refused")
	}
	l, err := NewLoader(path, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	version := func() string { return l.RuleSet().Current().Version }

	// Poll: unchanged file, nothing; changed (size), reloaded.
	if changed, err := l.Poll(); changed || err != nil {
		t.Fatalf("poll of an unchanged file: changed %v, err %v", changed, err)
	}
	writeRules(t, path, "v2-longer", 0.85)
	if changed, err := l.Poll(); !changed || err != nil || version() != "v2-longer" {
		t.Fatalf("poll of a changed file: changed %v, err %v, version %s", changed, err, version())
	}

	// Run polls on its own until ctx ends, and returns then.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	writeRules(t, path, "v3", 0.87)
	deadline := time.Now().Add(5 * time.Second)
	for version() != "v3" {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not pick up v3 within 5s (version %s, last error %v)", version(), l.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}

	// Without Run nothing changes until Reload is called.
	writeRules(t, path, "v4", 0.88)
	time.Sleep(60 * time.Millisecond)
	if version() != "v3" {
		t.Fatalf("rules changed without a poll or a reload: %s", version())
	}
	if changed, err := l.Reload(); !changed || err != nil || version() != "v4" {
		t.Fatalf("reload: changed %v, err %v, version %s", changed, err, version())
	}
	// A malformed file is reported by Poll once and the rules stay.
	if err := os.WriteFile(path, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Poll(); err == nil || l.Err() == nil || version() != "v4" {
		t.Fatalf("poll of a malformed file: err %v, Err %v, version %s", err, l.Err(), version())
	}
	if changed, err := l.Poll(); changed || err != nil {
		t.Fatalf("second poll of the same malformed file: changed %v, err %v (want it not read again)", changed, err)
	}
}

func TestRulesMetricsReachTheRunnersRegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	writeRules(t, path, "m1", 0.8)
	r, err := New(Config{RulesFile: path})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Loader()
	reg := prometheus.NewRegistry()
	k := config.Kafka{Brokers: []string{"127.0.0.1:1"}}
	if _, err := runtime.New(r, k, nil, runtime.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	gather := func() map[string]string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "assay_router_") {
				continue
			}
			for _, m := range mf.GetMetric() {
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				name := mf.GetName()
				for _, lp := range m.GetLabel() {
					name += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
				}
				out[name] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		return out
	}
	got := gather()
	if got["assay_router_rules_info{version=m1}"] != "1" || got["assay_router_rules_reload_failed"] != "0" || got["assay_router_rules_reload_failures_total"] != "0" ||
		got["assay_router_pending_prelabels_expired_total"] != "0" || got["assay_router_pending_prelabels_evicted_total"] != "0" ||
		got["assay_router_region_questions_evicted_total"] != "0" {
		t.Fatalf("metrics %v", got)
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _ = l.Reload()
	got = gather()
	if got["assay_router_rules_info{version=m1}"] != "1" || got["assay_router_rules_reload_failed"] != "1" || got["assay_router_rules_reload_failures_total"] != "1" {
		t.Fatalf("after a refused reload: %v", got)
	}
	writeRules(t, path, "m2", 0.8)
	_, _ = l.Reload()
	got = gather()
	if got["assay_router_rules_info{version=m2}"] != "1" || got["assay_router_rules_reload_failed"] != "0" || got["assay_router_rules_reload_failures_total"] != "1" {
		t.Fatalf("after a good reload: %v", got)
	}
}
