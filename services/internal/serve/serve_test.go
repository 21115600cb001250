package serve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOpsEndpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "assay_test_things_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	o := NewOps(reg)
	fail := true
	o.AddCheck("kafka", func(context.Context) error {
		if fail {
			return errors.New("no brokers")
		}
		return nil
	})
	tests := []struct {
		path, want string
		code       int
	}{
		{"/healthz", `"ok"`, 200},
		{"/readyz", "no brokers", 503},
		{"/metrics", "assay_test_things_total 1", 200},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		o.Mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.path, rec.Code, rec.Body.String(), tt.code, tt.want)
		}
	}
	fail = false
	rec := httptest.NewRecorder()
	o.Mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("readyz after recovery: %d", rec.Code)
	}
}
