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
)

func TestPrepareLeavesOutTheDLQAndSplits(t *testing.T) {
	evs := workload.New("p", 1).Rounds(10) // 140 events, 10 of them EventRejected
	reqs, err := driver.Prepare(evs, 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, r := range reqs {
		lines := strings.Count(string(r.Body), "\n")
		if lines != len(r.EventIDs) || (i < len(reqs)-1 && lines != 50) {
			t.Fatalf("request %d: %d lines, %d ids", i, lines, len(r.EventIDs))
		}
		if strings.Contains(string(r.Body), string(schemas.TypeEventRejected)) {
			t.Fatalf("request %d carries a DLQ event", i)
		}
		n += lines
	}
	if n != 130 || len(reqs) != 3 {
		t.Fatalf("%d events in %d requests, want 130 in 3", n, len(reqs))
	}
}

// TestRunPacesAndRetries: every request is answered 503 once, then 202; all are accepted,
// each retried once, and the offered rate holds the run to about its scheduled length.
func TestRunPacesAndRetries(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok" {
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
	reqs, err := driver.Prepare(workload.New("r", 2).Rounds(20), 26) // 260 events, 10 requests
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Token: "tok", Rate: 1000, Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 10 || st.Events != 260 || st.Retries != 10 || st.Statuses[202] != 10 || st.Statuses[503] != 10 {
		t.Fatalf("stats %+v", st)
	}
	// 260 events at 1000/s: the last request is due at 234 ms.
	if st.Duration < 200*time.Millisecond {
		t.Fatalf("run took %s: not paced", st.Duration)
	}
}

func TestRunStopsOnARejection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	reqs, err := driver.Prepare(workload.New("x", 3).Rounds(2), 5)
	if err != nil {
		t.Fatal(err)
	}
	_, err = driver.Run(context.Background(), driver.Config{URL: srv.URL, Token: "tok"}, reqs)
	if !errors.Is(err, driver.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
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
	reqs, err := driver.Prepare(workload.New("l", 4).Rounds(3), 13) // 39 events, 3 requests
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Token: "tok", Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatalf("a 429 ended the run: %v", err)
	}
	if st.Requests != 3 || st.Retries != 3 || st.RateLimited != 3 || st.Statuses[429] != 3 || st.Statuses[202] != 3 || st.RateLimitWait != 3*time.Second {
		t.Fatalf("stats %+v", st)
	}
	for _, g := range gaps {
		if g < time.Second {
			t.Errorf("re-sent %s after the 429, before its Retry-After of 1 s", g)
		}
	}
}
