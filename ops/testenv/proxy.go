package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards TCP connections to a target and can be cut (listener and every
// connection closed) and restored on the same address: an outage of one server (ClickHouse,
// say) for one client, without stopping the server others test against.
type TCPProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

// NewTCPProxy starts a proxy to target on a free loopback port; it is cut when t ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	p := &TCPProxy{target: target, conns: map[net.Conn]struct{}{}}
	if err := p.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's address (host:port), the same before and after a cut.
func (p *TCPProxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *TCPProxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(ln, c)
		}
	}()
	return nil
}

func (p *TCPProxy) pipe(ln net.Listener, c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // cut while dialling
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); u.Close(); c.Close() }()
	_, _ = io.Copy(c, u)
	c.Close()
	u.Close()
}

// Cut closes the listener and every open connection: new connections are refused until
// Restore.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Restore listens again on the same address (retrying briefly while the port is released).
func (p *TCPProxy) Restore(t testing.TB) {
	t.Helper()
	var err error
	for range 50 {
		if err = p.listen(p.Addr()); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restore proxy on %s: %v", p.Addr(), err)
}
