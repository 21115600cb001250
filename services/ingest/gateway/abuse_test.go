package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/gateview/gateviewtest"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/questionview/questionviewtest"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/streams/infra/config"
	"github.com/assay-data/assay/streams/infra/kafka"
)

// from returns an HTTP client whose connections come from the loopback address ip
// (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127/8 to lo), so one test can play several
// remote addresses.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// request builds a POST to h; token "" sends no Authorization header. A body of length -1
// is sent chunked.
func (h *harness) request(t testing.TB, token string, body io.Reader, length int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+wire.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", wire.MediaNDJSON)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// dlqCount is the number of records on the namespace's DLQ topic (end offsets: the gateway
// answers only after its DLQ records are acknowledged, so the count is final).
func dlqCount(t testing.TB, k config.Kafka) int64 {
	t.Helper()
	cl, err := kafka.NewClient(k)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), k.Topic(schemas.FamilyDLQ.Topic()))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// metric returns the value of the sample named exactly name (with its labels) in text.
func metric(text, name string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// bigBody is an NDJSON body of about n bytes, starting with a marker.
func bigBody(t testing.TB, marker string, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		ev := ingesttest.Sample(schemas.TypeItemIngested, i)
		ev.(*schemas.ItemIngested).ItemID = fmt.Sprintf("%s-%d", marker, i)
		b.Write(marshal(t, ev))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestUnauthenticatedCostsAConstant sends requests with no token and with a wrong one, the
// latter with the 533 KB body of the issue, and checks that each is answered 401 without
// touching the in-flight budget, that the DLQ records are metadata only (under 2 KiB, the
// remote address, the size, a SHA-256 of what was read, the first KiB) and that past the
// per-address cap of the interval nothing more is written, only counted.
func TestUnauthenticatedCostsAConstant(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) {
		c.ClientRate = 0 // this test is about the DLQ cap, not the request rate
		c.UnauthDLQPerClient = 3
	})
	small := bigBody(t, "MARK-small", 100)
	big := bigBody(t, "MARK-big", 533_000)
	bodies := [][]byte{small}
	for i := 0; i < 9; i++ {
		bodies = append(bodies, big)
	}
	for i, body := range bodies {
		token := "wrong-token"
		if i == 0 {
			token = ""
		}
		a := do(t, from("127.0.0.1"), h.request(t, token, bytes.NewReader(body), int64(len(body))))
		if a.status != http.StatusUnauthorized || a.problem.Code != wire.CodeUnauthenticated || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		if want := i < 3; a.problem.DeadLettered != want {
			t.Errorf("request %d: dead_lettered %v, want %v (cap 3 per address)", i, a.problem.DeadLettered, want)
		}
	}
	if n := dlqCount(t, k); n != 3 {
		t.Fatalf("%d DLQ records after 10 unauthenticated requests, want the cap of 3", n)
	}
	recs := ingesttest.ReadTopic(t, k, 3, 10*time.Second, k.Topic(schemas.FamilyDLQ.Topic()))
	for i, r := range recs {
		if len(r.Value) >= 2<<10 {
			t.Errorf("DLQ record %d is %d bytes, want < 2 KiB", i, len(r.Value))
		}
		rej, err := schemas.DecodeAs[schemas.EventRejected](r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if rej.Source != "ingest:unauthenticated" || !strings.HasPrefix(rej.Reason, wire.CodeUnauthenticated+": ") || !strings.Contains(rej.Reason, "remote 127.0.0.1:") {
			t.Errorf("DLQ record %d: source %q reason %q", i, rej.Source, rej.Reason)
		}
		body, read := big, big[:16<<10]
		wantSize := fmt.Sprintf("body %d bytes (Content-Length), not read past %d", len(big), 16<<10)
		if ingesttest.Contains(rej.Original, "MARK-small") {
			body, read, wantSize = small, small, fmt.Sprintf("body %d bytes;", len(small))
		}
		sum := sha256.Sum256(read)
		if !strings.Contains(rej.Reason, hex.EncodeToString(sum[:])) || !strings.Contains(rej.Reason, wantSize) {
			t.Errorf("DLQ record %d: reason %q lacks the size (%s) or the SHA-256 of what was read", i, rej.Reason, wantSize)
		}
		if !bytes.Equal(rej.Original, body[:min(len(body), 1<<10)]) {
			t.Errorf("DLQ record %d keeps %d bytes, want the first KiB of the body", i, len(rej.Original))
		}
	}
	m := scrape(t, h)
	for name, want := range map[string]float64{
		`assay_ingest_rejected_requests_total{reason="no_credentials"}`:                     1,
		`assay_ingest_rejected_requests_total{reason="unknown_token"}`:                      9,
		`assay_ingest_unauthenticated_dlq_skipped_total{cap="client"}`:                      7,
		`assay_ingest_events_rejected_total{event_type="unknown",reason="unauthenticated"}`: 3,
		`assay_ingest_dlq_records_total{outcome="ok"}`:                                      3,
		`assay_ingest_clients`: 1,
	} {
		if got := metric(m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if peak := h.gw.BudgetPeak(); peak != 0 {
		t.Errorf("unauthenticated requests charged %d bytes to the in-flight budget", peak)
	}
}

// countingReader counts the bytes read from it: what the client managed to send.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestUnauthenticatedBodyNotRead sends 256 MiB with a wrong token, announced and chunked:
// the gateway answers 401 and closes the connection without reading the body, so the
// client never gets to send most of it.
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, nil)
	const size = 256 << 20
	for _, length := range []int64{size, -1} {
		body := &countingReader{r: io.LimitReader(gateway.ZeroReader{}, size)}
		resp, err := from("127.0.0.1").Do(h.request(t, "wrong-token", body, length))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
				t.Errorf("length %d: status %d, close %v; want 401 and Connection: close", length, resp.StatusCode, resp.Close)
			}
		} else if !isConnClosed(err) {
			// The client may see the connection closed under it before it reads the answer;
			// anything else is a failure.
			t.Fatalf("length %d: %v", length, err)
		}
		if sent := body.n.Load(); sent > size/4 {
			t.Errorf("length %d: the client sent %d of %d bytes; the gateway should have closed the connection", length, sent, size)
		}
		t.Logf("length %d: client sent %d bytes before the connection closed (err %v)", length, body.n.Load(), err)
	}
	if peak := h.gw.BudgetPeak(); peak != 0 {
		t.Errorf("unauthenticated requests charged %d bytes to the in-flight budget", peak)
	}
}

