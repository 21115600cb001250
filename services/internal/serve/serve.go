package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewLogger returns a slog logger writing to w in format "json" or "text" at level
// ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want json or text", format)
	}
}

// SignalContext returns a context cancelled on SIGINT or SIGTERM. A second signal is left to
// the default handler, which ends the process at once: an operator pressing Ctrl-C twice
// wants out.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		cancel() // stop catching signals, so the next one terminates the process
	}()
	return ctx, cancel
}

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors, so
// every service exposes memory, GC and file-descriptor figures beside its own assay_* metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Check is one readiness check: it returns nil when the dependency answers.
type Check func(ctx context.Context) error

// Ops serves /healthz, /readyz and /metrics, and lets a service mount its own handlers beside
// them.
type Ops struct {
	Mux *http.ServeMux

	mu     sync.Mutex
	checks map[string]Check
}

// NewOps returns the operational endpoints for reg.
func NewOps(reg *prometheus.Registry) *Ops {
	o := &Ops{Mux: http.NewServeMux(), checks: map[string]Check{}}
	o.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	o.Mux.HandleFunc("GET /readyz", o.ready)
	o.Mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return o
}

// AddCheck registers a readiness check under name.
func (o *Ops) AddCheck(name string, c Check) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = c
}

func (o *Ops) ready(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	checks := make(map[string]Check, len(o.checks))
	for k, v := range o.checks {
		checks[k] = v
	}
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, code := map[string]string{}, http.StatusOK
	for name, c := range checks {
		if err := c(ctx); err != nil {
			status[name] = err.Error()
			code = http.StatusServiceUnavailable
		} else {
			status[name] = "ok"
		}
	}
	writeJSON(w, code, status)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Option configures ListenAndServe.
type Option func(*serverOptions)

type serverOptions struct {
	http    HTTPConfig
	reg     prometheus.Registerer
	service string
}

// WithHTTP sets the server's timeouts, header bound and connection bound (default:
// DefaultHTTPConfig, so every server has them).
func WithHTTP(c HTTPConfig) Option { return func(o *serverOptions) { o.http = c } }

// WithConnMetrics registers the connection figures of the server on reg, labelled
// service=service: assay_http_connections_open, assay_http_connections_limit,
// assay_http_connections_limit_reached_total and assay_http_connections_rejected_total{reason}.
func WithConnMetrics(reg prometheus.Registerer, service string) Option {
	return func(o *serverOptions) { o.reg, o.service = reg, service }
}

// ListenAndServe serves h on addr until ctx is cancelled, then shuts down gracefully, giving
// in-flight requests up to grace to finish. It returns the bound address on ready (useful with
// ":0" in tests) before blocking. The server's timeouts and connection bound are those of
// WithHTTP, else DefaultHTTPConfig; an invalid configuration is an error before listening.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, grace time.Duration, log *slog.Logger, ready func(net.Addr), opts ...Option) error {
	o := serverOptions{http: DefaultHTTPConfig()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.http.Validate(); err != nil {
		return err
	}
	var m *connMetrics
	if o.reg != nil {
		var err error
		if m, err = newConnMetrics(o.reg, o.service); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := o.http.server(h)
	if m != nil {
		srv.ConnState = connState
	}
	if ready != nil {
		ready(ln.Addr())
	}
	log.Info("http server listening", "addr", ln.Addr().String(), "read_timeout", o.http.ReadTimeout,
		"write_timeout", o.http.WriteTimeout, "idle_timeout", o.http.IdleTimeout, "max_conns", o.http.MaxConns)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(o.http.listen(ln, m)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("http server stopped", "addr", ln.Addr().String())
	return nil
}
