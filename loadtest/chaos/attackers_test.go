//go:build abuse

package chaos

// The attackers of the abuse suite, and what it reads of the processes it attacks: their
// memory from /proc and their Prometheus metrics.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/streams/infra/config"
)

// gatewayProc is the ingest gateway (services/ingest) running as a process of its own.
type gatewayProc struct {
	*proc
	URL string
}

var listeningLine = regexp.MustCompile(`msg="http server listening" addr=(\S+)`)

// startGateway starts the ingest binary on a free loopback port with the principals file
// and extra flags, and waits until it listens.
func startGateway(t *testing.T, bin, name string, k config.Kafka, principals string, extra ...string) *gatewayProc {
	t.Helper()
	p := &proc{testenv.StartProcess(t, name, bin, []string{
		"ASSAY_KAFKA_BROKERS=" + strings.Join(k.Brokers, ","), "ASSAY_TOPIC_PREFIX=" + k.TopicPrefix,
	}, append([]string{"-addr", "127.0.0.1:0", "-principals-file", principals}, extra...)...)}
	return &gatewayProc{p, "http://" + p.waitLog(t, listeningLine, 30*time.Second)}
}

// metrics returns the text of the gateway's /metrics (served beside POST /v1/events), or ""
// when it does not answer. It may be called from any goroutine.
func (g *gatewayProc) metrics() string { return scrape(g.URL + "/metrics") }

var opsLine = regexp.MustCompile(`msg="ops endpoints ready" addr=(\S+)`)

// metrics returns the text of a processor's /metrics, found through the ops address in its
// log, or "" when it does not answer. It may be called from any goroutine (unlike
// testenv.Process.Metrics, which fails the test).
func (p *proc) metrics() string {
	b, _ := os.ReadFile(p.Log)
	m := opsLine.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return scrape("http://" + string(m[1]) + "/metrics")
}

func scrape(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// memory returns the process's resident set now (VmRSS) and at its peak (VmHWM), in bytes;
// zeros once the process is gone. It may be called from any goroutine.
func memory(p *proc) (rss, hwm int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// gcLine is a line the Go runtime writes per collection under GODEBUG=gctrace=1: the heap
// at its start, at its end, and the live heap it marked, in MB.
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @[\d.]+s .*? (\d+)->(\d+)->(\d+) MB`)

// liveHeaps returns the live heap (MB) of each collection the process logged so far.
func (p *proc) liveHeaps() []int {
	b, _ := os.ReadFile(p.Log)
	var out []int
	for _, m := range gcLine.FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[3]))
		out = append(out, n)
	}
	return out
}

// abortedLine is the runtime's log line for an aborted transaction, after which it rebuilds
// every partition's state from the log.
var abortedLine = regexp.MustCompile(`msg="transaction aborted; rebuilding state`)

// count returns how many lines of the process's log match re.
func (p *proc) count(re *regexp.Regexp) int {
	b, _ := os.ReadFile(p.Log)
	return len(re.FindAllIndex(b, -1))
}

// metricSum sums the samples of the series name in a Prometheus text exposition whose line
// contains every one of match (label pairs such as `processor="router"`).
func metricSum(text, name string, match ...string) float64 {
	var sum float64
lines:
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		for _, m := range match {
			if !strings.Contains(l, m) {
				continue lines
			}
		}
		if v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// sampler calls f every interval on a goroutine until stop is called, which returns after
// the last call.
func sampler(interval time.Duration, f func()) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			f()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-exited }
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// tally counts outcomes by name, safely from several goroutines.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) add(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[outcome]++
}

func (c *tally) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}

