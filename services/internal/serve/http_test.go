package serve

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The tests below run real servers on 127.0.0.1 through ListenAndServe and talk to them over
// raw TCP, so that a client can be as slow or as idle as an attacker. Their short timeouts are
// the server's configuration; the test bounds (cutoff) are generous and only catch a server
// that never acts.
const cutoff = 20 * time.Second

// start serves h with c until the test ends and returns its address and registry.
func start(t *testing.T, c HTTPConfig, h http.Handler) (string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ListenAndServe(ctx, "127.0.0.1:0", h, 5*time.Second, slog.New(slog.DiscardHandler),
			func(a net.Addr) { addrc <- a.String() }, WithHTTP(c), WithConnMetrics(reg, "test"))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	})
	select {
	case a := <-addrc:
		return a, reg
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	return "", nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readResponse reads one response from c, waiting at most cutoff.
func readResponse(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(cutoff))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// waitClosed reads c until the server closes it, failing if it is still open after cutoff.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(cutoff))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", cutoff)
	}
}

// metric returns the value /metrics shows for name (with reason=reason when given), or -1
// when there is no such series.
func metric(reg *prometheus.Registry, name, reason string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := reason == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == "reason" && l.GetValue() == reason
			}
			if match {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func rejected(reg *prometheus.Registry, reason string) float64 {
	return metric(reg, "assay_http_connections_rejected_total", reason)
}

func gauge(reg *prometheus.Registry, name string) float64 { return metric(reg, name, "") }

// eventually polls f until it holds or cutoff passes.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for end := time.Now().Add(cutoff); !f(); {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, cutoff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testConfig() HTTPConfig {
	c := DefaultHTTPConfig()
	c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = time.Second, time.Second, 2*time.Second, time.Second
	return c
}

// TestSlowBodyIsCut: a client that sends its header and then trickles its body is cut at the
// read timeout, the handler sees a timeout rather than waiting for ever, and the cut is
// counted; a client sending the same body at once is answered.
func TestSlowBodyIsCut(t *testing.T) {
	handlerErr := make(chan error, 2)
	addr, reg := start(t, testConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		handlerErr <- err
		if err == nil {
			fmt.Fprint(w, "ok")
		}
	}))
	const body = 1000

	fast := dial(t, addr)
	fmt.Fprintf(fast, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", body, strings.Repeat("x", body))
	if resp, err := readResponse(t, fast, bufio.NewReader(fast)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fast client: %v %v", resp, err)
	}
	if err := <-handlerErr; err != nil {
		t.Fatalf("fast client's body: %v", err)
	}

	slow := dial(t, addr)
	fmt.Fprintf(slow, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", body)
	go func() { // one byte every 50 ms: 50 s for the body, far past the 1 s read timeout
		for i := 0; i < body; i++ {
			if _, err := slow.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	select {
	case err := <-handlerErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("slow body: handler got %v, want a timeout", err)
		}
	case <-time.After(cutoff):
		t.Fatalf("slow body still being read after %v", cutoff)
	}
	waitClosed(t, slow)
	eventually(t, "read_timeout counted", func() bool { return rejected(reg, reasonReadTimeout) == 1 })
	if n := rejected(reg, reasonWriteTimeout); n != 0 {
		t.Errorf("write timeouts counted: %v", n)
	}
}

// TestSlowHeaderIsCut: a header trickled past the header timeout is cut and counted.
func TestSlowHeaderIsCut(t *testing.T) {
	c := testConfig()
	c.ReadTimeout, c.WriteTimeout = time.Minute, time.Minute // only the header timeout applies
	addr, reg := start(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a request whose header never ended was served")
	}))
	slow := dial(t, addr)
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("y", 1000)) {
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	waitClosed(t, slow)
	eventually(t, "read_timeout counted", func() bool { return rejected(reg, reasonReadTimeout) == 1 })
}

// TestIdleKeepAliveIsClosed: a keep-alive connection that sends no further request is closed
// after the idle timeout, and that ordinary end is not counted as a rejection.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	c := testConfig()
	c.ReadTimeout, c.WriteTimeout = time.Minute, time.Minute // only the idle timeout applies
	addr, reg := start(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := readResponse(t, conn, br); err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("first request: %v %v (want a kept-alive 200)", resp, err)
	}
	waitClosed(t, conn)
	eventually(t, "connection counted closed", func() bool { return gauge(reg, "assay_http_connections_open") == 0 })
	if n := rejected(reg, reasonReadTimeout) + rejected(reg, reasonWriteTimeout); n != 0 {
		t.Errorf("an idle close was counted as a rejection: %v", n)
	}
}

