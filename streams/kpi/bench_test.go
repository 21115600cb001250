package kpi_test

import (
	"fmt"
	"testing"

	"github.com/assay-data/assay/loadtest/annotation"
	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/streams/kpi"
	"github.com/assay-data/assay/streams/runtime"
)

// benchApply measures Apply over the label events of the default workload,
// one partition's state, rows included (what the runner batches).
func benchApply(b *testing.B, p runtime.Processor) {
	cfg := annotation.DefaultConfig("bench", 1)
	var evs []schemas.Event
	for _, ev := range annotation.Generate(cfg).Events {
		if ev.Family() == schemas.FamilyLabels {
			evs = append(evs, ev)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var state any
	for i := range b.N {
		if i%len(evs) == 0 {
			state = p.NewState("labels", 0)
		}
		ev := evs[i%len(evs)]
		if _, err := p.Apply(state, runtime.Record{Topic: "labels", Offset: int64(i), Event: ev}); err != nil {
			b.Fatal(fmt.Errorf("apply: %w", err))
		}
	}
}

func BenchmarkAgreementApply(b *testing.B) { benchApply(b, kpi.NewAgreement()) }

func BenchmarkAccuracyApply(b *testing.B) { benchApply(b, kpi.NewAccuracy()) }