func isConnClosed(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") || strings.Contains(s, "EOF")
}

// TestUnauthenticatedCaps plays several remote addresses: each has its own DLQ cap, and the
// total cap bounds them all together (so churning addresses does not help a flood).
func TestUnauthenticatedCaps(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) {
		c.ClientRate = 0
		c.UnauthDLQPerClient = 2
		c.UnauthDLQTotal = 5
	})
	body := bigBody(t, "MARK-caps", 200)
	written := 0
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		for i := 0; i < 3; i++ {
			a := do(t, from(ip), h.request(t, "wrong-token", bytes.NewReader(body), int64(len(body))))
			if a.status != http.StatusUnauthorized {
				t.Fatalf("%s: %d %s", ip, a.status, a.body)
			}
			if a.problem.DeadLettered {
				written++
			}
		}
	}
	if n := dlqCount(t, k); written != 5 || n != 5 {
		t.Fatalf("%d answers said dead-lettered, %d DLQ records; want the total cap of 5 (2 per address)", written, n)
	}
	m := scrape(t, h)
	// 127.0.0.2 and .3 write 2 each and skip 1 (client cap); .4 writes 1, then the total cap
	// skips 2; .5 is refused by the total cap 3 times.
	for name, want := range map[string]float64{
		`assay_ingest_unauthenticated_dlq_skipped_total{cap="client"}`: 2,
		`assay_ingest_unauthenticated_dlq_skipped_total{cap="total"}`:  5,
		`assay_ingest_clients`: 4,
	} {
		if got := metric(m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestRateLimits checks 429 with Retry-After per producer and per address, and that each
// bucket is its own: another producer, another address, and authenticated requests from a
// limited address are not refused.
func TestRateLimits(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) {
		c.TokenRate, c.TokenBurst = 0.01, 2 // one request per 100 s after a burst of 2
		c.ClientRate, c.ClientBurst = 0.01, 2
	})
	retryAfter := func(a answer) int {
		n, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("Retry-After %q: %v", a.header.Get("Retry-After"), err)
		}
		return n
	}
	item := func(n int) []byte { return marshal(t, ingesttest.Sample(schemas.TypeItemIngested, n)) }
	label := func(n int) []byte { return marshal(t, ingesttest.Sample(schemas.TypeLabelSubmitted, n)) }

	for i := 0; i < 2; i++ {
		if a := h.post(t, collectorToken, wire.MediaJSON, item(i)); a.status != http.StatusAccepted {
			t.Fatalf("collector request %d: %d %s", i, a.status, a.body)
		}
	}
	a := h.post(t, collectorToken, wire.MediaJSON, item(2))
	if a.status != http.StatusTooManyRequests || a.problem.Code != wire.CodeRateLimited {
		t.Fatalf("collector over its rate: %d %s", a.status, a.body)
	}
	// The reservation's delay, rounded up: 100 s less the time since the burst.
	if ra := retryAfter(a); ra < 90 || ra > 100 {
		t.Errorf("per-token Retry-After %d, want about 100", ra)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, label(3)); a.status != http.StatusAccepted {
		t.Fatalf("another producer is limited by the collector's bucket: %d %s", a.status, a.body)
	}

	body := label(4)
	for i := 0; i < 2; i++ {
		if a := do(t, from("127.0.0.2"), h.request(t, "wrong", bytes.NewReader(body), int64(len(body)))); a.status != http.StatusUnauthorized {
			t.Fatalf("unauthenticated request %d: %d %s", i, a.status, a.body)
		}
	}
	a = do(t, from("127.0.0.2"), h.request(t, "wrong", bytes.NewReader(body), int64(len(body))))
	if a.status != http.StatusTooManyRequests || a.problem.Code != wire.CodeRateLimited {
		t.Fatalf("address over its rate: %d %s", a.status, a.body)
	}
	if ra := retryAfter(a); ra < 90 || ra > 100 {
		t.Errorf("per-address Retry-After %d, want about 100", ra)
	}
	if a := do(t, from("127.0.0.3"), h.request(t, "wrong", bytes.NewReader(body), int64(len(body)))); a.status != http.StatusUnauthorized {
		t.Fatalf("another address is limited by 127.0.0.2's bucket: %d %s", a.status, a.body)
	}
	if a := do(t, from("127.0.0.2"), h.request(t, labelerToken, bytes.NewReader(body), int64(len(body)))); a.status != http.StatusAccepted {
		t.Fatalf("a producer is limited by its address: %d %s", a.status, a.body)
	}

	m := scrape(t, h)
	for name, want := range map[string]float64{
		`assay_ingest_rejected_requests_total{reason="rate_limited_token"}`:  1,
		`assay_ingest_rejected_requests_total{reason="rate_limited_client"}`: 1,
		`assay_ingest_requests_total{code="429"}`:                            2,
		`assay_ingest_clients`: 2,
	} {
		if got := metric(m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestGzipBomb sends gzip bodies that each decode to 512 MiB (from about 500 KB: deflate
// expands at most about 1000 times), with a body limit of 4 MiB and a budget of 6 MiB that
// one producer may hold whole (no share: the budget is what is attacked here). Alone,
// a bomb is answered 413 once its decoded bytes pass the limit, and the budget charged them
// (its peak passes the compressed size by far). Three at once are each answered 413 or 503:
// which depends on how the scheduler interleaves them (readers that hold part of the budget
// and wait for more can all time out, which is the 503 that bounds the wait), so the test
// asserts only what holds for every interleaving: no other answer, never more than the
// budget held, and everything given back.
func TestGzipBomb(t *testing.T) {
	_, k := fakeKafka(t)
	const limit, budget = 4 << 20, 6 << 20
	h := newHarness(t, k, func(c *gateway.Config) {
		c.MaxBodyBytes = limit
		c.MaxInFlightBytes = budget
		c.MaxInFlightShare = 1
		c.InFlightWait = 200 * time.Millisecond
	})
	bomb := gateway.GzipZeros(t, 512<<20)
	t.Logf("bomb: %d bytes of gzip, 512 MiB decoded", len(bomb))
	send := func() answer {
		req := h.request(t, collectorToken, bytes.NewReader(bomb), int64(len(bomb)))
		req.Header.Set("Content-Encoding", "gzip")
		return do(t, &http.Client{Timeout: time.Minute}, req)
	}
	if a := send(); a.status != http.StatusRequestEntityTooLarge || a.problem.Code != wire.CodeBodyTooLarge {
		t.Fatalf("a lone bomb: %d %q, want 413 %q", a.status, a.problem.Code, wire.CodeBodyTooLarge)
	}
	if peak := h.gw.BudgetPeak(); peak < limit-64<<10 {
		t.Fatalf("budget peak %d after a lone bomb: want the decoded bytes charged up to the %d limit", peak, limit)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := send()
			mu.Lock()
			statuses[a.status]++
			mu.Unlock()
			if a.status == http.StatusRequestEntityTooLarge && a.problem.Code != wire.CodeBodyTooLarge {
				t.Errorf("413 with code %q", a.problem.Code)
			}
		}()
	}
	wg.Wait()
	if statuses[413]+statuses[503] != 3 {
		t.Fatalf("answers %v, want only 413s and 503s (those that found no room in time)", statuses)
	}
	if peak := h.gw.BudgetPeak(); peak > budget {
		t.Fatalf("budget peak %d: never over the %d budget", peak, budget)
	}
	if used := h.gw.BudgetUsed(); used != 0 {
		t.Fatalf("%d bytes still charged after the requests ended", used)
	}
}

// waitFor polls cond until it holds, failing the test after a minute (a deadline against
// hanging, not a speed assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestChunkedBodyChargedAsRead sends a chunked body (no Content-Length) in two halves: the
// first half is charged to the budget while the second is still on its way (the body is
// read into pieces charged before they are filled, so the charge covers what was read and
// at most one piece of 64 KiB more), the request is accepted once it arrives, and the charge
// is given back.
func TestChunkedBodyChargedAsRead(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, nil)
	var evs []schemas.Event
	for i := 0; i < 400; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	body := ndjson(t, evs...)
	half := bytes.LastIndexByte(body[:len(body)/2], '\n') + 1
	pr, pw := io.Pipe()
	got := make(chan answer, 1)
	go func() { got <- do(t, &http.Client{Timeout: time.Minute}, h.request(t, labelerToken, pr, -1)) }()
	if _, err := pw.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first half to be charged", func() bool { return h.gw.BudgetUsed() >= int64(half) })
	if used := h.gw.BudgetUsed(); used >= int64(half)+64<<10 {
		t.Fatalf("%d bytes charged for the %d read: more than one piece ahead", used, half)
	}
	if _, err := pw.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if a := <-got; a.status != http.StatusAccepted || a.accepted.Accepted != len(evs) {
		t.Fatalf("chunked request: %d %s", a.status, a.body)
	}
	if peak, used := h.gw.BudgetPeak(), h.gw.BudgetUsed(); peak < int64(len(body)) || used != 0 {
		t.Fatalf("peak %d, used %d; want at least the body's %d bytes, then 0", peak, used, len(body))
	}
}

// TestSlowBodyReleased has a client send part of a body and stall while holding most of
// the budget (a producer may hold it all: no share here): another request finds no room
// (503), and once the slow request ends (its client gives up) the budget is whole again and
// the other request is accepted.
func TestSlowBodyReleased(t *testing.T) {
	_, k := fakeKafka(t)
	const budget = 256 << 10
	h := newHarness(t, k, func(c *gateway.Config) {
		c.MaxInFlightBytes = budget
		c.MaxInFlightShare = 1
		c.InFlightWait = 100 * time.Millisecond
	})
	pr, pw := io.Pipe()
	slow := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Do(h.request(t, collectorToken, pr, budget))
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	const sent = 200 << 10
	if _, err := pw.Write(bytes.Repeat([]byte(" "), sent)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow body to be charged", func() bool { return h.gw.BudgetUsed() >= sent })

	var evs []schemas.Event
	for i := 0; i < 200; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	other := ndjson(t, evs...)
	if len(other) <= budget-sent {
		t.Fatalf("the other body (%d bytes) fits beside the slow one", len(other))
	}
	if a := h.post(t, labelerToken, wire.MediaNDJSON, other); a.status != http.StatusServiceUnavailable || a.problem.Code != wire.CodeOverloaded {
		t.Fatalf("while the slow body holds the budget: %d %s", a.status, a.body)
	}
	pw.CloseWithError(fmt.Errorf("client gives up"))
	<-slow
	waitFor(t, "the slow request's charge to be released", func() bool { return h.gw.BudgetUsed() == 0 })
	if a := h.post(t, labelerToken, wire.MediaNDJSON, other); a.status != http.StatusAccepted {
		t.Fatalf("after the slow request ended: %d %s", a.status, a.body)
	}
}

// TestPerProducerWindow: with a window of 10 ids, the collector's batch of 50 does not evict
// the labeler's recent id, whose retry is still answered from the window.
func TestPerProducerWindow(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) { c.DedupWindow = 10 })
	mine := marshal(t, ingesttest.Sample(schemas.TypeLabelSubmitted, 1000))
	if a := h.post(t, labelerToken, wire.MediaJSON, mine); a.status != http.StatusAccepted || a.accepted.Duplicates != 0 {
		t.Fatalf("labeler: %d %s", a.status, a.body)
	}
	var flood []schemas.Event
	for i := 0; i < 50; i++ {
		flood = append(flood, ingesttest.Sample(schemas.TypeItemIngested, i))
	}
	if a := h.post(t, collectorToken, wire.MediaNDJSON, ndjson(t, flood...)); a.status != http.StatusAccepted {
		t.Fatalf("collector's flood: %d %s", a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, mine); a.status != http.StatusAccepted || a.accepted.Duplicates != 1 {
		t.Fatalf("labeler's retry after another producer's flood: %d %s", a.status, a.body)
	}
	if got := metric(scrape(t, h), "assay_ingest_dedup_ids"); got != 11 {
		t.Errorf("assay_ingest_dedup_ids = %v, want 10 of the collector and 1 of the labeler", got)
	}
}

// TestBodyOverBudget: a body larger than the whole in-flight budget could never be admitted;
// it is answered 413 naming the budget as the limit (not 503s retried forever).
func TestBodyOverBudget(t *testing.T) {
	_, k := fakeKafka(t)
	h := newHarness(t, k, func(c *gateway.Config) { c.MaxInFlightBytes = 4 << 10 })
	body := bigBody(t, "MARK-overbudget", 8<<10)
	for _, length := range []int64{int64(len(body)), -1} {
		a := do(t, from("127.0.0.1"), h.request(t, collectorToken, bytes.NewReader(body), length))
		if a.status != http.StatusRequestEntityTooLarge || a.problem.Code != wire.CodeBodyTooLarge || !strings.Contains(a.problem.Error, "4096") {
			t.Fatalf("length %d: %d %s", length, a.status, a.body)
		}
	}
	if peak := h.gw.BudgetPeak(); peak > 4<<10 {
		t.Fatalf("peak %d over the budget", peak)
	}
}

// TestForgedVerdictsCertifyNothing: the gate's verdicts cannot be sent through the gateway
// (every principal gets 403, assay.internal), and a flood of verdict-looking records written
// straight to the datasets topic by anyone but the gate (an owner's id, another of Assay's
// components, a near-miss of the gate's id) certifies nothing and withdraws no certification:
// every run on a forged-certified version is refused, the run on the gate-certified version
// is accepted, and the view counts the forgeries as untrusted.
func TestForgedVerdictsCertifyNothing(t *testing.T) {
	_, k := fakeKafka(t)
	v, by := gateviewtest.Verdict, gateviewtest.By
	plain := newHarness(t, k, nil)
	for _, tok := range []string{ownerToken, qaToken, collectorToken} {
		a := plain.post(t, tok, wire.MediaJSON, marshal(t, v("ds-f", "0", 1, true, "self-certified")))
		if a.status != http.StatusForbidden || a.problem.Errors[0].Rule != access.RuleInternal {
			t.Fatalf("a verdict through the gateway: %d %s", a.status, a.body)
		}
	}
	const versions = 500
	producers := []string{"owner", "assay-processor/router", "assay-ingest", "assay-processor/gate-2", "assay-processor/gate "}
	var forged []schemas.Event
	var runs []schemas.Event
	for i := 0; i < versions; i++ {
		ver := itoa(i)
		for _, p := range producers {
			forged = append(forged, by(p, v("ds-f", ver, 1, true, "forged: meets every target")))
		}
		runs = append(runs, gateviewtest.Run("forged-"+ver, "ds-f@"+ver))
	}
	for _, p := range producers {
		forged = append(forged, by(p, v("ds-real", "1", 2, false, "forged: withdrawn")))
	}
	gateviewtest.Publish(t, k, v("ds-real", "1", 1, true, "meets all targets"))
	gateviewtest.Publish(t, k, forged...)

	g := newGated(t, k, nil)
	g.waitReady(t)
	a := g.post(t, ownerToken, wire.MediaNDJSON, ndjson(t, runs...))
	if a.status != http.StatusConflict || a.problem.Rejected != versions {
		t.Fatalf("runs on forged-certified versions: %d, %d rejected, want 409 for all %d", a.status, a.problem.Rejected, versions)
	}
	for _, e := range a.problem.Errors {
		if e.Code != wire.CodeNotCertified || !strings.Contains(e.Reason, "no verdict yet") {
			t.Fatalf("run %d: %+v, want not_certified with no verdict", e.Index, e)
		}
	}
	if a := g.post(t, ownerToken, wire.MediaJSON, marshal(t, gateviewtest.Run("real", "ds-real@1"))); a.status != http.StatusAccepted {
		t.Fatalf("run on the version the gate certified, after forged rejections: %d %s", a.status, a.body)
	}
	mfs, err := g.viewReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var untrusted float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "assay_ingest_gate_view_records_total" && m.GetLabel()[0].GetValue() == "untrusted" {
				untrusted = m.GetCounter().GetValue()
			}
		}
	}
	if want := float64(len(forged)); untrusted != want {
		t.Errorf("assay_ingest_gate_view_records_total{outcome=\"untrusted\"} = %v, want %v", untrusted, want)
	}
}