// TestWriteTimeoutCutsTheAnswer: a response that cannot be written within the write timeout
// is cut (the client sees the connection end without an answer) and counted.
func TestWriteTimeoutCutsTheAnswer(t *testing.T) {
	c := testConfig()
	c.ReadTimeout, c.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	release := make(chan struct{})
	addr, reg := start(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // outlive the write timeout, then answer
		case <-release:
		case <-time.After(time.Second):
		}
		fmt.Fprint(w, "late")
	}))
	defer close(release)
	conn := dial(t, addr)
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := readResponse(t, conn, bufio.NewReader(conn)); err == nil {
		t.Fatalf("got %v after the write timeout, want the connection cut", resp.Status)
	}
	eventually(t, "write_timeout counted", func() bool { return rejected(reg, reasonWriteTimeout) == 1 })
}

// TestConnectionLimit: with -http-max-conns 2, a third connection is not served while two are
// open (it waits to be accepted, it is not refused) and is served as soon as one closes.
func TestConnectionLimit(t *testing.T) {
	c := testConfig()
	c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = time.Minute, time.Minute, time.Minute, time.Minute
	c.MaxConns = 2
	addr, reg := start(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	get := func(conn net.Conn, br *bufio.Reader) error {
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err := readResponse(t, conn, br)
		return err
	}
	first, second := dial(t, addr), dial(t, addr)
	for _, conn := range []net.Conn{first, second} {
		if err := get(conn, bufio.NewReader(conn)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "limit reached counted", func() bool {
		return gauge(reg, "assay_http_connections_limit_reached_total") >= 1
	})
	if open, limit := gauge(reg, "assay_http_connections_open"), gauge(reg, "assay_http_connections_limit"); open != 2 || limit != 2 {
		t.Fatalf("open %v, limit %v: want 2 and 2", open, limit)
	}

	third := dial(t, addr) // the kernel completes the handshake; the server does not accept
	answered := make(chan error, 1)
	go func() { answered <- get(third, bufio.NewReader(third)) }()
	select {
	case err := <-answered:
		t.Fatalf("third connection served while two were open (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("third connection after a slot freed: %v", err)
		}
	case <-time.After(cutoff):
		t.Fatalf("third connection not served %v after a slot freed", cutoff)
	}
	if open := gauge(reg, "assay_http_connections_open"); open != 2 {
		t.Errorf("open = %v, want 2 (second and third)", open)
	}
}

// TestMaxHeaderBytes: a header past the bound is answered 431, one within it is served.
func TestMaxHeaderBytes(t *testing.T) {
	c := testConfig()
	c.MaxHeaderBytes = 1 << 10
	addr, _ := start(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	for _, tt := range []struct {
		size, want int
	}{{100, 200}, {64 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		conn := dial(t, addr)
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("z", tt.size))
		// The server closes after a 431 without reading the rest, so the body's end may be a
		// reset: only the status matters.
		resp, err := readResponse(t, conn, bufio.NewReader(conn))
		if resp == nil || resp.StatusCode != tt.want {
			t.Errorf("%d-byte header: %v %v, want %d", tt.size, resp, err, tt.want)
		}
	}
}

func TestHTTPConfigValidate(t *testing.T) {
	ok := DefaultHTTPConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, mod := range map[string]func(*HTTPConfig){
		"negative timeout":        func(c *HTTPConfig) { c.IdleTimeout = -time.Second },
		"negative conns":          func(c *HTTPConfig) { c.MaxConns = -1 },
		"write shorter than read": func(c *HTTPConfig) { c.ReadTimeout, c.WriteTimeout = time.Minute, time.Second },
	} {
		c := DefaultHTTPConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// ListenAndServe refuses it before listening.
		err := ListenAndServe(context.Background(), "127.0.0.1:0", http.NotFoundHandler(), time.Second, slog.New(slog.DiscardHandler), nil, WithHTTP(c))
		if err == nil {
			t.Errorf("%s: ListenAndServe accepted it", name)
		}
	}
	c := DefaultHTTPConfig()
	c.WriteTimeout = 0 // no write bound at all is allowed
	if err := c.Validate(); err != nil {
		t.Errorf("write timeout 0: %v", err)
	}
}

func TestRegisterHTTPFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	def := DefaultHTTPConfig()
	def.ReadTimeout = 5 * time.Minute
	c := RegisterHTTPFlags(fs, def)
	if err := fs.Parse([]string{"-http-max-conns", "7", "-http-idle-timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	want := def
	want.MaxConns, want.IdleTimeout = 7, 5*time.Second
	if *c != want {
		t.Fatalf("got %+v, want %+v", *c, want)
	}
}
