package runtime

import (
	"errors"
	"fmt"
	"strings"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/cenkalti/backoff/v4"
)

// failure is what a failed Sink.Write means for the rows it was given.
type failure int

const (
	// failTransient: the server or the way to it is unavailable (connection
	// refused or reset, a timeout, a known transient server code). The same
	// rows are retried without limit; they are never sent to the DLQ.
	failTransient failure = iota
	// failTransientSize: a transient server code that a smaller insert may
	// avoid (memory, time). Retried without limit like failTransient, but
	// when it repeats on a batch of several records the batch is split.
	failTransientSize
	// failRows: the server (or the sink's own encoding) refused these rows
	// and would refuse them again: the batch is split to find the records
	// responsible.
	failRows
)

func (f failure) String() string {
	switch f {
	case failTransient:
		return "transient"
	case failTransientSize:
		return "transient (size)"
	default:
		return "rows refused"
	}
}

// transientCodes are ClickHouse error codes (src/Common/ErrorCodes.cpp)
// that say nothing about the rows of an insert: the server is busy, short
// of a resource, unreachable through a replica or Keeper, or not set up for
// this insert yet (a missing table or database, missing rights). Retrying
// the same rows is right; splitting them would only multiply the inserts
// and sending them to the DLQ would lose good records. The list starts from
// the one the ClickHouse Kafka Connect sink retries (3, 159, 164, 202, 203,
// 209, 210, 252, 285, 425, 1002) and adds the codes of the same kind.
var transientCodes = map[chproto.Error]failure{
	chproto.ErrUnexpectedEndOfFile:               failTransient, // a stream cut mid-block
	chproto.ErrCannotReadFromSocket:              failTransient,
	chproto.ErrCannotWriteToSocket:               failTransient,
	chproto.ErrTimeoutExceeded:                   failTransientSize,
	chproto.ErrCannotAllocateMemory:              failTransientSize,
	chproto.ErrQuotaExpired:                      failTransient,
	chproto.ErrTooManySimultaneousQueries:        failTransient,
	chproto.ErrNoFreeConnection:                  failTransient,
	chproto.ErrSocketTimeout:                     failTransientSize,
	chproto.ErrNetworkError:                      failTransient,
	chproto.ErrNoZookeeper:                       failTransient,
	chproto.ErrAborted:                           failTransient,
	chproto.ErrMemoryLimitExceeded:               failTransientSize,
	chproto.ErrTableIsReadOnly:                   failTransient,
	chproto.ErrNotEnoughSpace:                    failTransient,
	chproto.ErrUnexpectedZookeeperError:          failTransient,
	chproto.ErrTooManyParts:                      failTransient, // unless the message is about one block's partitions: see classify
	chproto.ErrAllConnectionTriesFailed:          failTransient,
	chproto.ErrTooFewLiveReplicas:                failTransient,
	chproto.ErrUnsatisfiedQuorumForPreviousWrite: failTransient,
	chproto.ErrReplicaIsNotInQuorum:              failTransient,
	chproto.ErrUnknownStatusOfInsert:             failTransient,
	chproto.ErrPartIsTemporarilyLocked:           failTransient,
	chproto.ErrQueryWasCancelled:                 failTransient,
	chproto.ErrSystemError:                       failTransient, // e.g. too many open files
	chproto.ErrCannotScheduleTask:                failTransient,
	chproto.ErrDeadlockAvoided:                   failTransient,
	chproto.ErrDistributedTooManyPendingBytes:    failTransient,
	chproto.ErrUserSessionLimitExceeded:          failTransient,
	chproto.ErrTableIsBeingRestarted:             failTransient,
	chproto.ErrQueryWasCancelledByClient:         failTransient,
	chproto.ErrServerOverloaded:                  failTransient,
	chproto.ErrKeeperException:                   failTransient,
	chproto.Error(1000):                          failTransient, // POCO_EXCEPTION: network and timeouts inside the server
	chproto.Error(1002):                          failTransient, // UNKNOWN_EXCEPTION
	// The insert, not its rows: the deployment is wrong until an operator
	// fixes it (migrations not applied, rights, read-only user). Every
	// record would fail the same way, so none of them is to blame.
	chproto.ErrUnknownTable:          failTransient,
	chproto.ErrUnknownDatabase:       failTransient,
	chproto.ErrNoSuchColumnInTable:   failTransient,
	chproto.ErrThereIsNoColumn:       failTransient,
	chproto.ErrNotFoundColumnInBlock: failTransient,
	chproto.ErrUnknownIdentifier:     failTransient,
	chproto.ErrTableIsDropped:        failTransient,
	chproto.ErrReadonly:              failTransient,
	chproto.ErrUnknownUser:           failTransient,
	chproto.ErrWrongPassword:         failTransient,
	chproto.ErrRequiredPassword:      failTransient,
	chproto.ErrIPAddressNotAllowed:   failTransient,
	chproto.ErrDatabaseAccessDenied:  failTransient,
	chproto.ErrAccessDenied:          failTransient,
	chproto.ErrAuthenticationFailed:  failTransient,
}