// static is a Questions holding fixed definitions, complete.
type static []*schemas.QuestionDefined

func (s static) Definition(project, question string) (*schemas.QuestionDefined, bool, error) {
	ds, complete, err := s.Definitions(question, func(p string) bool { return p == project })
	if len(ds) == 0 {
		return nil, complete, err
	}
	return ds[0], complete, err
}

func (s static) Definitions(question string, in func(string) bool) ([]*schemas.QuestionDefined, bool, error) {
	var out []*schemas.QuestionDefined
	for _, d := range s {
		if d.QuestionID == question && in(d.ProjectID) {
			out = append(out, d)
		}
	}
	return out, true, nil
}

// TestTenThousandRegionsRefusedCheaply: a label with 10,000 spans is refused (422, field
// value.spans) by the contract's limit of schemas.MaxRegions regions a value, which the
// reason names; MaxRegions spans pass, one more does not. Past about 13,000 spans of this spelling the
// event size limit (-max-event-bytes, 512 KiB) refuses the event first (413, without
// decoding it). Decoding and refusing the 10,000 spans allocates less than what the gateway
// charges the in-flight budget for one event's work (EventCharge: 8 KiB plus four times its
// size), so the memory it takes is bounded by the event size limit and paid for before it
// is taken; so does checking MaxRegions spans against the question's definition.
func TestTenThousandRegionsRefusedCheaply(t *testing.T) {
	_, k := fakeKafka(t)
	def := questionviewtest.Define(ingesttest.Project, "q-ner", schemas.LevelSpans, "PER", "ORG", "LOC")
	h := newHarness(t, k, func(c *gateway.Config) { c.Questions = static{def} })
	maxEvent := gateway.DefaultConfig().MaxEventBytes
	body := func(n int) []byte {
		spans := make([]schemas.Span, n)
		for i := range spans {
			spans[i] = schemas.Span{Label: "PER", Start: int64(10 * i), End: int64(10*i + 7)}
		}
		l := label(n, "q-ner", schemas.Spans(schemas.UnitCharacters, int64(10*n+10), spans...))
		return marshal(t, l)
	}
	big := body(10_000)
	if len(big) > maxEvent {
		t.Fatalf("10,000 spans are %d bytes, over the event limit: the test is about the region limit", len(big))
	}
	a := h.post(t, labelerToken, wire.MediaJSON, big)
	if a.status != http.StatusUnprocessableEntity || len(a.problem.Errors) != 1 || a.problem.Errors[0].Field != "value.spans" ||
		!strings.Contains(a.problem.Errors[0].Reason, fmt.Sprintf("10000 spans, more than the limit of %d a value", schemas.MaxRegions)) {
		t.Fatalf("10,000 spans: %d %s", a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, body(schemas.MaxRegions)); a.status != http.StatusAccepted {
		t.Fatalf("%d spans, the limit: %d %s", schemas.MaxRegions, a.status, a.body)
	}
	if a := h.post(t, labelerToken, wire.MediaJSON, body(schemas.MaxRegions+1)); a.status != http.StatusUnprocessableEntity || a.problem.Errors[0].Field != "value.spans" {
		t.Fatalf("%d spans: %d %s", schemas.MaxRegions+1, a.status, a.body)
	}

	// Where the event size limit takes over (this spelling: about 39 bytes a span).
	lo, hi := 10_000, 40_000
	for lo+1 < hi {
		if mid := (lo + hi) / 2; len(body(mid)) > maxEvent {
			hi = mid
		} else {
			lo = mid
		}
	}
	t.Logf("10,000 spans: %d bytes, refused by the region limit (%d); from %d spans (%d bytes) the event size limit (%d bytes) refuses first",
		len(big), schemas.MaxRegions, hi, len(body(hi)), maxEvent)
	if a := h.post(t, labelerToken, wire.MediaJSON, body(hi)); a.status != http.StatusRequestEntityTooLarge || a.problem.Errors[0].Code != wire.CodeEventTooLarge {
		t.Fatalf("%d spans: %d %s, want 413 event_too_large", hi, a.status, a.body)
	}

}

// TestListsChargedAsDecoded: what decoding and checking an event allocates stays within what
// the gateway charged the in-flight budget for it, however its lists are spelled: the event's
// work (EventCharge: 8 KiB plus four times its size) and each list's elements at their Go
// size, charged before the list is made. Lists of empty objects are the worst spelling (a
// Box is 56 bytes from the 3 of "{},"): a 512 KiB event of them would otherwise allocate
// some 55 MB. Measured as the least over a few runs of what the process allocated (other
// goroutines allocate meanwhile), against the budget's peak on a gateway of its own.
func TestListsChargedAsDecoded(t *testing.T) {
	def := questionviewtest.Define(ingesttest.Project, "q-ner", schemas.LevelSpans, "PER", "ORG", "LOC")
	maxEvent := gateway.DefaultConfig().MaxEventBytes
	base := withValue(t, label(1, "q-ner", schemas.Spans(schemas.UnitCharacters, 10)), "VALUE")
	// fill is base with value pre + elem, elem, ... + post, as many as fit in an event.
	fill := func(pre, elem, post string) []byte {
		n := (maxEvent - len(base) - len(pre) - len(post)) / (len(elem) + 1)
		v := pre + strings.Repeat(elem+",", n-1) + elem + post
		return bytes.Replace(base, []byte("VALUE"), []byte(v), 1)
	}
	spans := func(n int) []schemas.Span {
		out := make([]schemas.Span, n)
		for i := range out {
			out[i] = schemas.Span{Label: "PER", Start: int64(10 * i), End: int64(10*i + 7)}
		}
		return out
	}
	const text, image = `{"level":"spans","extent":{"unit":"characters","length":120},"spans":[`, `{"level":"boxes","extent":{"unit":"pixels","width":9,"height":9},"boxes":[`
	for _, c := range []struct {
		name    string
		body    []byte
		wantErr string // of ProcessEvents; "" for an event accepted
	}{
		{"10,000 spans", marshal(t, label(2, "q-ner", schemas.Spans(schemas.UnitCharacters, 100_010, spans(10_000)...))), "invalid value.spans: 10000 spans"},
		{"the limit of spans checked against the definition", marshal(t, label(3, "q-ner", schemas.Spans(schemas.UnitCharacters, 10*schemas.MaxRegions+10, spans(schemas.MaxRegions)...))), ""},
		{"spans of empty objects", fill(text, "{}", "]}"), "invalid value.spans: "},
		{"boxes of empty objects", fill(image, "{}", "]}"), "invalid value.boxes: "},
		{"boxes of empty objects, decoded by encoding/json", fill(`{"unknown":1,`+image[1:], "{}", "]}"), "unknown_field unknown"},
		{"categories of empty strings", fill(`{"level":"multi_label","categories":[`, `""`, "]}"), "invalid value.categories[0]: must not be empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, k := fakeKafka(t)
			h := newHarness(t, k, func(cfg *gateway.Config) { cfg.Questions = static{def} })
			least := uint64(math.MaxUint64)
			for i := 0; i < 3; i++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				_, err := h.gw.ProcessEvents(labelerToken, c.body, wire.MediaJSON, time.Now())
				runtime.ReadMemStats(&after)
				if (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ProcessEvents: %v, want %q", err, c.wantErr)
				}
				least = min(least, after.TotalAlloc-before.TotalAlloc)
			}
			charged := h.gw.BudgetPeak()
			t.Logf("%d bytes of JSON: %d bytes allocated, %d charged (the event's work alone: %d)", len(c.body), least, charged, gateway.EventCharge(len(c.body)))
			if least > uint64(charged) {
				t.Errorf("%d bytes allocated, more than the %d charged", least, charged)
			}
			if used := h.gw.BudgetUsed(); used != 0 {
				t.Errorf("%d bytes still charged after the event", used)
			}
		})
	}
}
