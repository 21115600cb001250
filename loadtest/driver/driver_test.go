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

// TestPreparePerPrincipal: every event is in exactly one request, sent by the principal
// that may write it; the internal types are left out; a principal's requests are full but
// for its last, and keep its events in order.
func TestPreparePerPrincipal(t *testing.T) {
	evs := workload.New("p", 1).Rounds(10) // 140 events, 10 RoutingDecided and 10 EventRejected
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
		for _, typ := range []schemas.EventType{schemas.TypeEventRejected, schemas.TypeRoutingDecided} {
			if strings.Contains(string(r.Body), string(typ)) {
				t.Fatalf("request %d carries %s", i, typ)
			}
		}
		n += lines
	}
	if n != 120 {
		t.Fatalf("%d events, want 120", n)
	}
	want := map[string]int{"load-collector": 10, "load-model": 10, "load-labelers": 20, "load-qa": 20, "load-owner": 60}
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
	if strings.Join(stream, ",") != strings.Join(by["load-labelers"], ",") {
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
	reqs, err := driver.Prepare(workload.New("r", 2).Rounds(20), 26, writers) // 240 events, 11 requests
	if err != nil {
		t.Fatal(err)
	}
	st, err := driver.Run(context.Background(), driver.Config{URL: srv.URL, Tokens: tokens, Rate: 1000, Concurrency: 3, RetryWait: time.Millisecond}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(reqs); n != 11 || st.Requests != n || st.Events != 240 || st.Retries != n || st.Statuses[202] != n || st.Statuses[503] != n {
		t.Fatalf("%d requests, stats %+v", len(reqs), st)
	}
	// 240 events at 1000/s: the last request leaves at about 220 ms.
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
