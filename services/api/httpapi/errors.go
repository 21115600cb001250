package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// RetryAfter is the Retry-After of a 503: a little more than two dashboard polls, long
// enough for a restarting ClickHouse to be worth asking again.
const RetryAfter = 5 // seconds

// Public messages of a failed read. They never carry the error itself: a ClickHouse error
// quotes the query, table and column names and the server's internals, which stay in the
// API's log.
const (
	unavailableMsg = "the KPI store is unavailable; retry later (the API's log has the detail)"
	failedMsg      = "the KPI store could not answer this request (the API's log has the detail)"
)

// transientCodes are the ClickHouse exception codes that say "not now" rather than "never":
// the server is overloaded, timed out or was interrupted, and the same query may pass in a
// moment. Their names (errorCodeToName) are checked on a current server by
// TestQueriesOnCurrentClickHouse; ClickHouse never renumbers an error code.
var transientCodes = map[int32]string{
	159: "TIMEOUT_EXCEEDED",
	202: "TOO_MANY_SIMULTANEOUS_QUERIES",
	203: "NO_FREE_CONNECTION",
	209: "SOCKET_TIMEOUT",
	210: "NETWORK_ERROR",
	241: "MEMORY_LIMIT_EXCEEDED",
	394: "QUERY_WAS_CANCELLED",
}

// storeStatus is the status of an answer whose ClickHouse work failed with err:
//
//   - 503 Service Unavailable when ClickHouse could not be reached (connection refused or
//     cut, no free connection), did not answer within the query timeout, or refused for a
//     reason that passes (transientCodes): asking again later may work;
//   - 500 Internal Server Error when it answered with an error that asking again will not
//     fix (a missing database, table or column, a query it refuses), and for a failure of
//     the API's own (figures that do not add up).
func storeStatus(err error) int {
	var ex *clickhouse.Exception
	switch {
	case errors.As(err, &ex):
		if _, ok := transientCodes[ex.Code]; ok {
			return http.StatusServiceUnavailable
		}
		return http.StatusInternalServerError
	case unreachable(err):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// unreachable says whether err means that ClickHouse was not reached or did not answer:
// a network error, a connection closed under the query, a deadline or cancellation.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) || errors.Is(err, clickhouse.ErrConnectionClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// writeStoreError answers a failed ClickHouse read with code (storeStatus) and a message
// that says nothing of the failure itself.
func writeStoreError(w http.ResponseWriter, code int) {
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		writeJSON(w, code, Problem{Error: unavailableMsg})
		return
	}
	writeJSON(w, code, Problem{Error: failedMsg})
}
