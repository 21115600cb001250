package driver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-data/assay/loadtest/driver"
	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
)

// TestPreparePerPrincipal: every event is in exactly one request, sent by the principal
// that may write it; the internal types are left out; a principal's requests are full but
// for its last, and keep its events in order.
func TestPreparePerPrincipal(t *testing.T) {
	// Written out, not read from access: the router's decisions, the gate's verdicts, the DLQ's.
	internal := []schemas.EventType{schemas.TypeRoutingDecided, schemas.TypeDatasetVersionCertified,
		schemas.TypeDatasetVersionRejected, schemas.TypeEventRejected}
	evs := workload.New("p", 1).Rounds(10) // every type once a round, the internal ones among them
	_, _, writers, err := driver.Credentials(driver.Principals())
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := driver.Prepare(evs, 50, writers)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{}
	last := map[string]int{}
	for i, r := range reqs {
		by[r.Principal] = append(by[r.Principal], r.EventIDs...)
		last[r.Principal] = i
	}
	n := 0
	for i, r := range reqs {
		lines := strings.Count(string(r.Body), "\n")
		if lines != len(r.EventIDs) || lines > 50 || (i != last[r.Principal] && lines != 50) {
			t.Fatalf("request %d of %s: %d lines, %d ids", i, r.Principal, lines, len(r.EventIDs))
		}
		for _, typ := range internal {
			if strings.Contains(string(r.Body), string(typ)) {
				t.Fatalf("request %d carries %s", i, typ)
			}
		}
		n += lines
	}
	want := perPrincipal(10)
	sent := 0
	for _, c := range want {
		sent += c
	}
	if n != sent || sent != 10*(workload.TypesPerRound-len(internal)) {
		t.Fatalf("%d events, want %d (every type but the %d internal ones, 10 rounds)", n, sent, len(internal))
	}
	for id, ids := range by {
		if len(ids) != want[id] {
			t.Errorf("%s sends %d events, want %d", id, len(ids), want[id])
		}
	}
	// Order within a principal: the labeler's events in stream order.
	var stream []string
	for _, ev := range evs {
		if ev.Type() == schemas.TypeLabelSubmitted || ev.Type() == schemas.TypeLabelRetracted {
			stream = append(stream, ev.Meta().EventID)
		}
	}
	if strings.Join(stream, ",") != strings.Join(by["load-vendor-x"], ",") {
		t.Error("the labeler's events are out of order")
	}
}

// TestRunPacesAndRetries: every request is answered 503 once, then 202; all are accepted,
// each retried once, and the offered rate holds the run to about its scheduled length.
func TestRunPacesAndRetries(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer assay_") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		seen[string(b)]++
		first := seen[string(b)] == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	_, tokens, writers, err := driver.Credentials(driver.Principals())
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := driver.Prepare(workload.New("r", 2).Rounds(20), 26, writers)
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Tokens: tokens, Rate: 1000, Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	// Each principal's events in requests of 26, the last one partial.
	events, requests := 0, 0
	for _, c := range perPrincipal(20) {
		events, requests = events+c, requests+(c+25)/26
	}
	if n := len(reqs); n != requests || st.Requests != n || st.Events != events || st.Retries != n || st.Statuses[202] != n || st.Statuses[503] != n {
		t.Fatalf("%d requests, stats %+v", len(reqs), st)
	}
	// At least 240 events at 1000/s: the last request leaves after about 220 ms.
	if st.Duration < 200*time.Millisecond {
		t.Fatalf("run took %s: not paced", st.Duration)
	}
}

func TestRunStopsOnARejection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	_, tokens, writers, err := driver.Credentials(driver.Principals())
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := driver.Prepare(workload.New("x", 3).Rounds(2), 5, writers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := driver.Run(context.Background(), driver.Config{URL: srv.URL}, reqs); err == nil || !strings.Contains(err.Error(), "no token of principal") {
		t.Fatalf("run without tokens: %v", err)
	}
	_, err = driver.Run(context.Background(), driver.Config{URL: srv.URL, Tokens: tokens}, reqs)
	if !errors.Is(err, driver.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
}

// perPrincipal is what each of driver.Principals sends of rounds workload rounds: each round
// has one event of every type, and each type has one writing role (access.WriterOf); the
// workload's labels are load-vendor-x's. The internal types are sent by no one.
func perPrincipal(rounds int) map[string]int {
	id := map[access.Role]string{access.RoleCollector: "load-collector", access.RoleModel: "load-model",
		access.RoleLabeler: "load-vendor-x", access.RoleQA: "load-qa", access.RoleOwner: "load-owner"}
	out := map[string]int{}
	for _, t := range schemas.EventTypes() {
		if r, ok := access.WriterOf(t); ok {
			out[id[r]] += rounds
		}
	}
	return out
}

// TestRunRetriesRateLimitedAfterRetryAfter: a 429 is the gateway's rate limit, not a
// rejection: the request is re-sent with the same bytes, not before its Retry-After (1 s
// here, although RetryWait is 1 ms), and the run succeeds.
func TestRunRetriesRateLimitedAfterRetryAfter(t *testing.T) {
	var (
		mu    sync.Mutex
		first = map[string]time.Time{}
		gaps  []time.Duration
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		at, seen := first[string(b)]
		if !seen {
			first[string(b)] = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		gaps = append(gaps, time.Since(at))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	_, tokens, writers, err := driver.Credentials(driver.Principals())
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := driver.Prepare(workload.New("l", 4).Rounds(3), 13, writers)
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Tokens: tokens, Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatalf("a 429 ended the run: %v", err)
	}
	if n := len(reqs); st.Requests != n || st.Retries != n || st.RateLimited != n || st.Statuses[429] != n || st.Statuses[202] != n || st.RateLimitWait != time.Duration(n)*time.Second {
		t.Fatalf("%d requests, stats %+v", n, st)
	}
	for _, g := range gaps {
		if g < time.Second {
			t.Errorf("re-sent %s after the 429, before its Retry-After of 1 s", g)
		}
	}
}
