package ledger_test

import (
	"testing"

	"github.com/assay-data/assay/loadtest/workload"
	"github.com/assay-data/assay/streams/ledger"
	"github.com/assay-data/assay/streams/runtime"
)

// BenchmarkApply measures the ledger's mapping alone (no I/O): one round of the workload, an
// event of every type, per iteration.
func BenchmarkApply(b *testing.B) {
	var recs []runtime.Record
	for _, ev := range workload.New("bench", 1).Round(0) {
		recs = append(recs, record(b, ev, 7))
	}
	l := ledger.New()
	b.ReportAllocs()
	for b.Loop() {
		for _, rec := range recs {
			if _, err := l.Apply(nil, rec); err != nil {
				b.Fatal(err)
			}
		}
	}
}
