// Package runtimetest holds what the tests of processors share about the runtime's contract.
// It is imported by tests only.
package runtimetest

import (
	"errors"
	"testing"

	"github.com/assay-data/assay/schemas/access"
	"github.com/assay-data/assay/streams/runtime"
)

// Refused fails t unless Apply refused a record for rule: err is an *access.Violation of rule,
// and out writes no row and emits no event (a refusal changes nothing; the runner sends the
// record to the DLQ). what names the record in the message.
func Refused(t testing.TB, what string, out runtime.Output, err error, rule string) {
	t.Helper()
	var v *access.Violation
	if !errors.As(err, &v) || v.Rule != rule {
		t.Fatalf("%s: err %v, want a %s violation", what, err, rule)
	}
	if len(out.Rows) != 0 || len(out.Emit) != 0 {
		t.Fatalf("%s: a refused record wrote %d rows and emitted %d events", what, len(out.Rows), len(out.Emit))
	}
}
