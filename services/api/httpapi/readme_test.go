package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/api/httpapi"
)

// TestReadmeRequests: every endpoint the README's "Dashboard and API" section lists in its
// table is one the API serves, and every request of its curl examples is answered (200, or
// 404 for a version the empty database does not hold), never with "no such endpoint" or a
// 400 for a parameter it does not take: the README's API is the API's.
func TestReadmeRequests(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Dashboard and API\n")
	if !ok {
		t.Fatal("README has no section Dashboard and API")
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	routes := regexp.MustCompile("(?m)^\\| `GET (/v1/[^`]*)`").FindAllStringSubmatch(section, -1)
	curls := regexp.MustCompile(`'http://127\.0\.0\.1:18080(/v1/[^']*)'`).FindAllStringSubmatch(section, -1)
	if len(routes) < 15 || len(curls) < 5 {
		t.Fatalf("found %d endpoints and %d curl requests in the README's API section", len(routes), len(curls))
	}

	_, conn := testenv.MigratedClickHouse(t)
	srv, err := httpapi.New(httpapi.Config{Conn: conn, Principals: testStore(t), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	api := httptest.NewServer(mux)
	defer api.Close()
	placeholder := regexp.MustCompile(`\{[a-z]+\}`)
	listed := map[string]bool{}
	for _, r := range routes {
		listed[r[1]] = true
		var p httpapi.Problem
		code := get(t, api.URL, placeholder.ReplaceAllString(r[1], "x"), &p)
		if strings.Contains(p.Error, "no such endpoint") || code == http.StatusBadRequest {
			t.Errorf("the README lists GET %s: %d %+v", r[1], code, p)
		}
	}
	for _, c := range curls {
		var p httpapi.Problem
		code := get(t, api.URL, c[1], &p)
		if code != http.StatusOK && !(code == http.StatusNotFound && !strings.Contains(p.Error, "no such endpoint")) {
			t.Errorf("the README's curl %s: %d %+v", c[1], code, p)
		}
		path, _, _ := strings.Cut(c[1], "?")
		if !listed[path] && !strings.HasPrefix(path, "/v1/lineage/") {
			t.Errorf("the README's curl %s asks an endpoint its table does not list", c[1])
		}
	}
	t.Logf("%d endpoints of the README's table served, %d curl requests answered", len(routes), len(curls))
}
