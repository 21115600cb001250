package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/wire"
)

// Client sends events to one gateway. It is safe for concurrent use.
type Client struct {
	url            string
	token          string
	hc             *http.Client
	maxBatchEvents int
	maxBatchBytes  int
	gzipOver       int
	newBackOff     func() backoff.BackOff
	now            func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 60 s timeout per attempt).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithBatchLimits bounds each request: at most events events and bytes bytes of NDJSON
// (defaults 5,000 and 4 MiB, well inside the gateway's defaults of 50,000 and 32 MiB).
func WithBatchLimits(events, bytes int) Option {
	return func(c *Client) { c.maxBatchEvents, c.maxBatchBytes = events, bytes }
}

// WithGzip compresses request bodies larger than over bytes (0, the default, never does).
func WithGzip(over int) Option { return func(c *Client) { c.gzipOver = over } }

// WithRetry sets the backoff between attempts: exponential from initial to max, giving up
// after maxElapsed (defaults 200 ms, 30 s and 5 min). maxElapsed 0 retries until ctx ends.
func WithRetry(initial, max, maxElapsed time.Duration) Option {
	return func(c *Client) {
		c.newBackOff = func() backoff.BackOff {
			return backoff.NewExponentialBackOff(backoff.WithInitialInterval(initial), backoff.WithMaxInterval(max), backoff.WithMaxElapsedTime(maxElapsed))
		}
	}
}

// New returns a client for the gateway at baseURL (e.g. "http://127.0.0.1:18090"),
// authenticating with token.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		url:            strings.TrimRight(baseURL, "/") + wire.Path,
		token:          token,
		hc:             &http.Client{Timeout: 60 * time.Second},
		maxBatchEvents: 5000,
		maxBatchBytes:  4 << 20,
		now:            time.Now,
	}
	WithRetry(200*time.Millisecond, 30*time.Second, 5*time.Minute)(c)
	for _, o := range opts {
		o(c)
	}
	return c
}

// Result is what Send got acknowledged: one entry per event, Index being the event's
// position in the Send call.
type Result struct {
	// Events lists the acknowledged events, in order.
	Events []wire.EventResult
	// Duplicates counts events the gateway had already acknowledged (earlier retries).
	Duplicates int
}

// Error is a gateway answer that Send does not retry, or the last answer before it gave up.
type Error struct {
	// Status is the HTTP status (0 for a network error).
	Status int
	// Problem is the answer's body; its Errors' Index fields are positions in the Send call.
	Problem wire.Problem
	// First is the position in the Send call of the failed batch's first event; events
	// before it were acknowledged (see the Result returned with the error).
	First int
	// Err is the network error, when Status is 0.
	Err error
}

// Error renders the status, the gateway's message and the first rejected events.
func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("ingest: batch from event %d: %v", e.First, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ingest: batch from event %d: %d %s: %s", e.First, e.Status, http.StatusText(e.Status), e.Problem.Error)
	for i, ee := range e.Problem.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problem.Errors)-5)
			break
		}
		fmt.Fprintf(&b, "; event %d", ee.Index)
		if ee.Field != "" {
			fmt.Fprintf(&b, " %s", ee.Field)
		}
		fmt.Fprintf(&b, ": %s (%s)", ee.Reason, ee.Code)
	}
	return b.String()
}

// Unwrap returns the network error, if any, for errors.Is (e.g. context.DeadlineExceeded).
func (e *Error) Unwrap() error { return e.Err }

// retryable reports whether the same request may succeed later: network errors, 408 (the
// body did not arrive within the gateway's read timeout: a slow link, which may be faster on
// the next attempt), 429 and 5xx. Everything else is about the request itself and would fail
// again.
func (e *Error) retryable() bool {
	return e.Status == 0 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Send delivers events, in order, in as many requests as the batch limits need, and returns
// once all are acknowledged. It first sets event_type and, where empty, event_id on the
// events in place, so calling Send again with the same values after an error re-sends the
// same ids and cannot duplicate what was already accepted. On error the Result holds the
// batches acknowledged before the failing one.
func (c *Client) Send(ctx context.Context, events ...schemas.Event) (*Result, error) {
	now := c.now()
	lines := make([][]byte, len(events))
	for i, ev := range events {
		m := ev.Meta()
		m.EventType = ev.Type()
		if m.EventID == "" {
			m.EventID = schemas.NewEventID(now)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("ingest: marshal event %d (%s): %w", i, ev.Type(), err)
		}
		lines[i] = b
	}
	return c.SendLines(ctx, lines)
}

// SendLines delivers events already in their JSON form, one object a line (NDJSON without
// the newlines). The caller is responsible for ids: lines without event_id get one from the
// gateway on each attempt, so their retries are not idempotent.
func (c *Client) SendLines(ctx context.Context, lines [][]byte) (*Result, error) {
	res := &Result{Events: make([]wire.EventResult, 0, len(lines))}
	for start := 0; start < len(lines); {
		end, size := start, 0
		for end < len(lines) && end-start < c.maxBatchEvents && (end == start || size+len(lines[end])+1 <= c.maxBatchBytes) {
			size += len(lines[end]) + 1
			end++
		}
		body := make([]byte, 0, size)
		for _, l := range lines[start:end] {
			body = append(append(body, l...), '\n')
		}
		acc, err := c.sendBatch(ctx, body, start)
		if err != nil {
			return res, err
		}
		for _, r := range acc.Events {
			r.Index += start
			res.Events = append(res.Events, r)
		}
		res.Duplicates += acc.Duplicates
		start = end
	}
	return res, nil
}

// sendBatch posts one body until it is accepted, rejected, or the backoff gives up.
func (c *Client) sendBatch(ctx context.Context, body []byte, first int) (*wire.Accepted, error) {
	b := backoff.WithContext(c.newBackOff(), ctx)
	b.Reset()
	for {
		acc, retryAfter, err := c.post(ctx, body, first)
		if err == nil {
			return acc, nil
		}
		var ce *Error
		if !errors.As(err, &ce) || !ce.retryable() || ctx.Err() != nil {
			return nil, err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return nil, fmt.Errorf("ingest: giving up: %w", err)
		}
		// The gateway knows best when it can take more (Kafka back, room in flight).
		wait = max(wait, retryAfter)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ingest: %w (last attempt: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (c *Client) post(ctx context.Context, body []byte, first int) (*wire.Accepted, time.Duration, error) {
	var rd io.Reader = bytes.NewReader(body)
	gz := c.gzipOver > 0 && len(body) > c.gzipOver
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		rd = &buf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("ingest: %w", err)
	}
	req.Header.Set("Content-Type", wire.MediaNDJSON)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, &Error{First: first, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, &Error{First: first, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode == http.StatusAccepted {
		var acc wire.Accepted
		if err := json.Unmarshal(data, &acc); err != nil {
			return nil, 0, fmt.Errorf("ingest: decode 202 answer: %w", err)
		}
		return &acc, 0, nil
	}
	e := &Error{Status: resp.StatusCode, First: first}
	if json.Unmarshal(data, &e.Problem) != nil || e.Problem.Error == "" {
		e.Problem.Error = strings.TrimSpace(string(data))
	}
	for i := range e.Problem.Errors {
		e.Problem.Errors[i].Index += first
	}
	return nil, retryAfter(resp.Header.Get("Retry-After"), c.now()), e
}

// retryAfter parses Retry-After in either of its forms: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
