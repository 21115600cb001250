package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestStoreStatus: unreachable or overloaded is 503, an error the server will repeat is 500,
// however deeply the error is wrapped.
func TestStoreStatus(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"connection refused", refused, 503},
		{"connection refused, wrapped", &SectionError{Section: "agreement", Err: fmt.Errorf("query agreement cells: %w", refused)}, 503},
		{"bare ECONNRESET", syscall.ECONNRESET, 503},
		{"connection cut mid-answer", fmt.Errorf("read: %w", io.EOF), 503},
		{"query timeout", fmt.Errorf("query cycle time: %w", context.DeadlineExceeded), 503},
		{"client gone", context.Canceled, 503},
		{"pool exhausted", clickhouse.ErrAcquireConnTimeout, 503},
		{"connection closed", clickhouse.ErrConnectionClosed, 503},
		{"too many queries", &clickhouse.Exception{Code: 202, Message: "Too many simultaneous queries"}, 503},
		{"memory limit", fmt.Errorf("query: %w", &clickhouse.Exception{Code: 241, Message: "Memory limit exceeded"}), 503},
		{"server timeout", &clickhouse.Exception{Code: 159, Message: "Timeout exceeded"}, 503},
		{"unknown database", &clickhouse.Exception{Code: 81, Message: "Database x doesn't exist"}, 500},
		{"unknown table", &SectionError{Section: "routing", Err: fmt.Errorf("query automation: %w", &clickhouse.Exception{Code: 60, Message: "Table x.kpi_automation doesn't exist"})}, 500},
		{"syntax error", &clickhouse.Exception{Code: 62, Message: "Syntax error"}, 500},
		{"own failure", errors.New("cells of p/q scope all: inconsistent"), 500},
	} {
		if got := storeStatus(tc.err); got != tc.want {
			t.Errorf("%s (%v): %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
