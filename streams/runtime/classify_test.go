package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/cenkalti/backoff/v4"
)

func TestClassify(t *testing.T) {
	ex := func(code int32, msg string) error {
		return fmt.Errorf("insert 2 rows into events: %w", &clickhouse.Exception{Code: code, Name: "DB::Exception", Message: msg})
	}
	for _, tc := range []struct {
		name string
		err  error
		want failure
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, failTransient},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), failTransient},
		{"eof", io.ErrUnexpectedEOF, failTransient},
		{"attempt deadline", context.DeadlineExceeded, failTransient},
		{"a sink's own error", errors.New("sink unavailable"), failTransient},
		{"too many simultaneous queries", ex(202, "Too many simultaneous queries. Maximum: 100"), failTransient},
		{"merges behind (18.16)", ex(252, "Too many parts (300). Merges are processing significantly slower than inserts."), failTransient},
		{"parts in total (26.x)", ex(252, "Too many parts (100000) in all partitions in total in table 'db.events'. This indicates wrong choice of partition key."), failTransient},
		{"partitions per block (26.x)", ex(252, "Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting."), failRows},
		{"memory", ex(241, "Memory limit (total) exceeded"), failTransientSize},
		{"timeout", ex(159, "Timeout exceeded: elapsed 30 seconds"), failTransientSize},
		{"read only table", ex(242, "Table is in readonly mode"), failTransient},
		{"unknown table", ex(60, "Table db.events doesn't exist."), failTransient},
		{"prepare failed", &notRowsError{ex(395, "anything")}, failTransient},
		{"throwIf", ex(395, "Value passed to 'throwIf' function is non zero"), failRows},
		{"constraint", ex(469, "Constraint `lim` for table d.e is violated at row 1."), failRows},
		{"unknown code", ex(9999, "new"), failRows},
		{"client-side conversion", backoff.Permanent(errors.New("append row 0: converting string to Enum8")), failRows},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDescribeCapsTheServerMessage(t *testing.T) {
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	got := describe(&clickhouse.Exception{Code: 469, Message: string(long)})
	if len(got) > 1200 || got[:50] != "ClickHouse error 469 (VIOLATED_CONSTRAINT): xxxxxx" {
		t.Fatalf("%d bytes: %.80s", len(got), got)
	}
}
