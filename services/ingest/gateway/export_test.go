package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
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
