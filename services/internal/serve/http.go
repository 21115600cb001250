package serve

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
)

// HTTPConfig bounds what one client can hold of a server, so that slow or idle clients
// (slow-loris) cost a bounded number of connections for a bounded time and can never starve
// the others of memory or file descriptors. A zero duration means no limit, as in net/http.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds the arrival of a request's header: a client that connects and
	// trickles its header is cut after it.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the arrival of a whole request, header and body, from its first byte.
	// It must let the largest legitimate body arrive over the slowest link a client may use.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its header to the end of its response: the
	// body's arrival, the handler and the response. It must therefore be at least ReadTimeout.
	// A handler that legitimately needs longer (a stream) extends its own deadline with
	// http.ResponseController.SetWriteDeadline.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request header; a larger one is answered 431. 0 means
	// net/http's default (1 MiB).
	MaxHeaderBytes int
	// MaxConns bounds the connections served at once (0: no bound). Past it the server stops
	// accepting (netutil.LimitListener): further connections wait in the kernel's accept queue
	// until one closes, so a burst is delayed, never refused. The bound protects the process
	// (memory, descriptors); with the timeouts above, a client holding slots without sending
	// loses each of them within ReadHeaderTimeout or IdleTimeout.
	MaxConns int
}

// DefaultHTTPConfig returns the bounds of a server whose requests carry small bodies or none
// (the API and dashboard, the ops endpoints): a header must arrive within 10 s, a request
// within 30 s and its answer within 60 s (the API bounds its queries at 10 s, and none of its
// responses streams), an idle keep-alive connection lasts 60 s (below Go's client idle timeout
// of 90 s, and the client retries a replayable request that meets a closing connection),
// headers are at most 64 KiB (what a browser with many cookies sends, a sixteenth of net/http's
// default) and at most 1024 connections are served at once, about 80 MiB at worst with full
// headers. A service that takes large uploads raises ReadTimeout and WriteTimeout (see
// services/ingest).
func DefaultHTTPConfig() HTTPConfig {
	return HTTPConfig{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxConns:          1024,
	}
}

// Validate reports a configuration that would cut legitimate requests or means nothing.
func (c HTTPConfig) Validate() error {
	for name, d := range map[string]time.Duration{
		"read header timeout": c.ReadHeaderTimeout, "read timeout": c.ReadTimeout,
		"write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("http %s %v is negative", name, d)
		}
	}
	if c.MaxHeaderBytes < 0 || c.MaxConns < 0 {
		return fmt.Errorf("http max header bytes %d and max conns %d must not be negative", c.MaxHeaderBytes, c.MaxConns)
	}
	if c.ReadTimeout > 0 && c.WriteTimeout > 0 && c.WriteTimeout < c.ReadTimeout {
		return fmt.Errorf("http write timeout %v is shorter than the read timeout %v: a request whose body arrives in time could not be answered", c.WriteTimeout, c.ReadTimeout)
	}
	return nil
}

// RegisterHTTPFlags registers the -http-* flags on fs with def as their defaults, and returns
// the configuration they fill in when fs is parsed.
func RegisterHTTPFlags(fs *flag.FlagSet, def HTTPConfig) *HTTPConfig {
	c := &def
	fs.DurationVar(&c.ReadHeaderTimeout, "http-read-header-timeout", def.ReadHeaderTimeout, "bound on the arrival of a request's header (0: none)")
	fs.DurationVar(&c.ReadTimeout, "http-read-timeout", def.ReadTimeout, "bound on the arrival of a whole request, header and body (0: none)")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", def.WriteTimeout, "bound from the end of a request's header to the end of its response; at least -http-read-timeout (0: none)")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", def.IdleTimeout, "how long a keep-alive connection waits for its next request (0: the read timeout)")
	fs.IntVar(&c.MaxHeaderBytes, "http-max-header-bytes", def.MaxHeaderBytes, "largest request header, else 431 (0: net/http's 1 MiB)")
	fs.IntVar(&c.MaxConns, "http-max-conns", def.MaxConns, "connections served at once; more wait to be accepted (0: no bound)")
	return c
}

// server returns an http.Server for h with the bounds of c.
func (c HTTPConfig) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
	}
}

// connMetrics are the connection figures of one server, labelled by service.
type connMetrics struct {
	open     prometheus.Gauge
	limit    prometheus.Gauge
	reached  prometheus.Counter
	rejected *prometheus.CounterVec
}

