package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// loopbackNames are always allowed: no DNS answer can make a browser send them for a page
// of another site.
var loopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// hostRule is one allowed Host: a name (lower case, without a trailing dot, an IPv6 address
// without brackets) and, when given, the only port it is allowed with.
type hostRule struct {
	name string
	port string
}

// hostList is the Host allowlist of every route (see the package doc, "Host allowlist").
type hostList []hostRule

// newHostList returns the allowlist: the loopback names, the host of listenAddr (when it has
// one) and every entry of extra, each a name ("assay.example.com", allowed on any port) or
// a name with a port ("assay.example.com:8443", allowed with that port only).
func newHostList(listenAddr string, extra []string) (hostList, error) {
	var out hostList
	for _, n := range loopbackNames {
		out = append(out, hostRule{name: n})
	}
	if listenAddr != "" {
		host, _, err := net.SplitHostPort(listenAddr)
		if err != nil {
			return nil, fmt.Errorf("httpapi: Config.ListenAddr %q: %w", listenAddr, err)
		}
		if host != "" {
			out = append(out, hostRule{name: normalizeHost(host)})
		}
	}
	for _, e := range extra {
		r, err := parseHostRule(e)
		if err != nil {
			return nil, fmt.Errorf("httpapi: allowed host %q: %w", e, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseHostRule reads one configured entry: host or host:port, an IPv6 address in brackets
// when it has a port. Anything else (a URL, a pattern, a path) is refused rather than
// guessed at: a mistyped entry must not silently allow nothing, or everything.
func parseHostRule(e string) (hostRule, error) {
	e = strings.TrimSpace(e)
	switch {
	case e == "":
		return hostRule{}, fmt.Errorf("empty")
	case strings.Contains(e, "://") || strings.ContainsAny(e, "/?#@ \t"):
		return hostRule{}, fmt.Errorf("want a host name, optionally with :port, not a URL")
	case strings.Contains(e, "*"):
		return hostRule{}, fmt.Errorf("patterns are not supported: list each name")
	}
	name, port := e, ""
	if h, p, err := net.SplitHostPort(e); err == nil {
		name, port = h, p
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return hostRule{}, fmt.Errorf("port %q is not a port number", p)
		}
	} else if strings.Count(e, ":") == 1 {
		return hostRule{}, err
	}
	if name = normalizeHost(name); !validHostName(name) {
		return hostRule{}, fmt.Errorf("%q is neither a host name nor an IP address", name)
	}
	return hostRule{name: name, port: port}, nil
}

// validHostName accepts an IP address or a DNS name (letters, digits, '-', '_' and dots).
func validHostName(name string) bool {
	if net.ParseIP(name) != nil {
		return true
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// normalizeHost lowers a name, drops a trailing dot and IPv6 brackets.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allows says whether a request's Host header is on the list.
func (l hostList) allows(hostHeader string) bool {
	name, port := hostHeader, ""
	if h, p, err := net.SplitHostPort(hostHeader); err == nil {
		name, port = h, p
	}
	name = normalizeHost(name)
	if name == "" {
		return false
	}
	for _, r := range l {
		if r.name == name && (r.port == "" || r.port == port) {
			return true
		}
	}
	return false
}

// CheckHost wraps next (the API, the dashboard and the /healthz, /readyz and /metrics routes
// beside them: main wraps the whole mux) with the Host allowlist: a request whose Host header
// is not on it is answered 421 Misdirected Request before any handler runs, so a page of
// another site that rebinds its name to this server's address reads nothing.
func (s *Server) CheckHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts.allows(r.Host) {
			s.m.misdirected.Inc()
			s.cfg.Log.Debug("request for a host not served here", "host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
			writeJSON(w, http.StatusMisdirectedRequest, Problem{Error: fmt.Sprintf(
				"host %q is not served here: the API answers only the names it is configured for (-allowed-hosts)", r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}