// status names an HTTP answer, or the failure to get one.
func status(resp *http.Response, err error) string {
	if err != nil {
		return "no answer (connection closed)"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// fromAddress returns an HTTP client whose connections come from the loopback address ip
// (Linux routes all of 127/8 to lo), so one test plays many remote addresses.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}}
}

// unauthBody is an NDJSON body of about n bytes: what an attacker without a token posts.
func unauthBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"event_type":"ItemIngested","item_id":"flood-%d","source":"s","uri":"u","sha256":"%064d","modality":"text","project_id":"p"}`+"\n", i, i)
	}
	return b.Bytes()
}

// unauthFlood posts body, its first KiB replaced by random bytes, with no token (even
// workers) or a wrong one (odd workers), from addrs loopback addresses, as fast as the
// gateway answers, until d has passed, and returns the answers by status.
func unauthFlood(url string, body []byte, workers, addrs int, d time.Duration) (*tally, time.Duration) {
	answers := &tally{}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := fromAddress(fmt.Sprintf("127.0.0.%d", 10+w%addrs))
			defer client.CloseIdleConnections()
			rnd := rand.NewChaCha8([32]byte{byte(w)})
			head := make([]byte, 1<<10)
			for time.Now().Before(deadline) {
				_, _ = rnd.Read(head)
				req, _ := http.NewRequest(http.MethodPost, url+wire.Path, io.MultiReader(bytes.NewReader(head), bytes.NewReader(body[len(head):])))
				req.ContentLength = int64(len(body))
				req.Header.Set("Content-Type", wire.MediaNDJSON)
				if w%2 == 1 {
					req.Header.Set("Authorization", fmt.Sprintf("Bearer stolen-%d", w))
				}
				answers.add(status(client.Do(req)))
			}
		}()
	}
	wg.Wait()
	return answers, time.Since(start)
}

// gzipOf compresses n copies of the byte c (about 1 KiB of gzip per MiB).
func gzipOf(t *testing.T, c byte, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := bytes.Repeat([]byte{c}, 1<<20)
	for n > 0 {
		m := min(n, len(chunk))
		if _, err := zw.Write(chunk[:m]); err != nil {
			t.Fatal(err)
		}
		n -= m
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postGzip posts a gzip body with token and returns the answer's status.
func postGzip(url, token string, body []byte) string {
	req, _ := http.NewRequest(http.MethodPost, url+wire.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", wire.MediaNDJSON)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+token)
	return status((&http.Client{Timeout: 2 * time.Minute}).Do(req))
}

// Kinds of slow client.
const (
	slowSilent = "silent"      // connects and sends nothing
	slowHeader = "slow header" // sends a header line a second, never ending the header
	slowBody   = "slow body"   // sends a complete, authenticated header, then a byte of body a second
)

// slowOutcome is how one slow connection ended: the server's status line, or that the
// server closed it without an answer, and how long it was held.
type slowOutcome struct {
	kind, outcome string
	held          time.Duration
}

// slowClients keeps n connections of the given kind open against addr (host:port), a slow
// body's header authenticated with token, each reconnecting when the server cuts it, until d
// has passed; then it waits for the open ones to be cut, closing any still open after grace
// itself (outcome "not cut"). It returns every connection's outcome.
func slowClients(addr, kind, token string, n int, d, grace time.Duration) []slowOutcome {
	var (
		mu  sync.Mutex
		out []slowOutcome
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				o := slowConn(addr, kind, token, deadline.Add(grace))
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
				if o.outcome == "dial failed" {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// slowConn holds one slow connection until the server ends it or giveUp.
func slowConn(addr, kind, token string, giveUp time.Time) slowOutcome {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return slowOutcome{kind, "dial failed", 0}
	}
	defer c.Close()
	answered := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(c).ReadString('\n')
		switch {
		case strings.HasPrefix(line, "HTTP/1.1 "):
			answered <- strings.Fields(line)[1]
		case err != nil && time.Now().After(giveUp):
			answered <- "not cut"
		default:
			answered <- "closed without an answer"
		}
	}()
	_ = c.SetDeadline(giveUp)
	switch kind {
	case slowHeader:
		_, _ = io.WriteString(c, "POST "+wire.Path+" HTTP/1.1\r\nHost: gateway\r\n")
	case slowBody:
		_, _ = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			wire.Path, token, wire.MediaNDJSON, 1<<20)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case o := <-answered:
			return slowOutcome{kind, o, time.Since(start)}
		case <-tick.C:
			switch kind {
			case slowHeader:
				_, _ = io.WriteString(c, "X-Slow: a\r\n")
			case slowBody:
				_, _ = io.WriteString(c, " ")
			}
		}
	}
}
