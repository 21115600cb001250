package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// BudgetUsed and BudgetPeak expose the in-flight budget's accounting to the external tests:
// the bytes charged now, and the most ever charged at once.
func (g *Gateway) BudgetUsed() int64 { return g.budget.used.Load() }
func (g *Gateway) BudgetPeak() int64 { return g.budget.peak.Load() }

// ZeroReader reads zero bytes without end: bodies of any size that cost no memory.
type ZeroReader struct{}

func (ZeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// GzipZeros compresses n zero bytes (about 1 KiB of gzip per MiB): a decompression bomb.
func GzipZeros(t testing.TB, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, io.LimitReader(ZeroReader{}, n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ProcessEvents does the per-event work of an authenticated request over body, as process
// does, without reading a request or writing to Kafka: both passes of the splitter, then
// decode, check, content hash and encode of every event, charged to a hold of the
// principal's. It returns the number of records made, or the first event's error. It is
// what BenchmarkEventPath measures: the gateway's own CPU and allocations per event.
func (g *Gateway) ProcessEvents(token string, body []byte, contentType string, now time.Time) (int, error) {
	prod, err := g.principals.authenticate("Bearer " + token)
	if err != nil {
		return 0, err
	}
	h := g.newHold(context.Background(), prod.ID)
	defer h.release()
	b := bodyOf(body)
	keep := int64(g.cfg.MaxDLQOriginalBytes)
	first, rerr := newSplitter(b, contentType, g.cfg.MaxEvents, g.cfg.MaxEventBytes, keep)
	if rerr != nil {
		return 0, rerr
	}
	first.extract = false
	for {
		_, err := first.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	sp, _ := newSplitter(b, contentType, g.cfg.MaxEvents, g.cfg.MaxEventBytes, keep)
	sp.syntax = false
	seen := make(map[string]int)
	var scratch []byte
	defer func() { h.free(int64(cap(scratch))) }()
	n := 0
	for {
		el, err := sp.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		p, e, err := g.event(el, prod, now, seen, h, &scratch, true)
		if err != nil {
			return n, err
		}
		if e != nil {
			return n, fmt.Errorf("event %d: %s %s: %s", e.Index, e.Code, e.Field, e.Reason)
		}
		h.free(p.charge)
		n++
	}
}

// EventCharge is what the gateway charges to the in-flight budget for the transient work of
// one event of size bytes (decoding, checking, encoding it): what that work may allocate.
func EventCharge(size int) int64 { return eventWork + eventWorkFactor*int64(size) }
