package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/assay-data/assay/ops/testenv"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/client"
	"github.com/assay-data/assay/services/ingest/wire"
	"github.com/assay-data/assay/services/internal/ingesttest"
)

// fakeGateway answers with the statuses of script in turn (then 202s), recording bodies.
type fakeGateway struct {
	mu     sync.Mutex
	script []int
	bodies [][]byte
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	status := http.StatusAccepted
	if len(f.script) > 0 {
		status, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != wire.MediaNDJSON {
		status = http.StatusUnauthorized
	}
	switch status {
	case -1: // a broken connection
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	case http.StatusAccepted:
		var acc wire.Accepted
		sc := bufio.NewScanner(bytes.NewReader(body))
		for i := 0; sc.Scan(); i++ {
			var env schemas.Envelope
			_ = json.Unmarshal(sc.Bytes(), &env)
			acc.Events = append(acc.Events, wire.EventResult{Index: i, EventID: env.EventID, EventType: string(env.EventType)})
		}
		acc.Accepted = len(acc.Events)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(acc)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: "kafka down", Code: wire.CodeUnavailable})
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: "over the producer's rate", Code: wire.CodeRateLimited})
	default:
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: "rejected", Rejected: 1, Errors: []wire.EventError{{Index: 1, Field: "sha256", Code: wire.CodeInvalid, Reason: "bad"}}})
	}
}

// TestRateLimitedIsRetried: a 429 (the gateway's per-producer limit) is retried with the
// same body, not before its Retry-After.
func TestRateLimitedIsRetried(t *testing.T) {
	f := &fakeGateway{script: []int{http.StatusTooManyRequests}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "tok", client.WithRetry(10*time.Millisecond, 50*time.Millisecond, time.Minute))
	start := time.Now()
	if _, err := c.Send(context.Background(), events(2)...); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, before the Retry-After of 1 s", waited)
	}
	if len(f.bodies) != 2 || !bytes.Equal(f.bodies[0], f.bodies[1]) {
		t.Fatalf("%d attempts; the retry must send the same body", len(f.bodies))
	}
}

// TestRequestTimeoutIsRetried: a 408 (the body did not arrive within the gateway's read
// timeout) is retried with the same body.
func TestRequestTimeoutIsRetried(t *testing.T) {
	f := &fakeGateway{script: []int{http.StatusRequestTimeout}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "tok", client.WithRetry(10*time.Millisecond, 50*time.Millisecond, time.Minute))
	if _, err := c.Send(context.Background(), events(2)...); err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 2 || !bytes.Equal(f.bodies[0], f.bodies[1]) {
		t.Fatalf("%d attempts; a 408 must be retried with the same body", len(f.bodies))
	}
}

func events(n int) []schemas.Event {
	var out []schemas.Event
	for i := 0; i < n; i++ {
		ev := ingesttest.Sample(schemas.TypeLabelSubmitted, i)
		ev.Meta().EventID = "" // the client must assign ids
		out = append(out, ev)
	}
	return out
}

func TestRetryKeepsIDsAndHonorsRetryAfter(t *testing.T) {
	f := &fakeGateway{script: []int{-1, http.StatusServiceUnavailable}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "tok", client.WithRetry(10*time.Millisecond, 50*time.Millisecond, time.Minute))
	evs := events(3)
	start := time.Now()
	res, err := c.Send(context.Background(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %s, before the Retry-After of 1 s", waited)
	}
	if len(f.bodies) != 3 || !bytes.Equal(f.bodies[0], f.bodies[2]) || !bytes.Equal(f.bodies[1], f.bodies[2]) {
		t.Fatalf("%d attempts; retries must send identical bodies", len(f.bodies))
	}
	for i, ev := range evs {
		if ev.Meta().EventID == "" || res.Events[i].EventID != ev.Meta().EventID {
			t.Errorf("event %d: id %q, result %q", i, ev.Meta().EventID, res.Events[i].EventID)
		}
	}
}

func TestBatchingAndRejection(t *testing.T) {
	f := &fakeGateway{script: []int{202, 202, 422}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "tok", client.WithBatchLimits(3, 1<<20))
	res, err := c.Send(context.Background(), events(8)...)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 422 || ce.First != 6 || ce.Problem.Errors[0].Index != 7 {
		t.Fatalf("error %v, want 422 for the batch starting at 6 naming event 7", err)
	}
	if len(f.bodies) != 3 {
		t.Fatalf("%d requests, want 3 (no retry of a 422)", len(f.bodies))
	}
	if len(res.Events) != 6 || res.Events[5].Index != 5 {
		t.Fatalf("result %+v, want the first 6 events", res.Events)
	}
}

func TestGivesUp(t *testing.T) {
	f := &fakeGateway{script: []int{503, 503, 503, 503, 503, 503, 503, 503}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client.New(srv.URL, "tok", client.WithRetry(10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Send(ctx, events(1)...); err == nil {
		t.Fatal("no error after the backoff gave up")
	}
}

// TestIntegrationSend sends through a real gateway to the real broker, in several batches,
// twice: the second time everything is a duplicate and the topic still holds each event once.
func TestIntegrationSend(t *testing.T) {
	t.Parallel()
	k := testenv.Kafka(t)
	testenv.Topics(t, k, 6)
	srv := ingesttest.Gateway(t, k, ingesttest.Principals())

	c := client.New(srv.URL, ingesttest.TokenOf(access.RoleLabeler), client.WithBatchLimits(250, 1<<20), client.WithGzip(16<<10))
	evs := events(1000)
	res, err := c.Send(context.Background(), evs...)
	if err != nil || len(res.Events) != 1000 || res.Duplicates != 0 {
		t.Fatalf("send: %v (%d events, %d duplicates)", err, len(res.Events), res.Duplicates)
	}
	res, err = c.Send(context.Background(), evs...)
	if err != nil || res.Duplicates != 1000 {
		t.Fatalf("resend: %v (%d duplicates)", err, res.Duplicates)
	}
	recs := ingesttest.ReadTopicExactly(t, k, 1000, k.Topic(schemas.FamilyLabels.Topic()))
	if len(recs) != 1000 {
		t.Fatalf("%d records, want 1000", len(recs))
	}
}
