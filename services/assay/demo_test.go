package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/demo"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

func TestDemoUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-tokens") || !strings.Contains(errb.String(), "-setup") {
		t.Fatalf("no tokens: %d %s", code, errb.String())
	}
	if code := run(context.Background(), []string{"demo", "-tokens", "x", "-rate", "0"}, &out, &errb); code != 2 {
		t.Fatalf("rate 0: %d", code)
	}
}

// TestDemoSetup: -setup adds the demo's principals to a principals file (beside an owner
// line already there) and writes their tokens, each of which authenticates as its principal;
// a second setup in the same directory is refused rather than overwriting tokens.
func TestDemoSetup(t *testing.T) {
	dir := t.TempDir()
	owner := "me " + access.HashToken("mine") + " role=owner projects=*\n"
	if err := os.WriteFile(filepath.Join(dir, "principals"), []byte(owner), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "-setup", dir, "-project", "p1"}, &out, &errb); code != 0 {
		t.Fatalf("setup: %d %s", code, errb.String())
	}
	reg, err := access.ReadFile(filepath.Join(dir, "principals"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Principal("me"); !ok || reg.Len() != len(demo.Principals("p1"))+1 {
		t.Fatalf("%d principals after setup", reg.Len())
	}
	st, err := os.Stat(filepath.Join(dir, "demo-tokens"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", err, st)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "demo-tokens"))
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		if p, err := reg.Authenticate(f[1]); err != nil || p.ID != f[0] || !p.InProject("p1") || !p.InProject("p1-ner") || !p.InProject("p1-preference") {
			t.Errorf("token of %s: %v %v", f[0], p, err)
		}
	}
	if n != len(demo.Principals("p1")) {
		t.Errorf("%d tokens", n)
	}
	if code := run(context.Background(), []string{"demo", "-setup", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "already set up") {
		t.Fatalf("second setup: %d %s", code, errb.String())
	}
}

// TestDemoThroughGateway plays one small program through a real gateway on the real broker,
// each event sent by its principal, and prints the summary of a (stub) API, which it asks
// with the demo analyst's token.
func TestDemoThroughGateway(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "-setup", dir, "-project", "demo-test"}, &out, &errb); code != 0 {
		t.Fatalf("setup: %d %s", code, errb.String())
	}
	principals, err := os.ReadFile(filepath.Join(dir, "principals"))
	if err != nil {
		t.Fatal(err)
	}
	ingest := ingesttest.Gateway(t, k, string(principals))
	reg, err := access.Parse("", string(principals))
	if err != nil {
		t.Fatal(err)
	}

	alpha := 0.5
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/kpis" || r.URL.Query().Get("project") != "demo-test" {
			http.NotFound(w, r)
			return
		}
		tok, _ := access.BearerToken(r.Header.Get("Authorization"))
		if p, err := reg.Authenticate(tok); err != nil || p.Role != access.RoleAnalyst {
			http.Error(w, "want the demo analyst's token", http.StatusUnauthorized)
			return
		}
		auto, over, prec := 0.65, 0.1, 0.85
		_ = json.NewEncoder(w).Encode(httpapi.Summary{Filter: httpapi.Filter{Project: "demo-test"},
			Agreement: &httpapi.AgreementKPI{Alpha: &alpha, PairableValues: 60, Cohorts: []httpapi.CohortAgreement{{Cohort: "crowd", Alpha: &alpha}}},
			Routing:   &httpapi.RoutingKPI{Automation: httpapi.Automation{Decisions: 20, AutoAccepted: 13, AutomationRate: &auto, AuditsLabeled: 10, OverrideRate: &over}, PrelabelPrecision: &prec}})
	}))
	defer api.Close()

	out.Reset()
	code := run(context.Background(), []string{"demo", "-tokens", filepath.Join(dir, "demo-tokens"), "-url", ingest.URL, "-api-url", api.URL, "-items", "20", "-rate", "5000", "-project", "demo-test"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo: %d %s %s", code, out.String(), errb.String())
	}
	// The round played: the main program and, beside it, the structured programs, each in its
	// project, every event accepted by the gateway and on the ledger as it was built.
	built := map[string]schemas.Event{}
	main := demo.Build("demo1", "demo-test", 1, 20).Events
	n := len(main)
	beside := []string{}
	for _, ev := range main {
		built[ev.Meta().EventID] = ev
	}
	for _, sp := range demo.BuildStructured("demo1", "demo-test", 1, 20) {
		n += len(sp.Events)
		beside = append(beside, itoa(len(sp.Events))+` into "`+sp.Project+`"`)
		for _, ev := range sp.Events {
			built[ev.Meta().EventID] = ev
		}
	}
	for _, want := range []string{"program 1 (seed 1): " + itoa(len(main)) + ` events at 5000/s into project "demo-test"; beside it ` + strings.Join(beside, ", "),
		"program 1 sent", `KPIs of project "demo-test"`, "alpha 0.500 over 60 pairable values (cohorts: crowd 0.500)",
		"routing      automation 65.0% (13 of 20 pre-labels auto-accepted), override 10.0% of 10 audits, pre-label precision 85.0%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Every event is on the ledger, from the principal of its kind, with the value it was
	// built with (spans, boxes and scores, preferences and extents through Avro and back).
	var topics []string
	for _, f := range schemas.Families() {
		if f != schemas.FamilyDLQ {
			topics = append(topics, k.Topic(f.Topic()))
		}
	}
	producers := map[string]int{}
	levels := map[schemas.MeasurementLevel]int{}
	for _, r := range ingesttest.ReadTopic(t, k, n, 30*time.Second, topics...) {
		ev, err := schemas.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		producers[ev.Meta().Producer]++
		b, ok := built[ev.Meta().EventID]
		if !ok {
			t.Errorf("%s %s on the ledger was not played (or twice)", ev.Type(), ev.Meta().EventID)
			continue
		}
		delete(built, ev.Meta().EventID)
		var got, want any
		switch e := ev.(type) {
		case *schemas.LabelSubmitted:
			got, want = e.Value, b.(*schemas.LabelSubmitted).Value
			levels[e.Value.Level]++
		case *schemas.GoldLabelSet:
			got, want = e.Value, b.(*schemas.GoldLabelSet).Value
		case *schemas.PreLabelProposed:
			got, want = e.Value, b.(*schemas.PreLabelProposed).Value
		case *schemas.ItemIngested:
			got, want = e.Extent, b.(*schemas.ItemIngested).Extent
		case *schemas.QuestionDefined:
			q := *b.(*schemas.QuestionDefined)
			q.Envelope = e.Envelope
			got, want = e, &q
			if e.Producer != "demo-owner" {
				t.Errorf("question %s of %s written by %s", e.QuestionID, e.ProjectID, e.Producer)
			}
		}
		if !reflect.DeepEqual(regionsSet(got), regionsSet(want)) {
			t.Errorf("%s %s on the ledger: %+v, played %+v", ev.Type(), ev.Meta().EventID, got, want)
		}
	}
	if len(built) != 0 {
		t.Errorf("%d played events not on the ledger", len(built))
	}
	for _, l := range []schemas.MeasurementLevel{schemas.LevelNominal, schemas.LevelSpans, schemas.LevelBoxes, schemas.LevelPreference} {
		if levels[l] == 0 {
			t.Errorf("no %s label on the ledger: %v", l, levels)
		}
	}
	for _, p := range demo.Principals(demo.Projects("demo-test")...) {
		if p.Role.Writes() && producers[p.ID] == 0 {
			t.Errorf("nothing on the ledger from %s: %v", p.ID, producers)
		}
	}
	if dlq := ingesttest.ReadTopic(t, k, 1, 2*time.Second, k.Topic(schemas.FamilyDLQ.Topic())); len(dlq) != 0 {
		t.Errorf("%d events of the demo refused", len(dlq))
	}
}

// regionsSet returns v with an empty list of spans or boxes as nil: "no regions" either way
// (the JSON the demo sends leaves an empty list out).
func regionsSet(v any) any {
	if l, ok := v.(schemas.LabelValue); ok {
		if len(l.Spans) == 0 {
			l.Spans = nil
		}
		if len(l.Boxes) == 0 {
			l.Boxes = nil
		}
		return l
	}
	return v
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
