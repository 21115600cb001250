package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/services/ingest/wire"
)

// Request is one prepared POST: an NDJSON body, the ids of its events, and the principal
// that sends it (Config.Tokens has its token).
type Request struct {
	// Body is the NDJSON body, built once so encoding costs nothing while measuring.
	Body []byte
	// EventIDs are the ids of the body's events, in order.
	EventIDs []string
	// Principal is the id of the principal whose token sends the request.
	Principal string
}

// Prepare splits evs into requests of at most perRequest events each, every request the
// events of one principal: writers picks each event's (access.Writers; Credentials makes
// one). The types only Assay's own components write (access.Internal: RoutingDecided, the
// gate's verdicts, EventRejected) are left out, as the gateway would refuse them; any other
// event no principal may write is an error. A principal's events keep their order; its
// request is added when full, and the partial ones at the end, in the order of their
// principals' first events.
func Prepare(evs []schemas.Event, perRequest int, writers *access.Writers) ([]Request, error) {
	if perRequest <= 0 {
		perRequest = 500
	}
	type pending struct {
		req Request
		buf bytes.Buffer
	}
	var (
		out   []Request
		order []string
		cur   = map[string]*pending{}
	)
	flush := func(p *pending) {
		if len(p.req.EventIDs) > 0 {
			p.req.Body = append([]byte(nil), p.buf.Bytes()...)
			out = append(out, p.req)
		}
		p.req = Request{Principal: p.req.Principal}
		p.buf.Reset()
	}
	for _, ev := range evs {
		if access.Internal(ev.Type()) {
			continue
		}
		who, err := writers.Pick(ev)
		if err != nil {
			return nil, fmt.Errorf("no principal sends %s %s: %w", ev.Type(), ev.Meta().EventID, err)
		}
		p, ok := cur[who.ID]
		if !ok {
			p = &pending{req: Request{Principal: who.ID}}
			cur[who.ID] = p
			order = append(order, who.ID)
		}
		if err := json.NewEncoder(&p.buf).Encode(ev); err != nil {
			return nil, fmt.Errorf("encode %s %s as JSON: %w", ev.Type(), ev.Meta().EventID, err)
		}
		p.req.EventIDs = append(p.req.EventIDs, ev.Meta().EventID)
		if len(p.req.EventIDs) == perRequest {
			flush(p)
		}
	}
	for _, id := range order {
		flush(cur[id])
	}
	return out, nil
}

// Config says where and how fast to send.
type Config struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:18090 (wire.Path is appended).
	URL string
	// Tokens are the bearer tokens of the requests' principals, by principal id.
	Tokens map[string]string
	// Rate is the target in events per second; 0 sends as fast as the gateway answers.
	Rate float64
	// Concurrency is the number of requests in flight at most (default 4).
	Concurrency int
	// RetryWait is the pause before re-sending a request answered 503 or 5xx or not
	// answered (default 200 ms; the gateway's Retry-After on a 503 is a fixed number of
	// seconds, too coarse for a benchmark). A 429 waits for its Retry-After instead (see Run).
	RetryWait time.Duration
	// OnAccepted, when set, is called after each 202 with the request's index and the time
	// the answer arrived (latency markers use it).
	OnAccepted func(index int, at time.Time)
}

// Stats is what a run did.
type Stats struct {
	// Requests and Events accepted (202).
	Requests, Events int
	// Retries counts re-sent requests (after 429, 5xx or a transport error).
	Retries int
	// RateLimited counts the answers 429, and RateLimitWait the time spent honouring their
	// Retry-After (summed over the concurrent senders).
	RateLimited   int
	RateLimitWait time.Duration
	// Statuses counts answers by HTTP status (0: transport error).
	Statuses map[int]int
	// Duration is from the first send to the last answer.
	Duration time.Duration
	// RequestP50 and RequestP99 are request round-trip times of the accepted requests.
	RequestP50, RequestP99 time.Duration
}

// EventsPerSecond is Events over Duration.
func (s Stats) EventsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Events) / s.Duration.Seconds()
}

