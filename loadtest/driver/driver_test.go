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
	evs := workload.New("p", 1).Rounds(10) // one of each type a round, EventRejected among them
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
	// The DLQ's type is never sent: each round sends every other type once.
	want := 10 * (workload.TypesPerRound - 1)
	if n != want || len(reqs) != (want+49)/50 {
		t.Fatalf("%d events in %d requests, want %d in %d", n, len(reqs), want, (want+49)/50)
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
	events := 20 * (workload.TypesPerRound - 1) // EventRejected is never sent
	requests := (events + 25) / 26
	reqs, err := driver.Prepare(workload.New("r", 2).Rounds(20), 26)
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Token: "tok", Rate: 1000, Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != requests || st.Events != events || st.Retries != requests || st.Statuses[202] != requests || st.Statuses[503] != requests {
		t.Fatalf("stats %+v", st)
	}
	// At least 260 events at 1000/s: the last request is due after 234 ms.
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