// classify says what err, returned by Sink.Write, means for the rows.
//
//   - A ClickHouse exception (*proto.Exception, which clickhouse-go returns
//     for every server error) is transient when its code is in
//     transientCodes, with one exception: code 252 TOO_MANY_PARTS is also
//     what a current server answers to a block touching more partitions
//     than max_partitions_per_insert_block ("Too many partitions for single
//     INSERT block"), which depends only on the rows. Every other code,
//     known or not, refuses the rows.
//   - An error the sink marks with backoff.Permanent (chSink does for a
//     value clickhouse-go cannot convert) refuses the rows.
//   - Anything else (connection refused or reset, EOF, a timeout, the
//     deadline of one attempt, a sink's own unavailability) is transient.
//
// An error the sink marks as not about the rows (notRows) is transient
// whatever it wraps.
func classify(err error) failure {
	var nr *notRowsError
	if errors.As(err, &nr) {
		return failTransient
	}
	if ex, ok := exception(err); ok {
		code := chproto.Error(ex.Code)
		if code == chproto.ErrTooManyParts && partitionsPerBlock(ex.Message) {
			return failRows
		}
		if f, ok := transientCodes[code]; ok {
			return f
		}
		return failRows
	}
	var pe *backoff.PermanentError
	if errors.As(err, &pe) {
		return failRows
	}
	return failTransient
}

// partitionsPerBlock reports whether a TOO_MANY_PARTS message is the limit
// on one insert block's partitions (18.16 has no such limit; current
// servers word it "Too many partitions for single INSERT block (more than
// 100)") rather than the count of parts awaiting merges or in the table.
func partitionsPerBlock(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "partitions for single insert block")
}

func exception(err error) (*proto.Exception, bool) {
	var ex *proto.Exception
	if errors.As(err, &ex) && ex != nil {
		return ex, true
	}
	return nil, false
}

// sameFailure is the identity of a failure for "the same error repeating":
// the server's code, or -1 for an error that is not a server exception.
func sameFailure(err error) int32 {
	if ex, ok := exception(err); ok {
		return ex.Code
	}
	return -1
}

// describe names err for a DLQ reason: the server's code, its symbolic name
// and its message (capped, since some messages quote the rows' values), or
// err's text for a client-side error.
func describe(err error) string {
	const maxMessage = 1024
	if ex, ok := exception(err); ok {
		msg := ex.Message
		if len(msg) > maxMessage {
			msg = msg[:maxMessage] + "…"
		}
		return fmt.Sprintf("ClickHouse error %d (%s): %s", ex.Code, chproto.Error(ex.Code).String(), msg)
	}
	msg := err.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return msg
}

// notRowsError marks a sink error that cannot be caused by the rows, e.g. a
// failure to start the insert before any row was sent.
type notRowsError struct{ err error }

func (e *notRowsError) Error() string { return e.err.Error() }
func (e *notRowsError) Unwrap() error { return e.err }
