package gateway_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
	"github.com/assay-data/assay/services/internal/serve"
)

// TestShareLeavesRoomForOthers: with the default share (half the budget), the collector's
// slow body holds the collector's whole share; the collector's next request waits and gets
// 503 naming the share, while the labeler is served from the other half. Once the slow body
// ends, the collector is served again.
func TestShareLeavesRoomForOthers(t *testing.T) {
	_, k := fakeKafka(t)
	const budget, share = 1 << 20, 512 << 10
	h := newHarness(t, k, func(c *gateway.Config) {
		c.MaxInFlightBytes = budget
		c.InFlightWait = 200 * time.Millisecond
	})
	pr, pw := io.Pipe()
	slow := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Do(h.request(t, collectorToken, pr, -1))
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	if _, err := pw.Write(bytes.Repeat([]byte(" "), share-12<<10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow body to hold the collector's share", func() bool { return h.gw.BudgetUsed() == share })

	item := ndjson(t, ingesttest.Sample(schemas.TypeItemIngested, 1))
	if a := h.post(t, collectorToken, wire.MediaNDJSON, item); a.status != http.StatusServiceUnavailable ||
		a.problem.Code != wire.CodeOverloaded || !strings.Contains(a.problem.Error, "share") || a.header.Get("Retry-After") == "" {
		t.Fatalf("the collector past its share: %d %s", a.status, a.body)
	}
	var labels []schemas.Event
	for i := 0; i < 200; i++ {
		labels = append(labels, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	if a := h.post(t, labelerToken, wire.MediaNDJSON, ndjson(t, labels...)); a.status != http.StatusAccepted || a.accepted.Accepted != len(labels) {
		t.Fatalf("the labeler while the collector holds its share: %d %s", a.status, a.body)
	}
	if got := metric(scrape(t, h), `assay_ingest_inflight_refused_total{limit="share"}`); got != 1 {
		t.Errorf("refusals for the share: %v, want 1", got)
	}
	if peak := h.gw.BudgetPeak(); peak > budget {
		t.Errorf("budget peak %d over %d", peak, budget)
	}
	pw.CloseWithError(errors.New("client gives up"))
	<-slow
	waitFor(t, "the slow body's charge to be released", func() bool { return h.gw.BudgetUsed() == 0 })
	if a := h.post(t, collectorToken, wire.MediaNDJSON, item); a.status != http.StatusAccepted {
		t.Fatalf("the collector after its slow body ended: %d %s", a.status, a.body)
	}
}

// TestSizeRejectionsKeepMetadata: a body rejected as a whole for its size (over the body
// limit, however it arrives, or more events than the limit) leaves a DLQ record of metadata
// only, under 2 KiB: the first KiB of the body (decoded), its size and the SHA-256 of the
// bytes read; never the first -max-dlq-original-bytes. A body over the limit is not read to
// its end: the connection is closed.
func TestSizeRejectionsKeepMetadata(t *testing.T) {
	_, k := fakeKafka(t)
	const limit = 64 << 10
	h := newHarness(t, k, func(c *gateway.Config) {
		c.MaxBodyBytes = limit
		c.MaxEvents = 10
	})
	big := bigBody(t, "MARK-size", 200<<10)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(big)
	_ = zw.Close()
	few := bigBody(t, "MARK-count", 8<<10)
	if n := bytes.Count(few, []byte("\n")); n <= 10 {
		t.Fatalf("%d events: want more than the limit of 10", n)
	}
	cases := []struct {
		name   string
		body   []byte
		length int64
		gzip   bool
		code   string
		read   []byte // the (decoded) bytes the gateway read
		close  bool
	}{
		{"content-length over the limit", big, int64(len(big)), false, wire.CodeBodyTooLarge, big[:1<<10], true},
		{"chunked over the limit", big, -1, false, wire.CodeBodyTooLarge, big[:limit], true},
		{"gzip over the limit", gz.Bytes(), int64(gz.Len()), true, wire.CodeBodyTooLarge, big[:limit], true},
		{"too many events", few, int64(len(few)), false, wire.CodeTooManyEvents, few, false},
	}
	for _, c := range cases {
		req := h.request(t, collectorToken, bytes.NewReader(c.body), c.length)
		if c.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var prob wire.Problem
		_ = json.NewDecoder(resp.Body).Decode(&prob)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || prob.Code != c.code || !prob.DeadLettered || resp.Close != c.close {
			t.Fatalf("%s: %d %+v, connection closed %v", c.name, resp.StatusCode, prob, resp.Close)
		}
	}
	recs := ingesttest.ReadTopic(t, k, len(cases), 20*time.Second, k.Topic(schemas.FamilyDLQ.Topic()))
	if len(recs) != len(cases) {
		t.Fatalf("%d DLQ records, want %d", len(recs), len(cases))
	}
	for i, r := range recs {
		c := cases[i]
		rej, err := schemas.DecodeAs[schemas.EventRejected](r.Value)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(c.read)
		if n := len(r.Key) + len(r.Value); n >= 2<<10 {
			t.Errorf("%s: DLQ record of %d bytes, want under 2 KiB", c.name, n)
		}
		if !bytes.Equal(rej.Original, c.read[:1<<10]) || !strings.HasPrefix(rej.Reason, c.code+": ") ||
			!strings.Contains(rej.Reason, "sha256 "+hex.EncodeToString(sum[:])) || rej.Source != "ingest:collector" {
			t.Errorf("%s: DLQ record keeps %d bytes, source %q, reason %q; want the first KiB and the SHA-256 of the %d bytes read",
				c.name, len(rej.Original), rej.Source, rej.Reason, len(c.read))
		}
	}
}

// TestSlowBodyTimesOut serves the gateway with the server bounds of serve (-http-read-timeout
// 1s) on a real listener and sends bodies that stall: the read deadline cuts them, and the
// answer is 408 with Connection: close (the client's own sending was too slow; not overload,
// so not 503), nothing is dead-lettered, and the request's charge is given back.
func TestSlowBodyTimesOut(t *testing.T) {
	_, k := fakeKafka(t)
	cfg := gateway.DefaultConfig()
	cfg.Principals = testPrincipals(t)
	reg := serve.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(cfg, k, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ops := serve.NewOps(reg)
	ops.Mux.Handle("POST "+wire.Path, gw)
	hc := serve.DefaultHTTPConfig()
	hc.ReadTimeout, hc.WriteTimeout = time.Second, 20*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve.ListenAndServe(ctx, "127.0.0.1:0", ops.Mux, 5*time.Second, log, func(a net.Addr) { addrc <- a }, serve.WithHTTP(hc))
	}()
	addr := (<-addrc).String()
	t.Cleanup(func() {
		cancel()
		<-served
		_ = gw.Close(context.Background())
	})

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bigBody(t, "MARK-slow", 256<<10))
	_ = zw.Close()
	for _, c := range []struct {
		name, encoding string
		sent           []byte
	}{
		{"identity", "", bytes.Repeat([]byte(" "), 10<<10)},
		{"gzip", "gzip", gz.Bytes()[:gz.Len()/2]},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n",
			wire.Path, collectorToken, wire.MediaNDJSON, 1<<20)
		if c.encoding != "" {
			head += "Content-Encoding: " + c.encoding + "\r\n"
		}
		start := time.Now()
		if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(c.sent); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", c.name, err)
		}
		var prob wire.Problem
		_ = json.NewDecoder(resp.Body).Decode(&prob)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !resp.Close || prob.Code != wire.CodeRequestTimeout {
			t.Fatalf("%s: %d %+v, Connection: close %v; want 408 %s and the connection closed", c.name, resp.StatusCode, prob, resp.Close, wire.CodeRequestTimeout)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: the connection stays open after a 408 (%v)", c.name, err)
		}
		conn.Close()
		t.Logf("%s: 408 after %s", c.name, time.Since(start).Round(10*time.Millisecond))
	}
	h := &harness{gw: gw, k: k, reg: reg, srv: fakeServer("http://" + addr)}
	waitFor(t, "the slow bodies' charge to be released", func() bool { return gw.BudgetUsed() == 0 })
	if got := metric(scrape(t, h), `assay_ingest_requests_total{code="408"}`); got != 2 {
		t.Errorf("requests answered 408: %v, want 2", got)
	}
	if n := dlqCount(t, k); n != 0 {
		t.Errorf("%d DLQ records for bodies that never arrived", n)
	}
}

// TestRecordsAreCharged: what a request makes of its body (its records, their bookkeeping,
// its answer) is charged like the body. With a budget a little over the body, a batch of
// small events (whose records take more memory than their JSON) cannot be held and is
// answered 413 telling the client to split it; with room, it is accepted and the budget's
// peak was above the body's size.
func TestRecordsAreCharged(t *testing.T) {
	_, k := fakeKafka(t)
	var evs []schemas.Event
	for i := 0; i < 200; i++ {
		evs = append(evs, ingesttest.Sample(schemas.TypeLabelSubmitted, i))
	}
	body := ndjson(t, evs...)
	tight := newHarness(t, k, func(c *gateway.Config) {
		c.MaxInFlightBytes = int64(len(body)) + 16<<10
		c.MaxInFlightShare = 1
	})
	if a := tight.post(t, labelerToken, wire.MediaNDJSON, body); a.status != http.StatusRequestEntityTooLarge ||
		a.problem.Code != wire.CodeBodyTooLarge || !strings.Contains(a.problem.Error, "split the batch") {
		t.Fatalf("records that do not fit: %d %s", a.status, a.body)
	}
	roomy := newHarness(t, k, func(c *gateway.Config) {
		c.MaxInFlightBytes = 4 * int64(len(body))
		c.MaxInFlightShare = 1
	})
	if a := roomy.post(t, labelerToken, wire.MediaNDJSON, body); a.status != http.StatusAccepted {
		t.Fatalf("with room: %d %s", a.status, a.body)
	}
	if peak := roomy.gw.BudgetPeak(); peak <= int64(len(body)) || roomy.gw.BudgetUsed() != 0 {
		t.Fatalf("peak %d for a body of %d, %d still charged", peak, len(body), roomy.gw.BudgetUsed())
	}
	t.Logf("body %d bytes, peak charge %d", len(body), roomy.gw.BudgetPeak())
}
