package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/schemas/access"
)

func TestHostList(t *testing.T) {
	l, err := newHostList("0.0.0.0:18080", []string{"assay.example.com", "Grafana.Example.com.:8443", "[2001:db8::1]:18080", "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:18080":            true,
		"localhost:18080":            true,
		"LOCALHOST.:18080":           true,
		"[::1]:18080":                true,
		"[::1]":                      true,
		"localhost":                  true,
		"0.0.0.0:18080":              true, // the listen host
		"assay.example.com":          true, // behind a proxy on 443: no port
		"assay.example.com:18080":    true, // a name without a port is allowed on any
		"grafana.example.com:8443":   true,
		"grafana.example.com:18080":  false, // a name with a port only with that port
		"grafana.example.com":        false,
		"[2001:db8::1]:18080":        true,
		"10.0.0.5:18080":             true,
		"evil.example:18080":         false,
		"evil.example":               false,
		"127.0.0.1.evil.example":     false,
		"localhost.evil.example:80":  false,
		"assay.example.com.evil.net": false,
		"":                           false,
		":18080":                     false,
	} {
		if got := l.allows(host); got != want {
			t.Errorf("Host %q: allowed %v, want %v", host, got, want)
		}
	}
	// Without a listen address (or with a wildcard one given as ":port") the loopback names only.
	for _, addr := range []string{"", ":18080"} {
		l, err := newHostList(addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !l.allows("127.0.0.1:1") || l.allows("example.com") {
			t.Errorf("listen %q: %+v", addr, l)
		}
	}
	for _, bad := range []string{"", " ", "http://assay.example.com", "assay.example.com/v1", "*.example.com", "assay.example.com:http",
		"assay.example.com:0", "assay.example.com:", "a..b", "user@host", "host:1:2:x"} {
		if _, err := newHostList("", []string{bad}); err == nil {
			t.Errorf("entry %q accepted", bad)
		}
	}
	if _, err := newHostList("no-port", nil); err == nil {
		t.Error("listen address without a port accepted")
	}
}

// TestCheckHost: every route of the mux, the ops routes beside the API included, refuses a
// Host not on the list with 421 and a JSON body, before any handler runs.
func TestCheckHost(t *testing.T) {
	// A connection that never dials: nothing here reaches ClickHouse.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const token = "assay_host-test-token"
	principals, err := access.Parse("test", "reader "+access.HashToken(token)+" role=analyst projects=*")
	if err != nil {
		t.Fatal(err)
	}
	store := access.NewStore(principals)
	if _, err := New(Config{Conn: conn, Principals: store, AllowedHosts: []string{"https://assay.example.com"}}); err == nil || !strings.Contains(err.Error(), "not a URL") {
		t.Errorf("New with a URL as allowed host: %v", err)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(Config{Conn: conn, Principals: store, Registerer: reg, ListenAddr: "127.0.0.1:18080", AllowedHosts: []string{"assay.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	reached := 0
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { reached++ })
	srv.Mount(mux)
	h := srv.CheckHost(mux)
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"evil.example:18080", "/healthz", 421},
		{"evil.example:18080", "/v1/kpis", 421},
		{"evil.example:18080", "/", 421},
		{"evil.example:18080", "/static/app.js", 421},
		{"evil.example:18080", "/v1/nope", 421},
		{"127.0.0.1:18080", "/healthz", 200},
		{"assay.example.com", "/healthz", 200},
		{"localhost:18080", "/", 200},
		{"localhost:18080", "/v1/nope", 404},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Host = tc.host
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Host %s %s: %d, want %d", tc.host, tc.path, rec.Code, tc.want)
		}
		if tc.want == 421 && (rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `host \"evil.example:18080\" is not served here`)) {
			t.Errorf("Host %s %s: %s %q", tc.host, tc.path, rec.Header().Get("Content-Type"), rec.Body.String())
		}
	}
	if reached != 2 {
		t.Errorf("healthz reached %d times, want 2 (the allowed hosts only)", reached)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	refused := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "assay_api_misdirected_requests_total" {
			refused = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if refused != 5 {
		t.Errorf("assay_api_misdirected_requests_total %v, want 5", refused)
	}
}
