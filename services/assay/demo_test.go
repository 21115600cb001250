package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assay-data/assay/loadtest/demo"
	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/api/httpapi"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

func TestDemoUsage(t *testing.T) {
	t.Setenv("ASSAY_INGEST_TOKEN", "")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "ASSAY_INGEST_TOKEN") {
		t.Fatalf("no token: %d %s", code, errb.String())
	}
	t.Setenv("ASSAY_INGEST_TOKEN", "x")
	if code := run(context.Background(), []string{"demo", "-rate", "0"}, &out, &errb); code != 2 {
		t.Fatalf("rate 0: %d", code)
	}
}

// TestDemoThroughGateway plays one small program through a real gateway on the real broker
// and prints the summary of a (stub) API.
func TestDemoThroughGateway(t *testing.T) {
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 3)
	ingest := ingesttest.Gateway(t, k, "demo", "demo-token")

	alpha := 0.5
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/kpis" || r.URL.Query().Get("project") != "demo-test" {
			http.NotFound(w, r)
			return
		}
		auto, over, prec := 0.65, 0.1, 0.85
		_ = json.NewEncoder(w).Encode(httpapi.Summary{Filter: httpapi.Filter{Project: "demo-test"},
			Agreement: &httpapi.AgreementKPI{Alpha: &alpha, PairableValues: 60, Cohorts: []httpapi.CohortAgreement{{Cohort: "crowd", Alpha: &alpha}}},
			Routing:   &httpapi.RoutingKPI{Automation: httpapi.Automation{Decisions: 20, AutoAccepted: 13, AutomationRate: &auto, AuditsLabeled: 10, OverrideRate: &over}, PrelabelPrecision: &prec}})
	}))
	defer api.Close()

	t.Setenv("ASSAY_INGEST_TOKEN", "demo-token")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "-url", ingest.URL, "-api-url", api.URL, "-items", "20", "-rate", "5000", "-project", "demo-test"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo: %d %s %s", code, out.String(), errb.String())
	}
	n := len(demo.Build("demo1", "demo-test", 1, 20).Events)
	for _, want := range []string{"program 1 (seed 1): " + itoa(n) + " events", "program 1 sent", `KPIs of project "demo-test"`, "alpha 0.500 over 60 pairable values (cohorts: crowd 0.500)",
		"routing      automation 65.0% (13 of 20 pre-labels auto-accepted), override 10.0% of 10 audits, pre-label precision 85.0%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