// Reasons of assay_http_connections_rejected_total.
const (
	reasonReadTimeout  = "read_timeout"
	reasonWriteTimeout = "write_timeout"
)

func newConnMetrics(reg prometheus.Registerer, service string) (*connMetrics, error) {
	labels := prometheus.Labels{"service": service}
	m := &connMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_http_connections_open", ConstLabels: labels,
			Help: "HTTP connections accepted and not yet closed.",
		}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_http_connections_limit", ConstLabels: labels,
			Help: "Connections served at once at most (-http-max-conns; 0: no bound).",
		}),
		reached: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_http_connections_limit_reached_total", ConstLabels: labels,
			Help: "Times the server went to accept a connection with every slot in use: further connections waited in the kernel's accept queue.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_http_connections_rejected_total", ConstLabels: labels,
			Help: "Connections the server cut because the client was too slow: reason read_timeout (a started request's header or body did not arrive in time) or write_timeout (the response could not be written in time). Idle connections closed between requests are not counted.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.open, m.limit, m.reached, m.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http connection metrics of %s: %w", service, err)
		}
	}
	// Both reasons are exported at 0 from the start, so a query over them has a series.
	m.rejected.WithLabelValues(reasonReadTimeout)
	m.rejected.WithLabelValues(reasonWriteTimeout)
	return m, nil
}

// listen wraps ln with the connection bound of c and, when m is not nil, the figures of m.
func (c HTTPConfig) listen(ln net.Listener, m *connMetrics) net.Listener {
	if c.MaxConns > 0 {
		ln = netutil.LimitListener(ln, c.MaxConns)
	}
	if m == nil {
		return ln
	}
	m.limit.Set(float64(c.MaxConns))
	return &trackedListener{Listener: ln, max: int64(c.MaxConns), m: m}
}

// trackedListener counts the connections of a (possibly limited) listener. The count is kept
// here rather than from http.Server.ConnState so that it moves exactly with the limiter's
// slots, which are released when a connection is closed.
type trackedListener struct {
	net.Listener
	max  int64
	open atomic.Int64
	m    *connMetrics
}

func (l *trackedListener) Accept() (net.Conn, error) {
	if l.max > 0 && l.open.Load() >= l.max {
		l.m.reached.Inc()
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	l.m.open.Inc()
	return &trackedConn{Conn: c, l: l}, nil
}

// trackedConn tells the server's timeouts from other ends of a connection: a read or write
// that fails on a deadline the server set in the future is a timeout; a read that fails on a
// deadline set in the past is net/http aborting its own background read, not a client's fault;
// a read timeout with no byte of a request received is an idle connection expiring.
type trackedConn struct {
	net.Conn
	l *trackedListener

	// state is the http.ConnState, set by the server's ConnState hook.
	state atomic.Int32
	// pending counts the bytes read since the connection last became idle (or new): zero
	// means no request had started when a read deadline passed.
	pending atomic.Int64
	// aborting is set while the read deadline in force was already past when set.
	aborting atomic.Bool

	counted   atomic.Bool // one rejection counted per connection
	closeOnce sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.pending.Add(int64(n))
	if err != nil && isTimeout(err) && !c.aborting.Load() {
		s := http.ConnState(c.state.Load())
		if s == http.StateActive || c.pending.Load() > 0 {
			c.reject(reasonReadTimeout)
		}
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && isTimeout(err) {
		c.reject(reasonWriteTimeout)
	}
	return n, err
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.aborting.Store(!t.IsZero() && !t.After(time.Now()))
	return c.Conn.SetReadDeadline(t)
}

func (c *trackedConn) SetDeadline(t time.Time) error {
	c.aborting.Store(!t.IsZero() && !t.After(time.Now()))
	return c.Conn.SetDeadline(t)
}

func (c *trackedConn) reject(reason string) {
	if c.counted.CompareAndSwap(false, true) {
		c.l.m.rejected.WithLabelValues(reason).Inc()
	}
}

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() {
		c.l.open.Add(-1)
		c.l.m.open.Dec()
	})
	return c.Conn.Close()
}

// connState is the http.Server.ConnState hook that keeps trackedConn.state current.
func connState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*trackedConn)
	if !ok {
		return
	}
	if s == http.StateIdle || s == http.StateNew {
		c.pending.Store(0)
	}
	c.state.Store(int32(s))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