// ErrRejected is returned (wrapped) when the gateway rejects a request of valid events with
// a 4xx: a generator or contract bug, not a load effect, so retrying cannot help.
var ErrRejected = errors.New("gateway rejected a request")

// Run sends every request, paced so that events leave at cfg.Rate on average, and retries
// each until it is accepted. A 503, another 5xx or a transport error is retried after
// cfg.RetryWait; a 429 (the gateway's rate limit) is not a rejection: it is retried with the
// same bytes once its Retry-After has passed (at least cfg.RetryWait), since the token bucket
// that refused it has no room before then. Run returns when all are accepted, a request is
// rejected (ErrRejected: any other 4xx) or ctx ends.
func Run(ctx context.Context, cfg Config, reqs []Request) (Stats, error) {
	for i, r := range reqs {
		if _, ok := cfg.Tokens[r.Principal]; !ok {
			return Stats{}, fmt.Errorf("request %d: no token of principal %q", i, r.Principal)
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 200 * time.Millisecond
	}
	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency},
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		stats    = Stats{Statuses: map[int]int{}}
		rtts     []time.Duration
		firstErr error
		retries  atomic.Int64
		limited  atomic.Int64 // nanoseconds waited for Retry-After
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	work := make(chan int)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				rtt, err := send(ctx, client, cfg, reqs[i], func(status int) {
					mu.Lock()
					stats.Statuses[status]++
					mu.Unlock()
				}, &retries, &limited)
				if err != nil {
					fail(fmt.Errorf("request %d: %w", i, err))
					continue
				}
				now := time.Now()
				mu.Lock()
				stats.Requests++
				stats.Events += len(reqs[i].EventIDs)
				rtts = append(rtts, rtt)
				mu.Unlock()
				if cfg.OnAccepted != nil {
					cfg.OnAccepted(i, now)
				}
			}
		}()
	}
	sent := 0
	for i := range reqs {
		if cfg.Rate > 0 {
			// Open-loop pacing against the schedule, not the previous send: a slow answer
			// does not lower the offered rate, the next requests just leave back to back.
			due := start.Add(time.Duration(float64(sent) / cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		sent += len(reqs[i].EventIDs)
	}
	close(work)
	wg.Wait()
	stats.Duration = time.Since(start)
	stats.Retries = int(retries.Load())
	stats.RateLimited = stats.Statuses[http.StatusTooManyRequests]
	stats.RateLimitWait = time.Duration(limited.Load())
	sort.Slice(rtts, func(a, b int) bool { return rtts[a] < rtts[b] })
	stats.RequestP50, stats.RequestP99 = Quantile(rtts, 0.5), Quantile(rtts, 0.99)
	if firstErr != nil {
		return stats, firstErr
	}
	return stats, ctx.Err()
}

// send posts one request until it is accepted; it returns the round trip of the attempt that
// was accepted. limited accumulates the nanoseconds spent waiting for a 429's Retry-After.
func send(ctx context.Context, client *http.Client, cfg Config, r Request, count func(int), retries, limited *atomic.Int64) (time.Duration, error) {
	wait := time.Duration(0)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			retries.Add(1)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		wait = cfg.RetryWait
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+wire.Path, bytes.NewReader(r.Body))
		if err != nil {
			return 0, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", wire.MediaNDJSON)
		req.Header.Set("Authorization", "Bearer "+cfg.Tokens[r.Principal])
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			count(0)
			continue // the gateway may be restarting: the same bytes are safe to resend
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		rtt := time.Since(t0)
		count(resp.StatusCode)
		switch {
		case resp.StatusCode == http.StatusAccepted:
			return rtt, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			// Rate limited: nothing was read or published; the same bytes are accepted once
			// the producer's bucket has room, which is what Retry-After says.
			wait = max(wait, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
			limited.Add(int64(wait))
			continue
		case resp.StatusCode >= 500:
			continue
		default:
			return 0, fmt.Errorf("%w: status %d: %.500s", ErrRejected, resp.StatusCode, body)
		}
	}
}

// retryAfter parses Retry-After in either of its forms, seconds or an HTTP date; 0 when it
// is absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Quantile returns the q-quantile (nearest rank) of sorted durations, 0 when empty.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
